"""The physics plots of a run (SPEC section 8), as matplotlib Figures.

Uses the object-oriented API without pyplot, so expert threads can draw at the same time.
All z values in cm.
"""
import io
import re
from pathlib import Path
from typing import Callable

import matplotlib
import numpy as np

matplotlib.use("Agg")  # never a window: runs are headless and plots are drawn from threads
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import LogFormatterSciNotation  # noqa: E402

from neuro_trigger.atomic import atomic_path  # noqa: E402
from neuro_trigger.constants import theta_to_deg  # noqa: E402
from neuro_trigger.evaluation.metrics import (BACKGROUND_Z_CM, IP_Z_CM, binned_resolution,  # noqa: E402
                                              trimmed_std)
from neuro_trigger.evaluation.uncertainty import wilson_arrays  # noqa: E402

Z_RANGE = (-100.0, 100.0)
MIN_BIN_COUNT = 30  # fewer rows than this: the bin is shaded and its points hollow
EFFICIENCY_EDGES_CM = np.linspace(-100.0, 100.0, 41)  # 5 cm bins: the z cut edge stays visible
CUTS_CM = np.linspace(0.0, 60.0, 121)
THETA_RANGE = (10.0, 170.0)
THETA_EDGES_DEG = np.linspace(*THETA_RANGE, 17)
PT_EDGES_GEV = np.array([0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0])
NEW, OLD, RECO = "network", "old network", "reco"
SUPERSCRIPT = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")


class PlainLogFormatter(LogFormatterSciNotation):
    """matplotlib's log-axis labels (10⁴, 2×10¹) written with Unicode superscripts instead of mathtext:
    the same labels, without parsing a formula per label and figure (a fifth of the drawing time)."""

    def __call__(self, x, pos=None) -> str:
        label = super().__call__(x, pos)
        formula = re.fullmatch(r"\$\\mathdefault\{(.*)\}\$", label)
        if formula is None:
            return label
        text = formula.group(1).replace("\\times", "\u00d7")
        return re.sub(r"\^\{(-?\d+)\}", lambda m: m.group(1).translate(SUPERSCRIPT), text)


def _plain_log_labels(axis) -> None:
    """Plain-text labels on a log-scaled axis (after the scale is set, which resets the formatters)."""
    axis.set_major_formatter(PlainLogFormatter())
    axis.set_minor_formatter(PlainLogFormatter(labelOnlyBase=False))


def _figure() -> tuple[Figure, object]:
    fig = Figure(figsize=(6.4, 4.8), dpi=80)
    fig.subplots_adjust(left=0.12, right=0.95, bottom=0.11, top=0.92)  # fixed: a layout engine costs a draw
    ax = fig.add_subplot()
    # the title at its place above the axes, as matplotlib puts it when nothing sits on top of the axes,
    # without measuring every tick label to find out (a tenth of the drawing time)
    ax.set_title("", y=1.0)
    return fig, ax


def _step(ax, values: np.ndarray, bins: np.ndarray, **style) -> None:
    """A step histogram from np.histogram (much cheaper to draw than ax.hist's patches)."""
    counts, _ = np.histogram(values, bins)
    ax.stairs(counts, bins, **style)


def z_reco_vs_pred(z_reco: np.ndarray, z_pred: np.ndarray, title: str, quantity: str = "z", unit: str = "cm",
                   extent: tuple[float, float] = Z_RANGE) -> Figure:
    """2D histogram of reco against predicted z (or theta), log colour scale, equal axes, statistics in the legend."""
    fig, ax = _figure()
    diff = z_reco - z_pred
    counts, _, _ = np.histogram2d(z_reco, z_pred, bins=100, range=[extent, extent])
    masked = np.ma.masked_equal(counts.T, 0)
    image = ax.imshow(masked, origin="lower", extent=(*extent, *extent), cmap="viridis", interpolation="nearest",
                      norm=LogNorm(vmin=1, vmax=max(counts.max(), 1)))
    colorbar = fig.colorbar(image, ax=ax, label="tracks")
    colorbar.formatter, colorbar.minorformatter = PlainLogFormatter(), PlainLogFormatter(labelOnlyBase=False)
    ax.plot(extent, extent, color="red", lw=0.8, label=f"n = {len(diff)}\nstd = {np.std(diff):.2f} {unit}\n"
            f"trimmed std = {trimmed_std(diff):.2f} {unit}\nmean = {np.mean(diff):.2f} {unit}")
    ax.set(xlabel=f"reco {quantity} [{unit}]", ylabel=f"predicted {quantity} [{unit}]", title=title, aspect="equal",
           xlim=extent, ylim=extent)
    ax.legend(loc="upper left", fontsize=8)
    return fig


def z_pred_histogram(z_pred: np.ndarray, z_reco: np.ndarray, z_old: np.ndarray, title: str) -> Figure:
    """Predicted z with reco z and the old network's z overlaid."""
    fig, ax = _figure()
    bins = np.linspace(*Z_RANGE, 101)
    _step(ax, z_reco, bins, fill=True, alpha=0.3, color="gray", label=RECO)
    _step(ax, z_old, bins, color="tab:orange", label=OLD)
    _step(ax, z_pred, bins, color="tab:blue", label=NEW)
    ax.set(xlabel="z [cm]", ylabel="tracks", yscale="log", title=title)
    _plain_log_labels(ax.yaxis)
    ax.legend(fontsize=8)
    return fig


def z_diff_histogram(diff_new: np.ndarray, diff_old: np.ndarray, title: str, quantity: str = "z",
                     unit: str = "cm", half_range: float = 50.0) -> Figure:
    """z_reco - z_pred (or the same for theta) for the network and the old network."""
    fig, ax = _figure()
    bins = np.linspace(-half_range, half_range, 101)
    for diff, label, color in ((diff_old, OLD, "tab:orange"), (diff_new, NEW, "tab:blue")):
        _step(ax, np.clip(diff, -half_range, half_range), bins, color=color,
              label=f"{label}: std {np.std(diff):.2f}, trimmed {trimmed_std(diff):.2f} {unit}")
    ax.set(xlabel=f"{quantity}_reco - {quantity}_pred [{unit}] (overflow in the outer bins)", ylabel="tracks",
           yscale="log", title=title)
    _plain_log_labels(ax.yaxis)
    ax.legend(fontsize=8)
    return fig


def _binned_resolution(ax, edges, series: list[tuple[str, list, list | None, dict]], counts) -> None:
    """Points with error bars per network, the row count of each bin written at its foot, thin bins greyed out.

    A bin with fewer than MIN_BIN_COUNT rows is shaded and its points are drawn hollow: its value is a guess.
    """
    edges, min_count = np.asarray(edges, dtype=float), MIN_BIN_COUNT
    centres = (edges[:-1] + edges[1:]) / 2
    thin = np.zeros(len(centres), bool) if counts is None else np.asarray(counts) < min_count
    for n, i in enumerate(np.flatnonzero(thin)):
        ax.axvspan(edges[i], edges[i + 1], color="0.9", zorder=0, label=None if n else f"< {min_count} rows (hollow)")
    for label, values, errors, style in series:
        values = np.asarray(values, dtype=float)  # None (JSON null) -> NaN
        errors = None if errors is None else np.asarray(errors, dtype=float)
        for mask, face in ((~thin, style["color"]), (thin, "white")):
            if mask.any():
                ax.errorbar(centres[mask], values[mask], yerr=None if errors is None else errors[mask],
                            fmt=style["marker"], color=style["color"], mfc=face, ms=4, capsize=2, lw=1,
                            label=label if face != "white" or (~thin).sum() == 0 else None)
    if counts is not None:  # the rows behind each point, written at the foot of its bin
        ax.set_ylim(0, None)
        labels = ax.get_xaxis_transform()  # x in data, y in axes fractions
        for centre, count, faint in zip(centres, counts, thin):
            ax.text(centre, 0.015, f"{count}", transform=labels, rotation=90, ha="center", va="bottom", fontsize=6,
                    color="0.55" if faint else "0.25")


def resolution_vs(binned: dict, xlabel: str, title: str, log_x: bool = False) -> Figure:
    """Trimmed z resolution in bins of reco z (`edges_cm`) or of another quantity (pT, theta, `edges`:
    `metrics.binned_resolution`), network and old, with bootstrap errors and per-bin counts where given."""
    fig, ax = _figure()
    series = [(OLD, binned["old"], binned.get("old_err"), {"color": "tab:orange", "marker": "s"}),
              (NEW, binned["new"], binned.get("new_err"), {"color": "tab:blue", "marker": "o"})]
    _binned_resolution(ax, binned["edges"] if "edges" in binned else binned["edges_cm"], series, binned.get("counts"))
    ax.set(xlabel=xlabel, ylabel="trimmed std of z_reco - z_pred [cm]", title=title, ylim=(0, None))
    if log_x:
        ax.set_xscale("log")
        _plain_log_labels(ax.xaxis)
    ax.legend(fontsize=8, loc="upper left")
    return fig


def efficiency_vs_z(z_reco: np.ndarray, z_preds: dict[str, np.ndarray], z_cut_cm: float, title: str,
                    edges: np.ndarray = EFFICIENCY_EDGES_CM) -> Figure:
    """Fraction of tracks triggered (|z_pred| < cut) in bins of reco z, with Wilson 95% error bars, per network."""
    fig, ax = _figure()
    centres = (edges[:-1] + edges[1:]) / 2
    n = np.histogram(z_reco, edges)[0]
    for (label, z_pred), color in zip(z_preds.items(), ("tab:blue", "tab:orange", "tab:green")):
        k = np.histogram(z_reco[np.abs(z_pred) < z_cut_cm], edges)[0]
        lo, hi, fraction = wilson_arrays(k, n)
        ax.errorbar(centres, fraction, yerr=np.maximum([fraction - lo, hi - fraction], 0), fmt="o-", ms=3, lw=1,
                    capsize=2, color=color, label=label)
    ax.axvspan(-z_cut_cm, z_cut_cm, color="0.92", zorder=0, label=f"|z| < {z_cut_cm:g} cm")
    ax.set(xlabel="reco z [cm]", ylabel=f"fraction triggered (|z_pred| < {z_cut_cm:g} cm)", title=title,
           ylim=(-0.02, 1.02))
    ax.legend(fontsize=8)
    return fig


def trigger_vs_cut(z_reco: np.ndarray, z_preds: dict[str, np.ndarray], z_cut_cm: float, title: str,
                   cuts: np.ndarray = CUTS_CM) -> Figure:
    """IP efficiency (solid) and background rejection (dashed) as the z cut varies, a curve per network."""
    fig, ax = _figure()
    ip, background = np.abs(z_reco) < IP_Z_CM, np.abs(z_reco) > BACKGROUND_Z_CM
    for (label, z_pred), color in zip(z_preds.items(), ("tab:blue", "tab:orange", "tab:green")):
        distance = np.abs(z_pred)
        if ip.any():  # accepted below the cut: a sorted search answers every cut at once
            efficiency = np.searchsorted(np.sort(distance[ip]), cuts, side="left") / ip.sum()
            ax.plot(cuts, efficiency, "-", color=color, label=f"{label}: efficiency")
        if background.any():
            rejection = 1 - np.searchsorted(np.sort(distance[background]), cuts, side="left") / background.sum()
            ax.plot(cuts, rejection, "--", color=color, label=f"{label}: rejection")
    ax.axvline(z_cut_cm, color="0.5", lw=0.8, ls=":")
    ax.set(xlabel="z cut [cm] (trigger on |z_pred| < cut)", ylabel="fraction", title=title, ylim=(-0.02, 1.02))
    ax.legend(fontsize=8, loc="center right")
    return fig


def bucket_probabilities(z_train: np.ndarray, edges: np.ndarray, probabilities: np.ndarray, title: str) -> Figure:
    """The sampler's bucket probabilities over the training z histogram (both as fractions)."""
    fig, ax = _figure()
    counts, _ = np.histogram(z_train, edges)
    ax.stairs(counts / max(counts.sum(), 1), edges, fill=True, alpha=0.3, color="gray", label="training rows")
    ax.stairs(probabilities, edges, color="tab:blue", lw=1.5, label="sampling probability")
    ax.set(xlabel="reco z [cm]", ylabel="fraction per bucket", title=title)
    ax.legend(fontsize=8)
    return fig


def theta_degrees(reco: np.ndarray, pred: np.ndarray, reference: np.ndarray) -> tuple:
    """(reco, predicted, old) theta in degrees for `split_figures`; predicted and old are None for a z-only net."""
    if pred.shape[1] < 2:
        return theta_to_deg(reco[:, 1]), None, None
    return theta_to_deg(reco[:, 1]), theta_to_deg(pred[:, 1]), theta_to_deg(reference[:, 1])


def split_figures(z_reco: np.ndarray, z_pred: np.ndarray, z_old: np.ndarray, binned: dict, title: str,
                  z_cut_cm: float | None = None, theta: tuple | None = None,
                  pt_gev: np.ndarray | None = None) -> dict[str, Figure]:
    """The figures of one split, by file name stem. Optional parts, drawn where given:
    z_cut_cm: the trigger plots (efficiency vs z, efficiency and rejection vs the cut);
    theta: (reco, predicted, old) theta in degrees (`theta_degrees`): the z resolution vs theta, and theta's own
    plots where the network predicts it; pt_gev: transverse momentum (2DPt) for the z resolution vs pT.
    """
    builders = _split_figure_builders(z_reco, z_pred, z_old, binned, title, z_cut_cm, theta, pt_gev)
    return {name: build() for name, build in builders.items()}


def _split_figure_builders(z_reco: np.ndarray, z_pred: np.ndarray, z_old: np.ndarray, binned: dict, title: str,
                           z_cut_cm: float | None, theta: tuple | None,
                           pt_gev: np.ndarray | None) -> dict[str, Callable[[], Figure]]:
    """What `split_figures` can draw, each figure not yet drawn."""
    diff, diff_old = z_reco - z_pred, z_reco - z_old
    builders = {
        "z_reco_vs_pred": lambda: z_reco_vs_pred(z_reco, z_pred, title),
        "z_pred_hist": lambda: z_pred_histogram(z_pred, z_reco, z_old, title),
        "z_diff_hist": lambda: z_diff_histogram(diff, diff_old, title),
        "z_resolution_vs_z": lambda: resolution_vs(binned, "reco z [cm]", title),
    }
    if z_cut_cm is not None:
        builders["efficiency_vs_z"] = lambda: efficiency_vs_z(z_reco, {NEW: z_pred, OLD: z_old}, z_cut_cm, title)
        builders["trigger_vs_cut"] = lambda: trigger_vs_cut(z_reco, {NEW: z_pred, OLD: z_old}, z_cut_cm, title)
    if theta is not None:
        theta_reco, theta_pred, theta_old = theta
        if theta_pred is not None:
            builders["theta_reco_vs_pred"] = lambda: z_reco_vs_pred(theta_reco, theta_pred, title, "theta", "deg",
                                                                    THETA_RANGE)
            builders["theta_diff_hist"] = lambda: z_diff_histogram(theta_reco - theta_pred, theta_reco - theta_old,
                                                                   title, "theta", "deg", 30.0)
        builders["z_resolution_vs_theta"] = lambda: resolution_vs(
            binned_resolution(np.asarray(theta_reco, float), diff, diff_old, THETA_EDGES_DEG), "reco theta [deg]",
            title)
    known = None if pt_gev is None else np.isfinite(pt_gev)  # rows of older 42-column files have no pT
    if known is not None and known.any():
        builders["z_resolution_vs_pt"] = lambda: resolution_vs(
            binned_resolution(np.asarray(pt_gev, float)[known], diff[known], diff_old[known], PT_EDGES_GEV),
            "pT [GeV]", title, log_x=True)
    return builders


def write_figures(folder: Path, figures: dict[str, Figure]) -> list[Path]:
    """Save figures as `<folder>/<name>.png` (atomically); returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, figure in figures.items():
        path = folder / f"{name}.png"
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format="png")
        paths.append(path)
    return paths


def write_split_plots(folder: Path, z_reco: np.ndarray, z_pred: np.ndarray, z_old: np.ndarray, binned: dict,
                      title: str, z_cut_cm: float | None = None, theta: tuple | None = None,
                      pt_gev: np.ndarray | None = None, buckets: tuple | None = None,
                      part: tuple[int, int] = (0, 1)) -> list[Path]:
    """The PNGs of `split_figures` in `folder`, and with `buckets` (z_train, edges, probabilities, title) the
    sampler's `z_buckets.png`: one job of plain arrays, which a worker process draws (evaluation/offload.py).
    `part` (k, n): only the k-th of n shares of the figures, so that n workers can draw one split together."""
    k, n = part
    builders = list(_split_figure_builders(z_reco, z_pred, z_old, binned, title, z_cut_cm, theta, pt_gev).items())
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
