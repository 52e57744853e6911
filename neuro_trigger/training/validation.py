"""The figures logged at every validation epoch, for TensorBoard, the mean-expert stream and the progress
board: the same values as `evaluation.metrics.evaluate` gives for them, at a third of its cost, because the
old network's figures are computed once per expert and nothing else (theta, trigger figures) is computed.
The full set, with uncertainties, is computed once after training (`expert_evaluation`).
"""
import numpy as np

from neuro_trigger.constants import z_to_cm
from neuro_trigger.evaluation.metric_table import EPOCH_METRICS
from neuro_trigger.evaluation.metrics import loss_metrics, trimmed_std

LOGGED = EPOCH_METRICS


class ValidationFigures:
    """`figures(pred)` of one expert's validation split, whose targets and old network are fixed."""

    def __init__(self, reco: np.ndarray, reference: np.ndarray):
        self.reco, self.reference = reco, reference
        self.z_reco = z_to_cm(reco[:, 0])
        diff_old = self.z_reco - z_to_cm(reference[:, 0])
        self.old = {"z_diff_std": float(np.std(diff_old)), "z_diff_std_trimmed": trimmed_std(diff_old)}

    def figures(self, pred: np.ndarray) -> dict[str, float]:
        """The LOGGED figures of predictions `pred` (N, out_size), where they are finite."""
        figures = loss_metrics(pred, self.reco, self.reference)
        if len(pred):
            diff = self.z_reco - z_to_cm(pred[:, 0])
            for name, new in (("z_diff_std", float(np.std(diff))), ("z_diff_std_trimmed", trimmed_std(diff))):
                old = self.old[name]
                figures.update({name: new, f"{name}_old": old, f"{name}_vs_old": new / old if old else float("nan")})
        return {name: figures[name] for name in LOGGED if np.isfinite(figures.get(name, np.nan))}
