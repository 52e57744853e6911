"""Train several experts concurrently, one thread each, and collect their results or errors.

The main thread only starts the threads and waits; a failing expert is logged with its
traceback (to app.log and its expert_<x>.log) and recorded, and the others finish.
"""
import logging
import threading
from pathlib import Path
from typing import Callable

import torch

from neuro_trigger.errors import fault_line, write_fault
from neuro_trigger.training.expert_data import ExpertData
from neuro_trigger.training.fit import fit_expert
from neuro_trigger.training.pack import Copies
from neuro_trigger.training.progress import ProgressBoard, announce, show_until_done
from neuro_trigger.training.result import ExpertResult
from neuro_trigger.training.threads import experts_at_once, expert_torch_threads

log = logging.getLogger("neuro_trigger.experts")


def expert_thread_name(expert: int) -> str:
    """The name of the thread that trains `expert`; the run's per-expert log files filter on it."""
    return f"expert_{expert}"


class Slot:
    """One expert's place among those training at once, taken when made and given back once: when the expert
    has trained, so that the next one trains while it is evaluated (its metrics are computed in worker processes,
    evaluation/offload.py, and its thread mostly waits for them), or at the latest when it ends."""

    def __init__(self, slots: threading.Semaphore):
        self.slots, self.held = slots, True
        slots.acquire()

    def release(self) -> None:
        if self.held:
            self.held = False
            self.slots.release()


def train_experts(prepared: dict[int, ExpertData], networks: dict[int, torch.nn.Module],
                  run_dir: Path, workers: int, stop: threading.Event,
                  callbacks_for: Callable[[int], list] = lambda expert: [],
                  resume: bool = False, copies: dict[int, Copies] | None = None,
                  figures: bool = True) -> dict[int, ExpertResult]:
    """Train every prepared expert in its own thread (at most `workers` at once); wait for all.

    With `resume`, finished experts are only evaluated and the others continue from their last checkpoint.
    An expert with packed `copies` trains them together in its thread. `figures`: whether plots are drawn.
    """
    max_epochs = {x: d.config["epochs"] for x, d in prepared.items()}
    results: dict[int, ExpertResult] = {}
    trainable = list(prepared)
    # at most one expert per core: the Lightning loop and plotting hold the GIL, so more threads than
    # cores only add contention (bench/experts.py: 5 threads on 2 cores took 1.29x the sequential time)
    concurrent = experts_at_once(workers, len(trainable))
    board = ProgressBoard(list(prepared), max_epochs, {x: len(d.splits["train"]) for x, d in prepared.items()},
                          concurrent)
    slots = threading.Semaphore(concurrent)

    def work(expert: int) -> None:
        slot = Slot(slots)
        try:
            if stop.is_set():
                results[expert] = ExpertResult(expert, "interrupted", error="stopped before it started")
                return
            try:
                results[expert] = fit_expert(prepared[expert], networks[expert], run_dir / f"expert_{expert}",
                                             board, stop, callbacks_for(expert), resume, (copies or {}).get(expert),
                                             figures, trained=slot.release)
            except Exception as e:  # one expert's failure must not stop the others
                fault = write_fault(e)  # a full or read-only disk: the file, else the expert's folder
                error = fault_line(fault, run_dir / f"expert_{expert}") if fault else f"{type(e).__name__}: {e}"
                log.error("expert %d failed: %s", expert, error, exc_info=fault is None)
                board.update(expert, status="failed")
                results[expert] = ExpertResult(expert, "failed", error=error)
        finally:
            slot.release()

    threads = [threading.Thread(target=work, args=(x,), name=expert_thread_name(x), daemon=True) for x in trainable]
    with expert_torch_threads() as torch_threads:
        announce("training", f"{len(trainable)} expert{'s' * (len(trainable) > 1)}, {concurrent} at a time, "
                             f"{torch_threads} torch thread{'s' * (torch_threads > 1)} each")
        for thread in threads:
            thread.start()
        show_until_done(board, threads)
    return {x: results[x] for x in prepared}
