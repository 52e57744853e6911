"""`nt.train` and `nt.resume`: one run exactly as `python neuro_trigger/main.py` makes it; main.py is a thin layer
over `train_run`. A user mistake raises `UserError` (where the CLI exits 2), before any run folder exists.

The checks run before torch is imported, so a typo is answered in about a second.
"""
import gc
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from neuro_trigger import cli
from neuro_trigger import config as config_lib
from neuro_trigger.errors import UserError

if TYPE_CHECKING:  # for the annotations; at run time imported where one is returned, after the checks
    from neuro_trigger.api.run_handle import Run


def check_before_imports(config_name: str, overrides: dict) -> dict:
    """The config, the overrides and the data paths, checked without torch (run.py checks them all again); returns
    the resolved config."""
    config = config_lib.resolve(config_name, overrides)
    if isinstance(config["data"], dict):
        from neuro_trigger.data.splits import resolve_files

        for split, paths in resolve_files(config["data"]).items():
            for path in paths:
                if not path.exists():
                    raise UserError(f"{path}: data file not found (data.{split})")
    return config


def check_log_root(log_root: Path) -> None:
    """The log root, or the nearest folder above it that exists, can hold run folders."""
    if "\0" in str(log_root):
        raise UserError(f"log root {str(log_root)!r}: a path cannot hold a NUL character")
    existing = log_root.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"log root {log_root}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"log root {log_root}: {existing} is not writable")


def nested_overrides(overrides: dict | list[str] | None) -> dict:
    """Overrides as `config.resolve` takes them: from `-m` strings (`["act=softsign"]`), or a dict whose keys may
    be dotted paths (`{"expert_2.batch_size": 16}`) with Python values."""
    if overrides is None:
        return {}
    if isinstance(overrides, list):
        return config_lib.parse_overrides(overrides)
    if not isinstance(overrides, dict):
        raise UserError(f"overrides: expected a dict or a list of KEY=VALUE strings, got {type(overrides).__name__}")
    from neuro_trigger.sweeping.space import nested

    return nested({str(key): value for key, value in overrides.items()})


def import_training() -> None:
    """Start the evaluation workers' fork server, then import torch, and Lightning in a thread beside the data
    read (training/imports.py), with the collector paused: they make millions of objects and next to no
    garbage, so collecting while they are imported only scans them again and again (about 1 s), and once frozen
    the collections during the run skip them (another 1 s)."""
    if "neuro_trigger.run" in sys.modules:
        return
    from neuro_trigger.evaluation import offload

    offload.start_server()  # imports numpy and matplotlib for the evaluation workers while torch is imported here
    cli.quiet_warnings()
    gc.disable()
    import neuro_trigger.run  # noqa: F401
    from neuro_trigger.runs.logs import quiet_lightning_console
    from neuro_trigger.training.imports import import_in_background

    def imported() -> None:
        gc.freeze()
        gc.enable()
        quiet_lightning_console()  # Lightning's console handler exists only once it is imported
    import_in_background(imported)  # Lightning, while the run reads its data (run.py waits for it)


def train_run(config: str, overrides: dict | list[str] | None = None, *, data: dict | None = None,
              seeds: int | None = None, log_dir: Path | str | None = None, production: bool = False,
              solo_expert: bool = False, description: str | Callable[[], str] = "",
              process_start: float | None = None, interactive: bool = False,
              tracking_uri: str | None = None) -> tuple[Path, int]:
    """Check, then train one run; returns (run folder, exit code: 0 finished, 1 failed, 130/143 interrupted).
    `description` may be a function, asked only once the config has passed its checks."""
    from neuro_trigger.configs import configs

    if not config:
        raise UserError("no config given; choose one of: " + ", ".join(configs))
    changes = nested_overrides(overrides)
    if seeds is not None:
        changes["pack"] = {"seeds": seeds}
    resolved = check_before_imports(config, changes if data is None else {**changes, "data": data})
    from neuro_trigger.runs import folder

    log_root = Path(log_dir) if log_dir is not None else None
    check_log_root(log_root or (folder.PRODUCTION_LOG_ROOT if production else folder.DEBUG_LOG_ROOT))
    if resolved["compare_to"]:
        from neuro_trigger.runs.reference import check_baseline_family

        check_baseline_family(log_root or (folder.PRODUCTION_LOG_ROOT if production else folder.DEBUG_LOG_ROOT),
                              resolved["compare_to"], resolved)
    import_training()
    from neuro_trigger.run import RunRequest, execute, resolve_request
    from neuro_trigger.runs.logs import configure_console

    configure_console(interactive=interactive)
    request = RunRequest(config_name=config, overrides=changes, production=production, solo_expert=solo_expert,
                         data_files=data, log_root=log_root, description="", process_start=process_start,
                         tracking_uri=tracking_uri)
    resolve_request(request)  # a config mistake is reported before anyone is asked for a description
    request.description = description() if callable(description) else description
    return execute(request)


def resume_run(run_dir: Path | str, interactive: bool = False) -> tuple[Path, int]:
    """Continue an interrupted, failed or killed run in its own folder; returns (run folder, exit code)."""
    from neuro_trigger.runs import folder
    from neuro_trigger.runs.resume import load_resumable

    load_resumable(Path(run_dir))
    folder.lock_run_folder(Path(run_dir))  # held until this process ends (run.resume's own call is a no-op)
    import_training()
    from neuro_trigger.run import resume
    from neuro_trigger.runs.logs import configure_console

    configure_console(interactive=interactive)
    return resume(Path(run_dir))


def train(config: str, overrides: dict | list[str] | None = None, *, data: dict | None = None,
          seeds: int | None = None, log_dir: Path | str | None = None, production: bool = False,
          solo_expert: bool = False, description: str = "", tracking_uri: str | None = None, **more: Any) -> "Run":
    """Train a named config as `main.py CONFIG` does (`production=True` is `-p`, `seeds=K` is `--seeds K`,
    `data={"train": [...], "val": [...], "test": [...]}` is `--data`, `log_dir` is `--log-root`,
    `tracking_uri` is `--tracking-uri`) and return its `Run`, whatever its status; a user mistake raises
    `UserError` before any folder exists."""
    from neuro_trigger.api.run_handle import Run

    run_dir, _ = train_run(config, overrides, data=data, seeds=seeds, log_dir=log_dir, production=production,
                           solo_expert=solo_expert, description=description, tracking_uri=tracking_uri, **more)
    return Run(run_dir)


def resume(run_dir: Path | str) -> "Run":
    """`main.py --resume RUN_DIR` from code: the run continued in its own folder."""
    from neuro_trigger.api.run_handle import Run

    return Run(resume_run(run_dir)[0])
