"""Metrics that tell a trigger physicist whether a network beats the hardware one (SPEC section 8).

All functions take whole splits as arrays: predictions and references scaled like the targets,
(N, 1) or (N, 2); z differences are reported in cm and theta differences in degrees.
"""
import numpy as np

from neuro_trigger.constants import theta_to_deg, z_to_cm

IP_Z_CM = 1.0  # tracks from the interaction point, for the trigger efficiency
BACKGROUND_Z_CM = 25.0  # tracks clearly from outside, for the background rejection
Z_BIN_EDGES_CM = np.linspace(-100.0, 100.0, 21)  # 10 cm bins of reco z
TRIM = 0.05


def trimmed_std(values: np.ndarray, trim: float = TRIM) -> float:
    """std after dropping the `trim` fraction of lowest and of highest values."""
    n = len(values)
    cut = int(np.floor(n * trim))
    if n - 2 * cut < 2:
        return float("nan")
    kept = np.sort(values)[cut:n - cut]
    return float(kept.std())


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b else float("nan")


def resolution_vs_z(z_reco_cm: np.ndarray, z_pred_cm: np.ndarray, edges: np.ndarray = Z_BIN_EDGES_CM) -> list[float]:
    """Trimmed std of z_reco - z_pred in bins of reco z (NaN for bins with fewer than 2 rows)."""
    diff = z_reco_cm - z_pred_cm
    bins = np.clip(np.digitize(z_reco_cm, edges) - 1, 0, len(edges) - 2)
    return [trimmed_std(diff[bins == i]) for i in range(len(edges) - 1)]


def trigger_figures(z_reco_cm: np.ndarray, z_pred_cm: np.ndarray, z_cut_cm: float) -> tuple[float, float]:
    """(efficiency for |z_reco| < 1 cm tracks, rejection of |z_reco| > 25 cm tracks) at |z_pred| < cut."""
    accepted = np.abs(z_pred_cm) < z_cut_cm
    ip = np.abs(z_reco_cm) < IP_Z_CM
    background = np.abs(z_reco_cm) > BACKGROUND_Z_CM
    efficiency = float(accepted[ip].mean()) if ip.any() else float("nan")
    rejection = float((~accepted[background]).mean()) if background.any() else float("nan")
    return efficiency, rejection


def loss_metrics(pred: np.ndarray, reco: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """MSE on scaled targets of the network and of the reference, and their ratio."""
    out = pred.shape[1]
    loss = float(np.mean((pred - reco[:, :out]) ** 2))
    loss_old = float(np.mean((reference[:, :out] - reco[:, :out]) ** 2))
    return {"loss": loss, "loss_old": loss_old, "loss_vs_old": _ratio(loss, loss_old)}


def evaluate(pred: np.ndarray, reco: np.ndarray, reference: np.ndarray, z_cut_cm: float = 15.0,
             binned: bool = True) -> dict:
    """All metrics of one split: losses, z (and theta) resolution, trigger figures, resolution vs z."""
    pred = np.asarray(pred, dtype=np.float64).reshape(len(pred), -1)
    metrics = {"rows": int(len(pred)), **loss_metrics(pred, reco, reference)}
    if len(pred) == 0:
        return metrics
    z_reco, z_pred, z_old = z_to_cm(reco[:, 0]), z_to_cm(pred[:, 0]), z_to_cm(reference[:, 0])
    quantities = [("z", z_reco - z_pred, z_reco - z_old)]
    if pred.shape[1] > 1:
        theta_reco = theta_to_deg(reco[:, 1])
        quantities.append(("theta", theta_reco - theta_to_deg(pred[:, 1]), theta_reco - theta_to_deg(reference[:, 1])))
    for name, diff, diff_old in quantities:
        for suffix, measure in (("", np.std), ("_trimmed", trimmed_std)):
            new, old = float(measure(diff)), float(measure(diff_old))
            metrics[f"{name}_diff_std{suffix}"] = new
            metrics[f"{name}_diff_std{suffix}_old"] = old
            metrics[f"{name}_diff_std{suffix}_vs_old"] = _ratio(new, old)
    metrics["efficiency"], metrics["rejection"] = trigger_figures(z_reco, z_pred, z_cut_cm)
    metrics["efficiency_old"], metrics["rejection_old"] = trigger_figures(z_reco, z_old, z_cut_cm)
    metrics["z_cut_cm"] = float(z_cut_cm)
    if binned:
        metrics["z_resolution_vs_z"] = {
            "edges_cm": Z_BIN_EDGES_CM.tolist(),
            "new": resolution_vs_z(z_reco, z_pred),
            "old": resolution_vs_z(z_reco, z_old),
            "counts": np.histogram(z_reco, Z_BIN_EDGES_CM)[0].tolist(),
        }
    return metrics
