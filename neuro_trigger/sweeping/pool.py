"""Local worker processes of a sweep, the live progress line, and Ctrl-C.

Processes, not threads (Lightning's loop holds the GIL); each worker pins itself to its share of the cores
(`worker.core_share`) and uses that many torch threads, so there are never more busy torch threads than cores.
"""
import multiprocessing
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from neuro_trigger.runs.signals import stop_on_signals
from neuro_trigger.sweeping import report, worker
from neuro_trigger.sweeping import study as study_lib
from neuro_trigger.sweeping.journal import JournalError
from neuro_trigger.training.threads import usable_cores


def run_local(sweep_dir: Path, storage_url: str | None, workers: int, out: TextIO = sys.stderr) -> int:
    """Run the sweep's trials in local worker processes until none is left; returns the exit code.

    The first Ctrl-C or SIGTERM asks every worker to stop its run at the next step; a second ends them
    at once (they get SIGTERM when this process ends). A journal a worker could not write (disk full) ends
    the sweep with its one line (`JournalError`)."""
    count = max(1, min(workers, len(usable_cores())))
    if count < workers:
        print(f"--workers {workers}: this machine offers {count} cores; starting {count} workers "
              f"(one core each at least)", file=out)
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked torch thread pools
    errors = context.SimpleQueue()
    processes = [context.Process(target=worker.serve, args=(str(sweep_dir), storage_url, i, count, errors),
                                 name=f"sweep-worker-{i}") for i in range(count)]
    stop, forwarded = threading.Event(), False
    with stop_on_signals(stop) as caught:
        for process in processes:
            process.start()
        line = report.ProgressLine(sweep_dir, storage_url, out)
        while any(p.is_alive() for p in processes):
            line.update()
            for process in processes:
                process.join(timeout=1.0 / len(processes))
            if stop.is_set() and not forwarded:  # once: a second signal ends this process at once
                forwarded = True
                for process in processes:
                    if process.pid is not None and process.is_alive():
                        os.kill(process.pid, signal.SIGINT)
        if not errors.empty():
            line.update(final=True)
            raise JournalError(errors.get())
        state = _wait_for_others(line, sweep_dir, storage_url, stop, out)
    if caught.received:
        return caught.exit_code  # 130 for Ctrl-C, 143 for SIGTERM, as shells expect
    crashed = [p.name for p in processes if p.exitcode not in (0, None)]
    if crashed:
        print(f"workers ended with an error: {', '.join(crashed)} (see {sweep_dir}/workers/)", file=out)
    return 1 if crashed or state["failed"] or state["waiting"] or state["running"] else 0


def _wait_for_others(line: report.ProgressLine, sweep_dir: Path, storage_url: str | None, stop: threading.Event,
                     out: TextIO) -> dict:
    """The sweep's final state once no trial runs any more: trials of other sweep processes sharing the study
    (another machine, or a second command) are waited for, and those whose worker died are failed and queued
    again, so that the exit code says how the sweep ended, whichever process ends last."""
    state = line.update()
    if state["running"] and not stop.is_set():
        print(f"\nwaiting for {state['running']} trial(s) still running in other sweep processes sharing this "
              f"study (Ctrl-C stops waiting)", file=out, flush=True)
        storage = study_lib.open_storage(sweep_dir, storage_url)
        while state["running"] and not stop.is_set():
            study_lib.fail_dead_trials(line.study, storage)
            time.sleep(1.0)
            state = line.update()
    return line.update(final=True)
