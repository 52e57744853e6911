"""Ctrl-C and SIGTERM during training: the first asks every expert to stop at its next step,
the second ends the process at once."""
import contextlib
import logging
import os
import signal
import threading
from typing import Iterator

log = logging.getLogger("neuro_trigger.run")
INTERRUPTED_EXIT_CODE = 130


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Within the block, SIGINT/SIGTERM set `stop`; a second signal exits immediately (code 130)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame) -> None:
        if stop.is_set():
            log.error("second %s: exiting at once", signal.Signals(signum).name)
            os._exit(INTERRUPTED_EXIT_CODE)
        log.warning("%s: stopping all experts at their next step (again to exit at once)",
                    signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
