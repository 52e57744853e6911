"""Versioned run folders `<log_root>/<config>/version_<n>/` that never collide.

A version is claimed by `mkdir`, which is atomic: of two runs starting at once, the second
gets the next number.
"""
import datetime
import os
from pathlib import Path

from neuro_trigger.errors import UserError

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
    line = f"{stamp}\t{run_dir}\t{description.replace(chr(10), ' ')}\n"
    with open(Path(log_root) / "log.txt", "a") as f:
        f.write(line)
