"""An expert's checkpoints on a time cadence: `last.ckpt` for --resume, and `best.ckpt` once at the end.

Writing a Lightning checkpoint costs about 15 ms, more than a whole epoch of a small expert's arithmetic, so
`last.ckpt` is written after the first epoch, then after the first epoch that ends `CHECKPOINT_EVERY_S`
seconds or more after the previous write, and after the final one (last epoch, early stop, stop request).
The best weights are kept in memory by the module and travel inside `last.ckpt`. A resumed run repeats
the epochs after the last written one and ends exactly as an uninterrupted run would.
"""
import threading
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

from neuro_trigger.atomic import atomic_path

CHECKPOINT_EVERY_S = 30.0


class LatestEpochCheckpoint(ModelCheckpoint):
    """`last.ckpt` at the end of an epoch, on the cadence above; `stop` is the run's stop request."""

    def __init__(self, dirpath: Path, stop: threading.Event | None = None, every_s: float = CHECKPOINT_EVERY_S):
        super().__init__(dirpath=dirpath, filename="last", save_top_k=1, every_n_epochs=1,
                         enable_version_counter=False, save_on_train_epoch_end=True)
        self.stop, self.every_s = stop, every_s
        self.written_at: float | None = None

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        final = (trainer.should_stop or trainer.current_epoch + 1 >= (trainer.max_epochs or 0)
                 or (self.stop is not None and self.stop.is_set()))
        if self.written_at is None or final or time.monotonic() - self.written_at >= self.every_s:
            super().on_train_epoch_end(trainer, module)
            self.written_at = time.monotonic()


def write_best(path: Path, weights: dict[str, torch.Tensor], epoch: int, val_loss: float | None) -> None:
    """`best.ckpt`: the network's best weights under the module's names (`network.<name>`), as before."""
    with atomic_path(path) as tmp:
        torch.save({"state_dict": {f"network.{k}": v for k, v in weights.items()}, "epoch": epoch,
                    "best_val_loss": val_loss}, tmp)
