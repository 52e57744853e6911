"""How every figure of a run looks: the canvas with its legend outside the data, plain log-axis labels, step
histograms with their Poisson band, and the names of the drawn curves stored in the PNG (the report reads them).

Uses the object-oriented API without pyplot, so expert threads and worker processes can draw at the same time.
"""
import re
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")  # never a window: runs are headless and plots are drawn from threads
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, LogFormatterSciNotation, NullFormatter  # noqa: E402

from neuro_trigger.atomic import atomic_path  # noqa: E402

SUPERSCRIPT = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")
# the axes' box in figure fractions; the right part of the canvas holds the legend, so it never covers data
AXES_BOX = {"left": 0.1, "right": 0.64, "bottom": 0.12, "top": 0.92}
LEGEND_X = 0.66  # figure fraction where the legend starts, right of the axes
CURVES_KEY = "Curves"  # PNG text chunk: the drawn curves' labels, one per line (report.py shows them)


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


def plain_log_labels(axis) -> None:
    """Plain-text labels on a log-scaled axis (after the scale is set, which resets the formatters)."""
    axis.set_major_formatter(PlainLogFormatter())
    axis.set_minor_formatter(PlainLogFormatter(labelOnlyBase=False))


def decimal_log_ticks(axis, ticks) -> None:
    """A log axis spanning about one or two decades labelled at `ticks` as plain decimals (0.2, 0.5, 1, 2), with
    unlabelled minor ticks: matplotlib labels every minor tick there, and 2×10⁻¹ .. 9×10⁻¹ overlap."""
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    axis.set_minor_formatter(NullFormatter())


def figure(width: float = 8.0) -> tuple[Figure, object]:
    """A canvas of `width` inches (80 dpi) whose axes leave the right third to the legend (`legend_outside`)."""
    fig = Figure(figsize=(width, 4.8), dpi=80)
    fig.subplots_adjust(**AXES_BOX)  # fixed: a layout engine costs a draw
    ax = fig.add_subplot()
    # the title at its place above the axes, as matplotlib puts it when nothing sits on top of the axes,
    # without measuring every tick label to find out (a tenth of the drawing time)
    ax.set_title("", y=1.0)
    return fig, ax


def legend_outside(ax, x: float = LEGEND_X, **options) -> None:
    """The legend right of the axes at figure fraction `x` (never on the data), top-aligned with them."""
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(x, AXES_BOX["top"]),
              bbox_transform=ax.figure.transFigure, borderaxespad=0, frameon=False, **options)


def step(ax, values: np.ndarray, bins: np.ndarray, normalise: bool = False, band: bool = True, **style) -> None:
    """A step histogram from np.histogram (much cheaper to draw than ax.hist's patches) with its Poisson band
    (± √n per bin); `normalise`: as a fraction of the entries, so samples of different sizes compare."""
    counts, _ = np.histogram(values, bins)
    scale = 1.0 / max(counts.sum(), 1) if normalise else 1.0
    ax.stairs(counts * scale, bins, **style)
    if band and not style.get("fill"):
        error = np.sqrt(counts) * scale
        ax.stairs(counts * scale + error, bins, baseline=np.maximum(counts * scale - error, 0), fill=True, alpha=0.25,
                  color=style.get("color"), lw=0)


def curve_labels(fig: Figure) -> list[str]:
    """The labels of every legend of the figure: what it draws."""
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes]
    return [text.get_text() for legend in legends if legend is not None for text in legend.get_texts()]


def save(fig: Figure, path: Path, file_format: str = "png") -> None:
    """Write `fig` atomically; a PNG carries its curves' labels (`CURVES_KEY`) for the report."""
    metadata = {CURVES_KEY: "\n".join(curve_labels(fig))} if file_format == "png" else None
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=file_format, metadata=metadata)
