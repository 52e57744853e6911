"""Metrics that tell a trigger physicist whether a network beats the hardware one (SPEC section 8).

All functions take whole splits as arrays: predictions and references scaled like the targets,
(N, 1) or (N, 2); z differences are reported in cm and theta differences in degrees.
"""
import numpy as np

from neuro_trigger.constants import theta_to_deg, z_to_cm
from neuro_trigger.evaluation import uncertainty

IP_Z_CM = 1.0  # tracks from the interaction point, for the trigger efficiency
BACKGROUND_Z_CM = 25.0  # tracks clearly from outside, for the background rejection
Z_BIN_EDGES_CM = np.linspace(-100.0, 100.0, 21)  # 10 cm bins of reco z
TRIM = 0.05
MIN_BOOTSTRAP_ROWS = 10  # fewer tracks: errors are NaN (the verdict says unknown)
# replicas of the error bars that only a plot shows (resolution vs theta and pT): their standard error is then
# known to about 1 / sqrt(2 * 100) = 7% (the verdict's 200: 5%), which no plot shows; half the bootstrap, which
# took half the CPU time of drawing a run's plots (issue 24)
PLOT_REPLICATES = 100
# Which figures of a split get bootstrap errors (the others NaN; every key is there in each case): all of them
# (the default), those the verdict and the plots show (the whole-split figures, and the resolution-vs-z bins of
# the network and the old network, not of a twin), those the verdict shows (no bins), none.
ERRORS = ("all", "verdict_and_plots", "verdict", "none")


def trimmed_std(values: np.ndarray, trim: float = TRIM) -> float:
    """std after dropping the `trim` fraction of lowest and of highest values."""
    n = len(values)
    cut = int(np.floor(n * trim))
    if n - 2 * cut < 2:
        return float("nan")
    kept = np.partition(values, [cut, n - cut - 1])[cut:n - cut]  # the middle, unordered: O(n), not a sort
    return float(kept.std())


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b else float("nan")


def trimmed_std_in_bins(x: np.ndarray, diff: np.ndarray, edges: np.ndarray) -> list[float]:
    """Trimmed std of `diff` in bins of `x` (NaN for bins with fewer than 2 rows)."""
    bins = np.clip(np.digitize(x, edges) - 1, 0, len(edges) - 2)
    return [trimmed_std(diff[bins == i]) for i in range(len(edges) - 1)]


def resolution_vs_z(z_reco_cm: np.ndarray, z_pred_cm: np.ndarray, edges: np.ndarray = Z_BIN_EDGES_CM) -> list[float]:
    """Trimmed std of z_reco - z_pred in bins of reco z (NaN for bins with fewer than 2 rows)."""
    return trimmed_std_in_bins(z_reco_cm, z_reco_cm - z_pred_cm, edges)


def _trigger_outcomes(z_reco_cm: np.ndarray, z_pred_cm: np.ndarray, z_cut_cm: float):
    """(IP mask, background mask, accepted mask) of the trigger decision |z_pred| < cut."""
    return np.abs(z_reco_cm) < IP_Z_CM, np.abs(z_reco_cm) > BACKGROUND_Z_CM, np.abs(z_pred_cm) < z_cut_cm


def trigger_figures(z_reco_cm: np.ndarray, z_pred_cm: np.ndarray, z_cut_cm: float) -> tuple[float, float]:
    """(efficiency for |z_reco| < 1 cm tracks, rejection of |z_reco| > 25 cm tracks) at |z_pred| < cut."""
    ip, background, accepted = _trigger_outcomes(z_reco_cm, z_pred_cm, z_cut_cm)
    efficiency = float(accepted[ip].mean()) if ip.any() else float("nan")
    rejection = float((~accepted[background]).mean()) if background.any() else float("nan")
    return efficiency, rejection


def _track_losses(pred: np.ndarray, reco: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per track, the squared error averaged over the outputs, of the network and of the reference."""
    out = pred.shape[1]
    return (np.mean((pred - reco[:, :out]) ** 2, axis=1) if len(pred) else np.zeros(0),
            np.mean((reference[:, :out] - reco[:, :out]) ** 2, axis=1) if len(pred) else np.zeros(0))


def loss_metrics(pred: np.ndarray, reco: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """MSE on scaled targets of the network and of the reference, and their ratio."""
    new, old = _track_losses(pred, reco, reference)
    loss = float(np.mean(new)) if len(new) else float("nan")
    loss_old = float(np.mean(old)) if len(old) else float("nan")
    return {"loss": loss, "loss_old": loss_old, "loss_vs_old": _ratio(loss, loss_old)}


def _binned_figures(z_reco: np.ndarray, diffs: dict[str, np.ndarray], edges: np.ndarray) -> dict:
    """The bootstrap figures of the trimmed resolution per bin of reco z, for bins with 2 rows or more."""
    bins = np.clip(np.digitize(z_reco, edges) - 1, 0, len(edges) - 2)
    order = np.argsort(bins, kind="stable")
    starts = np.searchsorted(bins[order], np.arange(len(edges)))
    figures = {}
    for i in range(len(edges) - 1):
        members = order[starts[i]:starts[i + 1]]
        if len(members) >= 2:
            for network, diff in diffs.items():
                figures[f"bin{i}_{network}"] = uncertainty.trimmed_std_of(diff, TRIM, members)
    return figures


def _bin_errors(replicas: dict, n_bins: int, network: str) -> list[float]:
    return [uncertainty.standard_error(replicas[f"bin{i}_{network}"]) if f"bin{i}_{network}" in replicas
            else float("nan") for i in range(n_bins)]


def binned_resolution(x: np.ndarray, diff_new: np.ndarray, diff_old: np.ndarray, edges: np.ndarray,
                      diff_fixed: np.ndarray | None = None, replicates: int = PLOT_REPLICATES) -> dict:
    """Trimmed resolution of the network and the old network in bins of x (rows outside the edges dropped),
    with bootstrap errors and counts: what the resolution-vs-pT and -theta plots draw. With `diff_fixed` also
    the fixed-point twin's (`fixed`, `fixed_err`), from the same replicas (one bootstrap, not two)."""
    inside = (x >= edges[0]) & (x <= edges[-1])
    diffs = {"new": diff_new[inside], "old": diff_old[inside]}
    if diff_fixed is not None:
        diffs["fixed"] = diff_fixed[inside]
    x = x[inside]
    replicas = uncertainty.bootstrap(len(x), _binned_figures(x, diffs, edges), replicates)
    n_bins = len(edges) - 1
    result = {"edges": np.asarray(edges, float).tolist(), "counts": np.histogram(x, edges)[0].tolist()}
    for network, diff in diffs.items():
        result[network] = trimmed_std_in_bins(x, diff, edges)
        result[f"{network}_err"] = _bin_errors(replicas, n_bins, network)
    return result


def _figure_names(quantities: list) -> list[str]:
    """The whole-split bootstrap figures, the new network's each followed by the old network's."""
    names = ["loss", "loss_old"]
    for name, _, _ in quantities:
        names += [f"{name}_diff_std{kind}{network}" for kind in ("", "_trimmed") for network in ("", "_old")]
    return names


def _figures(losses: tuple, quantities: list, z_reco: np.ndarray, binned: bool, with_old: bool = True) -> dict:
    """The bootstrap figures of one split; without `with_old` only the new network's (a twin of the new
    network shares the old network's with it)."""
    networks = (("", 0), ("_old", 1)) if with_old else (("", 0),)
    figures = {}
    for suffix, which in networks:
        figures[f"loss{suffix}"] = uncertainty.mean_of(losses[which])
        for name, *diffs in quantities:
            figures[f"{name}_diff_std{suffix}"] = uncertainty.std_of(diffs[which])
            figures[f"{name}_diff_std_trimmed{suffix}"] = uncertainty.trimmed_std_of(diffs[which], TRIM)
    if binned:  # the resolution-vs-z bins share the replicas of the whole split
        diffs = dict(zip(("new", "old"), quantities[0][1:1 + len(networks)]))
        figures.update(_binned_figures(z_reco, diffs, Z_BIN_EDGES_CM))
    return figures


def _add_uncertainties(metrics: dict, replicas: dict, names: list, n: int, outcomes: tuple, binned: bool) -> None:
    """`X_err` for every loss, resolution and ratio (paired bootstrap; NaN for figures not bootstrapped),
    `X_ci` for efficiency and rejection."""
    for name in names:
        if n < MIN_BOOTSTRAP_ROWS or name not in replicas:  # a handful of tracks resampled says nothing: unknown
            replicas[name] = np.full(uncertainty.REPLICATES, np.nan)
    for name in names:
        metrics[f"{name}_err"] = uncertainty.standard_error(replicas[name])
        if not name.endswith("_old"):
            ratios = uncertainty.ratios(replicas[name], replicas[f"{name}_old"])
            metrics[f"{name}_vs_old_err"] = uncertainty.standard_error(ratios)
            metrics[f"{name}_vs_old_ci"] = uncertainty.percentile_interval(ratios)
    if binned:
        for network in ("new", "old"):
            metrics["z_resolution_vs_z"][f"{network}_err"] = _bin_errors(replicas, len(Z_BIN_EDGES_CM) - 1, network)
    ip, background, accepted, accepted_old = outcomes
    metrics["ip_rows"], metrics["background_rows"] = int(ip.sum()), int(background.sum())
    for name, passed, passed_old, selected in (("efficiency", accepted, accepted_old, ip),
                                               ("rejection", ~accepted, ~accepted_old, background)):
        n = int(selected.sum())
        metrics[f"{name}_ci"] = uncertainty.wilson_interval(int(passed[selected].sum()), n)
        metrics[f"{name}_old_ci"] = uncertainty.wilson_interval(int(passed_old[selected].sum()), n)
        metrics[f"{name}_minus_old"], metrics[f"{name}_minus_old_err"] = \
            uncertainty.paired_fraction_difference(passed[selected], passed_old[selected])


def _point_metrics(pred: np.ndarray, reco: np.ndarray, reference: np.ndarray, z_cut_cm: float, binned: bool):
    """(metrics without uncertainties, per-track losses, [(name, diff, diff_old)], z_reco in cm, trigger outcomes)."""
    pred = np.asarray(pred, dtype=np.float64)
    pred = pred[:, None] if pred.ndim == 1 else pred  # (N,) -> (N, 1); reshape(0, -1) would fail on no rows
    losses = _track_losses(pred, reco, reference)
    metrics = {"rows": int(len(pred)), **loss_metrics(pred, reco, reference)}
    if len(pred) == 0:
        return metrics, None, None, None, None
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
    ip, background, accepted = _trigger_outcomes(z_reco, z_pred, z_cut_cm)
    return metrics, losses, quantities, z_reco, (ip, background, accepted, np.abs(z_old) < z_cut_cm)


def evaluate(pred: np.ndarray, reco: np.ndarray, reference: np.ndarray, z_cut_cm: float = 15.0,
             binned: bool = True, uncertainties: bool = True) -> dict:
    """All metrics of one split: losses, z (and theta) resolution, trigger figures, resolution vs z.

    With `uncertainties` (off for the per-epoch validation, which must stay cheap) every figure gets its
    error: `X_err` one standard error, `X_ci` a 95% interval (docs/metrics.md).
    """
    if not uncertainties:
        return _point_metrics(pred, reco, reference, z_cut_cm, binned)[0]
    return evaluate_with_twin(pred, None, reco, reference, z_cut_cm, binned)[0]


def evaluate_with_twin(pred: np.ndarray, twin: np.ndarray | None, reco: np.ndarray, reference: np.ndarray,
                       z_cut_cm: float = 15.0, binned: bool = True, errors: str = "all") -> tuple[dict, dict | None]:
    """(`evaluate` of `pred`, `evaluate` of `twin`) with uncertainties, from one bootstrap: the twin (the same
    network in fixed point) reuses the resampled tracks and the old network's figures, so it costs about half
    of a second `evaluate`; both results are the same as two separate calls.

    `errors` (one of ERRORS) leaves the bootstrap errors of figures nobody is shown NaN; the keys, and the
    Wilson intervals and paired differences of efficiency and rejection (closed forms), are always there."""
    if errors not in ERRORS:
        raise ValueError(f"errors must be one of {ERRORS}, got {errors!r}")
    results, names_of, outcomes_of = [], [], []
    figures: dict = {}
    for i, p in enumerate([pred] if twin is None else [pred, twin]):
        metrics, losses, quantities, z_reco, outcomes = _point_metrics(p, reco, reference, z_cut_cm, binned)
        results.append(metrics)
        if losses is None:
            continue
        if errors != "none":
            binned_errors = binned and (errors == "all" or (errors == "verdict_and_plots" and i == 0))
            own = _figures(losses, quantities, z_reco, binned_errors, with_old=i == 0)
            figures.update({f"twin:{k}" if i else k: v for k, v in own.items()})
        names_of.append(_figure_names(quantities))
        outcomes_of.append(outcomes)
    if names_of:
        replicas = uncertainty.bootstrap(len(reco), figures) if figures else {}
        for i, (metrics, names, outcomes) in enumerate(zip(results, names_of, outcomes_of)):
            mine = dict(replicas)
            if i:  # the twin's own figures under their plain names (never the network's); the old network's shared
                mine = {k: v for k, v in mine.items() if not (k.startswith("bin") and k.endswith("_new"))}
                mine.update({k[len("twin:"):]: v for k, v in replicas.items() if k.startswith("twin:")})
            _add_uncertainties(metrics, mine, names, len(reco), outcomes, binned)
    return results[0], results[1] if twin is not None else None
