"""The `_fixed` twins are named by rule, so the verdict finds every paired fixed-point figure."""
import numpy as np

from neuro_trigger.evaluation.fixed_twins import fixed_name, fixed_point_metrics
from neuro_trigger.evaluation.verdict import verdict_of


def test_fixed_names_keep_ratio_and_uncertainty_suffixes_last():
    assert fixed_name("loss") == "loss_fixed"
    assert fixed_name("loss_vs_old") == "loss_fixed_vs_old"
    assert fixed_name("z_diff_std_trimmed_vs_old_err") == "z_diff_std_trimmed_fixed_vs_old_err"
    assert fixed_name("z_diff_std_vs_old_ci") == "z_diff_std_fixed_vs_old_ci"
    assert fixed_name("efficiency_ci") == "efficiency_fixed_ci"
    assert fixed_name("efficiency_minus_old_err") == "efficiency_fixed_minus_old_err"
    assert fixed_name("z_resolution_vs_z") == "z_resolution_vs_z_fixed"


def test_twins_of_a_split_carry_the_paired_figures_the_verdict_reads_and_no_old_network_keys():
    rng = np.random.default_rng(1)
    reco = rng.uniform(-0.5, 0.5, (4000, 2))
    reco[:1500, 0] = rng.normal(0, 0.002, 1500)  # interaction-point tracks for the efficiency
    old = reco + rng.normal(0, 0.05, reco.shape)
    pred = reco + rng.normal(0, 0.02, reco.shape)
    fixed = np.round(pred * 4096) / 4096
    twins = fixed_point_metrics(fixed, pred, reco, old, 15.0)
    for key in ("loss_fixed", "loss_fixed_vs_old_err", "z_diff_std_trimmed_fixed_vs_old_ci",
                "efficiency_fixed_ci", "efficiency_fixed_minus_old", "efficiency_fixed_minus_old_err",
                "z_float_vs_fixed_max_cm"):
        assert key in twins, key
    assert not [k for k in twins if k.endswith("_old") and "_vs_old" not in k and "_minus_old" not in k]
    assert "ip_rows_fixed" not in twins and "rows_fixed" not in twins
    assert twins["z_float_vs_fixed_max_cm"] <= 100 / 4096 / 2 + 1e-9
    verdict = verdict_of({**twins}, "overall")
    assert "better" in verdict.sentence  # 0.02 against 0.05: the fixed-point network is clearly better


def test_a_split_no_verdict_shows_keeps_every_key_with_nan_bootstrap_errors():
    """The train split is not bootstrapped (issue 24): the same keys as a bootstrapped split, the same
    values, NaN errors, and the closed-form intervals of efficiency and rejection still there."""
    from neuro_trigger.evaluation.fixed_twins import evaluate_with_fixed

    rng = np.random.default_rng(2)
    reco = rng.uniform(-0.5, 0.5, (3000, 2))
    reco[:1000, 0] = rng.normal(0, 0.002, 1000)
    old = reco + rng.normal(0, 0.05, reco.shape)
    pred = reco + rng.normal(0, 0.02, reco.shape)
    fixed = np.round(pred * 4096) / 4096
    shown = evaluate_with_fixed(pred, fixed, reco, old, 15.0)
    unshown = evaluate_with_fixed(pred, fixed, reco, old, 15.0, bootstrapped=False)
    assert unshown.keys() == shown.keys()
    for key, value in shown.items():
        if key.endswith("_err") and not key.endswith("_minus_old_err"):
            assert np.isfinite(value) and np.isnan(unshown[key]), key
        elif key.endswith("_vs_old_ci"):
            assert np.isnan(unshown[key]).all(), key
        elif key.startswith("z_resolution_vs_z"):
            assert np.isnan(unshown[key]["new_err"]).all()
            np.testing.assert_array_equal(unshown[key]["new"], value["new"])
        else:
            assert unshown[key] == value, key
