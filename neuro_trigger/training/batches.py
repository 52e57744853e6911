"""Whole-batch feeding from in-memory tensors: each epoch gathers its row order once, then
yields contiguous slices. No per-row `__getitem__`, no worker processes.

For training, one slice is a chunk of several batches (`steps_per_chunk`): Lightning's per-batch
machinery (hooks, progress, fetching) then runs once per chunk, and the module steps through the
batches of a chunk in a plain loop.
"""
from typing import Iterator

import numpy as np
import torch

CHUNK_ROWS = 65536  # rows per chunk: bounds how long a chunk takes, so a stop request is answered quickly
MAX_STEPS_PER_CHUNK = 64  # at batch 16 Lightning's per-chunk work (~0.5 ms) is then ~1% of the chunk


def steps_per_chunk(batch_size: int) -> int:
    """Optimizer steps per Lightning batch: 64 up to batch 1024, 32 at 2048, 1 from batch 32769 on."""
    return max(1, min(MAX_STEPS_PER_CHUNK, CHUNK_ROWS // batch_size))


class PermutationSampler(torch.utils.data.Sampler):
    """Plain shuffling, seeded per epoch so that a run (and its resume) is reproducible."""

    def __init__(self, num_rows: int, seed: int = 0):
        self.num_rows, self.seed, self.epoch = num_rows, seed, 0

    def __len__(self) -> int:
        return self.num_rows

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def draw(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(self.num_rows)

    def __iter__(self) -> Iterator[int]:
        return iter(self.draw(self.epoch).tolist())


class TensorBatches:
    """An iterable of batches `(inputs, targets, reference)` over aligned tensors.

    With a `sampler` (anything with `draw(epoch)` and `set_epoch`), each epoch follows its
    row order; Lightning calls `sampler.set_epoch` before every epoch. Without one, the rows
    come in order (validation and test). With `steps_per_chunk` k, each item holds k batches
    (k * batch_size rows; the epoch's last chunk may hold fewer), to be split by the consumer.
    """

    def __init__(self, tensors: tuple[torch.Tensor, ...], batch_size: int, sampler=None, steps_per_chunk: int = 1):
        self.tensors = tensors
        self.batch_size = batch_size
        self.item_rows = batch_size * steps_per_chunk
        self.sampler = sampler
        self.batch_sampler = None  # Lightning inspects it; batching happens here, by slicing
        self.num_samples = len(sampler) if sampler is not None else len(tensors[0])

    def __len__(self) -> int:
        return -(-self.num_samples // self.item_rows)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        if self.sampler is None:
            ordered = self.tensors
        else:
            order = torch.from_numpy(self.sampler.draw(self.sampler.epoch))
            ordered = tuple(t.index_select(0, order) for t in self.tensors)
        for start in range(0, self.num_samples, self.item_rows):
            yield tuple(t[start:start + self.item_rows] for t in ordered)
