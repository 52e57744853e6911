"""How many experts train at once and with how many torch threads: one rule for a run, a sweep worker and a
SLURM task (they differ only in the cores the process may use).

Every expert trains in a Python thread of its own with ONE torch thread, whatever the cores (measured with
`bench/user_speed.py`, reasons in docs/architecture.md): torch's OpenMP pool belongs to the thread that starts
it, so a second torch thread in an expert thread competes with the main thread's idle pool and with the other
experts, and the tiny networks (27 -> 81 -> 2) gain nothing from splitting a product over cores. The cores
are used by training that many experts at once instead.
"""
import contextlib
import os
from typing import Iterator

TORCH_THREADS_PER_EXPERT = 1


def usable_cores() -> list[int]:
    """The cores this process may run on (a sweep worker or SLURM task is pinned to its share)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def experts_at_once(workers: int, experts: int) -> int:
    """Experts training at the same time: at most `workers` (the config key), one per core, one per expert."""
    return max(1, min(workers, len(usable_cores()), experts))


@contextlib.contextmanager
def expert_torch_threads() -> Iterator[int]:
    """While experts train: TORCH_THREADS_PER_EXPERT torch threads (torch's setting is process-wide, so the
    evaluation and export in the main thread afterwards get the previous number back)."""
    import torch  # here: sweep launchers count cores without importing torch

    previous = torch.get_num_threads()
    torch.set_num_threads(TORCH_THREADS_PER_EXPERT)
    try:
        yield TORCH_THREADS_PER_EXPERT
    finally:
        torch.set_num_threads(previous)
