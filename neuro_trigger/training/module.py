"""The Lightning module of one expert: the network plus the train/validation step logic.

With `quantization_aware: {"epochs": N}` the last N epochs train through the FPGA fixed-point
arithmetic (straight-through gradient), and every validation runs in fixed point, so the best
checkpoint is the best network as the FPGAs compute it.

The training step is as short as a plain PyTorch loop: Lightning hands over a chunk of batches
(`TensorBatches(steps_per_chunk=...)`) and `training_step` steps through them itself, calling the
torch optimizer directly (manual optimization). Lightning's hooks, closures and progress tracking
thus run once per chunk; the optimizer steps are added to its step counter (`global_step`).

The best weights (lowest val_loss, as Lightning's ModelCheckpoint would pick them) are kept in memory and
saved inside every checkpoint (`checkpoints.py`), so that writing them costs nothing per epoch.
"""
import functools
from pathlib import Path
from typing import Callable

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn

from neuro_trigger import models
from neuro_trigger.hardware.quantization_aware import FixedPointForward
from neuro_trigger.training.compiled import CompiledForward
from neuro_trigger.training.validation import ValidationFigures


class ExpertModule(pl.LightningModule):
    """Trains one expert network on (inputs, targets) batches; validation compares it with the reference."""

    def __init__(self, network: nn.Module, config: dict, label: str = "network"):
        super().__init__()
        self.automatic_optimization = False  # training_step steps the optimizer itself
        self.network = network
        self.config = config
        self.out_size = config["out_size"]
        self.batch_size = config["batch_size"]
        self.loss_fn = models.build_loss(config)
        self.last_val_pred = None
        self.validation_figures: ValidationFigures | None = None  # made at the first validation, from its split
        self.best_val_loss, self.best_epoch, self.best_weights = float("inf"), -1, None
        self.epoch_loss = {"sum": torch.zeros(()), "rows": 0}
        # plain containers, not attributes: an nn.Module attribute would register the compiled wrapper as a
        # submodule, and every assignment goes through nn.Module's slow __setattr__
        self.compiled = [CompiledForward(network, label)] if config.get("compile") else []
        qat = config.get("quantization_aware")
        self.fixed_point = FixedPointForward(config["precision"]) if qat else None
        self.fixed_point_from_epoch = max(0, config["epochs"] - qat["epochs"]) if qat else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)

    def _training_forwards(self) -> tuple[Callable[[torch.Tensor], torch.Tensor], Callable]:
        """This epoch's forward of full batches and of the epoch's last, shorter one: fixed point in the QAT
        epochs; else compiled for full batches only (a new shape would compile again), or eager."""
        if self.fixed_point is not None and self.current_epoch >= self.fixed_point_from_epoch:
            fixed_point = functools.partial(self.fixed_point, self.network)
            return fixed_point, fixed_point
        return (self.compiled[0] if self.compiled else self.network), self.network

    def on_train_epoch_start(self) -> None:
        self.epoch_loss.update(sum=torch.zeros(()), rows=0)

    def training_step(self, chunk: tuple[torch.Tensor, ...], chunk_idx: int) -> None:
        """Step through the batches of one chunk (inputs (rows, 27), targets (rows, >= out_size))."""
        x, y = chunk[0], chunk[1][:, :self.out_size]
        optimizer = self.optimizers().optimizer  # the torch optimizer: Lightning's wrapper adds hooks to every step
        full_batch_forward, short_batch_forward = self._training_forwards()
        losses = []
        for start in range(0, len(x), self.batch_size):
            xb, yb = x[start:start + self.batch_size], y[start:start + self.batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = self.loss_fn((full_batch_forward if len(xb) == self.batch_size else short_batch_forward)(xb), yb)
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
        first_step = self.global_step
        _count_optimizer_steps(self.trainer, len(losses))
        # per-step loss sums and finiteness checks are done once per chunk: each costs a few ops per step
        losses = torch.stack(losses)
        finite = torch.isfinite(losses)
        if not finite.all():
            bad = int(torch.nonzero(~finite)[0])
            raise FloatingPointError(f"loss is {losses[bad].item()} at epoch {self.current_epoch}, "
                                     f"step {first_step + bad}")
        rows = torch.full_like(losses, self.batch_size)
        rows[-1] = len(x) - self.batch_size * (len(losses) - 1)
        self.epoch_loss["sum"] += losses @ rows
        self.epoch_loss["rows"] += len(x)
        if chunk_idx == self.trainer.num_training_batches - 1:
            self.log("train_loss", self.epoch_loss["sum"] / self.epoch_loss["rows"], on_step=False, on_epoch=True)

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        x, y, reference = batch
        pred = self.network(x) if self.fixed_point is None else self.fixed_point(self.network, x)
        if self.validation_figures is None:
            self.validation_figures = ValidationFigures(y.double().numpy(), reference.double().numpy())
        loss = float(self.loss_fn(pred, y[:, :self.out_size]))
        self.last_val_pred = pred.detach().numpy()  # (N, out) for the plot callback
        logged_loss = float(np.float32(loss))  # the value Lightning logs and monitors
        if logged_loss < self.best_val_loss:  # strictly lower, never NaN: ModelCheckpoint's rule
            self.best_val_loss, self.best_epoch = logged_loss, self.current_epoch
            self.best_weights = {k: v.detach().clone() for k, v in self.network.state_dict().items()}
        figures = self.validation_figures.figures(pred.double().numpy())
        self.log_dict({"val_loss": loss, **{f"val_{name}": value for name, value in figures.items()}},
                      batch_size=len(x))

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["best"] = {"val_loss": self.best_val_loss, "epoch": self.best_epoch, "weights": self.best_weights}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        best = checkpoint.get("best") or _best_of_earlier_release(checkpoint)
        self.best_val_loss, self.best_epoch, self.best_weights = best["val_loss"], best["epoch"], best["weights"]

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return models.build_optimizer(self.config, self.network.parameters())


def _best_of_earlier_release(checkpoint: dict) -> dict:
    """Runs of the previous release kept the best weights in best.ckpt, named in ModelCheckpoint's state."""
    for state in checkpoint.get("callbacks", {}).values():
        path, score = state.get("best_model_path"), state.get("best_model_score")
        if state.get("monitor") == "val_loss" and path and score is not None and Path(path).is_file():
            weights = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
            return {"val_loss": float(score), "epoch": -1,
                    "weights": {k.removeprefix("network."): v for k, v in weights.items()}}
    return {"val_loss": float("inf"), "epoch": -1, "weights": None}


def _count_optimizer_steps(trainer: pl.Trainer, steps: int) -> None:
    """Count a chunk's `steps` optimizer steps where Lightning counts them one by one (private counters, pinned
    by tests): its optimizer wrapper's `global_step` (checkpointing reads it), and the loggers' step, which
    Lightning itself advances by 1 after each chunk."""
    loop = trainer.fit_loop.epoch_loop
    loop.manual_optimization.optim_step_progress.increment_by(steps)
    loop._batches_that_stepped += steps - 1
