"""Versioned run folders `<log_root>/<config>/version_<n>/` that never collide, and their lock.

A version is claimed by `mkdir`, which is atomic: of two runs starting at once, the second
gets the next number. The process that trains into a folder (a fresh run or `--resume`) holds an
exclusive `flock` on its `run.lock` while it trains, so a second `--resume` of it is refused.
"""
import datetime
import fcntl
import json
import os
import platform
from pathlib import Path

from neuro_trigger.errors import UserError, printable

LOCK_NAME = "run.lock"
_held_locks: dict[Path, int] = {}  # run folder -> open descriptor of its lock file, while this process trains

PRODUCTION_LOG_ROOT = Path(__file__).resolve().parents[2] / "log"
DEBUG_LOG_ROOT = Path("/tmp/nt_pytorch_debug_log")


def version_number(path: Path) -> int:
    """n of a `version_<n>` folder, -1 for any other name."""
    suffix = path.name.rpartition("_")[2]
    return int(suffix) if path.name.startswith("version_") and suffix.isdigit() else -1


def claim_version_folder(log_root: Path, config_name: str) -> Path:
    """Create and return the next free `version_<n>` folder of this config."""
    parent = Path(log_root) / config_name
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"log root {log_root}: cannot create {parent} ({e.strerror})") from None
    if not os.access(parent, os.W_OK):
        raise UserError(f"log root {log_root}: {parent} is not writable")
    version = max((version_number(p) for p in parent.glob("version_*")), default=-1) + 1
    while True:
        folder = parent / f"version_{version}"
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            version += 1
        except OSError as e:
            raise UserError(f"log root {log_root}: cannot create {folder} ({e.strerror})") from None


def append_run_log(log_root: Path, run_dir: Path, description: str) -> None:
    """One line per production run in `<log_root>/log.txt` (a single append, so lines never interleave)."""
    stamp = datetime.datetime.now().isoformat(timespec="seconds")
    line = f"{stamp}\t{printable(str(run_dir), None)}\t{printable(description, None)}\n"  # one line, 3 columns
    with open(Path(log_root) / "log.txt", "a", encoding="utf-8", errors="surrogateescape") as f:
        f.write(line)


def lock_run_folder(run_dir: Path) -> None:
    """Hold an exclusive lock on `run_dir` until `unlock_run_folder` or the end of this process; refuse
    when another process holds it.

    The kernel drops the lock when the process ends, however it ends (kill -9 included), so a lock is
    never stale. The lock file records the holder's pid and host for the refusal message.
    """
    key = Path(run_dir).resolve()
    if key in _held_locks:
        return
    path = key / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
        raise UserError(f"{run_dir}: cannot create the lock file {path} ({e.strerror})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise UserError(f"{run_dir}: in use by another process ({_holder(path)}); "
                        "wait for it to end or stop it first") from None
    except OSError as e:  # e.g. ENOLCK: an NFS mount without a lock service
        os.close(fd)
        raise UserError(f"{run_dir}: cannot lock {path} ({e.strerror})") from None
    holder = {"pid": os.getpid(), "host": platform.node(),
              "since": datetime.datetime.now().isoformat(timespec="seconds")}
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
    _held_locks[key] = fd


def unlock_run_folder(run_dir: Path) -> None:
    """Give up this process's lock of `run_dir` once it no longer trains into it (in-process sweeps run
    many trials; a CLI process ends right after)."""
    fd = _held_locks.pop(Path(run_dir).resolve(), None)
    if fd is not None:
        os.close(fd)  # closing the last descriptor releases the flock


def _holder(lock_file: Path) -> str:
    """'pid 123 on host h since t' from a lock file written by `lock_run_folder`."""
    try:
        holder = json.loads(lock_file.read_text())
        return f"pid {holder['pid']} on host {holder['host']} since {holder['since']}"
    except (OSError, ValueError, TypeError, KeyError, RecursionError):
        return "pid and host not yet recorded"
