"""The `compare --plot` figure: resolution vs reco z and z_reco - z_pred of several runs and the old network."""
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from neuro_trigger.constants import z_to_cm
from neuro_trigger.evaluation.metrics import Z_BIN_EDGES_CM
from neuro_trigger.evaluation.plot_style import save, step


def write_overlay(runs: list[tuple[str, dict, dict]], split: str, out: Path) -> None:
    """Per run (label, its metrics of `split`, its RecoZ / ScaleZ / PredZ prediction columns): one curve each,
    the resolutions with their bootstrap errors, the differences as fractions of each run's tracks (runs of
    different sizes compare) with ± √n bands."""
    fig = Figure(figsize=(13, 4.8), dpi=90, layout="constrained")
    resolution, differences = fig.subplots(1, 2)
    centres = (Z_BIN_EDGES_CM[:-1] + Z_BIN_EDGES_CM[1:]) / 2
    width = np.diff(Z_BIN_EDGES_CM)
    bins = np.linspace(-50, 50, 101)
    curves = [(label, metrics["z_resolution_vs_z"], "new", z_to_cm(columns["RecoZ"]) - z_to_cm(columns["PredZ"]),
               {}) for label, metrics, columns in runs]
    if runs:  # the old network once, from the first run (the same hardware prediction in every file)
        _, metrics, columns = runs[0]
        curves.append(("old network", metrics["z_resolution_vs_z"], "old",
                       z_to_cm(columns["RecoZ"]) - z_to_cm(columns["ScaleZ"]), {"color": "black", "ls": "--"}))
    for place, (label, binned, which, diff, style) in enumerate(curves):
        x = centres + (place - (len(curves) - 1) / 2) * 0.8 * width / max(len(curves), 1)
        errors = binned.get(f"{which}_err")
        line = resolution.errorbar(x, np.asarray(binned[which], float), None if errors is None else
                                   np.asarray(errors, float), fmt="s" if which == "old" else "o", ms=3, capsize=2,
                                   lw=1, color=style.get("color"), label=label)  # None (JSON null) -> NaN
        color = style.get("color") or line.lines[0].get_color()
        step(differences, np.clip(diff, -50, 50), bins, normalise=True, color=color, ls=style.get("ls", "-"),
             label=f"{label} ({len(diff)} tracks)")
    resolution.set(xlabel="reco z [cm]", ylabel="trimmed std of z_reco - z_pred [cm]", ylim=(0, None),
                   title=f"resolution vs reco z ({split}), bootstrap errors")
    differences.set(xlabel="z_reco - z_pred [cm] (overflow in the outer bins)", ylabel="fraction of tracks",
                    yscale="log", title=f"z differences ({split}), normalised, ± √n bands")
    for ax in (resolution, differences):
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, frameon=False)
    save(fig, Path(out), Path(out).suffix.lstrip(".") or "png")  # atomic: a full disk leaves no half-written figure
