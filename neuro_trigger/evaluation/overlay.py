"""The `compare --plot` figure: resolution vs reco z and z_reco - z_pred of several runs and the old network."""
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from neuro_trigger.atomic import atomic_path
from neuro_trigger.constants import z_to_cm
from neuro_trigger.evaluation import plots  # noqa: F401  (selects the headless backend)
from neuro_trigger.evaluation.metrics import Z_BIN_EDGES_CM


def write_overlay(runs: list[tuple[str, dict, dict]], split: str, out: Path) -> None:
    """Per run (label, its metrics of `split`, its RecoZ / ScaleZ / PredZ prediction columns): one curve each."""
    fig = Figure(figsize=(12, 4.8), dpi=90, layout="constrained")
    resolution, differences = fig.subplots(1, 2)
    centres = (Z_BIN_EDGES_CM[:-1] + Z_BIN_EDGES_CM[1:]) / 2
    bins = np.linspace(-50, 50, 101)
    old_drawn = False
    for label, metrics, columns in runs:
        binned = metrics["z_resolution_vs_z"]
        resolution.plot(centres, np.asarray(binned["new"], float), "o-", label=label)  # None (JSON null) -> NaN
        z_reco = z_to_cm(columns["RecoZ"])
        differences.hist(np.clip(z_reco - z_to_cm(columns["PredZ"]), -50, 50), bins, histtype="step", label=label)
        if not old_drawn:
            resolution.plot(centres, np.asarray(binned["old"], float), "s--", color="black", label="old network")
            differences.hist(np.clip(z_reco - z_to_cm(columns["ScaleZ"]), -50, 50), bins, histtype="step",
                             color="black", ls="--", label="old network")
            old_drawn = True
    resolution.set(xlabel="reco z [cm]", ylabel="trimmed std of z_reco - z_pred [cm]", ylim=(0, None),
                   title=f"resolution vs reco z ({split})")
    differences.set(xlabel="z_reco - z_pred [cm]", ylabel="tracks", yscale="log", title=f"z differences ({split})")
    resolution.legend(fontsize=8)
    differences.legend(fontsize=8)
    with atomic_path(out) as tmp:  # a full disk leaves no half-written figure
        fig.savefig(tmp, format=Path(out).suffix.lstrip(".") or "png")
