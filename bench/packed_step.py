"""Samples per second of K packed copies of one expert (`PackedExpertModule`), in the Trainer of training/fit.py.

Imported by bench/training.py for its `packed_K<K>` column (BENCH_PACK=K, default 8). A packed epoch is one
Lightning batch, so the timer runs from its start to its end: epoch ends (checkpoints, logs) are not timed,
as in the other columns.
"""
import os
import tempfile
import threading
import time
from pathlib import Path

import pytorch_lightning as pl
import torch

from neuro_trigger.training import fit
from neuro_trigger.training.packed import PackedBatches, PackedSamplers
from neuro_trigger.training.packed_module import Copies, PackedExpertModule

PACK = int(os.environ.get("BENCH_PACK", 8))


class EpochTimer(pl.Callback):
    """Times the epochs after the first (the warm-up)."""

    def __init__(self):
        self.start, self.seconds = None, 0.0

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        self.start = time.perf_counter() if trainer.current_epoch >= 1 else None

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if self.start is not None:
            self.seconds += time.perf_counter() - self.start


def packed_samples_per_s(network, config: dict, samplers: list, x: torch.Tensor, y: torch.Tensor,
                         epochs: int = 3) -> float:
    """Samples/s of all copies together (one per sampler, `network()` each), over `epochs` - 1 epochs after one
    warm-up epoch; `config` is the expert's (its seed replaced per copy)."""
    configs = [{**config, "seed": k} for k in range(len(samplers))]
    module = PackedExpertModule(Copies(configs, [network() for _ in samplers]), threading.Event())
    batches = PackedBatches((x, y), config["batch_size"], PackedSamplers(samplers))
    timer = EpochTimer()
    with tempfile.TemporaryDirectory() as folder:
        trainer = fit._trainer({**config, "epochs": epochs}, Path(folder), len(batches), [timer],
                               early_stopping=False)
        trainer.fit(module, batches)
    return (epochs - 1) * len(x) * len(samplers) / timer.seconds
