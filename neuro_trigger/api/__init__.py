"""The Python API, `import neuro_trigger as nt` (docs/python-api.md): runs and sweeps from a notebook.

It reads what the run record holds (`runs/record.py`) and the figures the metric table names
(`evaluation/metric_table.py`); it is no second reader of the run folder. pandas is imported on first use.
"""
from neuro_trigger.api.dataset import dataset
from neuro_trigger.api.run_handle import Run
from neuro_trigger.api.tables import runs, trials
from neuro_trigger.api.tracking import sync_run as sync
from neuro_trigger.api.training import resume, train
from neuro_trigger.errors import UserError

__all__ = ["train", "resume", "runs", "Run", "trials", "dataset", "sync", "UserError"]
