"""Local worker processes of a sweep, the live progress line, and Ctrl-C.

Processes, not threads (Lightning's loop holds the GIL); each worker is pinned to its share of the
cores and uses that many torch threads, so there are never more busy torch threads than cores.
"""
import multiprocessing
import os
import signal
import sys
from pathlib import Path
from typing import TextIO

from neuro_trigger.sweeping import report, worker
from neuro_trigger.training.threads import usable_cores


def core_shares(workers: int) -> list[list[int]]:
    """The usable cores split among at most `workers` workers (never more workers than cores)."""
    cores = usable_cores()
    count = max(1, min(workers, len(cores)))
    return [cores[i::count] for i in range(count)]


def run_local(sweep_dir: Path, storage_url: str | None, workers: int, out: TextIO = sys.stderr) -> int:
    """Run the sweep's trials in local worker processes until none is left; returns the exit code."""
    shares = core_shares(workers)
    if len(shares) < workers:
        print(f"--workers {workers}: this machine offers {len(shares)} cores; starting {len(shares)} workers "
              f"(one core each at least)", file=out)
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked torch thread pools
    processes = [context.Process(target=worker.local_worker, args=(str(sweep_dir), storage_url, share, i),
                                 name=f"sweep-worker-{i}") for i, share in enumerate(shares)]
    signals = []

    def handler(signum, frame) -> None:
        signals.append(signum)
        if len(signals) == 1:
            print(f"\n{signal.Signals(signum).name}: stopping the workers at their next step "
                  f"(again to stop them at once)", file=out, flush=True)
        for process in processes:  # a run stops cleanly at the first signal and at once at the second
            if process.pid is not None and process.is_alive():
                os.kill(process.pid, signal.SIGINT)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for process in processes:
            process.start()
        line = report.ProgressLine(sweep_dir, storage_url, out)
        while any(p.is_alive() for p in processes):
            line.update()
            for process in processes:
                process.join(timeout=1.0 / len(processes))
        state = line.update(final=True)
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
    if signals:
        return 128 + signals[0]  # 130 for Ctrl-C, 143 for SIGTERM, as shells expect
    crashed = [p.name for p in processes if p.exitcode not in (0, None)]
    if crashed:
        print(f"workers ended with an error: {', '.join(crashed)} (see {sweep_dir}/workers/)", file=out)
    return 1 if crashed or state["failed"] or state["waiting"] or state["running"] else 0
