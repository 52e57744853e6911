"""Train one expert with its own Lightning Trainer, restore its best checkpoint, and evaluate it.

Runs inside that expert's thread; everything it touches (network, data, folder) belongs to
that expert alone.
"""
import contextlib
import csv
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import EarlyStopping
from pytorch_lightning.loggers import CSVLogger

from neuro_trigger.atomic import atomic_path, write_json
from neuro_trigger.training.batches import TensorBatches, steps_per_chunk
from neuro_trigger.training.checkpoints import LatestEpochCheckpoint, write_best
from neuro_trigger.training.epoch_axis import EpochAxisTensorBoardLogger
from neuro_trigger.training.expert_data import ExpertData
from neuro_trigger.training.expert_evaluation import evaluate_expert, make_sampler, write_expert_plots
from neuro_trigger.training.module import ExpertModule
from neuro_trigger.training.packed_fit import packed_training, restore_best_copies
from neuro_trigger.training.packed_module import Copies
from neuro_trigger.training.plot_callback import PlotCallback
from neuro_trigger.training.progress import ProgressBoard, ProgressCallback
from neuro_trigger.training.stop import TrainingStopped

log = logging.getLogger("neuro_trigger.training")


@dataclass
class ExpertResult:
    expert: int
    status: str  # finished | failed | interrupted
    error: str | None = None
    epochs: int = 0
    train_time_s: float = 0.0
    samples_per_s: float = 0.0
    best_val_loss: float | None = None
    evaluation_time_s: float = 0.0  # predicting and evaluating every split after training
    plot_time_s: float = 0.0  # TensorBoard plots during training (also inside train_time_s) and PNGs after it
    metrics: dict = field(default_factory=dict)  # split -> metrics
    predictions: dict = field(default_factory=dict)  # split -> (N, out_size) array, not written to JSON
    best_seed: int | None = None  # packed copies: the seed whose copy these metrics and predictions are
    copies: list = field(default_factory=list)  # packed copies: one summary each (seed, best val loss, ...)
    copy_predictions: list = field(default_factory=list)  # packed copies: split -> predictions, each; not in JSON

    def summary(self) -> dict:
        hidden = {"predictions", "copy_predictions"} | ({"best_seed", "copies"} if not self.copies else set())
        return {k: v for k, v in vars(self).items() if k not in hidden}


class StopOnRequest(pl.Callback):
    """Ends training at the next chunk of steps (at most 64 steps or 65536 rows, see `batches.steps_per_chunk`)
    once the run asks all experts to stop.

    The unfinished epoch is dropped, so `last.ckpt` stays at the last written epoch (`checkpoints.py`) and a
    resumed run continues exactly where an uninterrupted one would be.
    """

    def __init__(self, stop: threading.Event):
        self.stop = stop

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if self.stop.is_set():
            raise TrainingStopped(f"stopped by request in epoch {trainer.current_epoch}, step {trainer.global_step}")


def fit_expert(data: ExpertData, network: torch.nn.Module, expert_dir: Path, board: ProgressBoard,
               stop: threading.Event, extra_callbacks: list[pl.Callback] = (), resume: bool = False,
               copies: Copies | None = None) -> ExpertResult:
    """Train (or, resuming, continue from the last checkpoint), restore the best checkpoint, predict and
    evaluate every split, write result.json and the plots. A finished expert is not retrained on resume.

    With `copies`, its K packed copies train together; each ends with its best weights, and the copy with
    the lowest val loss is put into `network` and evaluated as the expert's result."""
    config = data.config
    x, y, _ = data.tensors("train")
    val = data.tensors("val")
    val_batches = TensorBatches(val, len(val[0]))
    if copies is None:
        module = ExpertModule(network, config, label=f"expert {data.expert}")
        train_batches = TensorBatches((x, y), config["batch_size"], make_sampler(data),
                                      steps_per_chunk(config["batch_size"]))
        callbacks = []
    else:
        module, train_batches, callbacks = packed_training(data, copies, stop)
    plotter = PlotCallback(data.splits["val"].reco, data.reference["val"], config["plot_every"], data.expert)
    trainer = _trainer(config, expert_dir, len(train_batches),
                       [*callbacks, ProgressCallback(board, data.expert), StopOnRequest(stop), plotter,
                        *extra_callbacks], stop, early_stopping=copies is None)
    last = expert_dir / "ckpts" / "last.ckpt"
    previous = _previous_result(expert_dir) if resume else {}
    session_epochs, started = 0, time.monotonic()
    if previous.get("status") == "finished":
        log.info("expert %d finished before the interruption: evaluating its best checkpoint only", data.expert)
        epochs, status = previous["epochs"], "finished"
        best_path = expert_dir / "ckpts" / ("best.ckpt" if copies is None else "last.ckpt")
        best_score = previous.get("best_val_loss")
    else:
        resume_from = last if resume and last.is_file() else None
        # a checkpoint taken at the end of epoch index e continues with epoch e + 1
        start_epoch = torch.load(resume_from, map_location="cpu", weights_only=True)["epoch"] + 1 if resume_from else 0
        log.info("training expert %d on %d rows (val %d), batch %d, %s%s", data.expert, len(x), len(val[0]),
                 config["batch_size"], "reweighted " + str(config["dist"]) if config["dist"] else "unweighted",
                 f", resuming from {resume_from} after {start_epoch} epochs" if resume_from else "")
        status = "finished"
        with csv_history_kept(expert_dir / "csv" / "metrics.csv", start_epoch):
            try:
                trainer.fit(module, train_batches, val_batches, ckpt_path=resume_from, weights_only=True)
            except TrainingStopped as e:
                log.warning("expert %d: %s", data.expert, e)
                status = "interrupted"
        epochs = trainer.current_epoch  # complete epochs
        session_epochs = epochs - start_epoch
        best_path, best_score = None, None  # the module holds the best weights itself
        if copies is None and module.best_weights is not None:
            write_best(expert_dir / "ckpts" / "best.ckpt", module.best_weights, module.best_epoch,
                       module.best_val_loss)
            network.load_state_dict(module.best_weights)
            best_score = module.best_val_loss
    session_time = time.monotonic() - started if session_epochs else 0.0
    networks_trained = 1 if copies is None else len(copies.networks)
    samples_per_s = (round(session_epochs * len(train_batches.sampler) * networks_trained / session_time, 1)
                     if session_epochs
                     else previous.get("samples_per_s", 0.0))
    if best_path is not None and best_path.is_file():
        module.load_state_dict(torch.load(best_path, map_location="cpu", weights_only=True)["state_dict"])
    result = ExpertResult(
        expert=data.expert, status=status, epochs=epochs, samples_per_s=samples_per_s, best_val_loss=best_score,
        train_time_s=round(previous.get("train_time_s", 0.0) + session_time, 3))
    evaluation_started = time.monotonic()
    if copies is not None:
        restore_best_copies(module, copies, network, data, result)
    result.predictions, result.metrics = evaluate_expert(network, data)
    plots_started = time.monotonic()
    write_expert_plots(expert_dir, data, result.predictions, result.metrics)
    result.evaluation_time_s = round(plots_started - evaluation_started, 3)
    result.plot_time_s = round(time.monotonic() - plots_started + plotter.seconds, 3)
    write_json(expert_dir / "result.json", result.summary())
    board.update(data.expert, status=status)
    log.info("expert %d %s after %d epochs: test loss_vs_old %.4f, z_diff_std %.2f cm (old %.2f cm)",
             data.expert, status, epochs, result.metrics["test"]["loss_vs_old"],
             result.metrics["test"].get("z_diff_std", np.nan), result.metrics["test"].get("z_diff_std_old", np.nan))
    return result


def _trainer(config: dict, expert_dir: Path, batches_per_epoch: int, callbacks: list[pl.Callback],
             stop: threading.Event | None = None, early_stopping: bool = True) -> pl.Trainer:
    """One expert's Trainer: its loggers, the latest-epoch checkpoint for --resume (on a time cadence and at
    a stop request), early stopping (packed copies stop each on their own, inside their module)."""
    callbacks = [*callbacks, LatestEpochCheckpoint(expert_dir / "ckpts", stop)]
    if early_stopping and config["early_stopping_patience"] is not None:
        callbacks.append(EarlyStopping(monitor="val_loss", mode="min", patience=config["early_stopping_patience"]))
    return pl.Trainer(
        max_epochs=config["epochs"], accelerator="cpu", devices=1,
        logger=[EpochAxisTensorBoardLogger(expert_dir, name="tb", version=""),
                CSVLogger(expert_dir, name="csv", version="")],
        callbacks=callbacks, enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
        # Lightning batches (chunks of steps, or a packed epoch): metrics are logged per epoch only
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
    except (OSError, ValueError):
        return {}
