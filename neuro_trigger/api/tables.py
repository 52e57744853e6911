"""`nt.runs` and `nt.trials`: run folders and sweep trials as pandas DataFrames, one row each, from the run
record (`runs/record.py`) with the figures of the metric table (`evaluation/metric_table.py`)."""
import datetime
import glob
import os
from pathlib import Path
from typing import Any, Iterable

from neuro_trigger.config import flatten
from neuro_trigger.constants import SPLITS
from neuro_trigger.errors import UserError
from neuro_trigger.evaluation import metric_table
from neuro_trigger.evaluation.comparison import Run as RecordedRun
from neuro_trigger.evaluation.verdict import standard_error
from neuro_trigger.runs import record

RUN_COLUMNS = ["run_dir", "config_name", "status", "description", "error", "start_time", "end_time",
               "wall_time_s", "git_id", "data_fingerprint", "seed", "production"]


def metric_columns(metrics: dict, split: str) -> dict[str, float]:
    """`<split>.<name>` and `<split>.<name>_err` of every figure of the metric table the record holds (and its
    fixed-point twins), the errors as `compare` shows them."""
    columns = {}
    for name, value in metrics.items():
        if metric_table.find(name) is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        columns[f"{split}.{name}"] = value
        columns[f"{split}.{name}_err"] = standard_error(metrics, name)
    return columns


def _paths(path_or_glob: str | Path | Iterable[str | Path]) -> list[Path]:
    items = [path_or_glob] if isinstance(path_or_glob, (str, Path)) else list(path_or_glob)
    paths = []
    for item in map(str, items):
        if not glob.has_magic(item) and not Path(item).is_dir():
            raise UserError(f"{item}: no such run, config or log folder")
        paths += [Path(m) for m in sorted(glob.glob(item)) if Path(m).is_dir()]
    return paths


def _since(value: str | datetime.datetime | datetime.date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        value = datetime.datetime.combine(value, datetime.time())
    if isinstance(value, datetime.datetime):
        return value.isoformat(timespec="seconds")
    try:
        return datetime.datetime.fromisoformat(str(value)).isoformat(timespec="seconds")
    except ValueError:
        raise UserError(f"since={value!r}: expected an ISO date or time, e.g. 2026-12-01 or 2026-12-01T14:00") from None


def _wanted(value: str | Iterable[str] | None) -> set[str] | None:
    return None if value is None else {value} if isinstance(value, str) else set(value)


def run_row(run: RecordedRun) -> dict[str, Any]:
    """The columns of one run that do not depend on the expert."""
    summary = run.summary
    row = {"run_dir": str(run.path), "config_name": summary.get("config_name"), "status": run.status,
           "description": summary.get("description"), "error": summary.get("error"),
           "start_time": summary.get("start_time"), "end_time": summary.get("end_time"),
           "wall_time_s": summary.get("wall_time_s"), "git_id": summary.get("git_id"),
           "data_fingerprint": run.data_key if summary.get("data") else None, "seed": summary.get("seed"),
           "production": summary.get("production")}
    row.update({f"config.{k}": v for k, v in flatten(summary.get("config", {})).items()})
    return row


def runs(path_or_glob: str | Path | Iterable[str | Path] = "log", config: str | Iterable[str] | None = None,
         status: str | Iterable[str] | None = None, since: Any = None, per_expert: bool = False):
    """One row per run found under `path_or_glob` (run, config or log folders, a sweep folder, or a glob of
    them), or with `per_expert` one per run and expert; columns: the record's status, description, commit,
    data fingerprint and folder, every config key flattened (`config.dist.n_buckets`), and per split every
    metric with its error (`test.z_diff_std`, `test.z_diff_std_err`), the values `compare` shows."""
    import pandas as pd

    wanted_config, wanted_status, after = _wanted(config), _wanted(status), _since(since)
    rows = []
    for run in record.find_runs(_paths(path_or_glob)):
        summary = run.summary
        if wanted_config is not None and summary.get("config_name") not in wanted_config:
            continue
        if wanted_status is not None and run.status not in wanted_status:
            continue
        if after is not None and (summary.get("start_time") or "") < after:
            continue
        base = run_row(run)
        if not per_expert:
            for split in SPLITS:
                base.update(metric_columns(summary.get("metrics", {}).get(split) or {}, split))
            rows.append(base)
            continue
        for name, expert in (summary.get("experts") or {}).items():
            row = {**base, "expert": expert.get("expert", int(name.split("_", 1)[1])),
                   "expert_status": expert.get("status"), "epochs": expert.get("epochs"),
                   "best_val_loss": expert.get("best_val_loss")}
            for split in SPLITS:
                row.update(metric_columns((expert.get("metrics") or {}).get(split) or {}, split))
            rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else RUN_COLUMNS)


def trials(sweep: str | os.PathLike, log_dir: str | Path | None = None, storage: str | None = None):
    """One row per trial of a sweep (the `Sweep` of `nt.sweep`, its folder `log/sweeps/<name>`, or its name
    below `log_dir`): number,
    state, value, parameters (`param.<name>`), run folder and that run's status and metrics as in `nt.runs`."""
    import pandas as pd

    from neuro_trigger.runs.folder import PRODUCTION_LOG_ROOT
    from neuro_trigger.sweeping import definition as definition_lib
    from neuro_trigger.sweeping import report

    sweep_dir = Path(sweep)
    if not (sweep_dir / "sweep.json").is_file():
        sweep_dir = Path(log_dir or PRODUCTION_LOG_ROOT) / "sweeps" / str(sweep)
        if not (sweep_dir / "sweep.json").is_file():
            raise UserError(f"no sweep {str(sweep)!r} (neither a sweep folder nor a name in {sweep_dir.parent})")
    definition = definition_lib.load(sweep_dir)
    status = report.status(sweep_dir, storage or definition.extra.get("storage"))
    rows = []
    for trial in status["trials"]:
        row = {"trial": trial["trial"], "state": trial["state"], "seed": trial["seed"],
               definition.metric: trial["value"], "value": trial["value"], "run_dir": trial["run_dir"],
               "error": trial["error"], **{f"param.{k}": v for k, v in (trial["params"] or {}).items()}}
        if trial["run_dir"] and Path(trial["run_dir"]).is_dir():
            run = record.find_runs([Path(trial["run_dir"])])[0]
            row["status"] = run.status
            for split in SPLITS:
                row.update(metric_columns(run.summary.get("metrics", {}).get(split) or {}, split))
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame.attrs.update({"sweep": definition.name, "metric": definition.metric, "direction": definition.direction})
    return frame
