"""What a run is asked for (`RunRequest`) and the config it resolves to, without torch: `sweep.py` and
`main.py` check a request before torch and Lightning are imported, so a typo is answered in about a second."""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from neuro_trigger import config as config_lib
from neuro_trigger.constants import ALL_EXPERTS
from neuro_trigger.runs import folder


@dataclass
class RunRequest:
    config_name: str
    overrides: dict = field(default_factory=dict)
    production: bool = False
    solo_expert: bool = False
    description: str = ""
    data_files: dict[str, list[str]] | None = None  # --data, replaces the config's data set
    log_root: Path | None = None
    process_start: float | None = None  # time.time() when the command started, for the timing breakdown
    tags: dict | None = None  # extra top-level summary.json entries of whoever made the run, e.g. {"sweep": {...}}
    on_claimed: Callable[[Path], None] | None = None  # told the run folder as soon as it exists (a sweep's trial)
    tracking_uri: str | None = None  # --tracking-uri (else the config key, else MLFLOW_TRACKING_URI)
    tracking_parent: str | None = None  # the MLflow run this one is a child of (a sweep's)
    figures: bool = True  # False (sweep trials): no plots; summary.json says "figures": "pending" (main.py --draw)


def resolve_request(request: RunRequest) -> dict:
    """The validated config of this run, with the debug / solo-expert adjustments applied."""
    overrides = dict(request.overrides)
    if request.data_files is not None:
        overrides["data"] = request.data_files
    config = config_lib.resolve(request.config_name, overrides)
    if request.solo_expert or not request.production:
        config["experts"] = [ALL_EXPERTS]
    if not request.production:
        config["epochs"] = min(config["epochs"], config_lib.DEBUG_EPOCHS)
    return config


def log_root_of(request: RunRequest) -> Path:
    if request.log_root is not None:
        return Path(request.log_root)
    return folder.PRODUCTION_LOG_ROOT if request.production else folder.DEBUG_LOG_ROOT
