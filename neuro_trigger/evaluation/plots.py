"""The physics plots of a run (SPEC section 8), as matplotlib Figures.

Uses the object-oriented API without pyplot, so expert threads can draw at the same time.
All z values in cm.
"""
import matplotlib
import numpy as np

matplotlib.use("Agg")  # never a window: runs are headless and plots are drawn from threads
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from neuro_trigger.evaluation.metrics import trimmed_std  # noqa: E402

Z_RANGE = (-100.0, 100.0)
NEW, OLD, RECO = "network", "old network", "reco"


def _figure() -> tuple[Figure, object]:
    fig = Figure(figsize=(6.4, 4.8), dpi=80)
    fig.subplots_adjust(left=0.12, right=0.95, bottom=0.11, top=0.92)  # fixed: a layout engine costs a draw
    return fig, fig.add_subplot()


def _step(ax, values: np.ndarray, bins: np.ndarray, **style) -> None:
    """A step histogram from np.histogram (much cheaper to draw than ax.hist's patches)."""
    counts, _ = np.histogram(values, bins)
    ax.stairs(counts, bins, **style)


def z_reco_vs_pred(z_reco: np.ndarray, z_pred: np.ndarray, title: str) -> Figure:
    """2D histogram of reco z against predicted z, log colour scale, equal axes, statistics in the legend."""
    fig, ax = _figure()
    diff = z_reco - z_pred
    counts, _, _ = np.histogram2d(z_reco, z_pred, bins=100, range=[Z_RANGE, Z_RANGE])
    masked = np.ma.masked_equal(counts.T, 0)
    image = ax.imshow(masked, origin="lower", extent=(*Z_RANGE, *Z_RANGE), cmap="viridis", interpolation="nearest",
                      norm=LogNorm(vmin=1, vmax=max(counts.max(), 1)))
    fig.colorbar(image, ax=ax, label="tracks")
    ax.plot(Z_RANGE, Z_RANGE, color="red", lw=0.8, label=f"n = {len(diff)}\nstd = {np.std(diff):.2f} cm\n"
            f"trimmed std = {trimmed_std(diff):.2f} cm\nmean = {np.mean(diff):.2f} cm")
    ax.set(xlabel="reco z [cm]", ylabel="predicted z [cm]", title=title, aspect="equal", xlim=Z_RANGE, ylim=Z_RANGE)
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
    ax.legend(fontsize=8)
    return fig


def z_diff_histogram(diff_new: np.ndarray, diff_old: np.ndarray, title: str) -> Figure:
    """z_reco - z_pred for the network and the old network."""
    fig, ax = _figure()
    bins = np.linspace(-50, 50, 101)
    for diff, label, color in ((diff_old, OLD, "tab:orange"), (diff_new, NEW, "tab:blue")):
        _step(ax, np.clip(diff, -50, 50), bins, color=color,
              label=f"{label}: std {np.std(diff):.2f}, trimmed {trimmed_std(diff):.2f} cm")
    ax.set(xlabel="z_reco - z_pred [cm] (overflow in the outer bins)", ylabel="tracks", yscale="log", title=title)
    ax.legend(fontsize=8)
    return fig


def resolution_vs_z(edges: list[float], new: list[float], old: list[float], title: str,
                    others: dict[str, list[float]] | None = None) -> Figure:
    """Trimmed z resolution in bins of reco z, for the network(s) and the old network."""
    fig, ax = _figure()
    centres = (np.asarray(edges[:-1]) + np.asarray(edges[1:])) / 2
    as_float = lambda values: np.array([np.nan if v is None else v for v in values], dtype=float)  # noqa: E731
    ax.plot(centres, as_float(old), "s--", color="tab:orange", label=OLD)
    for label, values in ({NEW: new} if others is None else others).items():
        ax.plot(centres, as_float(values), "o-", label=label)
    ax.set(xlabel="reco z [cm]", ylabel="trimmed std of z_reco - z_pred [cm]", title=title, ylim=(0, None))
    ax.legend(fontsize=8)
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


def split_figures(z_reco: np.ndarray, z_pred: np.ndarray, z_old: np.ndarray, binned: dict, title: str) -> dict[str, Figure]:
    """The four standard figures of one split, by file name stem."""
    return {
        "z_reco_vs_pred": z_reco_vs_pred(z_reco, z_pred, title),
        "z_pred_hist": z_pred_histogram(z_pred, z_reco, z_old, title),
        "z_diff_hist": z_diff_histogram(z_reco - z_pred, z_reco - z_old, title),
        "z_resolution_vs_z": resolution_vs_z(binned["edges_cm"], binned["new"], binned["old"], title),
    }
