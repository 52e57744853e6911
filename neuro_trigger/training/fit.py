"""Train one expert with its own Lightning Trainer, restore its best checkpoint, and evaluate it.

Runs inside that expert's thread; everything it touches (network, data, folder) belongs to
that expert alone.
"""
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger

from neuro_trigger.atomic import write_json
from neuro_trigger.constants import z_to_cm
from neuro_trigger.data.sampler import BucketSampler
from neuro_trigger.data.splits import SPLITS
from neuro_trigger.evaluation import plots
from neuro_trigger.evaluation.metrics import evaluate
from neuro_trigger.runs.export import write_plots
from neuro_trigger.training.batches import PermutationSampler, TensorBatches
from neuro_trigger.training.expert_data import ExpertData
from neuro_trigger.training.module import ExpertModule
from neuro_trigger.training.plot_callback import PlotCallback
from neuro_trigger.training.progress import ProgressBoard, ProgressCallback

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
    metrics: dict = field(default_factory=dict)  # split -> metrics
    predictions: dict = field(default_factory=dict)  # split -> (N, out_size) array, not written to JSON

    def summary(self) -> dict:
        return {k: v for k, v in vars(self).items() if k != "predictions"}


class StopOnRequest(pl.Callback):
    """Ends training at the next step boundary once the run asks all experts to stop."""

    def __init__(self, stop: threading.Event):
        self.stop = stop

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if self.stop.is_set():
            trainer.should_stop = True


def make_sampler(data: ExpertData):
    train = data.splits["train"]
    if data.config["dist"]:
        return BucketSampler(train.z_reco, data.config["dist"], seed=data.config["seed"] + data.expert)
    return PermutationSampler(len(train), seed=data.config["seed"] + data.expert)


def fit_expert(data: ExpertData, network: torch.nn.Module, expert_dir: Path, board: ProgressBoard,
               stop: threading.Event, extra_callbacks: list[pl.Callback] = ()) -> ExpertResult:
    """Train, restore the best checkpoint, predict and evaluate every split, write result.json."""
    config = data.config
    module = ExpertModule(network, config)
    x, y, _ = data.tensors("train")
    train_batches = TensorBatches((x, y), config["batch_size"], make_sampler(data))
    val = data.tensors("val")
    val_batches = TensorBatches(val, len(val[0]))
    checkpoint = ModelCheckpoint(dirpath=expert_dir / "ckpts", filename="best", monitor="val_loss", mode="min",
                                 save_last=True, save_top_k=1)
    callbacks = [checkpoint, ProgressCallback(board, data.expert), StopOnRequest(stop),
                 PlotCallback(data.splits["val"].reco, data.reference["val"], config["plot_every"], data.expert),
                 *extra_callbacks]
    if config["early_stopping_patience"] is not None:
        callbacks.append(EarlyStopping(monitor="val_loss", mode="min", patience=config["early_stopping_patience"]))
    trainer = pl.Trainer(
        max_epochs=config["epochs"], accelerator="cpu", devices=1,
        logger=[TensorBoardLogger(expert_dir, name="tb", version=""), CSVLogger(expert_dir, name="csv", version="")],
        callbacks=callbacks, enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
        log_every_n_steps=max(1, len(train_batches)), default_root_dir=expert_dir,
    )
    log.info("training expert %d on %d rows (val %d), batch %d, %s", data.expert, len(x), len(val[0]),
             config["batch_size"], "reweighted " + str(config["dist"]) if config["dist"] else "unweighted")
    board.update(data.expert, status="training")
    started = time.monotonic()
    trainer.fit(module, train_batches, val_batches)
    train_time = time.monotonic() - started
    epochs = trainer.current_epoch
    status = "interrupted" if stop.is_set() else "finished"

    if checkpoint.best_model_path:
        state = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(state)
    result = ExpertResult(
        expert=data.expert, status=status, epochs=epochs, train_time_s=round(train_time, 3),
        samples_per_s=round(epochs * len(train_batches.sampler) / train_time, 1) if train_time > 0 else 0.0,
        best_val_loss=float(checkpoint.best_model_score) if checkpoint.best_model_score is not None else None,
    )
    for split in SPLITS:
        inputs, targets, reference = data.tensors(split)
        pred = module.predict_all(inputs).double().numpy()
        result.predictions[split] = pred
        result.metrics[split] = evaluate(pred, targets.double().numpy(), reference.double().numpy(),
                                         config["z_cut_cm"])
    write_json(expert_dir / "result.json", result.summary())
    _write_expert_plots(expert_dir, data, result)
    board.update(data.expert, status=status)
    log.info("expert %d %s after %d epochs: test loss_vs_old %.4f, z_diff_std %.2f cm (old %.2f cm)",
             data.expert, status, epochs, result.metrics["test"]["loss_vs_old"],
             result.metrics["test"].get("z_diff_std", np.nan), result.metrics["test"].get("z_diff_std_old", np.nan))
    return result


def _write_expert_plots(expert_dir: Path, data: ExpertData, result: ExpertResult) -> None:
    """PNG plots of the test split (and the sampler's buckets for a reweighted expert)."""
    test = data.splits["test"]
    z_reco, z_old = z_to_cm(test.z_reco), z_to_cm(data.reference["test"][:, 0])
    z_pred = z_to_cm(result.predictions["test"][:, 0])
    title = f"expert {data.expert}, test"
    figures = plots.split_figures(z_reco, z_pred, z_old, result.metrics["test"]["z_resolution_vs_z"], title)
    if data.config["dist"]:
        sampler = make_sampler(data)
        edges = z_to_cm(np.linspace(-1, 1, sampler.n_buckets + 1))
        figures["z_buckets"] = plots.bucket_probabilities(z_to_cm(data.splits["train"].z_reco), edges,
                                                          sampler.probabilities, f"expert {data.expert}, train")
    write_plots(expert_dir / "plots", figures)
