"""Train one expert's pack of K >= 1 networks with its own Lightning Trainer, keep each copy's best weights,
and evaluate the best copy as the expert's network.

Runs inside that expert's thread; everything it touches (networks, data, folder) belongs to that expert alone.
"""
import contextlib
import csv
import json
import logging
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import CSVLogger, Logger

from neuro_trigger.atomic import atomic_path, write_json
from neuro_trigger.training.batches import PackBatches, PackSamplers, WholeSplit, steps_per_chunk
from neuro_trigger.training.checkpoints import LatestEpochCheckpoint, write_best
from neuro_trigger.training.copies import CopyTensorBoard, copy_data, record_copies
from neuro_trigger.training.engine import PackModule
from neuro_trigger.training.epoch_axis import EpochAxisTensorBoardLogger
from neuro_trigger.training.expert_data import ExpertData
from neuro_trigger.training.expert_evaluation import evaluate_expert, make_sampler, write_expert_plots
from neuro_trigger.training.pack import Copies
from neuro_trigger.training.plot_callback import PlotCallback
from neuro_trigger.training.progress import ProgressBoard, ProgressCallback
from neuro_trigger.training.result import ExpertResult
from neuro_trigger.training.stop import TrainingStopped
from neuro_trigger.training.tensorboard_summary import write_final_summary

log = logging.getLogger("neuro_trigger.training")


def fit_expert(data: ExpertData, network: torch.nn.Module, expert_dir: Path, board: ProgressBoard,
               stop: threading.Event, extra_callbacks: list[pl.Callback | Logger] = (), resume: bool = False,
               copies: Copies | None = None, figures: bool = True,
               trained: Callable[[], None] = lambda: None) -> ExpertResult:
    """Train (or, resuming, continue from the last checkpoint) the expert's copies (`network` alone without
    `copies`), put the best copy's best weights into `network`, predict and evaluate every split, write
    result.json and the plots. A finished expert is not retrained on resume. Without `figures` (a sweep
    trial) no plot is drawn, neither in TensorBoard nor as PNG: `main.py --draw` draws the PNGs later. `trained`
    is called once training has ended, before the evaluation (the next expert may start training)."""
    config = data.config
    copies = copies or Copies([config], [network], labels=[f"expert {data.expert}"])
    x, y, _ = data.tensors("train")
    val = data.tensors("val")
    module = PackModule(copies, stop)
    sampler = PackSamplers([make_sampler(copy_data(data, c)) for c in copies.configs])
    train_batches = PackBatches((x, y), config["batch_size"], sampler, steps_per_chunk(config["batch_size"]))
    plotter = PlotCallback(data.splits["val"].reco, data.reference["val"], config["plot_every"], data.expert)
    loggers = [c for c in extra_callbacks if isinstance(c, Logger)]
    callbacks = [ProgressCallback(board, data.expert), *([plotter] if figures else []),
                 *(c for c in extra_callbacks if c not in loggers)]
    trainer = _trainer(config, expert_dir, len(train_batches),
                       callbacks + ([CopyTensorBoard(copies)] if copies.tensorboard_dirs else []), stop, loggers)
    last = expert_dir / "ckpts" / "last.ckpt"
    previous = _previous_result(expert_dir) if resume else {}
    session_epochs, started = 0, time.monotonic()
    if previous.get("status") == "finished":
        board.enter(data.expert, "evaluating", "finished before the interruption, its best weights only")
        epochs, status = previous["epochs"], "finished"
        checkpoint = torch.load(last, map_location="cpu", weights_only=True)
        module.load_state_dict(checkpoint["state_dict"])
        module.on_load_checkpoint(checkpoint)
    else:
        resume_from = last if resume and last.is_file() else None
        # a checkpoint taken at the end of epoch index e continues with epoch e + 1
        start_epoch = torch.load(resume_from, map_location="cpu", weights_only=True)["epoch"] + 1 if resume_from else 0
        board.enter(data.expert, "training",
                    f"{len(copies.networks)} copies, " * (len(copies.networks) > 1) + f"{len(x)} rows "
                    f"(val {len(val[0])}), batch {config['batch_size']}, {config['epochs']} epochs, "
                    + ("reweighted " + str(config["dist"]) if config["dist"] else "unweighted")
                    + (f", resuming from {resume_from} after {start_epoch} epochs" if resume_from else ""))
        status = "finished"
        with csv_history_kept(expert_dir / "csv" / "metrics.csv", start_epoch):
            try:
                trainer.fit(module, train_batches, WholeSplit(val), ckpt_path=resume_from, weights_only=True)
            except TrainingStopped as e:
                log.warning("expert %d: %s", data.expert, e)
                status = "interrupted"
        epochs = trainer.current_epoch  # complete epochs
        session_epochs = epochs - start_epoch
    session_time = time.monotonic() - started if session_epochs else 0.0
    samples_per_s = (round(session_epochs * len(sampler) * len(copies.networks) / session_time, 1)
                     if session_epochs else previous.get("samples_per_s", 0.0))
    best = module.restore_best(copies)
    if network is not copies.networks[best]:
        network.load_state_dict(copies.networks[best].state_dict())
    best_val = float(module.best_val[best])
    if module.best_weights[best] is not None:
        write_best(expert_dir / "ckpts" / "best.ckpt", module.best_weights[best], int(module.best_epoch[best]),
                   best_val)
    result = ExpertResult(
        expert=data.expert, status=status, epochs=epochs, samples_per_s=samples_per_s,
        best_val_loss=best_val if np.isfinite(best_val) else None,
        train_time_s=round(previous.get("train_time_s", 0.0) + session_time, 3))
    trained()
    evaluation_started = time.monotonic()
    if session_epochs:
        board.enter(data.expert, "evaluating", f"{epochs}/{config['epochs']} epochs trained in "
                    f"{session_time:.1f} s, best val loss {best_val:.5f}")
    elif previous.get("status") != "finished":
        board.enter(data.expert, "evaluating", f"{epochs}/{config['epochs']} epochs")
    if len(copies.networks) > 1:
        record_copies(module, copies, best, data, result)
    result.predictions, result.metrics = evaluate_expert(network, data)
    write_final_summary(trainer.loggers, copies.configs[best], data.expert, result.metrics["test"], epochs)
    plots_started = time.monotonic()
    board.enter(data.expert, "plots", f"evaluated in {plots_started - evaluation_started:.1f} s")
    if figures:
        write_expert_plots(expert_dir, data, result.predictions, result.metrics)
        plotter.flush()  # the last TensorBoard plots, drawn in a worker while the expert was evaluated
    result.evaluation_time_s = round(plots_started - evaluation_started, 3)
    result.plot_time_s = round(time.monotonic() - plots_started + plotter.seconds, 3)
    write_json(expert_dir / "result.json", result.summary())
    board.enter(data.expert, status, finished_line(epochs, result.metrics["test"]))
    return result


def finished_line(epochs: int, test: dict) -> str:
    """An expert's closing line: against the old network where the data has one, else its own loss (a 3DH
    network's files carry no hardware prediction, and "loss_vs_old nan" said nothing)."""
    if "loss_vs_old" in test:
        return (f"{epochs} epochs, test loss_vs_old {test['loss_vs_old']:.4f}, z_diff_std "
                f"{test.get('z_diff_std', np.nan):.2f} cm (old {test.get('z_diff_std_old', np.nan):.2f} cm)")
    return f"{epochs} epochs, test loss {test.get('loss', np.nan):.5f}, z_diff_std {test.get('z_diff_std', np.nan):.2f} cm"


def _trainer(config: dict, expert_dir: Path, batches_per_epoch: int, callbacks: list[pl.Callback],
             stop: threading.Event | None = None, loggers: list[Logger] = ()) -> pl.Trainer:
    """One expert's Trainer: its loggers (and `loggers`, e.g. MLflow's) and the latest-epoch checkpoint for
    --resume (on a time cadence and at a stop request); each copy stops early on its own, inside the engine."""
    callbacks = [*callbacks, LatestEpochCheckpoint(expert_dir / "ckpts", stop)]
    return pl.Trainer(
        max_epochs=config["epochs"], accelerator="cpu", devices=1,
        logger=[EpochAxisTensorBoardLogger(expert_dir, name="tb", version=""),
                CSVLogger(expert_dir, name="csv", version=""), *loggers],
        callbacks=callbacks, enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
        # Lightning batches are chunks of steps: metrics are logged per epoch only
        log_every_n_steps=max(1, batches_per_epoch), default_root_dir=expert_dir,
    )


@contextlib.contextmanager
def csv_history_kept(metrics_csv: Path, start_epoch: int) -> Iterator[None]:
    """Lightning's CSVLogger deletes an existing metrics.csv; on resume, put back the rows of the epochs
    before `start_epoch` in front of the new ones."""
    if start_epoch == 0 or not metrics_csv.is_file():
        yield
        return
    with open(metrics_csv, newline="") as f:
        kept = [row for row in csv.DictReader(f) if row.get("epoch") and int(row["epoch"]) < start_epoch]
    yield
    new_rows = []
    if metrics_csv.is_file():
        with open(metrics_csv, newline="") as f:
            new_rows = list(csv.DictReader(f))
    columns = sorted({key for row in kept + new_rows for key in row})
    with atomic_path(metrics_csv) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(kept + new_rows)


def _previous_result(expert_dir: Path) -> dict:
    """result.json of an earlier session of this expert (empty when there is none)."""
    try:
        return json.loads((expert_dir / "result.json").read_text())
    except (OSError, ValueError, RecursionError):
        return {}
