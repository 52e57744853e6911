"""One training run from a resolved config to a finished run folder (SPEC section 7).

Order matters: everything a user can get wrong (config, data files, compare_to, pre-trained
weights) is checked before the version folder is claimed, so a mistake never leaves a run
folder behind; after that, summary.json always says how far the run got.
"""
import datetime
import importlib.metadata
import json
import logging
import os
import platform
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from neuro_trigger import config as config_lib
from neuro_trigger.atomic import write_text
from neuro_trigger.data import families, io
from neuro_trigger.data.cache import fingerprint
from neuro_trigger.data.splits import SPLITS, resolve_files, shared_data_warning
from neuro_trigger.errors import UserError, fault_line, interrupt_cause, interrupt_exit_code, phase, write_fault
from neuro_trigger.evaluation import offload, report
from neuro_trigger.models import build_loss, build_network, build_optimizer
from neuro_trigger.runs import export, folder, seeds, tracking
from neuro_trigger.runs.git_state import write_git_state
from neuro_trigger.runs.logs import attach_run_logs, detach_run_logs
from neuro_trigger.runs.overall import export_overall
from neuro_trigger.runs.record import run_config, write_summary
from neuro_trigger.runs.request import RunRequest, log_root_of, resolve_request  # noqa: F401 (for callers)
from neuro_trigger.runs.reference import compare_to_reference
from neuro_trigger.runs.resume import check_checkpoints, check_data_unchanged, load_resumable
from neuro_trigger.runs.signals import INTERRUPTED_EXIT_CODES, stop_on_signals  # noqa: F401 (for callers)
from neuro_trigger.training import expert_data
from neuro_trigger.training.imports import wait_for_imports
from neuro_trigger.training.pack import Copies, check_packable
from neuro_trigger.training.progress import announce

log = logging.getLogger("neuro_trigger.run")


def _build_networks(config: dict, weights: dict | None = None) -> dict[int, torch.nn.Module]:
    """One network per expert, initialised from the seed (in the main thread, so threads never race on RNG);
    `weights`: the config's pre-trained weights when the caller has read them already."""
    weights = _pre_trained(config) if weights is None else weights
    return {x: _network(x, config_lib.for_expert(config, x), weights) for x in config["experts"]}


def _build_copies(config: dict, networks: dict[int, torch.nn.Module], weights: dict | None) -> dict[int, Copies]:
    """With `pack`, each expert's copies, one per seed, checked to be packable (else empty)."""
    copies = {}
    for expert in config["experts"]:
        configs = seeds.copy_configs(config_lib.for_expert(config, expert))
        if configs:
            check_packable(configs, f"expert {expert}")
            copies[expert] = Copies(configs, [_network(expert, c, weights) for c in configs])
    return copies


def _pre_trained(config: dict) -> dict | None:
    source = config["load_pre_trained_weights"]
    return export.read_weights(source) if source else None


def _network(expert: int, expert_config: dict, weights: dict | None) -> torch.nn.Module:
    with torch.random.fork_rng():
        torch.manual_seed((expert_config["seed"] * 10 + expert + 1) % 2 ** 64)  # seeds reach 2**63
        network = build_network(expert_config)
    _dry_build(expert, expert_config, network)
    if weights is not None:
        export.load_weights(network, weights, expert, expert_config["load_pre_trained_weights"])
    return network


def _dry_build(expert: int, expert_config: dict, network: torch.nn.Module) -> None:
    """Build the expert's loss and optimizer and pass two rows through its network, so a combination
    the config check cannot foresee is refused before the run folder exists."""
    try:
        build_loss(expert_config)
        build_optimizer(expert_config, network.parameters())
        training = network.training
        with torch.no_grad():
            network.eval()(torch.zeros(2, expert_config["in_size"]))
        network.train(training)
    except (ValueError, TypeError, RuntimeError) as e:
        raise UserError(f"expert {expert}: cannot build its {expert_config['model']} network with "
                        f"{expert_config['optim']} and {expert_config['loss']}: {e}") from None


def _environment() -> dict:
    return {"python": platform.python_version(), "torch": torch.__version__,
            "pytorch_lightning": importlib.metadata.version("pytorch_lightning"), "numpy": np.__version__,
            "host": platform.node()}


def _prepare(config: dict, log_root: Path, files: dict[str, list[Path]]):
    """Read the data and build what training needs; every user mistake surfaces here, before any folder."""
    phase("data")
    reading = time.time()
    data = {split: io.read_files(files[split]) for split in SPLITS}
    families.check_data(config, data, files)
    hashes = {split: [{"path": str(p), **fingerprint(p)} for p in files[split]] for split in SPLITS}
    if shared_data_warning(hashes):
        log.warning("warning: %s", shared_data_warning(hashes))
    references = {split: data[split].old for split in SPLITS}
    if config["compare_to"]:
        references = compare_to_reference(log_root, config["compare_to"], data, hashes, config)
    weights = _pre_trained(config)
    networks = _build_networks(config, weights)
    copies = _build_copies(config, networks, weights)
    prepared = expert_data.select(config, config["experts"], data, references)
    announce("loading", ", ".join(f"{split} {len(data[split])} rows" for split in SPLITS)
             + f", read and checked in {time.time() - reading:.1f} s")  # only once nothing can be refused
    return data, hashes, (networks, copies), prepared


@dataclass
class Output:
    """A run folder a training writes, with its summary and config; `copy` is its index in a pack of sweep
    trials (None for a run of its own, packed seeds included)."""
    run_dir: Path
    summary: dict
    config: dict
    copy: int | None = None
    started: float = 0.0  # time.time() the run started, less the wall time of its earlier sessions
    tracker: tracking.Tracker | None = None  # its MLflow run, when tracked


def _claim(request: RunRequest, config: dict, log_root: Path, data: dict, hashes: dict, started: float,
           data_time: float) -> Output:
    """A new version folder, locked, with the summary it starts with."""
    run_dir = folder.claim_version_folder(log_root, request.config_name)
    folder.lock_run_folder(run_dir)
    summary = {
        "status": "running", "config_name": request.config_name, "description": request.description,
        "run_dir": str(run_dir), "production": request.production, "log_root": str(log_root),
        "start_time": datetime.datetime.now().isoformat(timespec="seconds"),
        "git_id": write_git_state(run_dir), "seed": config["seed"], "data": hashes,
        "rows": {split: len(data[split]) for split in SPLITS}, "environment": _environment(),
        "config": config_lib.public(config), "overrides": config["_overrides"],
        "experts_config": {f"expert_{x}": config_lib.for_expert(config, x) for x in config["experts"]},
        "timing": {"startup_s": round(started - request.process_start, 2) if request.process_start else None,
                   "data_s": round(data_time, 2)},
    }
    summary.update(request.tags or {})
    if not request.figures:
        summary["figures"] = report.FIGURES_PENDING
    if request.on_claimed is not None:
        request.on_claimed(run_dir)
    if request.production:
        folder.append_run_log(log_root, run_dir, request.description)
    tracker = tracking.start(tracking.tracking_uri(request.tracking_uri, config), run_dir, summary,
                             request.tracking_parent)
    return Output(run_dir, summary, config, tracker=tracker)


def execute(request: RunRequest) -> tuple[Path, int]:
    """Run the training; returns (run folder, exit code 0 when every expert finished)."""
    started = time.time()
    config = resolve_request(request)
    log_root = log_root_of(request)
    data, hashes, networks, prepared = _prepare(config, log_root, resolve_files(config["data"]))
    output = _claim(request, config, log_root, data, hashes, started, time.time() - started)
    return output.run_dir, _train_and_export([output], data, networks, prepared, resume=False)[0]


def execute_pack(requests: list[RunRequest]) -> list[tuple[Path, int]]:
    """Runs that differ only in seed, learning rate or weight decay, trained together as one pack of copies.

    Each gets its own run folder with what `execute` would write for it alone (its own metrics, weights,
    predictions, plots and TensorBoard losses); the pack's checkpoints and Lightning logs are kept under the
    first one's `pack/`. Refused (UserError, before any folder) when the runs cannot be packed.
    """
    started = time.time()
    configs = [resolve_request(r) for r in requests]
    log_root = log_root_of(requests[0])
    if configs[0].get("pack"):
        raise UserError("runs packed together cannot each pack seeds too: drop 'pack' from the config")
    if len({json.dumps(c["data"], sort_keys=True) for c in configs}) > 1:
        raise UserError("runs packed together must use the same data files")
    data, hashes, (networks, _), prepared = _prepare(configs[0], log_root, resolve_files(configs[0]["data"]))
    copy_configs = {x: [config_lib.for_expert(c, x) for c in configs] for x in configs[0]["experts"]}
    for x, expert_configs in copy_configs.items():
        check_packable(expert_configs, f"expert {x}")
    weights = _pre_trained(configs[0])  # the same for all: checked just above
    per_run = [_build_networks(c, weights) for c in configs]  # apart from `networks`, which receives the best copy
    data_time = time.time() - started
    outputs = [_claim(r, c, log_root, data, hashes, started, data_time) for r, c in zip(requests, configs)]
    for k, output in enumerate(outputs):
        output.copy = k
    copies = {x: Copies(expert_configs, [n[x] for n in per_run], labels=[o.run_dir.name for o in outputs],
                        tensorboard_dirs=[o.run_dir / f"expert_{x}" / "tb" for o in outputs])
              for x, expert_configs in copy_configs.items()}
    codes = _train_and_export(outputs, data, (networks, copies), prepared, resume=False)
    return [(output.run_dir, code) for output, code in zip(outputs, codes)]


def resume(run_dir: Path) -> tuple[Path, int]:
    """Continue an interrupted, failed or killed run in its own folder from each expert's last checkpoint."""
    run_dir = Path(run_dir)
    load_resumable(run_dir)  # a run folder at all, before a lock file is made in it
    folder.lock_run_folder(run_dir)
    summary = load_resumable(run_dir)  # again, under the lock: another resume may have finished it
    files = check_data_unchanged(run_dir, summary)
    check_checkpoints(run_dir, summary)
    config = run_config(summary)
    data, _, networks, prepared = _prepare(config, Path(summary.get("log_root", run_dir.parents[1])), files)
    summary.pop("error", None)
    summary["status"] = "running"
    summary.setdefault("resumed", []).append(datetime.datetime.now().isoformat(timespec="seconds"))
    tracker = tracking.start((summary.get("tracking") or {}).get("uri"), run_dir, summary)
    return run_dir, _train_and_export([Output(run_dir, summary, config, tracker=tracker)], data, networks, prepared,
                                      resume=True)[0]


def _train_and_export(outputs: list[Output], data: dict, networks: tuple[dict, dict], prepared: dict,
                      resume: bool) -> list[int]:
    """Train in threads, export into every output folder, and keep each summary.json truthful at every step;
    returns the exit codes. `networks` is (network per expert, packed copies per expert or empty)."""
    wait_for_imports()  # Lightning, imported while the data was read (api/training.py)
    from neuro_trigger.training.experts import train_experts
    from neuro_trigger.training.mean_expert import MeanExpertCallback, MeanExpertStream

    main = outputs[0]
    config = main.config
    figures = main.summary.get("figures") != report.FIGURES_PENDING  # a resumed sweep trial stays without plots
    training_dir = main.run_dir / "pack" if main.copy is not None else main.run_dir
    for output in outputs:
        output.started = time.time() - (output.summary.get("wall_time_s", 0.0) if resume else 0.0)
    handlers = attach_run_logs(main.run_dir, config["experts"])
    for output in outputs:
        output.summary.update({"pid": os.getpid(), "host": platform.node()})
        if main.copy is not None:
            output.summary["packed_with"] = [str(o.run_dir) for o in outputs if o is not output]
        write_summary(output.run_dir, output.summary)
    log.info("%s %s: config %s, experts %s", "resuming" if resume else "run",
             ", ".join(str(o.run_dir) for o in outputs), main.summary["config_name"], config["experts"])
    stop = threading.Event()
    mean_stream = MeanExpertStream(training_dir / "mean_expert", list(prepared))
    try:
        training, worker_seconds = time.time(), offload.worker_seconds()
        tracker = main.tracker if main.copy is None else None  # a pack's epochs are no one trial's
        with offload.workers():  # the experts' and the overall metrics and plots, beside the training threads
            with stop_on_signals(stop) as caught:
                phase("training")
                results = train_experts(prepared, networks[0], training_dir, config["workers"], stop,
                                        lambda expert: [MeanExpertCallback(mean_stream, expert),
                                                        *(tracker.loggers(expert) if tracker else [])],
                                        resume=resume, copies=networks[1], figures=figures)
            mean_stream.close()
            codes = [_export_output(output, data, prepared, networks, results, training, stop.is_set(),
                                    caught.exit_code, figures) for output in outputs]
            waiting = time.time()
            phase("plots")
            announce("export", "the last figures, then report.html")
        for output in outputs:  # the plots still drawing when the export was done, and the workers' CPU time
            output.summary["timing"].update({"plots_wait_s": round(time.time() - waiting, 2),
                                             "workers_s": round(offload.worker_seconds() - worker_seconds, 2)})
    except BaseException as e:
        codes = _ended_early(outputs, e)  # raises again unless interrupted or a disk fault
    finally:
        closed = all([_close(output) for output in outputs])
        detach_run_logs(handlers)
        for output in outputs:
            folder.unlock_run_folder(output.run_dir)
    return codes if closed else [code or 1 for code in codes]


def _ended_early(outputs: list[Output], error: BaseException) -> list[int]:
    """Record why the run ended early (interrupted, or failed) in every summary; the exit codes of an
    interruption (130, 143) or a full or read-only disk (1), else the error is raised again."""
    fault = write_fault(error)
    interrupted = isinstance(error, KeyboardInterrupt)
    for output in outputs:
        if output.summary["status"] in ("running", "finished"):  # "finished" before its last plots were written
            output.summary["status"] = "interrupted" if interrupted else "failed"
            output.summary["error"] = (fault_line(fault, output.run_dir) if fault else
                                       interrupt_cause(interrupt_exit_code(error)) if interrupted
                                       else f"{type(error).__name__}: {error}")
    if interrupted or fault:
        log.error("run %s: %s", outputs[0].summary["status"], outputs[0].summary["error"])
        return [interrupt_exit_code(error) if interrupted else 1] * len(outputs)
    log.exception("run %s", outputs[0].summary["status"])
    raise error


def _close(output: Output) -> bool:
    """`report.html`, then the summary's end, written however the run ended; False (one line logged each) when
    the disk is full or read-only: a run without its report is failed, and summary.json keeps its last
    complete state where it cannot be written."""
    summary, run_dir = output.summary, output.run_dir
    summary["end_time"] = datetime.datetime.now().isoformat(timespec="seconds")
    summary["wall_time_s"] = round(time.time() - output.started, 2)
    images = report.images_of(run_dir, summary)
    closed = True
    for name, write in (("report.html", lambda: write_text(run_dir / "report.html", report.render(summary, images))),
                        ("summary.json", lambda: write_summary(run_dir, summary))):
        try:
            write()
        except OSError as e:
            fault = write_fault(e)
            if fault is None:
                raise
            closed = False
            log.error("%s%s", fault_line(fault, run_dir / name),
                      " (summary.json keeps the state it had before)" if name == "summary.json" else "")
            if summary["status"] == "finished":
                summary.update(status="failed", error=fault_line(fault, run_dir / name))
    if output.tracker is not None:
        output.tracker.finish(run_dir, summary)
    return closed


def _export_output(output: Output, data: dict, prepared: dict, networks: tuple[dict, dict], results: dict,
                   training: float, stopped: bool, stop_code: int, figures: bool = True) -> int:
    """One output folder's results, exports and final status; returns its exit code."""
    from neuro_trigger.training.copies import copy_result

    phase("export")
    summary, run_dir, config = output.summary, output.run_dir, output.config
    announce("export", f"{run_dir.name}: weights, predictions, the overall metrics and plots")
    exported = time.time()
    if output.copy is None:
        own_networks = networks[0]
    else:
        copies = networks[1]
        results = {x: copy_result(r, output.copy, copies[x], prepared[x], run_dir / f"expert_{x}", figures)
                   for x, r in results.items()}
        own_networks = {x: c.networks[output.copy] for x, c in copies.items()}
    export_overall(run_dir, data, prepared, own_networks, results, summary, config, figures)
    if networks[1] and output.copy is None:
        seeds.export_seeds(run_dir, data, prepared, networks[1], results, summary, config)
    summary.setdefault("timing", {}).update({
        "experts_s": round(exported - training, 2),  # training plus each expert's evaluation and plots
        "expert_evaluation_s": round(sum(r.evaluation_time_s for r in results.values()), 2),
        "expert_plots_s": round(sum(r.plot_time_s for r in results.values()), 2),  # TensorBoard + PNG
        "export_s": round(time.time() - exported, 2)})  # weights, predictions, overall plots
    unfinished = {x: r for x, r in results.items() if r.status != "finished"}
    if stopped:
        summary["status"] = "interrupted"
    else:
        summary["status"] = "failed" if unfinished else "finished"
    if unfinished:
        summary["error"] = "; ".join(f"expert {x}: {r.error or r.status}" for x, r in unfinished.items())
    elif stopped:
        summary["error"] = interrupt_cause(stop_code)
    return stop_code if stopped else (1 if unfinished else 0)
