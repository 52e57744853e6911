"""`nt.sweep`: a sweep exactly as `python neuro_trigger/sweep.py` runs it; sweep.py is a thin layer over
`define` and `sweep_run`. A user mistake raises `UserError` (where the CLI exits 2), before any trial runs.

Every trial is a normal run folder; the sweep (an Optuna study) lives in `<log root>/sweeps/<name>/`, and
`nt.trials(sweep)` reads its trials back.
"""
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TextIO

from neuro_trigger.config import MAX_PACK
from neuro_trigger.errors import UserError
from neuro_trigger.sweeps import sweeps as NAMED_SWEEPS

EXIT_STATUS = {0: "finished", 1: "failed", 130: "interrupted", 143: "interrupted"}


@dataclass(frozen=True)
class Sweep:
    """A sweep's folder and how this call ended it; `nt.trials(sweep)` (or `.trials()`) gives its trials.
    `status`: finished (every trial finished), failed (a trial failed or a worker crashed), interrupted (Ctrl-C
    or SIGTERM), submitted (`slurm`: the job array is queued, `jobs` names its tasks)."""
    path: Path
    name: str
    metric: str
    direction: str
    exit_code: int
    report_path: Path | None = None
    jobs: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        return "submitted" if self.jobs else EXIT_STATUS.get(self.exit_code, "failed")

    def trials(self):
        """`nt.trials(self)`: one row per trial, with its parameters, metrics and run folder."""
        from neuro_trigger.api.tables import trials

        return trials(self.path)

    def __fspath__(self) -> str:
        return str(self.path)


def space_of(grid: dict | None, ranges: dict | None, overrides: dict | None, modify: list[str] | None):
    """The `Space` of keyword arguments with the keys of a named sweep (`grid`, `ranges`, `overrides`, Python
    values) and of `-m` strings (`"learning_rate=0.01,0.02"`); a key given twice is refused."""
    from neuro_trigger.sweeping.space import Range, Space

    space = Space.parse(list(modify or []))
    seen = {*space.overrides, *space.axes, *space.ranges}
    for argument, given in (("grid", grid), ("ranges", ranges), ("overrides", overrides)):
        if given is None:
            continue
        if not isinstance(given, dict):
            raise UserError(f"{argument}: expected a dict of dotted config keys, got {type(given).__name__}")
        for key, value in given.items():
            key = str(key)
            if key in seen:
                raise UserError(f"{argument} {key!r}: given twice")
            seen.add(key)
            if argument == "grid":
                if not isinstance(value, (list, tuple)) or not value:
                    raise UserError(f"grid {key!r}: expected a non-empty list of values, got {value!r}")
                space.axes[key] = list(value)
            elif argument == "ranges":
                if not isinstance(value, str):
                    raise UserError(f"ranges {key!r}: expected a string like 'log(1e-4,1e-1)', got {value!r}")
                space.ranges[key] = Range.parse(key, value)
            else:
                space.overrides[key] = value
    return space


def define(config: str, space, *, seeds: int | None = None, method: str | None = None,
           trials: int | None = None, metric: str | None = None, direction: str | None = None,
           data: dict | None = None, log_root: Path, name: str | None = None, storage: str | None = None,
           argv: list[str] | None = None):
    """The sweep's `Definition` from a named sweep of sweeps.py (or a config) and `space`, whose keys replace
    the named sweep's; checked completely (every grid value, range bound and choice resolves)."""
    from neuro_trigger.data.families import FAMILIES
    from neuro_trigger.runs.request import RunRequest, resolve_request
    from neuro_trigger.sweeping import named
    from neuro_trigger.sweeping.definition import (Definition, check_metric, check_metric_of_family,
                                                  default_direction, validate)
    from neuro_trigger.sweeping.space import Space, nested

    entry = named.lookup(config, NAMED_SWEEPS) or {}
    base_config = entry.get("config", config)
    merged = named.space_of(config, entry) if entry else Space()
    for key in [*space.overrides, *space.axes, *space.ranges]:  # the caller's keys replace a named sweep's
        for part in (merged.overrides, merged.axes, merged.ranges):
            part.pop(key, None)
    merged.overrides.update(space.overrides)
    merged.axes.update(space.axes)
    merged.ranges.update(space.ranges)
    base = resolve_request(RunRequest(base_config, nested(merged.overrides), production=True, data_files=data))
    metric = metric or entry.get("metric") or FAMILIES[base["family"]].sweep_metric
    check_metric(metric)
    check_metric_of_family(metric, base, base_config)
    definition = Definition(
        name="", config=base_config, space=merged, seeds=entry.get("seeds", 1) if seeds is None else seeds,
        method=method or entry.get("method", "grid"), trials=entry.get("trials") if trials is None else trials,
        metric=metric, direction=direction or entry.get("direction") or default_direction(metric),
        data_files=data, base_seed=base["seed"], description=entry.get("description", ""))
    definition.name = name or (config if entry else f"{base_config}_{definition.digest()}")
    validate(definition)
    from neuro_trigger.sweeping.study import shown_url  # Optuna: only once the definition is checked

    shown = [a.replace(storage, shown_url(storage)) if storage else a for a in (argv or [])]
    definition.extra = {"log_root": str(log_root.resolve()), "storage": shown_url(storage), "argv": shown}
    return definition


def existing(name: str, log_root: Path):
    """(sweep folder, definition) of the sweep `name` below `log_root`."""
    from neuro_trigger.sweeping import definition as definition_lib

    sweep_dir = log_root / "sweeps" / name
    if not (sweep_dir / "sweep.json").is_file():
        raise UserError(f"no sweep {name!r} in {log_root / 'sweeps'}")
    return sweep_dir, definition_lib.load(sweep_dir)


def _track(sweep_dir: Path, definition, uri: str | None) -> dict | None:
    """With a tracking URI (given, else MLFLOW_TRACKING_URI), the sweep's MLflow parent run, recorded in
    sweep.json for the workers, whose trials become its children."""
    from neuro_trigger.runs import tracking
    from neuro_trigger.sweeping import definition as definition_lib

    uri = uri or os.environ.get(tracking.ENVIRONMENT)
    parent = tracking.sweep_parent(uri, sweep_dir, definition.name, definition.config) if uri else None
    tracked = {"uri": uri, "parent_run_id": parent} if parent else None
    definition_lib.set_extra(sweep_dir, "tracking", tracked)
    return tracked


def sweep_run(definition, sweep_dir: Path, *, resume: bool = False, workers: int = 1, pack: int | None = None,
              storage: str | None = None, storage_password_file: Path | None = None, slurm: str | None = None,
              tracking_uri: str | None = None, announce: Callable[[str], None] | None = None,
              out: TextIO | None = None, draw_best: int | None = None) -> Sweep:
    """Run (or, with `resume`, continue) a checked sweep in local workers, or submit it to SLURM; every check
    comes before sweep.json is written. `announce` gets the line naming the sweep folder once it exists, and
    what the sweep does at its end. Trials are made without plots; a finished local sweep draws those of its
    best `draw_best` trials (default `best_figures.BEST_DRAWN`)."""
    from neuro_trigger.sweeping import definition as definition_lib
    from neuro_trigger.sweeping import report, study as study_lib

    if workers < 1:
        raise UserError(f"--workers {workers}: expected a number >= 1")
    if pack is not None and not 1 <= pack <= MAX_PACK:
        raise UserError(f"--pack {pack}: expected a number >= 1 and <= {MAX_PACK}")
    if draw_best is not None and draw_best < 0:
        raise UserError(f"--draw-best {draw_best}: expected a number >= 0")
    slurm_parameters = None
    if slurm is not None:
        from neuro_trigger.sweeping import slurm as slurm_lib

        slurm_parameters = slurm_lib.parse_options(slurm)
    storage_url = study_lib.private_url(storage, storage_password_file)  # the password: PGPASSWORD only
    store = study_lib.open_storage(sweep_dir, storage_url)  # an unreachable database fails here, before trials
    if not resume:
        definition_lib.save(sweep_dir, definition)
    if pack is not None:  # how trials are trained, not which: it may change when a sweep continues
        definition_lib.set_pack(sweep_dir, pack)
    tracked = _track(sweep_dir, definition, tracking_uri)
    study_lib.create_or_load(store, definition)
    done = dict(path=sweep_dir, name=definition.name, metric=definition.metric, direction=definition.direction)
    if announce is not None:
        announce(f"sweep {definition.name}: {sweep_dir}")
    if slurm_parameters is not None:
        jobs = slurm_lib.submit(sweep_dir, storage_url, workers, slurm_parameters, definition.name)
        return Sweep(**done, exit_code=0, jobs=tuple(jobs))
    from neuro_trigger.sweeping import pool

    code = pool.run_local(sweep_dir, storage_url, workers, out or sys.stderr)
    if code == 0:
        from neuro_trigger.sweeping import best_figures

        drawn = best_figures.draw_best(report.open_study(sweep_dir, storage_url), definition.direction,
                                       best_figures.BEST_DRAWN if draw_best is None else draw_best)
        if drawn and announce is not None:
            announce(f"plots of the best {len(drawn)} trial(s) drawn into their report.html; any other trial's: "
                     f"python neuro_trigger/main.py --draw RUN_DIR")
    written = report.write_report(sweep_dir, storage_url)
    if tracked:
        from neuro_trigger.runs import tracking

        tracking.end_sweep_parent(tracked["uri"], tracked["parent_run_id"], written, code == 0)
    return Sweep(**done, exit_code=code, report_path=written)


def sweep(config: str | None = None, grid: dict[str, list] | None = None, *, ranges: dict[str, str] | None = None,
          overrides: dict[str, Any] | None = None, modify: list[str] | None = None, seeds: int | None = None,
          method: str | None = None, trials: int | None = None, metric: str | None = None,
          direction: str | None = None, workers: int = 1, pack: int | None = None, storage: str | None = None,
          storage_password_file: Path | str | None = None, slurm: str | None = None, data: dict | None = None,
          log_dir: Path | str | None = None, name: str | None = None, tracking_uri: str | None = None,
          resume: str | None = None, draw_best: int | None = None) -> Sweep:
    """Run a sweep as `sweep.py CONFIG -m ...` does and return its `Sweep`. `config` is a config or a named
    sweep; `grid={"learning_rate": [0.01, 0.02]}` spans a grid, `ranges={"learning_rate": "log(1e-4,1e-1)"}`
    are ranges for `method="random"`/`"tpe"`, `overrides={"epochs": 2}` hold in every trial (dotted keys, Python
    values; `modify` takes the same as `-m` strings). `resume=NAME` is `--resume NAME`; the other keywords are
    the CLI's options. A user mistake raises `UserError` before any trial runs. The trials run in spawned worker
    processes, which import the calling script again: in a script, call it under `if __name__ == "__main__":`."""
    from neuro_trigger.runs.folder import PRODUCTION_LOG_ROOT
    from neuro_trigger.cli import quiet_warnings

    quiet_warnings()
    log_root = Path(log_dir or PRODUCTION_LOG_ROOT).resolve()
    password_file = Path(storage_password_file) if storage_password_file is not None else None
    if resume is not None:
        given = dict(config=config, grid=grid, ranges=ranges, overrides=overrides, modify=modify, seeds=seeds,
                     method=method, trials=trials, metric=metric, direction=direction, data=data, name=name)
        if any(value is not None for value in given.values()):
            raise UserError(f"resume={resume!r} takes only the sweep name (and workers, pack, storage, slurm, "
                            f"log_dir, tracking_uri)")
        sweep_dir, definition = existing(resume, log_root)
        storage = storage or definition.extra.get("storage")
    else:
        if not config:
            raise UserError("no config or named sweep given")
        if workers < 1:
            raise UserError(f"workers={workers}: expected a number >= 1")
        if data is not None:  # as the CLI gives them: lists of path strings (sweep.json holds them)
            if not isinstance(data, dict):
                raise UserError(f"data: expected {{'train': [...], 'val': [...], 'test': [...]}}, got {data!r}")
            data = {str(split): [str(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
                    for split, paths in data.items()}
        call = {"grid": grid, "ranges": ranges, "overrides": overrides, "modify": modify}
        argv = ["nt.sweep", config, *(f"{k}={v!r}" for k, v in call.items() if v is not None)]
        definition = define(config, space_of(grid, ranges, overrides, modify), seeds=seeds, method=method,
                            trials=trials, metric=metric, direction=direction, data=data, log_root=log_root,
                            name=name, storage=storage, argv=argv)
        sweep_dir = log_root / "sweeps" / definition.name
    return sweep_run(definition, sweep_dir, resume=resume is not None, workers=workers, pack=pack, storage=storage,
                     storage_password_file=password_file, slurm=slurm, tracking_uri=tracking_uri,
                     draw_best=draw_best, announce=lambda line: print(line, file=sys.stderr, flush=True))
