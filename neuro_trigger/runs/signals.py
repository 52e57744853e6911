"""Ctrl-C and SIGTERM during training: the first asks every expert to stop at its next step,
the second ends the process at once. Exit codes are 128 + the signal (130 for Ctrl-C, 143 for
SIGTERM), as shells expect. Outside training both raise KeyboardInterrupt (SIGTERM as `errors.Terminated`,
installed by `errors.run_cli`), which ends every other phase the same way (`errors.phase` names them)."""
import contextlib
import logging
import os
import signal
import threading
from typing import Iterator

log = logging.getLogger("neuro_trigger.run")
INTERRUPTED_EXIT_CODES = (128 + signal.SIGINT, 128 + signal.SIGTERM)  # 130 (Ctrl-C), 143 (SIGTERM)


class CaughtSignals:
    """The signals received within `stop_on_signals`; the first decides the exit code."""

    def __init__(self) -> None:
        self.received: list[int] = []

    @property
    def exit_code(self) -> int:
        return 128 + (self.received[0] if self.received else signal.SIGINT)


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[CaughtSignals]:
    """Within the block, SIGINT/SIGTERM set `stop`; a second signal exits immediately (128 + signal)."""
    caught = CaughtSignals()
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return

    def handler(signum, frame) -> None:
        caught.received.append(signum)
        if stop.is_set():
            log.error("second %s: exiting at once", signal.Signals(signum).name)
            os._exit(128 + signum)
        log.warning("%s: stopping all experts at their next step (again to exit at once)",
                    signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield caught
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
