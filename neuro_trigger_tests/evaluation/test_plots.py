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


def test_3dh_figures_overlay_the_fixed_point_twin(tmp_path):
    """Bug (issue 21): the 3DH figures looked up `nnt_fixed_roc` where the metrics hold `nnt_roc_fixed`
    (`fixed_twins.fixed_name`), so no 3DH figure ever drew the fixed-point network."""
    from neuro_trigger.evaluation.metrics_3dh import evaluate_3dh
    from neuro_trigger.evaluation.plots_3dh import write_plots_3dh
    from neuro_trigger.evaluation.report_sections import png_curves

    rng = np.random.default_rng(4)
    reco = np.column_stack([rng.uniform(-0.5, 0.5, (500, 2)), rng.integers(0, 2, (500, 2)) * 2 - 1.0])
    pred = reco + rng.normal(0, 0.3, reco.shape)
    metrics = evaluate_3dh(pred, reco, [-100.0, 100.0, 10.0, 170.0, -1.0, 1.0, -1.0, 1.0], 0.0, False)
    metrics.update({f"{k}_fixed": v for k, v in metrics.items() if k.endswith(("_roc", "_auc")) or "_vs_" in k})
    for path in write_plots_3dh(tmp_path, metrics, "t"):
        curves = png_curves(path.read_bytes())
        assert any("NNT, fixed point" in c for c in curves) and any("STT, fixed point" in c for c in curves), path
