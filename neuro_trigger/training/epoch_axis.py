"""TensorBoard with the epoch as x axis for an expert's scalars, as in the `mean_expert/` stream.

Lightning writes epoch-level metrics against the global step, which differs between experts (their
batch sizes and row counts differ): on a common axis the curves would not line up.
"""
from pytorch_lightning.loggers import TensorBoardLogger


class EpochAxisTensorBoardLogger(TensorBoardLogger):
    """Writes every logged scalar at step = its epoch (Lightning passes `epoch` with epoch-level metrics)."""

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        metrics = dict(metrics)
        epoch = metrics.pop("epoch", None)
        super().log_metrics(metrics, step=int(epoch) if epoch is not None else step)
