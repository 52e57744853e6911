"""What every command-line entry point shares: the `--data` option, the warning filters, the error boundary
(`run_cli`: a user error is one line and exit code 2) and the quick exit. Imports no torch: `main.py` answers a
typo without it.
"""
import argparse
import atexit
import os
import shutil
import stat
import sys
import tempfile
import threading
import warnings
from pathlib import Path
from typing import NoReturn

from neuro_trigger.constants import SPLITS
from neuro_trigger.errors import CTRL_C_EXIT_CODE, UserError, run_cli  # noqa: F401 (in errors, for the data CLIs too)


def writable_matplotlib_config() -> None:
    """Matplotlib keeps its font cache in ~/.config/matplotlib and warns twice per process (and again in every
    worker) where that cannot be written (a read-only HOME): it gets a private temporary folder instead, removed
    at exit. Called when this module is imported, before any command imports matplotlib."""
    if "MPLCONFIGDIR" in os.environ:
        return
    folder = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "matplotlib"
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if os.access(folder, os.W_OK):
        return
    try:
        os.environ["MPLCONFIGDIR"] = private = tempfile.mkdtemp(prefix="neuro_trigger-matplotlib-")
    except OSError:
        return  # no temporary folder either: matplotlib warns itself
    atexit.register(shutil.rmtree, private, ignore_errors=True)


writable_matplotlib_config()


def add_data_option(parser: argparse.ArgumentParser) -> None:
    """`--data TRAIN VAL TEST`, read back by `data_files`."""
    parser.add_argument("--data", nargs=3, metavar=("TRAIN", "VAL", "TEST"), default=None,
                        help="data files per split instead of the config's data set; "
                             "several files of one split are joined with commas")


def data_files(values: list[str] | None) -> dict[str, list[str]] | None:
    """The `--data` values as {split: [file, ...]} (None without --data)."""
    if values is None:
        return None
    return {split: [path for path in files.split(",") if path] for split, files in zip(SPLITS, values)}


def check_output_is_no_input(option: str, out: Path, inputs: list[Path]) -> None:
    """Refuse an output file that is one of the inputs (the same file by any name: a hard or symbolic link),
    or a file inside an input folder, before anything is read: it would be written over."""
    try:
        if not stat.S_ISREG(out.stat().st_mode):
            return  # a device or a pipe is written through (atomic.py), never replaced
    except OSError:
        return  # not there yet
    for path in inputs:
        candidates = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
        same = next((p for p in candidates if _same_file(out, p)), None)
        if same is not None:
            raise UserError(f"{option} {out}: is the input {same}; writing it would destroy it, choose another file")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def quiet_warnings() -> None:
    """Silence the warnings every command would print and no user can act on."""
    warnings.filterwarnings("ignore", message=".*LeafSpec.*is deprecated")  # torch's pytree, inside Lightning
    # Lightning on a machine with SLURM installed, where experts train in threads of one process, not via srun
    warnings.filterwarnings("ignore", message="The `srun` command is available on your system but is not used")
    # --resume reuses an expert's folders on purpose: fit.csv_history_kept keeps the metrics.csv rows
    warnings.filterwarnings("ignore", message="Experiment logs directory .* exists and is not empty")
    warnings.filterwarnings("ignore", message="Checkpoint directory .* exists and is not empty")
    # optuna's tqdm in a notebook without ipywidgets (nt.sweep): its progress bars are not used
    warnings.filterwarnings("ignore", message="IProgress not found")


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


PIPED_WIDTH = 100_000  # characters: no table line is that wide


def stdout_console():
    """A rich console on stdout: the terminal's width on a terminal, or COLUMNS where it is set; piped without
    COLUMNS, no width limit (rich would wrap tables at 80 columns in a file or a CI log)."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() or os.environ.get("COLUMNS") else Console(width=PIPED_WIDTH)
