"""Plots of the validation split to TensorBoard during training, at a cadence (`plot_every`) and at the end.

A set of plots takes about half a second to draw, as long as several epochs of a small expert. Where the run
has worker processes (evaluation/offload.py) they draw it beside training, and the training thread only writes
the finished images: at a later epoch, or after training for the last set (`flush`). Without workers the set is
drawn in the training thread, and a plot due at the cadence is skipped while plotting has taken more than
PLOT_SHARE of the expert's training time (the first one and the one at the end are always drawn).
"""
import time
from concurrent.futures import Future

import numpy as np
import pytorch_lightning as pl
from pytorch_lightning.loggers import TensorBoardLogger
from tensorboard.compat.proto.summary_pb2 import Summary

from neuro_trigger.constants import z_to_cm
from neuro_trigger.evaluation import offload, plots
from neuro_trigger.evaluation.metrics import resolution_vs_z, Z_BIN_EDGES_CM

PLOT_SHARE = 0.05


class PlotCallback(pl.Callback):
    def __init__(self, reco: np.ndarray, reference: np.ndarray, every: int, expert: int):
        self.z_reco, self.z_old = z_to_cm(reco[:, 0]), z_to_cm(reference[:, 0])
        self.every, self.expert = every, expert
        self.binned_old = resolution_vs_z(self.z_reco, self.z_old)
        self.plotted_pred = None
        self.seconds = 0.0  # time the training thread spent plotting, reported with the expert's plot time
        self.training_started: float | None = None
        self.logger: TensorBoardLogger | None = None
        self.pending: list[tuple[int, Future, tuple]] = []  # (epoch, images being drawn, their job's arguments)

    def on_train_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.training_started = time.monotonic()
        self.logger = next((lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)), None)

    def _within_share(self) -> bool:
        if self.plotted_pred is None or self.training_started is None:
            return True
        return self.seconds <= PLOT_SHARE * (time.monotonic() - self.training_started)

    def _plot(self, module: pl.LightningModule, epoch: int) -> None:
        pred = getattr(module, "last_val_pred", None)
        if pred is None or self.logger is None or pred is self.plotted_pred:  # nothing new since the last plot
            return
        started = time.monotonic()
        z_pred = z_to_cm(pred[:, 0])
        binned = {"edges_cm": Z_BIN_EDGES_CM, "new": resolution_vs_z(self.z_reco, z_pred), "old": self.binned_old}
        title = f"expert {self.expert}, validation, epoch {epoch}"
        job = (self.z_reco, z_pred, self.z_old, binned, title)
        self.pending.append((epoch, offload.submit_figures(plots.encoded_split_figures, *job), job))
        self.plotted_pred = pred
        self._write(wait=False)
        self.seconds += time.monotonic() - started

    def _write(self, wait: bool) -> None:
        """Write the finished image sets to TensorBoard (all of them, waiting, with `wait`)."""
        still_drawn = []
        for epoch, future, job in self.pending:
            if not (wait or future.done()):
                still_drawn.append((epoch, future, job))
                continue
            images = offload.result(future, plots.encoded_split_figures, *job)
            summary = Summary(value=[Summary.Value(tag=f"val/{name}", image=Summary.Image(
                height=height, width=width, colorspace=4, encoded_image_string=png))
                for name, (png, height, width) in images.items()])
            # the writer's own file writer, which it reopens if Lightning closed it at the end of training
            self.logger.experiment._get_file_writer().add_summary(summary, global_step=epoch)
        self.pending = still_drawn

    def on_validation_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if (trainer.current_epoch + 1) % self.every == 0 and self._within_share():
            self._plot(module, trainer.current_epoch)

    def on_train_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self._plot(module, trainer.current_epoch - 1)  # the last validated epoch

    def flush(self) -> None:
        """Wait for the images still being drawn and write them (after training: the expert's last plots)."""
        if self.pending:
            self._write(wait=True)
            self.logger.experiment.close()
