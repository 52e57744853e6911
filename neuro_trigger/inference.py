"""Apply a finished run's expert networks to rows: load them, route each row to its expert, predict."""
from pathlib import Path

import numpy as np
import torch

from neuro_trigger import config as config_lib
from neuro_trigger.data.filters import rows_of
from neuro_trigger.data.tracks import Tracks
from neuro_trigger.errors import UserError, describe
from neuro_trigger.models import build_network
from neuro_trigger.runs import export, record
from neuro_trigger.training.pack import load_copy

CHUNK = 1 << 18  # rows per forward pass


def unfinished_warning(run_dir: Path, summary: record.Summary) -> str | None:
    """A warning naming the status and epochs of a run that did not finish (None for a finished run)."""
    status = summary.get("status")
    if status == "finished":
        return None
    epochs = ", ".join(f"{name} {e.get('status')} at epoch {e.get('epochs')}"
                       for name, e in summary.get("experts", {}).items())
    return (f"{run_dir} is {status!r}, not finished: its networks are from an unfinished run"
            + (f" ({epochs})" if epochs else ""))


def _load_checkpoint(path: Path) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    except Exception as e:  # torch raises RuntimeError, UnpicklingError, EOFError, KeyError ... for a bad file
        raise UserError(f"checkpoint {path} is unreadable ({describe(e)})") from None
    return state


def load_networks(run_dir: Path, checkpoint: str = "best") -> tuple[dict, dict[int, torch.nn.Module]]:
    """The run's resolved config and one network per trained expert, from its best or last checkpoint
    (weights.json when a checkpoint is missing, e.g. copied without ckpts/)."""
    run_dir = Path(run_dir)
    summary = record.read_summary(run_dir)
    config = record.run_config(summary)
    trained = [int(name.split("_", 1)[1]) for name, e in summary.get("experts", {}).items()
               if e.get("status") in ("finished", "interrupted")]
    if not trained:
        raise UserError(f"{run_dir}: the run has no trained expert (status {summary.get('status')!r})")
    networks = {}
    weights = None
    for expert in trained:
        expert_config = config_lib.for_expert(config, expert)
        network = build_network(expert_config)
        path = run_dir / f"expert_{expert}" / "ckpts" / f"{checkpoint}.ckpt"
        if path.is_file():
            state = _load_checkpoint(path)
            if any(k.startswith("network.") for k in state):  # best.ckpt, and the previous release's checkpoints
                network.load_state_dict({k.removeprefix("network."): v for k, v in state.items()
                                         if k.startswith("network.")})
            else:  # the pack's last.ckpt: the copy weights.json holds (the best seed's; copy 0 of one network)
                best_seed = summary["experts"][f"expert_{expert}"].get("best_seed")
                load_copy(state, 0 if best_seed is None else best_seed - expert_config["seed"], network)
        elif checkpoint == "best":
            weights = weights if weights is not None else export.read_weights(run_dir)
            export.load_weights(network, weights, expert, str(run_dir / "weights.json"))
        else:
            raise UserError(f"{path}: no such checkpoint")
        network.eval()
        networks[expert] = network
    return config, networks


@torch.no_grad()
def predict(networks: dict[int, torch.nn.Module], tracks: Tracks) -> tuple[np.ndarray, np.ndarray]:
    """(predictions (N, out_size) with NaN for rows of untrained experts, expert used per row or -2)."""
    out_size = next(iter(networks.values()))(torch.zeros(1, tracks.inputs.shape[1])).shape[1]
    pred = np.full((len(tracks), out_size), np.nan)
    used = np.full(len(tracks), -2, dtype=np.int64)
    for expert, network in networks.items():
        rows = rows_of(expert, tracks.expert)
        if rows.any():
            inputs = torch.from_numpy(tracks.inputs[rows])
            chunks = [network(inputs[i:i + CHUNK]) for i in range(0, len(inputs), CHUNK)]
            pred[rows] = torch.cat(chunks).double().numpy()
            used[rows] = expert
    return pred, used


def draw_figures(run_dir: Path) -> list[Path]:
    """Draw the PNGs of a run made without them (a sweep trial, summary.json "figures": "pending"), as the run
    would have drawn them: every trained expert's and the combined network's, from its own data files (checked
    unchanged), its best weights and the metrics in summary.json; then report.html again with its images.
    Returns the PNGs. The folder is locked meanwhile, as a run or resume locks it."""
    from neuro_trigger.atomic import write_text
    from neuro_trigger.data import io
    from neuro_trigger.data.families import FAMILIES, THREE_DH
    from neuro_trigger.data.splits import SPLITS
    from neuro_trigger.evaluation import offload, report
    from neuro_trigger.evaluation.fixed_twins import twin_predictions
    from neuro_trigger.runs import folder
    from neuro_trigger.runs.combined import combine_experts
    from neuro_trigger.runs.overall import evaluated_nodes, write_overall_plots
    from neuro_trigger.runs.reference import compare_to_reference
    from neuro_trigger.runs.resume import check_data_unchanged
    from neuro_trigger.training.expert_data import select
    from neuro_trigger.training.expert_evaluation import predictions_of_test_split, write_expert_plots

    run_dir = Path(run_dir)
    record.read_summary(run_dir)  # a run folder at all, before a lock file is made in it
    folder.lock_run_folder(run_dir)
    try:
        summary = record.read_summary(run_dir)
        files = check_data_unchanged(run_dir, summary, "--draw")
        config, networks = load_networks(run_dir)
        evaluated = {x: e["metrics"] for x, e in ((x, summary["experts"].get(f"expert_{x}", {})) for x in networks)
                     if e.get("metrics", {}).get("test")}
        if not evaluated:
            raise UserError(f"--draw {run_dir}: no expert has test metrics in summary.json to draw")
        data = {split: io.read_files(files[split]) for split in SPLITS}
        references = {split: data[split].old for split in SPLITS}
        if config["compare_to"]:
            references = compare_to_reference(Path(summary.get("log_root", run_dir.parents[1])), config["compare_to"],
                                              data, summary["data"])
        prepared = select(config, list(evaluated), data, references)
        predictions = {x: predictions_of_test_split(networks[x], d) for x, d in prepared.items()}
        with offload.workers():
            for x, metrics in evaluated.items():
                write_expert_plots(run_dir / f"expert_{x}", prepared[x], predictions[x], metrics)
            overall = summary.get("metrics", {}).get("test")
            if overall and FAMILIES[config["family"]].export_format != THREE_DH.export_format:
                tracks, pred, reference, expert = combine_experts(data, prepared, predictions, "test")
                fixed = twin_predictions({x: networks[x] for x in prepared}, config, tracks.inputs, expert,
                                         evaluated_nodes(predictions, prepared, "test"))
                write_overall_plots(run_dir, (tracks, pred, reference, expert, fixed), overall, config)
        summary["figures"] = "drawn"
        images = report.images_of(run_dir, summary)
        write_text(run_dir / "report.html", report.render(summary, images))
        record.write_summary(run_dir, summary)
        return images
    finally:
        folder.unlock_run_folder(run_dir)
