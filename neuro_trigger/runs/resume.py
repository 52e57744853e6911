"""What `--resume` needs to know about an earlier run folder, and the checks that refuse a bad one."""
from pathlib import Path

from neuro_trigger.data.cache import fingerprint, same_data
from neuro_trigger.data.splits import SPLITS
from neuro_trigger.errors import UserError, describe
from neuro_trigger.runs.record import Summary, read_summary

RESUMABLE = ("interrupted", "failed", "running")


def load_resumable(run_dir: Path) -> Summary:
    """The summary of a run that may be resumed; refuses finished or foreign folders (a live one is refused
    by its lock, `folder.lock_run_folder`, which unlike a pid in summary.json cannot be stale)."""
    summary = read_summary(run_dir, ("config", "data", "status", "config_name"), f"--resume {run_dir}")
    status = summary["status"]
    if status == "finished":
        raise UserError(f"--resume {run_dir}: the run already finished; nothing to resume")
    if status not in RESUMABLE:
        raise UserError(f"--resume {run_dir}: status {status!r} cannot be resumed")
    return summary


def check_data_unchanged(run_dir: Path, summary: Summary, option: str = "--resume") -> dict[str, list[Path]]:
    """The run's data files, refused (naming `option RUN_DIR`) if any is missing or its content changed since
    the run started."""
    files = {}
    for split in SPLITS:
        files[split] = []
        for entry in summary["data"][split]:
            path = Path(entry["path"])
            if not path.is_file():
                raise UserError(f"{option} {run_dir}: data file {path} is gone")
            if not same_data(entry, fingerprint(path)):
                advice = "; start a new run instead" if option == "--resume" else ""
                raise UserError(f"{option} {run_dir}: data file {path} changed since the run started "
                                f"(content hash differs){advice}")
            files[split].append(path)
    return files


def check_checkpoints(run_dir: Path, summary: Summary) -> None:
    """Every expert's `last.ckpt` loads; a truncated or corrupt one is named before the run is touched."""
    import torch  # only --resume needs it here, after the cheap checks

    for expert in summary["config"].get("experts", []):
        path = run_dir / f"expert_{expert}" / "ckpts" / "last.ckpt"
        if not path.is_file():
            continue
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
            valid = isinstance(checkpoint, dict) and isinstance(checkpoint.get("epoch"), int)
        except Exception as e:  # torch raises RuntimeError, UnpicklingError, EOFError, ... for a bad file
            raise UserError(f"--resume {run_dir}: checkpoint {path} is unreadable ({describe(e)}); delete it "
                            f"to train expert {expert} from the start, or restore it") from None
        if not valid:
            raise UserError(f"--resume {run_dir}: checkpoint {path} is not a Lightning checkpoint")
        if "copies" not in checkpoint:
            raise UserError(f"--resume {run_dir}: checkpoint {path} was written by an earlier release of the trainer "
                            f"and cannot be continued exactly; start a new run")
