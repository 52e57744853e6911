"""Samples per second of K packed copies of one expert (`PackedExpertModule`) in a real Lightning Trainer.

Imported by bench/training.py for its `packed` column; run alone it prints that column:
`python bench/packed_step.py` (BENCH_TRAIN_ROWS, BENCH_PACK=K).
"""
import os
import time

import pytorch_lightning as pl
import torch

from neuro_trigger.training.batches import PermutationSampler
from neuro_trigger.training.packed import PackedBatches, PackedSamplers
from neuro_trigger.training.packed_module import Copies, PackedExpertModule

PACK = int(os.environ.get("BENCH_PACK", 8))


class EpochTimer(pl.Callback):
    """Times the epochs after the first (the warm-up); a packed epoch is one Lightning step."""

    def __init__(self):
        self.start, self.end = None, None

    def on_train_epoch_start(self, trainer, module):
        if trainer.current_epoch == 1:
            self.start = time.perf_counter()

    def on_train_epoch_end(self, trainer, module):
        self.end = time.perf_counter()


def packed_samples_per_s(network, config: dict, x: torch.Tensor, y: torch.Tensor, batch: int, steps: int,
                         copies: int = PACK) -> float:
    """Samples/s of all `copies` together (K x rows per epoch), over epochs of `steps` steps after one warm-up
    epoch; `network()` makes one copy, `config` is the expert's (seed replaced per copy)."""
    rows = min(len(x), steps * batch)
    configs = [{**config, "seed": k, "early_stopping_patience": None} for k in range(copies)]
    module = PackedExpertModule(Copies(configs, [network() for _ in range(copies)]))
    batches = PackedBatches((x[:rows], y[:rows]), batch, PackedSamplers([PermutationSampler(rows, k)
                                                                          for k in range(copies)]))
    timer, epochs = EpochTimer(), 3
    trainer = pl.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                         num_sanity_val_steps=0, callbacks=[timer])
    trainer.fit(module, batches)
    return (epochs - 1) * rows * copies / (timer.end - timer.start)


if __name__ == "__main__":
    import numpy as np

    from common import report
    from neuro_trigger.data import synthetic
    from training import CONFIG, STEPS, network

    tracks = synthetic.generate(int(os.environ.get("BENCH_TRAIN_ROWS", 200_000)), seed=8)
    x, y = torch.from_numpy(tracks.inputs), torch.from_numpy(tracks.reco.astype(np.float32))
    report("packed_step", [{"batch": b, f"packed_K{PACK}": packed_samples_per_s(network, CONFIG, x, y, b, s)}
                           for b, s in STEPS.items()], f"samples/s of {PACK} copies together")
