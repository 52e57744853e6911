"""Figures of a NeuroTrigger3DH network (z, theta, NNT, STT) in physical units, with uncertainties (docs/metrics.md).

Predictions and targets are scaled to [-1, 1]; both are unscaled with the config's `output_scale` as basf2 does
(SPEC-3DH 1.4): z in cm, theta in degrees, the classifications in their own units. A track is classified
positive when its unscaled output is strictly above `classification_cut` (basf2's `>`, default 0.0); it is a
true NNT (STT) track when its unscaled target is above 0 (targets are +1 / -1 before scaling, SPEC-3DH 2.2).

The resolutions carry the paired bootstrap's standard error (`uncertainty.bootstrap`), efficiencies and purities
a Wilson interval, the ROC area Hanley and McNeil's standard error. The trivial predictor (constant z and theta
at the median target, the classes by their prior, area 0.5) is the reference the verdict judges against when the
data bring no hardware prediction (`trivial_*` keys).
"""
import numpy as np

from neuro_trigger.evaluation import uncertainty
from neuro_trigger.evaluation.metrics import MIN_BOOTSTRAP_ROWS, TRIM, trimmed_std
from neuro_trigger.hardware.fixed_point_3dh import unscale

CLASSES = (("nnt", 2), ("stt", 3))
Z_EDGES_CM = np.linspace(-100.0, 100.0, 21)
THETA_EDGES_DEG = np.linspace(10.0, 170.0, 17)
ROC_POINTS = 51
SHARED = ("classification_cut", "nnt_rows", "stt_rows")  # the same for a network and its fixed-point twin


def physics(scaled: np.ndarray, output_scale) -> np.ndarray:
    """(N, 4) scaled values to z cm, theta degrees, NNT, STT (float64)."""
    out = unscale(scaled, output_scale).astype(np.float64)
    out[:, 1] = np.degrees(out[:, 1])
    return out


def roc_auc(score: np.ndarray, positive: np.ndarray) -> tuple[float, float]:
    """(area under the ROC curve, Hanley and McNeil's standard error): the chance that a true track scores
    above a false one, ties counting half (NaN without both kinds)."""
    n1, n0 = int(positive.sum()), int((~positive).sum())
    if not n1 or not n0:
        return float("nan"), float("nan")
    order = np.argsort(score, kind="stable")
    ranks = np.empty(len(score))
    sorted_score = score[order]
    starts = np.flatnonzero(np.r_[True, sorted_score[1:] != sorted_score[:-1]])
    ends = np.r_[starts[1:], len(score)]
    average = (starts + ends + 1) / 2.0  # mid-ranks of tied scores, 1-based
    ranks[order] = np.repeat(average, ends - starts)
    auc = (ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (auc * (1 - auc) + (n1 - 1) * (q1 - auc * auc) + (n0 - 1) * (q2 - auc * auc)) / (n1 * n0)
    return float(auc), float(np.sqrt(max(variance, 0.0)))


def roc_curve(score: np.ndarray, positive: np.ndarray, points: int = ROC_POINTS) -> dict:
    """Efficiency (true positive rate) and false positive rate at `points` cuts over [-1, 1], with the counts of
    true and false tracks behind them (the plot's uncertainty bands)."""
    cuts = np.linspace(-1.0, 1.0, points)
    above = score[None, :] > cuts[:, None]
    n1, n0 = max(int(positive.sum()), 1), max(int((~positive).sum()), 1)
    return {"cut": cuts.tolist(), "efficiency": (above[:, positive].sum(1) / n1).tolist(),
            "false_positive_rate": (above[:, ~positive].sum(1) / n0).tolist(),
            "positives": int(positive.sum()), "negatives": int((~positive).sum())}


def _fraction(name: str, passed: np.ndarray, selected: np.ndarray) -> dict:
    n, k = int(selected.sum()), int((passed & selected).sum())
    return {name: k / n if n else float("nan"), f"{name}_ci": uncertainty.wilson_interval(k, n)}


def efficiency_vs(x: np.ndarray, passed: np.ndarray, positive: np.ndarray, edges: np.ndarray) -> dict:
    """Efficiency of the true tracks in bins of `x`, with Wilson intervals (NaN for empty bins)."""
    bins = np.clip(np.digitize(x[positive], edges) - 1, 0, len(edges) - 2)
    n = np.bincount(bins, minlength=len(edges) - 1)
    k = np.bincount(bins, weights=passed[positive].astype(float), minlength=len(edges) - 1)
    lo, hi, p = uncertainty.wilson_arrays(k, n)
    return {"edges": edges.tolist(), "efficiency": p.tolist(), "lo": lo.tolist(), "hi": hi.tolist(),
            "counts": n.tolist()}


def evaluate_3dh(pred: np.ndarray, reco: np.ndarray, output_scale, cut: float = 0.0, errors: bool = True,
                 reference: np.ndarray | None = None) -> dict:
    """Every figure of one split of (N, 4) scaled predictions against (N, 4) scaled targets; with a finite
    `reference` (a `compare_to` baseline's scaled outputs on the same tracks), its judged figures too (`_old`)
    and the network's difference from them (`_minus_old`, with the error of the difference)."""
    pred, reco = np.asarray(pred, np.float64), np.asarray(reco, np.float64)
    if reference is not None and not (len(reference) == len(pred) and np.isfinite(reference).all()):
        reference = None
    metrics = {"rows": int(len(pred)), "loss": float(np.mean((pred - reco) ** 2)) if len(pred) else float("nan"),
               "classification_cut": float(cut)}
    if not len(pred):
        return metrics
    p, t = physics(pred, output_scale), physics(reco, output_scale)
    diffs = {"z": t[:, 0] - p[:, 0], "theta": t[:, 1] - p[:, 1]}
    trivial = {"z": t[:, 0] - np.median(t[:, 0]), "theta": t[:, 1] - np.median(t[:, 1])}
    figures = {}
    for name, diff in diffs.items():
        metrics[f"{name}_diff_std"], metrics[f"{name}_diff_std_trimmed"] = float(np.std(diff)), trimmed_std(diff)
        metrics[f"trivial_{name}_diff_std"] = float(np.std(trivial[name]))
        metrics[f"trivial_{name}_diff_std_trimmed"] = trimmed_std(trivial[name])
        figures[f"{name}_diff_std"] = uncertainty.std_of(diff)
        figures[f"{name}_diff_std_trimmed"] = uncertainty.trimmed_std_of(diff, TRIM)
    old = None if reference is None else physics(np.asarray(reference, np.float64), output_scale)
    if old is not None:
        for name, column in (("z", 0), ("theta", 1)):
            old_diff = t[:, column] - old[:, column]
            metrics[f"{name}_diff_std_trimmed_old"] = trimmed_std(old_diff)
            figures[f"{name}_diff_std_trimmed_old"] = uncertainty.trimmed_std_of(old_diff, TRIM)
    replicas = uncertainty.bootstrap(len(pred), figures) if errors and len(pred) >= MIN_BOOTSTRAP_ROWS else {}
    for name in figures:
        metrics[f"{name}_err"] = uncertainty.standard_error(replicas.get(name, np.full(2, np.nan)))
    if old is not None:
        for name in ("z", "theta"):
            key = f"{name}_diff_std_trimmed"
            metrics[f"{key}_minus_old"] = metrics[key] - metrics[f"{key}_old"]
            metrics[f"{key}_minus_old_err"] = uncertainty.standard_error(  # paired: the same resampled tracks
                replicas[key] - replicas[f"{key}_old"]) if replicas else float("nan")
    for name, column in CLASSES:
        positive, passed = t[:, column] > 0, p[:, column] > cut
        metrics[f"{name}_rows"] = int(positive.sum())
        metrics.update(_fraction(f"{name}_efficiency", passed, positive))
        metrics.update(_fraction(f"{name}_purity", positive, passed))
        metrics[f"trivial_{name}_purity"] = float(positive.mean())
        metrics[f"{name}_auc"], metrics[f"{name}_auc_err"] = roc_auc(p[:, column], positive)
        metrics[f"{name}_roc"] = roc_curve(pred[:, column], positive)
        metrics[f"{name}_efficiency_vs_z"] = efficiency_vs(t[:, 0], passed, positive, Z_EDGES_CM)
        metrics[f"{name}_efficiency_vs_theta"] = efficiency_vs(t[:, 1], passed, positive, THETA_EDGES_DEG)
        if old is not None:
            auc, error = metrics[f"{name}_auc"], metrics[f"{name}_auc_err"]
            metrics[f"{name}_auc_old"], metrics[f"{name}_auc_old_err"] = roc_auc(old[:, column], positive)
            metrics[f"{name}_auc_minus_old"] = auc - metrics[f"{name}_auc_old"]
            # as if independent: conservative, since both areas are taken on the same tracks
            metrics[f"{name}_auc_minus_old_err"] = float(np.hypot(error, metrics[f"{name}_auc_old_err"]))
            old_passed = old[:, column] > cut
            metrics.update(_fraction(f"{name}_efficiency_old", old_passed, positive))
            metrics.update(_fraction(f"{name}_purity_old", positive, old_passed))
    return metrics


def wrap_figures(largest: np.ndarray) -> dict:
    """How close the network's pre-activations come to the 18-bit window's wrap at 32 (SPEC-3DH O8)."""
    from neuro_trigger.hardware.fixed_point_3dh import WRAP_AT, WRAP_MARGIN, wrapping_rows

    return {"wrap_tracks": int(wrapping_rows(largest).sum()), "wrap_margin": WRAP_MARGIN, "wrap_at": WRAP_AT,
            "max_preactivation": float(largest.max(initial=0.0))}
