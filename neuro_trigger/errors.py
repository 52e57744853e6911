"""The one exception type for user mistakes (bad config, bad data, bad path), the guard that turns ordinary
faults of user-supplied inputs into it, and the boundary every command line ends at (`run_cli`).

The CLIs turn a `UserError` into a single line on stderr and exit code 2, a full or read-only disk into one
line and exit code 1, Ctrl-C and SIGTERM into 130 and 143, all without a traceback. User text reaching a
terminal or a log is made `printable`; the standard streams are made sturdy (a closed stream, a pipe whose
reader left, an ASCII terminal end no command).
"""
import contextlib
import errno
import os
import re
import signal
import sys
import threading
from typing import Any, Callable, Iterator


class UserError(Exception):
    """A mistake the user can fix; its message names the file or key and what was expected."""


USER_ERROR_EXIT_CODE = 2
MESSAGE_LIMIT = 400  # characters of an error line; a 130 KB bad value must not be echoed whole


def shorten(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """`text` cut to about `limit` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


# C0 and C1 controls (escape sequences, newline, carriage return, tab), DEL, and the invisible marks that
# reorder or hide text (bidirectional overrides and isolates, zero-width characters)
# and the surrogates that stand for undecodable bytes (an argument in another encoding than the locale's)
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]")


def printable(text: str, limit: int | None = MESSAGE_LIMIT) -> str:
    """User text (a description, a path) made one harmless line for a terminal or a log: control characters
    shown as escapes (`\\x1b`, `\\n`), cut to about `limit` characters (None: whole)."""
    text = CONTROL_CHARACTERS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))
    return text if limit is None else shorten(text, limit)


def short_repr(value: Any, limit: int = 80) -> str:
    """repr() of a user's value for an error message, cut to `limit` characters."""
    try:
        text = repr(value)
    except RecursionError:
        text = f"<{type(value).__name__} nested too deeply to show>"
    return shorten(text, limit)


def describe(error: BaseException) -> str:
    """The reason of an OSError (its strerror, without the path), or the message of other errors."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    if isinstance(error, RecursionError):
        return "nested too deeply"
    return str(error) or type(error).__name__


@contextlib.contextmanager
def user_input(what: str) -> Iterator[None]:
    """Within the block, OSError, ValueError and RecursionError come from the user's `what` (a path or
    a key) and become one `UserError` line naming it. Wrap only the reading of user input, never training."""
    try:
        yield
    except UserError:
        raise
    except (OSError, ValueError, RecursionError) as e:
        raise UserError(f"{what}: {describe(e)}") from None


# a disk that is full or read-only, a quota, a lost device: the machine's fault, not the program's nor the user's
WRITE_FAULTS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO, errno.EFBIG}
WRITE_FAULT_EXIT_CODE = 1


def write_fault(error: BaseException | None) -> OSError | None:
    """The disk fault behind `error` (itself, or an exception it was raised from or while handling), or None."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in WRITE_FAULTS:
            return error
        error = error.__cause__ or error.__context__
    return None


def fault_line(fault: OSError, where: Any = None) -> str:
    """'cannot write <file>: <cause>'; `where` (e.g. the folder being written) when the fault names no file."""
    name = os.fsdecode(fault.filename) if fault.filename else where or "a file"  # TensorBoard's names are bytes
    return f"cannot write {name}: {fault.strerror or describe(fault)}"


CTRL_C_EXIT_CODE = 130  # 128 + SIGINT, as shells expect
SIGTERM_EXIT_CODE = 143  # 128 + SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C raises KeyboardInterrupt, so that both end every phase the same way."""


PHASES = ("startup", "data", "training", "evaluation", "plots", "export")  # of a run, in order
SIGNAL_AT = "NEURO_TRIGGER_SIGNAL_AT"  # <phase>:<signal>, for tests


def phase(name: str) -> None:
    """Mark the start of a phase of a run (one of PHASES). `NEURO_TRIGGER_SIGNAL_AT=<phase>:<SIGINT|SIGTERM>`
    makes the process send itself that signal here, once, so that tests reach every phase, however short
    (SIGSTOP: the process stops there until a test has done something to it, e.g. filled its disk)."""
    wanted, _, signal_name = os.environ.get(SIGNAL_AT, "").partition(":")
    if wanted == name and signal_name in ("SIGINT", "SIGTERM", "SIGSTOP"):
        os.environ.pop(SIGNAL_AT)  # a phase that comes again (the next expert's evaluation) is not signalled again
        os.kill(os.getpid(), getattr(signal, signal_name))


def interrupt_exit_code(interrupt: KeyboardInterrupt) -> int:
    return SIGTERM_EXIT_CODE if isinstance(interrupt, Terminated) else CTRL_C_EXIT_CODE


def interrupt_cause(exit_code: int) -> str:
    """The summary's `error` of a run stopped by a signal, from its exit code (130 or 143)."""
    return "stopped by SIGTERM" if exit_code == SIGTERM_EXIT_CODE else "stopped by Ctrl-C (SIGINT)"


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


def _quiet_thread_fault(args: threading.ExceptHookArgs) -> None:
    """A helper thread (TensorBoard's writer) that dies of a full or read-only disk prints no traceback: the
    work that needed it fails on its own and says so in one line."""
    if write_fault(args.exc_value) is None:
        threading.__excepthook__(args)


# A closed descriptor 0, 1 or 2 is opened on /dev/null first, so that no file a run opens takes its number (and
# gets what is printed). A stream whose reader is gone is dropped silently from then on: the command goes on
# and ends with its own exit code. Text the stream's encoding cannot hold is written in ASCII (`±` as `+-`).
ASCII_FALLBACK = str.maketrans({"±": "+-", "×": "x", "·": ".", "σ": "sigma", "θ": "theta", "→": "->", "…": "...",
                                "≥": ">=", "≤": "<=", "²": "^2", "°": " deg", "µ": "u", "μ": "u", "—": "-", "–": "-",
                                "✓": "ok", "✗": "x"})
LOST = {errno.EPIPE, errno.EBADF, errno.ECONNRESET}


class SturdyStream:
    """A text stream that survives its reader: writes after the reader left go nowhere, characters it cannot
    encode are written in ASCII."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.lost = False

    def write(self, text: str) -> int:
        if self.lost:
            return len(text)
        try:
            try:
                return self._stream.write(text)
            except UnicodeEncodeError:
                encoding = self._stream.encoding or "ascii"
                return self._stream.write(text.translate(ASCII_FALLBACK).encode(encoding, "backslashreplace")
                                          .decode(encoding))
        except (OSError, ValueError) as e:  # ValueError: the stream was closed
            self._lose(e)
            return len(text)

    def flush(self) -> None:
        if not self.lost:
            try:
                self._stream.flush()
            except (OSError, ValueError) as e:
                self._lose(e)

    def _lose(self, error: Exception) -> None:
        if isinstance(error, OSError) and error.errno not in LOST:
            raise error
        self.lost = True
        try:  # the interpreter's last flush at exit must not fail again on the dead pipe
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass

    def isatty(self) -> bool:
        try:
            return not self.lost and self._stream.isatty()
        except (OSError, ValueError):
            return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def make_streams_sturdy() -> None:
    """Open closed descriptors 0-2 on /dev/null and wrap sys.stdout and sys.stderr (once per process)."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            opened = os.open(os.devnull, os.O_RDWR)  # takes the lowest free number: this one
            if opened != fd:
                os.dup2(opened, fd)
                os.close(opened)
    if sys.stdin is None:
        sys.stdin = open(0, closefd=False)
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None:
            stream = open(1 if name == "stdout" else 2, "w", closefd=False)
        if not isinstance(stream, SturdyStream):
            setattr(sys, name, SturdyStream(stream))


def run_cli(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> int:
    """Call `main(argv)`; a `UserError` prints one line 'error: <message>' (cut to a readable length)
    on stderr and returns 2; a disk fault one line 'error: cannot write <file>: <cause>' and 1; Ctrl-C and
    SIGTERM outside training return 130 and 143 without a traceback."""
    make_streams_sturdy()
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_terminated)
    threading.excepthook = _quiet_thread_fault
    try:
        return main(argv) or 0
    except UserError as e:
        print(f"error: {printable(' '.join(str(e).splitlines()))}", file=sys.stderr)
        return USER_ERROR_EXIT_CODE
    except KeyboardInterrupt as e:
        print("interrupted", file=sys.stderr)
        return interrupt_exit_code(e)
    except Exception as e:
        fault = write_fault(e)
        if fault is None:
            raise
        print(f"error: {printable(fault_line(fault))}", file=sys.stderr)
        return WRITE_FAULT_EXIT_CODE
