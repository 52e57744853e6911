"""One training run from a resolved config to a finished run folder (SPEC section 7).

Order matters: everything a user can get wrong (config, data files, compare_to, pre-trained
weights) is checked before the version folder is claimed, so a mistake never leaves a run
folder behind; after that, summary.json always says how far the run got.
"""
import datetime
import logging
import platform
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch

from neuro_trigger import config as config_lib
from neuro_trigger.atomic import write_json, write_text
from neuro_trigger.constants import ALL_EXPERTS, z_to_cm
from neuro_trigger.data import io
from neuro_trigger.data.cache import content_hash
from neuro_trigger.data.splits import SPLITS, resolve_files
from neuro_trigger.data.tracks import Tracks
from neuro_trigger.evaluation import plots, report
from neuro_trigger.evaluation.metrics import evaluate
from neuro_trigger.evaluation.reference import compare_to_reference
from neuro_trigger.models import build_network
from neuro_trigger.runs import export, folder
from neuro_trigger.runs.git_state import write_git_state
from neuro_trigger.runs.logs import attach_run_logs, detach_run_logs
from neuro_trigger.training import expert_data
from neuro_trigger.training.experts import train_experts
from neuro_trigger.training.fit import ExpertResult
from neuro_trigger.training.mean_expert import MeanExpertCallback, MeanExpertStream

log = logging.getLogger("neuro_trigger.run")


@dataclass
class RunRequest:
    config_name: str
    overrides: dict = field(default_factory=dict)
    production: bool = False
    solo_expert: bool = False
    description: str = ""
    data_files: dict[str, list[str]] | None = None  # --data, replaces the config's data set
    log_root: Path | None = None


def resolve_request(request: RunRequest) -> dict:
    """The validated config of this run, with the debug / solo-expert adjustments applied."""
    overrides = dict(request.overrides)
    if request.data_files is not None:
        overrides["data"] = request.data_files
    config = config_lib.resolve(request.config_name, overrides)
    if request.solo_expert or not request.production:
        config["experts"] = [ALL_EXPERTS]
    if not request.production:
        config["epochs"] = min(config["epochs"], config_lib.DEBUG_EPOCHS)
    return config


def log_root_of(request: RunRequest) -> Path:
    if request.log_root is not None:
        return Path(request.log_root)
    return folder.PRODUCTION_LOG_ROOT if request.production else folder.DEBUG_LOG_ROOT


def _build_networks(config: dict) -> dict[int, torch.nn.Module]:
    """One network per expert, initialised from the seed (in the main thread, so threads never race on RNG)."""
    networks = {}
    source = config["load_pre_trained_weights"]
    weights = export.read_weights(source) if source else None
    for expert in config["experts"]:
        expert_config = config_lib.for_expert(config, expert)
        with torch.random.fork_rng():
            torch.manual_seed(expert_config["seed"] * 10 + expert + 1)
            networks[expert] = build_network(expert_config)
        if weights is not None:
            export.load_weights(networks[expert], weights, expert, source)
    return networks


def _environment() -> dict:
    return {"python": platform.python_version(), "torch": torch.__version__,
            "pytorch_lightning": pl.__version__, "numpy": np.__version__, "host": platform.node()}


def _combined(data: dict[str, Tracks], prepared: dict, results: dict[int, ExpertResult], split: str):
    """All experts' rows of a split with their predictions, in file order."""
    parts = [(prepared[x], r) for x, r in results.items() if r.predictions]
    if not parts:
        return None
    rows = np.concatenate([d.splits[split].row for d, _ in parts])
    order = np.argsort(rows, kind="stable")
    tracks = Tracks.concatenate([d.splits[split] for d, _ in parts]).subset(order)
    tracks.row = rows[order]
    pred = np.concatenate([r.predictions[split] for _, r in parts])[order]
    reference = np.concatenate([d.reference[split] for d, _ in parts])[order]
    expert = np.concatenate([np.full(len(d.splits[split]), r.expert) for d, r in parts])[order]
    return tracks, pred, reference, expert


def execute(request: RunRequest) -> tuple[Path, int]:
    """Run the training; returns (run folder, exit code 0 when every expert finished)."""
    started = time.time()
    config = resolve_request(request)
    log_root = log_root_of(request)
    files = resolve_files(config["data"])
    data = {split: io.read_files(files[split]) for split in SPLITS}
    hashes = {split: [{"path": str(p), "sha256": content_hash(p)} for p in files[split]] for split in SPLITS}
    references = {split: data[split].old for split in SPLITS}
    if config["compare_to"]:
        references = compare_to_reference(log_root, config["compare_to"], data, hashes)
    networks = _build_networks(config)
    prepared = expert_data.select(config, config["experts"], data, references)

    run_dir = folder.claim_version_folder(log_root, request.config_name)
    handlers = attach_run_logs(run_dir, config["experts"])
    summary = {
        "status": "running", "config_name": request.config_name, "description": request.description,
        "run_dir": str(run_dir), "production": request.production,
        "start_time": datetime.datetime.now().isoformat(timespec="seconds"),
        "git_id": write_git_state(run_dir), "seed": config["seed"], "data": hashes,
        "rows": {split: len(data[split]) for split in SPLITS}, "environment": _environment(),
        "config": config_lib.public(config), "overrides": config["_overrides"],
        "experts_config": {f"expert_{x}": config_lib.for_expert(config, x) for x in config["experts"]},
    }
    write_json(run_dir / "summary.json", summary)
    if request.production:
        folder.append_run_log(log_root, run_dir, request.description)
    log.info("run %s: config %s, experts %s", run_dir, request.config_name, config["experts"])
    stop = threading.Event()
    mean_stream = MeanExpertStream(run_dir / "mean_expert", [x for x, d in prepared.items()
                                                             if isinstance(d, expert_data.ExpertData)])
    try:
        results = train_experts(prepared, networks, run_dir, config["workers"], stop,
                                lambda expert: [MeanExpertCallback(mean_stream, expert)])
        mean_stream.close()
        exported = time.time()
        _export(run_dir, data, prepared, networks, results, summary, config)
        summary["export_time_s"] = round(time.time() - exported, 2)
        failed = [x for x, r in results.items() if r.status != "finished"]
        summary["status"] = "failed" if failed else "finished"
        if failed:
            summary["error"] = "; ".join(f"expert {x}: {results[x].error or results[x].status}" for x in failed)
        return run_dir, 1 if failed else 0
    except BaseException as e:
        summary["status"] = "interrupted" if isinstance(e, KeyboardInterrupt) else "failed"
        summary["error"] = f"{type(e).__name__}: {e}"
        log.exception("run %s", summary["status"])
        raise
    finally:
        summary["end_time"] = datetime.datetime.now().isoformat(timespec="seconds")
        summary["wall_time_s"] = round(time.time() - started, 2)
        write_json(run_dir / "summary.json", summary)
        if summary["status"] != "running":
            write_text(run_dir / "report.html", report.render(summary, sorted(run_dir.glob("plots/*.png"))
                                                               + sorted(run_dir.glob("expert_*/plots/*.png"))))
        detach_run_logs(handlers)


def _export(run_dir: Path, data: dict, prepared: dict, networks: dict, results: dict[int, ExpertResult],
            summary: dict, config: dict) -> None:
    """weights.json, predictions per split, and per-expert and overall metrics into the summary."""
    trained = {x: networks[x] for x, r in results.items() if r.predictions}
    if trained:
        export.write_weights(run_dir, trained)
    summary["experts"] = {f"expert_{x}": r.summary() for x, r in results.items()}
    summary["metrics"] = {}
    for split in SPLITS:
        combined = _combined(data, prepared, results, split)
        if combined is None:
            continue
        tracks, pred, reference, expert = combined
        export.write_predictions(run_dir, split, tracks, pred, expert)
        summary["metrics"][split] = evaluate(pred, tracks.reco, reference, config["z_cut_cm"])
        if split == "test":
            z_reco, z_pred, z_old = z_to_cm(tracks.z_reco), z_to_cm(pred[:, 0]), z_to_cm(reference[:, 0])
            figures = plots.split_figures(z_reco, z_pred, z_old, summary["metrics"][split]["z_resolution_vs_z"],
                                          "all experts, test")
            export.write_plots(run_dir / "plots", figures)
