"""The Python API, `import neuro_trigger as nt` (docs/python-api.md): runs and sweeps from a notebook.

It runs what the CLIs run (`nt.train`, `nt.sweep`) and reads what the run record holds (`runs/record.py`) and
the figures the metric table names (`evaluation/metric_table.py`); it is no second reader of the run folder.
Each name loads its module on first use, so that `main.py`, which imports `api.training`, answers a typo without numpy, pandas or torch.
"""
import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from neuro_trigger.api.training_rows import dataset
    from neuro_trigger.api.run_handle import Run
    from neuro_trigger.api.sweeping import Sweep, sweep
    from neuro_trigger.api.tables import runs, trials
    from neuro_trigger.api.tracking import sync_run as sync
    from neuro_trigger.api.training import resume, train
    from neuro_trigger.errors import UserError

WHERE = {"train": ("neuro_trigger.api.training", "train"), "resume": ("neuro_trigger.api.training", "resume"),
         "runs": ("neuro_trigger.api.tables", "runs"), "trials": ("neuro_trigger.api.tables", "trials"),
         "Run": ("neuro_trigger.api.run_handle", "Run"), "sweep": ("neuro_trigger.api.sweeping", "sweep"),
         "Sweep": ("neuro_trigger.api.sweeping", "Sweep"), "dataset": ("neuro_trigger.api.training_rows", "dataset"),
         "sync": ("neuro_trigger.api.tracking", "sync_run"), "UserError": ("neuro_trigger.errors", "UserError")}
__all__ = list(WHERE)


def __getattr__(name: str):
    if name not in WHERE:
        raise AttributeError(f"module 'neuro_trigger.api' has no attribute {name!r}")
    module, attribute = WHERE[name]
    value = globals()[name] = getattr(importlib.import_module(module), attribute)  # loaded once
    return value
