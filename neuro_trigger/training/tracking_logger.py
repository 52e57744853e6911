"""One expert's per-epoch metrics to the run's MLflow run, through Lightning's MLFlowLogger (imported only when
a run is tracked: `runs/tracking.py`). A server that fails is reported once by `link` and never asked again:
training goes on, the CSV logs keep every epoch, and `sync` uploads them later."""
import math
from typing import Any, Mapping, Protocol

from pytorch_lightning.loggers import MLFlowLogger


class TrackingLink(Protocol):
    """What the logger shares with the run's tracker: whether the server failed, and how to say it did."""
    broken: bool

    def fail(self, error: BaseException) -> None: ...


def epoch_metric_key(expert: int, name: str) -> str:
    """The MLflow key of an expert's per-epoch figure: `expert_0/val_loss` (the CSV log's column `val_loss`)."""
    return f"expert_{expert}/{name}"


class ExpertMLFlowLogger(MLFlowLogger):
    """Logs `expert_<x>/<name>` at step = epoch into an MLflow run the tracker made; hyperparameters, the
    run's status and artifacts are the tracker's (the run folder's record), not Lightning's."""

    def __init__(self, tracking_uri: str, run_id: str, expert: int, link: TrackingLink):
        super().__init__(tracking_uri=tracking_uri, run_id=run_id)
        self.expert, self.link = expert, link

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        pass

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        if self.link.broken or "epoch" not in metrics:
            return
        epoch = int(metrics["epoch"])
        named = {epoch_metric_key(self.expert, k): float(v) for k, v in metrics.items()
                 if k != "epoch" and isinstance(v, (int, float)) and math.isfinite(v)}
        try:
            super().log_metrics(named, step=epoch)
        except Exception as e:  # unreachable, refused, timed out: the run goes on without the server
            self.link.fail(e)

    def finalize(self, status: str = "success") -> None:
        pass  # the tracker ends the MLflow run once every expert and the export are done
