"""The physics plots of a run (SPEC section 8), as matplotlib Figures.

Uses the object-oriented API without pyplot, so expert threads can draw at the same time.
All z values in cm.
"""
import io
from pathlib import Path
from typing import Callable

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from neuro_trigger.constants import theta_to_deg, z_to_cm
from neuro_trigger.evaluation.metrics import BACKGROUND_Z_CM, IP_Z_CM, binned_resolution, trimmed_std
from neuro_trigger.evaluation.plot_style import (PlainLogFormatter, decimal_log_ticks, legend_outside,
                                                 plain_log_labels, save, step)
from neuro_trigger.evaluation.plot_style import figure as _figure
from neuro_trigger.evaluation.uncertainty import wilson_arrays

Z_RANGE = (-100.0, 100.0)
MIN_BIN_COUNT = 30  # fewer rows than this: the bin is shaded and its points hollow
EFFICIENCY_EDGES_CM = np.linspace(-100.0, 100.0, 41)  # 5 cm bins: the z cut edge stays visible
CUTS_CM = np.linspace(0.0, 60.0, 121)
THETA_RANGE = (10.0, 170.0)
THETA_EDGES_DEG = np.linspace(*THETA_RANGE, 17)
PT_EDGES_GEV = np.array([0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0])
PT_TICKS_GEV = (0.2, 0.3, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)
NEW, FIXED, OLD, RECO = "network", "network, fixed point", "old network", "reco"
COLOR = {NEW: "tab:blue", FIXED: "tab:green", OLD: "tab:orange"}
MARKER = {NEW: "o", FIXED: "^", OLD: "s"}


def _stats(diff: np.ndarray, unit: str, sep: str = ", ") -> str:
    return f"std {np.std(diff):.2f} {unit}{sep}trimmed {trimmed_std(diff):.2f} {unit}" if len(diff) else "no rows"


def z_reco_vs_pred(z_reco: np.ndarray, z_pred: np.ndarray, title: str, quantity: str = "z", unit: str = "cm",
                   extent: tuple[float, float] = Z_RANGE, z_fixed: np.ndarray | None = None) -> Figure:
    """2D histogram of reco against predicted z (or theta), log colour scale, equal axes; the statistics of the
    float network (and of its fixed-point twin, `z_fixed`) beside it."""
    fig, ax = _figure()
    diff = z_reco - z_pred
    counts, _, _ = np.histogram2d(z_reco, z_pred, bins=100, range=[extent, extent])
    masked = np.ma.masked_equal(counts.T, 0)
    image = ax.imshow(masked, origin="lower", extent=(*extent, *extent), cmap="viridis", interpolation="nearest",
                      norm=LogNorm(vmin=1, vmax=max(counts.max(), 1)))
    colorbar = fig.colorbar(image, ax=ax, label="tracks", fraction=0.08, pad=0.03)
    colorbar.formatter, colorbar.minorformatter = PlainLogFormatter(), PlainLogFormatter(labelOnlyBase=False)
    ax.plot(extent, extent, color="red", lw=0.8, label=f"n = {len(diff)}\nmean {np.mean(diff):.2f} {unit}\n"
            f"float:\n{_stats(diff, unit, chr(10))}")
    if z_fixed is not None:  # the same tracks through the FPGA's arithmetic: its numbers beside the float ones
        ax.plot([], [], " ", label=f"fixed point:\n{_stats(z_reco - z_fixed, unit, chr(10))}")
    ax.set(xlabel=f"reco {quantity} [{unit}]", ylabel=f"predicted {quantity} [{unit}] (float)", title=title,
           aspect="equal", xlim=extent, ylim=extent)
    legend_outside(ax, x=0.72)
    return fig


def _predictions(z_pred: np.ndarray, z_fixed: np.ndarray | None, z_old: np.ndarray) -> dict[str, np.ndarray]:
    """The networks a figure compares, by label: float, its fixed-point twin where given, the old network."""
    return {NEW: z_pred, **({} if z_fixed is None else {FIXED: z_fixed}), OLD: z_old}


def z_pred_histogram(z_pred: np.ndarray, z_reco: np.ndarray, z_old: np.ndarray, title: str,
                     z_fixed: np.ndarray | None = None) -> Figure:
    """Predicted z with reco z and the old network's z overlaid (the same tracks: counts, ± √n bands)."""
    fig, ax = _figure()
    bins = np.linspace(*Z_RANGE, 101)
    step(ax, z_reco, bins, fill=True, alpha=0.3, color="gray", label=RECO)
    for label, values in _predictions(z_pred, z_fixed, z_old).items():
        step(ax, values, bins, color=COLOR[label], label=label, ls="--" if label == FIXED else "-")
    ax.set(xlabel="z [cm]", ylabel="tracks", yscale="log", title=title)
    plain_log_labels(ax.yaxis)
    legend_outside(ax)
    return fig


def z_diff_histogram(diff_new: np.ndarray, diff_old: np.ndarray, title: str, quantity: str = "z",
                     unit: str = "cm", half_range: float = 50.0, diff_fixed: np.ndarray | None = None) -> Figure:
    """z_reco - z_pred (or the same for theta) for the network (float and fixed point) and the old network."""
    fig, ax = _figure()
    bins = np.linspace(-half_range, half_range, 101)
    for label, diff in _predictions(diff_new, diff_fixed, diff_old).items():
        step(ax, np.clip(diff, -half_range, half_range), bins, color=COLOR[label], ls="--" if label == FIXED else "-",
             label=f"{label}:\n{_stats(diff, unit)}")
    ax.set(xlabel=f"{quantity}_reco - {quantity}_pred [{unit}] (overflow in the outer bins)", ylabel="tracks",
           yscale="log", title=title)
    plain_log_labels(ax.yaxis)
    legend_outside(ax)
    return fig


def _binned_resolution(ax, edges, series: list[tuple[str, list, list | None]], counts) -> None:
    """Points with error bars per network, the row count of each bin written at its foot, thin bins greyed out.

    A bin with fewer than MIN_BIN_COUNT rows is shaded and its points are drawn hollow: its value is a guess.
    The networks' points sit side by side in their bin, so that neither hides the other's error bar.
    """
    edges, min_count = np.asarray(edges, dtype=float), MIN_BIN_COUNT
    centres, widths = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    thin = np.zeros(len(centres), bool) if counts is None else np.asarray(counts) < min_count
    for n, i in enumerate(np.flatnonzero(thin)):
        ax.axvspan(edges[i], edges[i + 1], color="0.9", zorder=0, label=None if n else f"< {min_count} rows (hollow)")
    for place, (label, values, errors) in enumerate(series):
        values = np.asarray(values, dtype=float)  # None (JSON null) -> NaN
        errors = None if errors is None else np.asarray(errors, dtype=float)
        x = centres + (place - (len(series) - 1) / 2) * 0.15 * widths
        for mask, face in ((~thin, COLOR[label]), (thin, "white")):
            if mask.any():
                ax.errorbar(x[mask], values[mask], yerr=None if errors is None else errors[mask],
                            fmt=MARKER[label], color=COLOR[label], mfc=face, ms=4, capsize=2, lw=1,
                            label=label if face != "white" or (~thin).sum() == 0 else None)
    if counts is not None:  # the rows behind each point, written at the foot of its bin
        ax.set_ylim(0, None)
        labels = ax.get_xaxis_transform()  # x in data, y in axes fractions
        for centre, count, faint in zip(centres, counts, thin):
            ax.text(centre, 0.015, f"{count}", transform=labels, rotation=90, ha="center", va="bottom", fontsize=6,
                    color="0.55" if faint else "0.25")


def resolution_vs(binned: dict, xlabel: str, title: str, log_x: bool = False, fixed: dict | None = None) -> Figure:
    """Trimmed z resolution in bins of reco z (`edges_cm`) or of another quantity (pT, theta, `edges`:
    `metrics.binned_resolution`), network (float, and `fixed`: its fixed-point twin's bins) and old, with
    bootstrap errors and per-bin counts where given."""
    fig, ax = _figure()
    series = [(OLD, binned["old"], binned.get("old_err")), (NEW, binned["new"], binned.get("new_err"))]
    if fixed is not None:
        series.append((FIXED, fixed["new"], fixed.get("new_err")))
    _binned_resolution(ax, binned["edges"] if "edges" in binned else binned["edges_cm"], series, binned.get("counts"))
    ax.set(xlabel=xlabel, ylabel="trimmed std of z_reco - z_pred [cm]", title=title, ylim=(0, None))
    if log_x:
        ax.set_xscale("log")
        decimal_log_ticks(ax.xaxis, PT_TICKS_GEV)
    legend_outside(ax)
    return fig


def efficiency_vs_z(z_reco: np.ndarray, z_preds: dict[str, np.ndarray], z_cut_cm: float, title: str,
                    edges: np.ndarray = EFFICIENCY_EDGES_CM) -> Figure:
    """Fraction of tracks triggered (|z_pred| < cut) in bins of reco z, with Wilson 95% error bars, per network."""
    fig, ax = _figure()
    centres = (edges[:-1] + edges[1:]) / 2
    n = np.histogram(z_reco, edges)[0]
    for place, (label, z_pred) in enumerate(z_preds.items()):
        k = np.histogram(z_reco[np.abs(z_pred) < z_cut_cm], edges)[0]
        lo, hi, fraction = wilson_arrays(k, n)
        x = centres + (place - (len(z_preds) - 1) / 2) * 0.15 * np.diff(edges)
        ax.errorbar(x, fraction, yerr=np.maximum([fraction - lo, hi - fraction], 0), fmt=MARKER[label] + "-", ms=3,
                    lw=1, capsize=2, color=COLOR[label], label=label)
    ax.axvspan(-z_cut_cm, z_cut_cm, color="0.92", zorder=0, label=f"|z| < {z_cut_cm:g} cm")
    ax.set(xlabel="reco z [cm]", ylabel=f"fraction triggered (|z_pred| < {z_cut_cm:g} cm)", title=title,
           ylim=(-0.02, 1.02))
    legend_outside(ax, title="95% Wilson intervals")
    return fig


def trigger_vs_cut(z_reco: np.ndarray, z_preds: dict[str, np.ndarray], z_cut_cm: float, title: str,
                   cuts: np.ndarray = CUTS_CM) -> Figure:
    """IP efficiency (solid) and background rejection (dashed) as the z cut varies, a curve per network, each
    with its 95% Wilson band."""
    fig, ax = _figure()
    ip, background = np.abs(z_reco) < IP_Z_CM, np.abs(z_reco) > BACKGROUND_Z_CM
    for label, z_pred in z_preds.items():
        distance = np.abs(z_pred)
        for rows, name, style in ((ip, "efficiency", "-"), (background, "rejection", "--")):
            if not rows.any():
                continue
            below = np.searchsorted(np.sort(distance[rows]), cuts, side="left")  # every cut at once
            k = below if name == "efficiency" else rows.sum() - below
            lo, hi, fraction = wilson_arrays(k, np.full(len(cuts), rows.sum()))
            ax.plot(cuts, fraction, style, color=COLOR[label], lw=1, label=f"{label}: {name}")
            ax.fill_between(cuts, lo, hi, color=COLOR[label], alpha=0.2, lw=0)
    ax.axvline(z_cut_cm, color="0.5", lw=0.8, ls=":", label=f"cut {z_cut_cm:g} cm")
    ax.set(xlabel="z cut [cm] (trigger on |z_pred| < cut)", ylabel="fraction", title=title, ylim=(-0.02, 1.02))
    legend_outside(ax, title=f"bands: 95% Wilson\nefficiency: |z_reco| < {IP_Z_CM:g} cm\n"
                             f"rejection: |z_reco| > {BACKGROUND_Z_CM:g} cm")
    return fig


def bucket_probabilities(z_train: np.ndarray, edges: np.ndarray, probabilities: np.ndarray, title: str) -> Figure:
    """The sampler's bucket probabilities over the training z histogram (both as fractions, the rows ± √n)."""
    fig, ax = _figure()
    step(ax, z_train, edges, normalise=True, color="gray", label="training rows (± √n)")
    ax.stairs(probabilities, edges, color="tab:blue", lw=1.5, label="sampling probability")
    ax.set(xlabel="reco z [cm]", ylabel="fraction per bucket", title=title)
    legend_outside(ax)
    return fig


def theta_degrees(reco: np.ndarray, pred: np.ndarray, reference: np.ndarray) -> tuple:
    """(reco, predicted, old) theta in degrees for `split_figures`; predicted and old are None for a z-only net."""
    if pred.shape[1] < 2:
        return theta_to_deg(reco[:, 1]), None, None
    return theta_to_deg(reco[:, 1]), theta_to_deg(pred[:, 1]), theta_to_deg(reference[:, 1])


def fixed_point_curves(fixed_pred: np.ndarray | None, binned_fixed: dict | None = None) -> dict | None:
    """What `split_figures` overlays of a deployable network's fixed-point predictions (N, outputs), in network
    units: z in cm, theta in degrees (None for a z-only net) and its resolution-vs-z bins from the metrics."""
    if fixed_pred is None:
        return None
    theta = theta_to_deg(fixed_pred[:, 1]) if fixed_pred.shape[1] > 1 else None
    return {"z": z_to_cm(fixed_pred[:, 0]), "theta": theta, "binned": binned_fixed}


def split_figures(z_reco: np.ndarray, z_pred: np.ndarray, z_old: np.ndarray, binned: dict, title: str,
                  z_cut_cm: float | None = None, theta: tuple | None = None,
                  pt_gev: np.ndarray | None = None, fixed: dict | None = None) -> dict[str, Figure]:
    """The figures of one split, by file name stem. Optional parts, drawn where given:
    z_cut_cm: the trigger plots (efficiency vs z, efficiency and rejection vs the cut);
    theta: (reco, predicted, old) theta in degrees (`theta_degrees`): the z resolution vs theta, and theta's own
    plots where the network predicts it; pt_gev: transverse momentum (2DPt) for the z resolution vs pT;
    fixed: the fixed-point twin's predictions (`fixed_point_curves`), overlaid on the float network's.
    """
    builders = _split_figure_builders(z_reco, z_pred, z_old, binned, title, z_cut_cm, theta, pt_gev, fixed)
    return {name: build() for name, build in builders.items()}


def _split_figure_builders(z_reco: np.ndarray, z_pred: np.ndarray, z_old: np.ndarray, binned: dict, title: str,
                           z_cut_cm: float | None, theta: tuple | None, pt_gev: np.ndarray | None,
                           fixed: dict | None = None) -> dict[str, Callable[[], Figure]]:
    """What `split_figures` can draw, each figure not yet drawn."""
    diff, diff_old = z_reco - z_pred, z_reco - z_old
    z_fixed = None if fixed is None else fixed["z"]
    diff_fixed = None if z_fixed is None else z_reco - z_fixed
    binned_fixed = None if fixed is None else fixed.get("binned")
    builders = {
        "z_reco_vs_pred": lambda: z_reco_vs_pred(z_reco, z_pred, title, z_fixed=z_fixed),
        "z_pred_hist": lambda: z_pred_histogram(z_pred, z_reco, z_old, title, z_fixed),
        "z_diff_hist": lambda: z_diff_histogram(diff, diff_old, title, diff_fixed=diff_fixed),
        "z_resolution_vs_z": lambda: resolution_vs(binned, "reco z [cm]", title, fixed=binned_fixed),
    }
    if z_cut_cm is not None:
        networks = _predictions(z_pred, z_fixed, z_old)
        builders["efficiency_vs_z"] = lambda: efficiency_vs_z(z_reco, networks, z_cut_cm, title)
        builders["trigger_vs_cut"] = lambda: trigger_vs_cut(z_reco, networks, z_cut_cm, title)
    if theta is not None:
        theta_reco, theta_pred, theta_old = theta
        theta_fixed = None if fixed is None else fixed.get("theta")
        if theta_pred is not None:
            builders["theta_reco_vs_pred"] = lambda: z_reco_vs_pred(theta_reco, theta_pred, title, "theta", "deg",
                                                                    THETA_RANGE, theta_fixed)
            builders["theta_diff_hist"] = lambda: z_diff_histogram(
                theta_reco - theta_pred, theta_reco - theta_old, title, "theta", "deg", 30.0,
                None if theta_fixed is None else theta_reco - theta_fixed)
        builders["z_resolution_vs_theta"] = lambda: _resolution_in_bins(np.asarray(theta_reco, float), diff, diff_old,
                                                                        diff_fixed, THETA_EDGES_DEG,
                                                                        "reco theta [deg]", title)
    known = None if pt_gev is None else np.isfinite(pt_gev)  # rows of older 42-column files have no pT
    if known is not None and known.any():
        builders["z_resolution_vs_pt"] = lambda: _resolution_in_bins(
            np.asarray(pt_gev, float)[known], diff[known], diff_old[known],
            None if diff_fixed is None else diff_fixed[known], PT_EDGES_GEV, "pT [GeV]", title, log_x=True)
    return builders


def _resolution_in_bins(x: np.ndarray, diff: np.ndarray, diff_old: np.ndarray, diff_fixed: np.ndarray | None,
                        edges: np.ndarray, xlabel: str, title: str, log_x: bool = False) -> Figure:
    """`resolution_vs` of bins of `x` (theta, pT), bootstrapped here, the fixed-point twin's too where given."""
    binned = binned_resolution(x, diff, diff_old, edges, diff_fixed)
    fixed = None if diff_fixed is None else {"new": binned["fixed"], "new_err": binned["fixed_err"]}
    return resolution_vs(binned, xlabel, title, log_x, fixed)


def write_figures(folder: Path, figures: dict[str, Figure]) -> list[Path]:
    """Save figures as `<folder>/<name>.png` (atomically, with the labels of their curves); returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, figure in figures.items():
        path = folder / f"{name}.png"
        save(figure, path)
        paths.append(path)
    return paths


def write_split_plots(folder: Path, z_reco: np.ndarray, z_pred: np.ndarray, z_old: np.ndarray, binned: dict,
                      title: str, z_cut_cm: float | None = None, theta: tuple | None = None,
                      pt_gev: np.ndarray | None = None, buckets: tuple | None = None,
                      part: tuple[int, int] = (0, 1), fixed: dict | None = None) -> list[Path]:
    """The PNGs of `split_figures` in `folder`, and with `buckets` (z_train, edges, probabilities, title) the
    sampler's `z_buckets.png`: one job of plain arrays, which a worker process draws (evaluation/offload.py).
    `part` (k, n): only the k-th of n shares of the figures, so that n workers can draw one split together."""
    k, n = part
    builders = list(_split_figure_builders(z_reco, z_pred, z_old, binned, title, z_cut_cm, theta, pt_gev,
                                           fixed).items())
    figures = {name: build() for name, build in builders[k::n]}
    if buckets is not None and k == n - 1:
        figures["z_buckets"] = bucket_probabilities(*buckets)
    return write_figures(folder, figures)


def encoded_split_figures(z_reco: np.ndarray, z_pred: np.ndarray, z_old: np.ndarray, binned: dict,
                          title: str) -> dict[str, tuple[bytes, int, int]]:
    """`split_figures` as PNG bytes with their (height, width) in pixels, for TensorBoard: one job of plain
    arrays that a worker process draws, so that the training thread only writes the images."""
    encoded = {}
    for name, figure in split_figures(z_reco, z_pred, z_old, binned, title).items():
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        width, height = figure.canvas.get_width_height()
        encoded[name] = (buffer.getvalue(), height, width)
    return encoded
