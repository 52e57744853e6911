"""Metrics against hand-computed values on a small fixed table."""
import math

import numpy as np
import pytest

from neuro_trigger.evaluation.metrics import evaluate, resolution_vs_z, trigger_figures, trimmed_std


def scaled(z_cm):
    return np.asarray(z_cm, float) / 100


def test_trimmed_std_drops_five_percent_each_side():
    values = np.r_[np.arange(1.0, 19.0), [1000.0, -1000.0]]  # 20 values: 1 dropped at each end
    assert trimmed_std(values) == pytest.approx(np.std(np.arange(1.0, 19.0)))
    assert math.isnan(trimmed_std(np.array([1.0])))


def test_trigger_figures_by_hand():
    z_reco = np.array([0.0, 0.5, -0.5, 0.9, 30.0, -40.0, 60.0, 10.0])
    z_pred = np.array([2.0, 20.0, -14.0, 14.9, 10.0, -16.0, 70.0, 0.0])
    # IP tracks (|z_reco| < 1): 0, 0.5, -0.5, 0.9 -> accepted (|z_pred| < 15): 2, -14, 14.9 -> 3/4
    # background (|z_reco| > 25): 30, -40, 60 -> rejected (|z_pred| >= 15): -16, 70 -> 2/3
    efficiency, rejection = trigger_figures(z_reco, z_pred, 15.0)
    assert efficiency == pytest.approx(0.75) and rejection == pytest.approx(2 / 3)


def test_evaluate_by_hand():
    reco = np.stack([scaled([0, 10, -20, 40]), np.array([0.0, 0.5, -0.5, 0.25])], axis=1)
    pred = np.stack([scaled([2, 10, -26, 40]), np.array([0.0, 0.5, -0.5, 0.0])], axis=1)
    old = np.stack([scaled([4, 14, -20, 36]), np.array([0.1, 0.5, -0.5, 0.25])], axis=1)
    m = evaluate(pred, reco, old, z_cut_cm=15.0)
    # squared errors (scaled): z 0.0004, 0, 0.0036, 0; theta 0, 0, 0, 0.0625
    assert m["loss"] == pytest.approx((0.0004 + 0.0036 + 0.0625) / 8)
    assert m["loss_old"] == pytest.approx((0.0016 + 0.0016 + 0.0016 + 0.01) / 8)
    assert m["loss_vs_old"] == pytest.approx(m["loss"] / m["loss_old"])
    assert m["z_diff_std"] == pytest.approx(np.std([-2.0, 0.0, 6.0, 0.0]))
    assert m["z_diff_std_old"] == pytest.approx(np.std([-4.0, -4.0, 0.0, 4.0]))
    assert m["z_diff_std_vs_old"] == pytest.approx(m["z_diff_std"] / m["z_diff_std_old"])
    assert m["theta_diff_std"] == pytest.approx(np.std([0, 0, 0, 0.25 * 80]))  # 0.25 scaled = 20 degrees
    assert m["efficiency"] == 1.0 and m["efficiency_old"] == 1.0  # the IP track: 2 cm and 4 cm
    assert m["rejection"] == 1.0 and m["rejection_old"] == 1.0  # the 40 cm track
    assert m["rows"] == 4 and len(m["z_resolution_vs_z"]["new"]) == 20


def test_z_only_network_has_no_theta_metrics():
    reco = np.zeros((3, 2))
    m = evaluate(np.array([[0.01], [0.0], [-0.01]]), reco, reco + 0.02)
    assert "theta_diff_std" not in m and m["loss"] == pytest.approx(0.0002 / 3)


def test_resolution_in_bins_of_reco_z():
    z_reco = np.r_[np.full(40, -95.0), np.full(40, 5.0), 100.0]
    z_pred = z_reco + np.r_[np.tile([-1.0, 1.0], 20), np.tile([-3.0, 3.0], 20), 0.0]
    binned = resolution_vs_z(z_reco, z_pred)
    assert binned[0] == pytest.approx(1.0) and binned[10] == pytest.approx(3.0)
    assert math.isnan(binned[5])  # empty bin
    assert math.isnan(binned[19])  # z = 100 cm lands in the last bin, but one row has no spread


def test_a_split_without_rows_is_evaluated_not_refused():
    """Bug: `predict --filter "ExpertFilter(0)"` on a run of experts 0 and 4 failed with a reshape ValueError,
    since expert 4 had no rows left to evaluate."""
    none = np.zeros((0, 2))
    metrics = evaluate(none, none, none)
    assert metrics["rows"] == 0 and math.isnan(metrics["loss"])
