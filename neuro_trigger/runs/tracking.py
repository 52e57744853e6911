"""MLflow tracking of a run, optional (`--tracking-uri`, the config key `tracking_uri`, MLFLOW_TRACKING_URI;
docs/tracking.md). The run folder stays the source of truth: its MLflow run is made from what the folder holds,
and `upload` (at the end of the run, and by `sync` later) sends only what the server does not hold yet.

Without a tracking URI nothing here imports mlflow. A server that is unreachable or fails mid-run is reported
once; the run goes on and writes everything locally.
"""
import json
import logging
import math
import os
import threading
from pathlib import Path

from neuro_trigger.config import flatten
from neuro_trigger.constants import SPLITS
from neuro_trigger.errors import UserError
from neuro_trigger.evaluation import metric_table
from neuro_trigger.evaluation.verdict import standard_error

log = logging.getLogger("neuro_trigger.tracking")
ENVIRONMENT = "MLFLOW_TRACKING_URI"
RUN_DIR_TAG = "neuro_trigger.run_dir"
PARAM_LIMIT = 6000  # characters of an MLflow parameter value
MLFLOW_STATUS = {"finished": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}
# a server that does not answer must not hold a run up for minutes (mlflow's default: 7 retries, 120 s each)
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
                 "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1"}


def tracking_uri(given: str | None, config: dict | None = None) -> str | None:
    """The tracking server of a run: the option, else the config key, else MLFLOW_TRACKING_URI, else None."""
    return given or (config or {}).get("tracking_uri") or os.environ.get(ENVIRONMENT) or None


def client(uri: str):
    for name, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


class Tracker:
    """A run's MLflow run while it trains: made when the run folder is claimed (its id in summary.json
    `tracking`), per-epoch loggers for the experts, everything else uploaded when the run ends."""

    def __init__(self, uri: str, parent_run_id: str | None = None):
        self.uri, self.parent_run_id = uri, parent_run_id
        self.run_id: str | None = None
        self.broken = False
        self._lock = threading.Lock()

    def fail(self, error: BaseException) -> None:
        """Say once that the server failed; after it nothing is sent (the run folder keeps it all)."""
        with self._lock:
            if self.broken:
                return
            self.broken = True
        log.warning("tracking server %s failed (%s: %s): the run goes on and keeps everything in its folder; "
                    "upload it later with: python neuro_trigger/main.py --sync RUN_DIR --tracking-uri %s",
                    self.uri, type(error).__name__, str(error).splitlines()[0][:200] if str(error) else "", self.uri)

    def start(self, run_dir: Path, summary: dict) -> None:
        try:
            self.run_id = find_or_create_run(client(self.uri), run_dir, summary, self.parent_run_id)
            summary["tracking"] = {"uri": self.uri, "run_id": self.run_id}
        except Exception as e:
            self.fail(e)

    def loggers(self, expert: int) -> list:
        if self.broken or self.run_id is None:
            return []
        from neuro_trigger.training.tracking_logger import ExpertMLFlowLogger

        try:
            return [ExpertMLFlowLogger(self.uri, self.run_id, expert, self)]
        except Exception as e:
            self.fail(e)
            return []

    def finish(self, run_dir: Path, summary: dict) -> None:
        if self.broken or self.run_id is None:
            return
        try:
            upload(client(self.uri), self.run_id, run_dir, summary)
        except Exception as e:
            self.fail(e)


def start(uri: str | None, run_dir: Path, summary: dict, parent_run_id: str | None = None) -> Tracker | None:
    """The tracker of a new or resumed run, or None (and mlflow not imported) without a tracking URI."""
    if not uri:
        return None
    tracker = Tracker(uri, parent_run_id)
    tracker.start(run_dir, summary)
    return tracker


def _experiment_id(mlflow_client, name: str) -> str:
    experiment = mlflow_client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    try:
        return mlflow_client.create_experiment(name)
    except Exception:  # made by another run in the meantime
        return mlflow_client.get_experiment_by_name(name).experiment_id


def find_or_create_run(mlflow_client, run_dir: Path, summary: dict, parent_run_id: str | None = None) -> str:
    """The MLflow run of this run folder on this server: the one summary.json names, else the one tagged with
    the folder, else a new one (in the experiment named after the config, a child of `parent_run_id`)."""
    recorded = summary.get("tracking") or {}
    if recorded.get("run_id"):
        try:
            return mlflow_client.get_run(recorded["run_id"]).info.run_id
        except Exception as e:
            if "RESOURCE_DOES_NOT_EXIST" not in str(e) and "not found" not in str(e).lower():
                raise
    experiment = _experiment_id(mlflow_client, summary.get("config_name") or "neuro_trigger")
    folder = str(run_dir)
    if "'" not in folder:
        found = mlflow_client.search_runs([experiment], f"tags.`{RUN_DIR_TAG}` = '{folder}'", max_results=1)
        if found:
            return found[0].info.run_id
    tags = {RUN_DIR_TAG: folder}
    if parent_run_id:
        tags["mlflow.parentRunId"] = parent_run_id
    name = f"{summary.get('config_name')}/{Path(run_dir).name}"
    return mlflow_client.create_run(experiment, run_name=name, tags=tags).info.run_id


SWEEP_DIR_TAG = "neuro_trigger.sweep_dir"


def sweep_parent(uri: str, sweep_dir: Path, name: str, config_name: str) -> str | None:
    """The MLflow run a sweep's trials are children of (found again when the sweep continues), or None, said
    once, when the server fails: the sweep then runs untracked."""
    try:
        mlflow_client = client(uri)
        experiment = _experiment_id(mlflow_client, config_name)
        folder = str(Path(sweep_dir).resolve())
        if "'" not in folder:
            found = mlflow_client.search_runs([experiment], f"tags.`{SWEEP_DIR_TAG}` = '{folder}'", max_results=1)
            if found:
                return found[0].info.run_id
        return mlflow_client.create_run(experiment, run_name=f"sweep {name}", tags={SWEEP_DIR_TAG: folder}).info.run_id
    except Exception as e:
        Tracker(uri).fail(e)
        return None


def end_sweep_parent(uri: str, run_id: str, report: Path | None, finished: bool) -> None:
    """The sweep's report as the parent's artifact and its end; a failing server is said, not raised."""
    try:
        mlflow_client = client(uri)
        if report is not None and Path(report).is_file():
            mlflow_client.log_artifact(run_id, str(report))
        mlflow_client.set_terminated(run_id, "FINISHED" if finished else "FAILED")
    except Exception as e:
        Tracker(uri).fail(e)


def final_metrics(summary: dict) -> dict[str, float]:
    """`<split>/<name>` (all experts together) and `expert_<x>/<split>/<name>`, each figure of the metric table
    with `_err` (its standard error, as compare shows it)."""
    values = {}
    scopes = [("", summary.get("metrics") or {})]
    scopes += [(f"{name}/", e.get("metrics") or {}) for name, e in (summary.get("experts") or {}).items()]
    for prefix, per_split in scopes:
        for split in SPLITS:
            metrics = per_split.get(split) or {}
            for name, value in metrics.items():
                if metric_table.find(name) is None or isinstance(value, bool) or not isinstance(value, (int, float)):
                    continue
                values[f"{prefix}{split}/{name}"] = value
                values[f"{prefix}{split}/{name}_err"] = standard_error(metrics, name)
    return {k: float(v) for k, v in values.items() if math.isfinite(v)}


def epoch_history(run_dir: Path, summary: dict) -> dict[str, dict[int, float]]:
    """Per MLflow key (`expert_0/val_loss`) the value of every epoch, from the experts' CSV logs."""
    import csv

    from neuro_trigger.training.tracking_logger import epoch_metric_key

    history: dict[str, dict[int, float]] = {}
    for name in summary.get("experts") or summary.get("experts_config") or {}:
        path = Path(run_dir) / name / "csv" / "metrics.csv"
        if not path.is_file():
            continue
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                for key, text in row.items():
                    if key in ("epoch", "step") or not text or not row.get("epoch"):
                        continue
                    value = float(text)
                    if math.isfinite(value):
                        history.setdefault(epoch_metric_key(int(name.split("_", 1)[1]), key), {})[
                            int(row["epoch"])] = value
    return history


def _artifacts(run_dir: Path) -> list[tuple[Path, str | None]]:
    """(file, artifact folder) of what a run shows: weights, record, report and plots."""
    run_dir = Path(run_dir)
    files = [(run_dir / name, None) for name in ("weights.json", "summary.json", "report.html")]
    files += [(p, None) for p in sorted(run_dir.glob("weights_seed*.json"))]
    files += [(p, "plots") for p in sorted(run_dir.glob("plots/*.png"))]
    files += [(p, f"{p.parent.parent.name}/plots") for p in sorted(run_dir.glob("expert_*/plots/*.png"))]
    return [(path, folder) for path, folder in files if path.is_file()]


def upload(mlflow_client, run_id: str, run_dir: Path, summary: dict) -> dict[str, int]:
    """Everything of the run folder the server does not hold yet: params (the flattened config), tags, every
    epoch of every expert, the final metrics; then the artifacts (replaced, never doubled) and the status.
    Returns how many of each were sent."""
    from mlflow.entities import Metric, Param, RunTag

    held = mlflow_client.get_run(run_id).data
    params = {k: json.dumps(v) if not isinstance(v, str) else v for k, v in flatten(summary.get("config", {})).items()}
    new_params = [Param(k, v[:PARAM_LIMIT]) for k, v in params.items() if k and k not in held.params]
    tags = {"status": summary.get("status", ""), "description": summary.get("description", ""),
            "commit": summary.get("git_id") or "", "config": summary.get("config_name", ""),
            "data_fingerprint": json.dumps({s: [f.get("content_sha256") or f.get("sha256") for f in files]
                                            for s, files in (summary.get("data") or {}).items()}, sort_keys=True),
            RUN_DIR_TAG: str(run_dir), "mlflow.note.content": summary.get("description", "")}
    metrics = []
    for key, steps in epoch_history(run_dir, summary).items():
        logged = {m.step for m in mlflow_client.get_metric_history(run_id, key)} if key in held.metrics else set()
        metrics += [Metric(key, value, 0, step) for step, value in sorted(steps.items()) if step not in logged]
    metrics += [Metric(key, value, 0, 0) for key, value in final_metrics(summary).items() if key not in held.metrics]
    mlflow_client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])
    for start in range(0, len(new_params), 100):  # mlflow's limits of one batch: 100 params, 1000 metrics
        mlflow_client.log_batch(run_id, params=new_params[start:start + 100])
    for start in range(0, len(metrics), 1000):
        mlflow_client.log_batch(run_id, metrics=metrics[start:start + 1000])
    mlflow_client.log_dict(run_id, summary.get("experts_config", {}), "experts_config.json")
    for path, folder in _artifacts(run_dir):
        mlflow_client.log_artifact(run_id, str(path), folder)
    if summary.get("status") in MLFLOW_STATUS:
        mlflow_client.set_terminated(run_id, MLFLOW_STATUS[summary["status"]])
    return {"params": len(new_params), "metrics": len(metrics)}


def sync(run_dir: Path, uri: str | None, summary: dict) -> str:
    """Upload a finished, failed or interrupted run folder to `uri` (or the server its record names) without
    duplicating what the server holds; returns the MLflow run id, recorded in `summary["tracking"]`."""
    recorded = summary.get("tracking") or {}
    uri = uri or recorded.get("uri") or os.environ.get(ENVIRONMENT)
    if not uri:
        raise UserError(f"{run_dir}: no tracking server: give --tracking-uri or set {ENVIRONMENT}")
    if summary.get("status") == "running":
        raise UserError(f"{run_dir}: the run is still running (status 'running'): sync it when it has ended")
    if recorded.get("uri") not in (None, uri):
        summary["tracking"] = {}  # another server: the run id recorded means nothing there
    mlflow_client = client(uri)
    run_id = find_or_create_run(mlflow_client, run_dir, summary)
    summary["tracking"] = {"uri": uri, "run_id": run_id}
    upload(mlflow_client, run_id, run_dir, summary)
    return run_id
