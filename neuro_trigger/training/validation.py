"""The figures logged at every validation epoch, for TensorBoard, the mean-expert stream and the progress
board: the same values as `evaluation.metrics.evaluate` gives for them, at a fraction of its cost, because the
old network's figures are computed once per expert and nothing else (binned figures, uncertainties) is.
The full set, with uncertainties, is computed once after training (`expert_evaluation`).
"""
import numpy as np

from neuro_trigger.constants import theta_to_deg, z_to_cm
from neuro_trigger.evaluation.metric_table import EPOCH_METRICS
from neuro_trigger.evaluation.metrics import loss_metrics, trigger_figures, trimmed_std

LOGGED = EPOCH_METRICS
QUANTITIES = (("z", z_to_cm), ("theta", theta_to_deg))  # output column i is QUANTITIES[i], in its unit


class ValidationFigures:
    """`figures(pred)` of one expert's validation split, whose targets, old network and z cut are fixed."""

    def __init__(self, reco: np.ndarray, reference: np.ndarray, z_cut_cm: float):
        self.reco, self.reference, self.z_cut_cm = reco, reference, z_cut_cm
        self.truth = [to_unit(reco[:, i]) for i, (_, to_unit) in enumerate(QUANTITIES[:reco.shape[1]])]
        self.old = {}
        for i, (name, to_unit) in enumerate(QUANTITIES[:reco.shape[1]]):
            diff_old = self.truth[i] - to_unit(reference[:, i])
            self.old.update({f"{name}_diff_std": float(np.std(diff_old)),
                             f"{name}_diff_std_trimmed": trimmed_std(diff_old)})
        self.old["efficiency"], self.old["rejection"] = trigger_figures(self.truth[0], z_to_cm(reference[:, 0]),
                                                                        z_cut_cm)

    def figures(self, pred: np.ndarray) -> dict[str, float]:
        """The LOGGED figures of predictions `pred` (N, out_size), where they are finite."""
        figures = loss_metrics(pred, self.reco, self.reference)
        if len(pred):
            for i, (name, to_unit) in enumerate(QUANTITIES[:min(pred.shape[1], len(self.truth))]):
                diff = self.truth[i] - to_unit(pred[:, i])
                for key, new in ((f"{name}_diff_std", float(np.std(diff))),
                                 (f"{name}_diff_std_trimmed", trimmed_std(diff))):
                    old = self.old[key]
                    figures.update({key: new, f"{key}_old": old, f"{key}_vs_old": new / old if old else float("nan")})
            figures["efficiency"], figures["rejection"] = trigger_figures(self.truth[0], z_to_cm(pred[:, 0]),
                                                                          self.z_cut_cm)
            figures["efficiency_old"], figures["rejection_old"] = self.old["efficiency"], self.old["rejection"]
        return {name: figures[name] for name in LOGGED if np.isfinite(figures.get(name, np.nan))}
