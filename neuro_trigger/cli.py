"""What every command-line entry point shares: user errors become one line and exit code 2 (`run_cli`), and
the quick exit."""
import atexit
import os
import sys
import threading
from typing import NoReturn

from neuro_trigger.errors import CTRL_C_EXIT_CODE, run_cli  # noqa: F401 (in errors, for the data CLIs too)


def exit_without_teardown(code: int) -> NoReturn:
    """End the process with `code` after everything a normal exit does that has an effect (atexit handlers
    run, standard streams flushed), but without the interpreter's teardown of every module, which the
    operating system does at once: once torch and Lightning are imported, that teardown alone takes about
    1.6 s (bench/profile_run.py). While any other non-daemon thread runs, the process exits normally."""
    if any(t is not threading.main_thread() and not t.daemon and t.is_alive() for t in threading.enumerate()):
        sys.exit(code)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
