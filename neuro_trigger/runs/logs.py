"""Run logging: `app.log` gets every thread's lines, `expert_<x>.log` only that expert thread's."""
import logging
from pathlib import Path

FORMAT = "%(asctime)s %(threadName)s %(levelname)s %(name)s: %(message)s"
LOGGER_NAMES = ("neuro_trigger", "pytorch_lightning", "lightning", "lightning_fabric")


def attach_run_logs(run_dir: Path, experts: list[int]) -> list[logging.Handler]:
    """Add the run's file handlers; returns them for `detach_run_logs`."""
    from neuro_trigger.training.experts import expert_thread_name  # the trainer's names; torch is loaded by now

    formatter = logging.Formatter(FORMAT)
    handlers: list[logging.Handler] = [logging.FileHandler(run_dir / "app.log")]
    for expert in experts:
        thread = expert_thread_name(expert)
        handler = logging.FileHandler(run_dir / f"{thread}.log")
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


def configure_console(interactive: bool) -> None:
    """Console output of the CLI: the live table on a terminal, plain progress lines otherwise.

    Lightning's own console lines (accelerator banners, tips) go to the run's log files only.
    """
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                handler.setLevel(logging.WARNING)
    logger = logging.getLogger("neuro_trigger")
    logger.setLevel(logging.INFO)
    if not any(getattr(h, "_neuro_trigger_console", False) for h in logger.handlers):
        console = logging.StreamHandler()
        console.setLevel(logging.WARNING if interactive else logging.INFO)
        console.setFormatter(logging.Formatter("%(asctime)s %(threadName)s %(message)s", "%H:%M:%S"))
        console._neuro_trigger_console = True
        logger.addHandler(console)


def detach_run_logs(handlers: list[logging.Handler]) -> None:
    for name in LOGGER_NAMES:
        for handler in handlers:
            logging.getLogger(name).removeHandler(handler)
    for handler in handlers:
        handler.close()
