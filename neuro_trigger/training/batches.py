"""Whole-batch feeding from in-memory tensors: no per-row `__getitem__`, no worker processes.

For training, each Lightning batch is a chunk of several optimizer steps' rows for every copy of a pack
(`steps_per_chunk`): copy k's rows follow its own sampler, gathered once per chunk, and the engine slices
them into batches. Lightning's per-batch machinery (hooks, progress, fetching) then runs once per chunk.
"""
from typing import Iterator

import numpy as np
import torch

CHUNK_ROWS = 65536  # rows per chunk: bounds how long a chunk takes, so a stop request is answered quickly
MAX_STEPS_PER_CHUNK = 64  # at batch 16 Lightning's per-chunk work (~0.5 ms) is then ~1% of the chunk


def steps_per_chunk(batch_size: int) -> int:
    """Optimizer steps per Lightning batch: 64 up to batch 1024, 32 at 2048, 1 from batch 32769 on."""
    return max(1, min(MAX_STEPS_PER_CHUNK, CHUNK_ROWS // batch_size))


class PermutationSampler:
    """Plain shuffling, seeded per epoch so that a run (and its resume) is reproducible."""

    def __init__(self, num_rows: int, seed: int = 0):
        self.num_rows, self.seed = num_rows, seed

    def __len__(self) -> int:
        return self.num_rows

    def draw(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(self.num_rows)


class PackSamplers:
    """The row orders of a pack's copies, one sampler each (anything with `draw(epoch)` and a length); Lightning
    finds this as the batches' `sampler` and calls `set_epoch` before every epoch."""

    def __init__(self, samplers: list):
        lengths = {len(s) for s in samplers}
        if len(lengths) != 1:
            raise ValueError(f"packed samplers draw different numbers of rows: {sorted(lengths)}")
        self.samplers, self.epoch = samplers, 0

    def __len__(self) -> int:
        return len(self.samplers[0])

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def draw(self, epoch: int) -> np.ndarray:
        """(K, rows) row orders of this epoch."""
        return np.stack([s.draw(epoch) for s in self.samplers])


class PackBatches:
    """Training chunks `(x (K, C, in), y (K, C, out))` of K copies, copy k's rows in its own sampler's order.
    The epoch's last chunk may hold fewer rows."""

    def __init__(self, tensors: tuple[torch.Tensor, torch.Tensor], batch_size: int, sampler: PackSamplers,
                 steps_per_chunk: int = 1):
        self.tensors, self.sampler = tensors, sampler
        self.num_samples, self.chunk_rows = len(sampler), batch_size * steps_per_chunk
        self.batch_sampler = None  # Lightning inspects it; batching happens here, by gathering

    def __len__(self) -> int:
        return -(-self.num_samples // self.chunk_rows)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.from_numpy(self.sampler.draw(self.sampler.epoch))
        copies = len(order)
        for start in range(0, self.num_samples, self.chunk_rows):
            rows = order[:, start:start + self.chunk_rows].reshape(-1)
            yield tuple(t.index_select(0, rows).view(copies, -1, t.shape[1]) for t in self.tensors)


class WholeSplit:
    """One batch holding a whole split `(inputs, targets, reference)`, for validation."""

    def __init__(self, tensors: tuple[torch.Tensor, ...]):
        self.tensors = tensors
        self.batch_sampler = None

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        yield self.tensors
