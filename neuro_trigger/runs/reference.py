"""The reference a run is compared with: the old-network columns, an earlier run, or a deployed network
(`compare_to`).

`compare_to` names an earlier run (relative to the log root): its predictions are the reference. For a family whose
networks are deployed as a weights file of their own (3DH: `weights.json` with `network.conf` beside it, SPEC-3DH 3),
it may also name that file, or a folder holding it and no run record: the network already in hardware, whose
fixed-point outputs on the run's own tracks are the reference. A baseline of another family is refused.
"""
import json
from pathlib import Path

import numpy as np

from neuro_trigger.data.cache import same_data
from neuro_trigger.data.families import CLASSIC, FAMILIES, THREE_DH
from neuro_trigger.data.splits import SPLITS
from neuro_trigger.data.tracks import Tracks
from neuro_trigger.errors import UserError
from neuro_trigger.runs import record

WEIGHTS = "weights.json"


def check_baseline_family(log_root: Path, compare_to: str, config: dict) -> None:
    """Refuse, in one line, a `compare_to` baseline of another network family than `config`'s (or none at all),
    without torch: the CLI answers before its heavy imports."""
    family = FAMILIES[config["family"]]
    run_dir = Path(log_root) / compare_to
    where = f"compare_to {compare_to!r}"
    if (run_dir / record.FILE).is_file():
        summary = record.read_summary(run_dir, ("data",), where)
        theirs = summary.get("config", {}).get("family", CLASSIC.name)
        if theirs != family.name:
            raise UserError(f"{where}: a run of the {theirs} family, but this config trains a {family.name} "
                            f"network; compare with a {family.name} run")
        return
    path = _deployed_weights(compare_to, run_dir)
    if path is None:
        raise UserError(f"{where}: no run at {run_dir} (no {record.FILE})"
                        + (f", and no deployed {WEIGHTS} there or at {compare_to}"
                           if family.export_format == THREE_DH.export_format else ""))
    try:
        content = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError) as e:
        raise UserError(f"{where}: {path} is not a weights JSON ({type(e).__name__})") from None
    if isinstance(content, dict) and any(str(key).startswith("expert_") for key in content):
        raise UserError(f"{where}: {path} holds a classic network (expert_N keys), but this config trains a "
                        f"{family.name} network; a deployed baseline must be a NeuroTrigger3DH weights.json")
    if family.export_format != THREE_DH.export_format:
        raise UserError(f"{where}: {path} is a deployed weights file, a baseline only for the 3dh family; this "
                        f"config trains a {family.name} network (compare with a {family.name} run)")


def compare_to_reference(log_root: Path, compare_to: str, data: dict[str, Tracks],
                         hashes: dict[str, list[dict]], config: dict) -> dict[str, np.ndarray]:
    """Per split a reference aligned with `data` ((N, outputs), scaled): the earlier run's predictions where it
    has them, the old-network columns elsewhere; or a deployed network's fixed-point outputs. Refuses a run that
    used other data files, and a baseline of another network family than `config`'s."""
    from neuro_trigger.runs.export import read_predictions  # torch

    check_baseline_family(log_root, compare_to, config)
    run_dir = Path(log_root) / compare_to
    if not (run_dir / record.FILE).is_file():
        return _deployed_reference(compare_to, _deployed_weights(compare_to, run_dir), data, config)
    summary = record.read_summary(run_dir, ("data",), f"compare_to {compare_to!r}")
    theirs = {s: summary["data"].get(s, []) for s in SPLITS}
    if any(len(theirs[s]) != len(hashes[s]) or not all(map(same_data, theirs[s], hashes[s])) for s in SPLITS):
        raise UserError(f"compare_to {compare_to!r}: that run used different data files (content hashes differ)")
    references = {}
    for split in SPLITS:
        earlier = read_predictions(run_dir, split)
        reference = data[split].old.copy()
        pred = earlier["pred"].astype(np.float64)
        reference[earlier["row"], :pred.shape[1]] = pred
        references[split] = reference
    return references


def _deployed_weights(compare_to: str, run_dir: Path) -> Path | None:
    """The weights file `compare_to` names: a file, or a folder (under the log root, or as given) holding one."""
    for candidate in (run_dir, Path(compare_to)):
        if candidate.is_file():
            return candidate
        if candidate.is_dir() and (candidate / WEIGHTS).is_file() and not (candidate / record.FILE).is_file():
            return candidate / WEIGHTS
    return None


def _deployed_reference(compare_to: str, path: Path, data: dict[str, Tracks], config: dict) -> dict[str, np.ndarray]:
    """The fixed-point outputs (scaled, in [-1, 1]) of a deployed 3DH network on every split, as the hardware
    computes them (SPEC-3DH 4.3)."""
    from neuro_trigger.hardware import deploy_3dh  # torch: only for a config that names a deployed network
    from neuro_trigger.hardware.fixed_point_3dh import ONE, FixedPointNetwork3DH

    where = f"compare_to {compare_to!r}"
    tensors, network_config = deploy_3dh.read_deployed(path)
    count = len(tensors) // 2
    if len(tensors) % 2 or any(f"model.{2 * k}.{p}" not in tensors for k in range(count) for p in ("weight", "bias")):
        raise UserError(f"{where}: {path} must hold model.0.weight, model.0.bias, model.2.weight, ... in order")
    layers = [(tensors[f"model.{2 * k}.weight"].numpy(), tensors[f"model.{2 * k}.bias"].numpy()) for k in range(count)]
    if any(w.ndim != 2 or b.shape != (w.shape[0],) for w, b in layers) or any(
            a[0].shape[0] != b[0].shape[1] for a, b in zip(layers[:-1], layers[1:])):
        raise UserError(f"{where}: {path}: its layers' shapes do not chain (weight [out][in], bias [out])")
    nodes = deploy_3dh.nodes_of(layers)
    if nodes[0] != config["in_size"] or nodes[-1] != config["out_size"]:
        raise UserError(f"{where}: {path} is a {'-'.join(map(str, nodes))} network; this config's has "
                        f"{config['in_size']} inputs and {config['out_size']} outputs")
    if network_config is None:
        raise UserError(f"{where}: no network.conf beside {path}: its outputScale says what the outputs mean")
    if [float(v) for v in network_config["outputScale"]] != [float(v) for v in config["output_scale"]]:
        raise UserError(f"{where}: its network.conf has outputScale {network_config['outputScale']}, this config "
                        f"{config['output_scale']}: the outputs would mean different things")
    network = FixedPointNetwork3DH.of(layers)
    return {split: network.nodes(data[split].inputs) / float(ONE) for split in SPLITS}
