"""What `--resume` needs to know about an earlier run folder, and the checks that refuse a bad one."""
import json
import os
import platform
from pathlib import Path

from neuro_trigger.data.cache import fingerprint, same_data
from neuro_trigger.data.splits import SPLITS
from neuro_trigger.errors import UserError

RESUMABLE = ("interrupted", "failed", "running")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def load_resumable(run_dir: Path) -> dict:
    """The summary of a run that may be resumed; refuses finished, live or foreign folders."""
    run_dir = Path(run_dir)
    path = run_dir / "summary.json"
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError):
        raise UserError(f"--resume {run_dir}: not a run folder (no readable summary.json)") from None
    if not isinstance(summary, dict) or not {"config", "data", "status", "config_name"} <= set(summary):
        raise UserError(f"--resume {run_dir}: {path} is not a NeuroTrigger run summary")
    status = summary["status"]
    if status == "finished":
        raise UserError(f"--resume {run_dir}: the run already finished; nothing to resume")
    if status not in RESUMABLE:
        raise UserError(f"--resume {run_dir}: status {status!r} cannot be resumed")
    pid = summary.get("pid")
    if status == "running" and summary.get("host") == platform.node() and isinstance(pid, int) \
            and pid != os.getpid() and _alive(pid):
        raise UserError(f"--resume {run_dir}: the run is still running (pid {pid})")
    return summary


def check_data_unchanged(run_dir: Path, summary: dict) -> dict[str, list[Path]]:
    """The run's data files, refused if any is missing or its content changed since the run started."""
    files = {}
    for split in SPLITS:
        files[split] = []
        for entry in summary["data"][split]:
            path = Path(entry["path"])
            if not path.is_file():
                raise UserError(f"--resume {run_dir}: data file {path} is gone")
            if not same_data(entry, fingerprint(path)):
                raise UserError(f"--resume {run_dir}: data file {path} changed since the run started "
                                f"(content hash differs); start a new run instead")
            files[split].append(path)
    return files
