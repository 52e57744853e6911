"""The `mean_expert/` TensorBoard stream: per epoch, the mean of each metric over the experts.

Epoch e is written once every expert still training has reported it; an expert that stops
(early stopping, failure) stops being waited for, so nothing deadlocks and no epoch is lost.
A stopped expert's last values are carried forward, so the mean stays over the same experts and
does not jump when one stops; `experts_training` counts the experts that reported the epoch.
The x axis is the epoch, as in every expert's own stream. Nobody blocks: whichever thread completes
an epoch writes it, under a lock.
"""
import threading
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
from torch.utils.tensorboard import SummaryWriter


FLUSH_EVERY_S = 2  # the writer's own thread flushes this often (a flush per epoch cost ~2 ms of training)


class MeanExpertStream:
    def __init__(self, log_dir: Path, experts: list[int]):
        self.lock = threading.Lock()
        self.active = set(experts)
        self.reports: dict[int, dict[int, dict[str, float]]] = {}  # epoch -> expert -> metrics
        self.latest: dict[int, dict[str, float]] = {}  # expert -> its last written metrics (carried forward)
        self.written: list[int] = []
        self.log_dir = Path(log_dir)
        self.writer: SummaryWriter | None = None

    def report(self, expert: int, epoch: int, metrics: dict[str, float]) -> None:
        with self.lock:
            self.reports.setdefault(epoch, {})[expert] = metrics
            self._flush()

    def finish(self, expert: int) -> None:
        """This expert reports no more epochs (it ended or failed)."""
        with self.lock:
            self.active.discard(expert)
            self._flush()

    def close(self) -> None:
        with self.lock:
            self.active.clear()
            self._flush()
            if self.writer is not None:
                self.writer.close()

    def _flush(self) -> None:
        """Write every complete epoch, in order (caller holds the lock)."""
        for epoch in sorted(self.reports):
            by_expert = self.reports[epoch]
            if not self.active <= set(by_expert):
                break
            if self.writer is None:
                self.writer = SummaryWriter(str(self.log_dir), flush_secs=FLUSH_EVERY_S)
            self.latest.update(by_expert)
            names = sorted({name for metrics in self.latest.values() for name in metrics})
            for name in names:
                values = [m[name] for m in self.latest.values() if name in m]
                self.writer.add_scalar(name, float(np.mean(values)), global_step=epoch)
            self.writer.add_scalar("experts_training", len(by_expert), global_step=epoch)
            self.written.append(epoch)
            del self.reports[epoch]


class MeanExpertCallback(pl.Callback):
    """Reports an expert's epoch metrics (train and validation) to the shared stream."""

    def __init__(self, stream: MeanExpertStream, expert: int):
        self.stream, self.expert = stream, expert

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.stream.report(self.expert, trainer.current_epoch, dict(module.epoch_metrics))

    def on_train_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.stream.finish(self.expert)

    def on_exception(self, trainer: pl.Trainer, module: pl.LightningModule, exception: BaseException) -> None:
        self.stream.finish(self.expert)
