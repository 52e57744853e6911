"""The figures of a NeuroTrigger3DH network, drawn from its split metrics (`metrics_3dh`): the ROC curves of NNT and
STT, their efficiency against reco z and theta with Wilson intervals, float and fixed point where both exist."""
from pathlib import Path

import numpy as np

from neuro_trigger.evaluation.metrics_3dh import CLASSES
from neuro_trigger.evaluation.plot_style import figure as _figure, legend_outside
from neuro_trigger.evaluation.plots import write_figures
from neuro_trigger.evaluation.uncertainty import wilson_arrays


COLORS = ("tab:blue", "tab:orange")  # per class, float and fixed point in the same colour


def roc_figure(metrics: dict, title: str):
    fig, ax = _figure()
    for (name, _), color in zip(CLASSES, COLORS):
        for suffix, style in (("", "-"), ("_fixed", ":")):
            roc = metrics.get(f"{name}_roc{suffix}")  # the fixed-point twin's name: `fixed_twins.fixed_name`
            if roc is None:
                continue
            auc = metrics.get(f"{name}_auc{suffix}", np.nan)
            ax.plot(roc["false_positive_rate"], roc["efficiency"], style, color=color,
                    label=f"{name.upper()}{', fixed point' if suffix else ''} (area {auc:.4f})")
            if roc.get("positives"):  # the efficiency's 95% Wilson band at each cut
                efficiency = np.asarray(roc["efficiency"], float)
                lo, hi, _ = wilson_arrays(np.round(efficiency * roc["positives"]), np.full(len(efficiency),
                                                                                           roc["positives"]))
                ax.fill_between(roc["false_positive_rate"], lo, hi, color=color, alpha=0.2, lw=0)
    ax.plot([0, 1], [0, 1], color="grey", lw=0.5)
    ax.set(xlabel="false positive rate", ylabel="efficiency", title=f"ROC, {title}")
    legend_outside(ax, title="bands: 95% Wilson")
    return fig


def efficiency_figure(metrics: dict, quantity: str, unit: str, title: str):
    fig, ax = _figure()
    for (name, _), color in zip(CLASSES, COLORS):
        for suffix, marker in (("", "o"), ("_fixed", "x")):
            binned = metrics.get(f"{name}_efficiency_vs_{quantity}{suffix}")
            if binned is None:
                continue
            edges = np.array(binned["edges"])
            centres, p = (edges[1:] + edges[:-1]) / 2, np.array(binned["efficiency"], dtype=float)
            lo, hi = np.array(binned["lo"], dtype=float), np.array(binned["hi"], dtype=float)
            shift = (0.15 if suffix else -0.15) * np.diff(edges)  # side by side in the bin: both error bars show
            ax.errorbar(centres + shift, p, yerr=[p - lo, hi - p], fmt=marker, ms=3, capsize=2, color=color,
                        label=f"{name.upper()}{', fixed point' if suffix else ''}")
    ax.set(xlabel=f"reco {quantity} [{unit}]", ylabel="efficiency at the cut", ylim=(0, 1.05),
           title=f"efficiency vs {quantity}, {title}")
    legend_outside(ax, title="95% Wilson intervals")
    return fig


def write_plots_3dh(folder: Path, metrics: dict, title: str) -> list[Path]:
    """roc.png, efficiency_vs_z.png and efficiency_vs_theta.png in `folder` (a job for a worker process)."""
    return write_figures(folder, {"roc": roc_figure(metrics, title),
                                  "efficiency_vs_z": efficiency_figure(metrics, "z", "cm", title),
                                  "efficiency_vs_theta": efficiency_figure(metrics, "theta", "deg", title)})
