"""Plots of the validation split to TensorBoard during training, at a cadence (`plot_every`) and at the end.

A set of plots takes about half a second to draw, as long as several epochs of a small expert, so a plot
due at the cadence is skipped while plotting has taken more than PLOT_SHARE of the expert's training time
(the first one and the one at the end are always drawn). Long runs get every plot; a run of seconds
is not made slower by its pictures.
"""
import time

import numpy as np
import pytorch_lightning as pl
from pytorch_lightning.loggers import TensorBoardLogger

from neuro_trigger.constants import z_to_cm
from neuro_trigger.evaluation import plots
from neuro_trigger.evaluation.metrics import resolution_vs_z, Z_BIN_EDGES_CM

PLOT_SHARE = 0.05


class PlotCallback(pl.Callback):
    def __init__(self, reco: np.ndarray, reference: np.ndarray, every: int, expert: int):
        self.z_reco, self.z_old = z_to_cm(reco[:, 0]), z_to_cm(reference[:, 0])
        self.every, self.expert = every, expert
        self.binned_old = resolution_vs_z(self.z_reco, self.z_old)
        self.plotted_pred = None
        self.seconds = 0.0  # time spent plotting, reported with the expert's plot time
        self.training_started: float | None = None

    def on_train_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.training_started = time.monotonic()

    def _within_share(self) -> bool:
        if self.plotted_pred is None or self.training_started is None:
            return True
        return self.seconds <= PLOT_SHARE * (time.monotonic() - self.training_started)

    def _plot(self, trainer: pl.Trainer, module: pl.LightningModule, epoch: int) -> None:
        pred = getattr(module, "last_val_pred", None)
        logger = next((lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)), None)
        if pred is None or logger is None or pred is self.plotted_pred:  # nothing new since the last plot
            return
        started = time.monotonic()
        z_pred = z_to_cm(pred[:, 0])
        binned = {"edges_cm": Z_BIN_EDGES_CM, "new": resolution_vs_z(self.z_reco, z_pred), "old": self.binned_old}
        title = f"expert {self.expert}, validation, epoch {epoch}"
        for name, figure in plots.split_figures(self.z_reco, z_pred, self.z_old, binned, title).items():
            logger.experiment.add_figure(f"val/{name}", figure, global_step=epoch, close=False)
        self.plotted_pred = pred
        self.seconds += time.monotonic() - started

    def on_validation_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if (trainer.current_epoch + 1) % self.every == 0 and self._within_share():
            self._plot(trainer, module, trainer.current_epoch)

    def on_train_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self._plot(trainer, module, trainer.current_epoch - 1)  # the last validated epoch
