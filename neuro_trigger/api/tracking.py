"""`nt.sync`: a run folder uploaded to an MLflow server after the fact (docs/tracking.md)."""
from pathlib import Path

from neuro_trigger.runs import folder, record


def sync_run(run_dir: Path | str, tracking_uri: str | None = None) -> str:
    """Upload `run_dir` to `tracking_uri` (else the server its record names, else MLFLOW_TRACKING_URI) without
    duplicating what the server holds; records the MLflow run in summary.json and returns its id."""
    from neuro_trigger.runs import tracking

    run_dir = Path(run_dir)
    summary = record.read_summary(run_dir)
    folder.lock_run_folder(run_dir)  # no run may write the record meanwhile
    try:
        summary = record.read_summary(run_dir)
        run_id = tracking.sync(run_dir, tracking_uri, summary)
        record.write_summary(run_dir, summary)
    finally:
        folder.unlock_run_folder(run_dir)
    return run_id
