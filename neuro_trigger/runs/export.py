"""The deployable results of a run: `weights.json` and the per-split predictions (CSV and tensors)."""
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import torch
from torch import nn

from neuro_trigger import models
from neuro_trigger.atomic import atomic_path, write_json
from neuro_trigger.constants import FIXED_PREDICTION_COLUMNS, PREDICTION_COLUMNS, theta_to_deg, z_to_cm
from neuro_trigger.data import io
from neuro_trigger.data.tracks import Tracks
from neuro_trigger.errors import UserError, describe
from neuro_trigger.hardware import deploy, deploy_3dh


def expert_key(expert: int) -> str:
    return f"expert_{expert}"


def weights_entry(network: nn.Module) -> dict:
    """One expert's weights.json entry: the basf2 form (`model.net.0.weight`, ...) for a deployable
    network, else state-dict naming (`hidden.weight`, ...) with the reason it cannot be deployed."""
    reason = deploy.not_deployable_reason(network)
    if reason is None:
        tensors = deploy.basf2_weights(network)
        about = {"deployable": True, "form": "basf2: tanh(x/2) after both layers"}
    else:
        tensors = {k: v.detach().cpu() for k, v in network.state_dict().items()}
        about = {"deployable": False, "not_deployable_reason": reason, "form": "state_dict"}
    return {"shapes": {k: list(v.shape) for k, v in tensors.items()},
            "weights": {k: v.tolist() for k, v in tensors.items()}, **about}


def deployability(networks: dict[int, nn.Module]) -> dict[str, dict]:
    """Per expert: {'deployable': bool, 'reason': why not or None}, for summary.json."""
    reasons = {expert_key(x): deploy.not_deployable_reason(n) for x, n in sorted(networks.items())}
    return {key: {"deployable": reason is None, "reason": reason} for key, reason in reasons.items()}


def write_weights(run_dir: Path, networks: dict[int, nn.Module], name: str = "weights.json") -> None:
    write_json(run_dir / name, {expert_key(x): weights_entry(n) for x, n in sorted(networks.items())})


def read_weights(path: str | Path) -> dict:
    """A weights.json (or the one in a run folder), as plain data: ours of any version, or the original
    PyTorch trainer's (same basf2 keys); a NeuroTrigger3DH one (top-level `model.{2k}.*`, SPEC-3DH 3) as the
    weights of expert -1, whose keys are the 3DH model's own."""
    path = Path(path)
    if path.is_dir():
        path = path / "weights.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError) as e:  # RecursionError: nested too deeply for any weights file
        raise UserError(f"{path}: cannot read weights ({describe(e)})") from None
    if isinstance(data, dict) and "model.0.weight" in data:  # a NeuroTrigger3DH network, checked against network.conf
        deploy_3dh.read_deployed(path)
        return {expert_key(-1): {"weights": data}}
    if not isinstance(data, dict) or not all(isinstance(v, dict) and isinstance(v.get("weights"), dict)
                                             for v in data.values()):
        raise UserError(f"{path}: expected {{'expert_x': {{'shapes': ..., 'weights': ...}}}}")
    return data


def _tensor(value, dtype: torch.dtype, where: str) -> torch.Tensor:
    try:
        return torch.tensor(value, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise UserError(f"{where}: not a numeric array ({e})") from None


def load_weights(network: nn.Module, weights: dict, expert: int, source: str) -> None:
    """Copy one expert's tensors into `network`, refusing missing entries or wrong shapes.

    Reads the basf2 form (our deployable exports and the original trainer's files: tanh networks
    halved, batch norm set to the identity) and state-dict naming (non-deployable and earlier runs)."""
    entry = weights.get(expert_key(expert))
    if entry is None:
        raise UserError(f"{source}: no weights for {expert_key(expert)} (has {', '.join(sorted(weights))})")
    tensors = entry["weights"]
    if deploy.is_basf2_form(tensors):
        if not isinstance(network, models.BaselineModel):
            raise UserError(f"{source}: {expert_key(expert)} holds basf2-form weights (model.net.*), which fit "
                            f"a BaselineModel, not a {type(network).__name__}")
        targets = deploy.basf2_targets(network)
    else:
        targets = network.state_dict()
    loaded = {}
    for name, tensor in targets.items():
        if name not in tensors:
            raise UserError(f"{source}: {expert_key(expert)} has no tensor {name!r}")
        value = _tensor(tensors[name], tensor.dtype, f"{source}: {expert_key(expert)}.{name}")
        if value.shape != tensor.shape:
            raise UserError(f"{source}: {expert_key(expert)}.{name} has shape {list(value.shape)}, "
                            f"the network expects {list(tensor.shape)}")
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise UserError(f"{source}: {expert_key(expert)}.{name} holds values that are not finite numbers "
                            f"in single precision (NaN, infinity or beyond 3.4e38)")
        loaded[name] = value
    if deploy.is_basf2_form(tensors):
        deploy.load_basf2_weights(network, loaded)
    else:
        network.load_state_dict(loaded)


def prediction_columns(pred: np.ndarray, fixed_nodes: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The columns appended to the input format: PredZ, PredTheta (scaled), PredZ_cm, PredTheta_deg, and
    with `fixed_nodes` (N, 2) PredZFix, PredThetaFix: the fixed-point output node values (units 2^-p_nodes).

    `pred` is (N, out_size); a missing theta output (z-only networks) and unpredicted rows are NaN
    (in the fixed-point columns too, which are integers otherwise).
    """
    full = np.full((len(pred), 2), np.nan)
    full[:, :pred.shape[1]] = pred
    columns = dict(zip(PREDICTION_COLUMNS, (full[:, 0], full[:, 1], z_to_cm(full[:, 0]), theta_to_deg(full[:, 1]))))
    if fixed_nodes is not None:
        columns.update(zip(FIXED_PREDICTION_COLUMNS, np.asarray(fixed_nodes).T))
    return columns


def predictions_file(run_dir: Path, split: str) -> Path:
    """The split's predictions in the input format: `.csv.gz`, or the plain `.csv` of runs before it was compressed."""
    compressed = Path(run_dir) / f"predictions_{split}.csv.gz"
    plain = compressed.with_suffix("")
    return plain if plain.is_file() and not compressed.is_file() else compressed


def write_predictions(run_dir: Path, split: str, tracks: Tracks, pred: np.ndarray, expert: np.ndarray,
                      fixed_nodes: np.ndarray | None = None, with_csv: bool = True) -> None:
    """`predictions_<split>.pt` (rows, experts, predictions: what `compare_to` reads) and, `with_csv`,
    `predictions_<split>.csv.gz` (the input's columns + prediction columns as real CSV, gzip level 1: about 4x
    smaller)."""
    if with_csv:
        with atomic_path(run_dir / f"predictions_{split}.csv.gz") as tmp:
            io.write_file(tmp, tracks, extra=prediction_columns(pred, fixed_nodes), compress=True, csv=True)
    with atomic_path(run_dir / f"predictions_{split}.pt") as tmp:
        torch.save({"row": torch.from_numpy(tracks.row), "expert": torch.from_numpy(expert),
                    "pred": torch.from_numpy(np.ascontiguousarray(pred, dtype=np.float32))}, tmp)


def read_prediction_columns(run_dir: Path, split: str, names: list[str]) -> dict[str, np.ndarray]:
    """Columns of the split's predictions file, e.g. ["RecoZ", "ScaleZ", "PredZ"]."""
    return read_columns(predictions_file(run_dir, split), names)


def read_columns(path: Path, names: list[str]) -> dict[str, np.ndarray]:
    """Named columns of a predictions file: CSV, or tab-separated as earlier releases wrote it."""
    try:
        delimiter = io.file_delimiter(path)
        table = pacsv.read_csv(path, parse_options=pacsv.ParseOptions(delimiter=delimiter, ignore_empty_lines=True),
                               convert_options=pacsv.ConvertOptions(include_columns=names))
    except (OSError, pa.ArrowInvalid) as e:
        raise UserError(f"{path}: cannot read predictions ({e})") from None
    return {name: table.column(name).to_numpy() for name in names}


def read_predictions(run_dir: Path, split: str) -> dict[str, np.ndarray]:
    path = Path(run_dir) / f"predictions_{split}.pt"
    try:
        data = torch.load(path, weights_only=True)
    except (OSError, RuntimeError) as e:
        raise UserError(f"{path}: cannot read predictions ({e})") from None
    return {k: v.numpy() for k, v in data.items()}
