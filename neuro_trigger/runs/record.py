"""summary.json, the one record of a run: its keys and their types (documented in docs/run-folder.md), the
reader that checks them and the writer. Everything that needs to know about a run folder asks here.

Folders of the release before `schema_version` (version 0) read the same: no key changed its meaning.
"""
import json
import types
from pathlib import Path
from typing import Any, TypedDict, Union, get_args, get_origin, get_type_hints

from neuro_trigger.atomic import write_json
from neuro_trigger.errors import UserError, describe
from neuro_trigger.evaluation import comparison
from neuro_trigger.runs.folder import version_number

SCHEMA_VERSION = 1
FILE = "summary.json"


class DamagedRecord(UserError):
    """A summary.json that is missing or does not hold a run record; `cause` says why, without the path."""

    def __init__(self, message: str, cause: str):
        super().__init__(message)
        self.cause = cause


class Expert(TypedDict, total=False):
    """One expert's result (`training.fit.ExpertResult.summary()`)."""
    expert: int
    status: str  # finished | failed | interrupted
    error: str | None
    epochs: int
    train_time_s: float
    samples_per_s: float
    best_val_loss: float | None
    evaluation_time_s: float
    plot_time_s: float
    metrics: dict[str, dict]  # split -> metrics (docs/metrics.md)
    best_seed: int | None  # packed seeds only
    copies: list[dict]  # packed seeds only: one entry per copy


class Summary(TypedDict, total=False):
    """The keys of summary.json; every one is optional to the reader, which checks the types of those present."""
    schema_version: int
    status: str  # running | finished | failed | interrupted
    error: str
    config_name: str
    description: str
    run_dir: str
    production: bool
    log_root: str
    start_time: str
    end_time: str
    wall_time_s: float
    resumed: list[str]
    pid: int
    host: str
    git_id: str | None
    seed: int
    data: dict[str, list[dict]]  # split -> [{"path", "sha256", "content_sha256", ...}]
    rows: dict[str, int]
    environment: dict[str, str]
    config: dict[str, Any]
    overrides: dict[str, Any]
    experts_config: dict[str, dict]
    timing: dict[str, float | None]
    deployable: dict[str, dict]
    experts: dict[str, Expert]
    metrics: dict[str, dict]  # split -> metrics of all experts together
    seeds: dict[str, Any]  # packed seeds: per seed and their spread (runs/seeds.py)
    packed_with: list[str]
    sweep: dict[str, Any]  # the tag of a sweep trial: name, trial, params (slurm_job_id)
    tracking: dict[str, Any]  # the MLflow run it is sent to: uri, run_id (runs/tracking.py)
    figures: str  # "pending": made without plots (a sweep trial) until `main.py --draw`; else absent or "drawn"


def _type_error(value: Any, hint: Any, key: str) -> str | None:
    """Why `value` is not of type `hint` (checked one level into dicts and lists), or None when it is."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        reasons = [_type_error(value, h, key) for h in get_args(hint)]
        return None if None in reasons else reasons[0]
    if hint is Any or hint is type(None):
        return None if hint is Any or value is None else f"{key} is {type(value).__name__}, expected null"
    if isinstance(hint, type) and issubclass(hint, dict) and hasattr(hint, "__annotations__"):  # a TypedDict
        return _record_error(value, hint, f"{key}.") if isinstance(value, dict) else f"{key} is not an object"
    expected = {float: (int, float), int: int, str: str, bool: bool, dict: dict, list: list}[origin or hint]
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        return f"{key} is {type(value).__name__}, expected {(origin or hint).__name__}"
    items = value.items() if origin is dict else enumerate(value) if origin is list else ()
    return next(filter(None, (_type_error(v, get_args(hint)[-1], f"{key}.{k}" if origin is dict else f"{key}[{k}]")
                              for k, v in items)), None)


def _record_error(record: dict, kind: type, prefix: str = "") -> str | None:
    hints = get_type_hints(kind)
    return next(filter(None, (_type_error(record[k], h, prefix + k) for k, h in hints.items() if k in record)), None)


def read_summary(run_dir: Path, require: tuple[str, ...] = ("config",), what: str = "") -> Summary:
    """The checked record of `run_dir`; `DamagedRecord` (a user error that starts with `what`, by default the
    folder, and names the key) when it is missing, not JSON, of a newer schema, lacks a `require`d key or has
    a key of a wrong type."""
    run_dir = Path(run_dir)
    label, path = what or str(run_dir), run_dir / FILE
    if not path.is_file():
        raise DamagedRecord(f"{label}: not a run folder (no {FILE})", f"no {FILE}")
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError) as e:  # RecursionError: nested too deeply for any record
        raise DamagedRecord(f"{label}: {path} is not readable JSON ({describe(e)})",
                            f"{FILE} is not readable JSON") from None
    cause = None
    if not isinstance(record, dict):
        cause = f"{FILE} is not a JSON object"
    elif (missing := [k for k in require if k not in record]):
        cause = f"{FILE} has no {missing[0]!r}: not a NeuroTrigger run summary"
    elif isinstance(version := record.get("schema_version", 0), int) and version > SCHEMA_VERSION:
        cause = f"{FILE} has schema_version {version}, newer than this release's {SCHEMA_VERSION}"
    elif (wrong := _record_error(record, Summary)):
        cause = f"{FILE}: {wrong}"
    if cause:
        raise DamagedRecord(f"{label}: {cause}", cause)
    return record


def try_read_summary(run_dir: Path) -> tuple[Summary | None, str | None]:
    """(record, None), or (None, the cause) for a folder whose record is missing or damaged."""
    try:
        return read_summary(run_dir, require=()), None
    except DamagedRecord as e:
        return None, e.cause


def write_summary(run_dir: Path, summary: Summary) -> None:
    """summary.json of `run_dir`, atomically, stamped with this release's schema version."""
    summary["schema_version"] = SCHEMA_VERSION
    write_json(Path(run_dir) / FILE, summary)


def run_config(summary: Summary) -> dict:
    """The resolved config a run was made with, its overrides kept apart as `config.resolve` leaves them."""
    return {**summary["config"], "_overrides": summary.get("overrides", {})}


def find_runs(paths: list[Path]) -> list[comparison.Run]:
    """Run folders named directly, inside a config folder, inside a log root, or listed by a sweep folder."""
    runs = []
    for path in map(Path, paths):
        if (path / FILE).is_file() or path.name.startswith("version_"):
            candidates = [path]
        elif (path / "runs.txt").is_file():  # log/sweeps/<name>: its trials' run folders, one per line
            candidates = [Path(line) for line in dict.fromkeys((path / "runs.txt").read_text().split("\n")) if line]
        elif any(path.glob("version_*")):
            candidates = sorted(path.glob("version_*"), key=version_number)
        else:
            candidates = sorted((v for c in sorted(path.iterdir()) if c.is_dir() for v in c.glob("version_*")),
                                key=lambda v: (v.parent.name, version_number(v)))
        for candidate in candidates:
            summary, damage = try_read_summary(candidate)  # a damaged record is listed with its cause as status
            runs.append(comparison.Run(candidate, {"status": damage} if summary is None else summary))
    return runs


def find_named_runs(paths: list[Path]) -> list[comparison.Run]:
    """`find_runs` of paths a user named: refused in one line when one does not exist or none holds a run."""
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        raise UserError(f"{missing[0]}: no such run, config or log folder")
    runs = find_runs(paths)
    if not runs:
        raise UserError(f"{' '.join(map(str, paths))}: no run folders (version_<n>) found")
    return runs
