"""Plots drawn from what the data knows."""
import matplotlib.pyplot as plt
import numpy as np

from neuro_trigger.evaluation import plots


def test_resolution_vs_pt_is_drawn_only_from_rows_that_know_their_pt():
    """A data set mixing 42-column files (pT unknown, NaN) with 46-column ones bins only the known rows."""
    rng = np.random.default_rng(3)
    z_reco = rng.uniform(-50, 50, 2000)
    z_pred, z_old = z_reco + rng.normal(0, 2, 2000), z_reco + rng.normal(0, 4, 2000)
    binned = {"edges_cm": [-100, 0, 100], "new": [2, 2], "old": [4, 4]}
    unknown = np.full(2000, np.nan)
    assert "z_resolution_vs_pt" not in plots.split_figures(z_reco, z_pred, z_old, binned, "t", pt_gev=unknown)
    half = unknown.copy()
    half[:1000] = rng.uniform(0.3, 5, 1000)
    figures = plots.split_figures(z_reco, z_pred, z_old, binned, "t", pt_gev=half)
    assert "z_resolution_vs_pt" in figures
    plt.close("all")
