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


def test_figures_nobody_is_shown_keep_every_key_with_nan_bootstrap_errors():
    """Issue 24: a run bootstraps only what its verdict and plots show. The same keys and values as with every
    error, NaN errors where not bootstrapped, and the closed-form intervals of efficiency and rejection."""
    from neuro_trigger.evaluation.fixed_twins import evaluate_with_fixed

    rng = np.random.default_rng(2)
    reco = rng.uniform(-0.5, 0.5, (3000, 2))
    reco[:1000, 0] = rng.normal(0, 0.002, 1000)
    old = reco + rng.normal(0, 0.05, reco.shape)
    pred = reco + rng.normal(0, 0.02, reco.shape)
    fixed = np.round(pred * 4096) / 4096
    every = evaluate_with_fixed(pred, fixed, reco, old, 15.0)
    for errors in ("verdict_and_plots", "verdict", "none"):
        fewer = evaluate_with_fixed(pred, fixed, reco, old, 15.0, errors=errors)
        assert fewer.keys() == every.keys()
        for key, value in every.items():
            if key.startswith("z_resolution_vs_z"):
                np.testing.assert_array_equal(fewer[key]["new"], value["new"])
                bins_kept = errors == "verdict_and_plots" and key == "z_resolution_vs_z"
                if bins_kept:  # the same replicas: the same errors
                    np.testing.assert_array_equal(fewer[key]["new_err"], value["new_err"])
                    np.testing.assert_array_equal(fewer[key]["old_err"], value["old_err"])
                else:
                    assert np.isnan(fewer[key]["new_err"]).all() and np.isfinite(value["new_err"]).any(), (errors, key)
            elif (key.endswith("_err") and not key.endswith("_minus_old_err")) or key.endswith("_vs_old_ci"):
                if errors == "none":
                    assert np.isnan(fewer[key]).all() and np.isfinite(value).all(), key
                else:
                    assert fewer[key] == value, (errors, key)  # the same replicas: the same errors
            else:
                assert fewer[key] == value, key
