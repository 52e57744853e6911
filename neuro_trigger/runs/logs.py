"""Run logging: `app.log` gets every thread's lines, `expert_<x>.log` only that expert thread's.

Every line is one line: control characters of user text (a description, a path) are escaped. On the console
an error is one line with its cause; the traceback goes to `app.log`. A log file that cannot be written
(a full or read-only disk) is dropped with one warning instead of a traceback per line.
"""
import logging
import sys
from pathlib import Path

from neuro_trigger.errors import describe, fault_line, printable, write_fault

FORMAT = "%(asctime)s %(threadName)s %(levelname)s %(name)s: %(message)s"
LOGGER_NAMES = ("neuro_trigger", "pytorch_lightning", "lightning", "lightning_fabric")


def attach_run_logs(run_dir: Path, experts: list[int]) -> list[logging.Handler]:
    """Add the run's file handlers; returns them for `detach_run_logs`."""
    from neuro_trigger.training.experts import expert_thread_name  # the trainer's names; torch is loaded by now

    formatter = EscapedFormatter(FORMAT)
    handlers: list[logging.Handler] = [RunLogFile(run_dir / "app.log")]
    for expert in experts:
        thread = expert_thread_name(expert)
        handler = RunLogFile(run_dir / f"{thread}.log")
        handler.addFilter(lambda record, thread=thread: record.threadName == thread)  # that thread's lines only
        handlers.append(handler)
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.setLevel(logging.INFO)
    for name in LOGGER_NAMES:
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        for handler in handlers:
            logger.addHandler(handler)
    return handlers


def quiet_lightning_console() -> None:
    """Lightning's console handlers show warnings only (again once Lightning is imported, if it was not yet)."""
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                handler.setLevel(logging.WARNING)


def configure_console(interactive: bool) -> None:
    """Console output of the CLI: on a terminal the live table, the run's phase lines and the warnings; otherwise
    one line per expert per phase instead of the table (about 50 lines for five experts). Every epoch's line and
    Lightning's own console lines (accelerator banners, tips) go to the run's log files only.
    """
    from neuro_trigger.training.progress import EPOCH_LOGGER, PHASE_LOGGER  # torch is loaded by now

    quiet_lightning_console()
    logger = logging.getLogger("neuro_trigger")
    logger.setLevel(logging.INFO)
    for handler in [h for h in logger.handlers if getattr(h, "_neuro_trigger_console", False)]:
        logger.removeHandler(handler)  # a second run in this process (the Python API) may be on another stream
    console = logging.StreamHandler()
    console.setLevel(logging.INFO)

    def shown(record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        return record.name != EPOCH_LOGGER and (not interactive or record.name == PHASE_LOGGER)

    console.addFilter(shown)
    console.setFormatter(OneLineFormatter("%(asctime)s %(message)s", "%H:%M:%S"))  # each line names its expert
    console._neuro_trigger_console = True
    logger.addHandler(console)


def detach_run_logs(handlers: list[logging.Handler]) -> None:
    for name in LOGGER_NAMES:
        for handler in handlers:
            logging.getLogger(name).removeHandler(handler)
    for handler in handlers:
        handler.close()


class EscapedFormatter(logging.Formatter):
    """Log lines whose message cannot split them (control characters escaped); tracebacks stay as they are."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = printable(record.message, None)
        return super().formatMessage(record)


class OneLineFormatter(EscapedFormatter):
    """The console's lines: an exception is named with its cause on the line itself, without its traceback."""

    def format(self, record: logging.LogRecord) -> str:
        error = record.exc_info[1] if record.exc_info else None
        line = super().format(logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None}))
        if error is None:
            return line
        fault = write_fault(error)
        cause = fault_line(fault) if fault else f"{type(error).__name__}: {describe(error)}"
        return f"{line}: {printable(cause)}"


class RunLogFile(logging.FileHandler):
    """A run's log file; when it cannot be written, its further lines are dropped, with one warning on stderr
    for all the run's log files."""

    warned = False

    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8")
        self.broken = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.broken:
            super().emit(record)

    def close(self) -> None:
        try:
            super().close()  # flushes what is buffered
        except OSError:
            pass  # the disk the run failed on: the lines are lost, the warning or the run's error says why

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        if self.broken or not isinstance(error, OSError):
            return super().handleError(record)
        self.broken = True
        if not RunLogFile.warned:
            RunLogFile.warned = True
            print(f"warning: {fault_line(error, self.baseFilename)}; the run's log files get no further lines",
                  file=sys.stderr)
