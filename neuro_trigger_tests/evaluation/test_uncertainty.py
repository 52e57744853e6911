"""Uncertainties of the metrics against hand-computed values and known distributions."""
import math

import numpy as np
import pytest

from neuro_trigger.evaluation import uncertainty
from neuro_trigger.evaluation.metrics import binned_resolution, evaluate, trimmed_std


def test_wilson_interval_of_a_known_count():
    # 8 of 10 at 95%: the textbook Wilson interval is [0.4902, 0.9433]
    lo, hi = uncertainty.wilson_interval(8, 10)
    assert lo == pytest.approx(0.49016, abs=1e-4) and hi == pytest.approx(0.94332, abs=1e-4)
    # by the formula: centre (p + z^2/2n) / (1 + z^2/n), half z sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n)
    z, n, p = 1.959963984540054, 200, 0.9
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert uncertainty.wilson_interval(180, 200) == pytest.approx([centre - half, centre + half])
    assert uncertainty.wilson_interval(0, 10) == pytest.approx([0.0, 0.27753], abs=1e-4)
    assert all(math.isnan(v) for v in uncertainty.wilson_interval(0, 0))


def test_wilson_interval_holds_a_fraction_of_one_exactly():
    # regression: k = n gave hi = 0.9999999999999999 < 1.0 = k / n, an interval missing its own value
    assert uncertainty.wilson_interval(472, 472)[1] == 1.0 and uncertainty.wilson_interval(0, 472)[0] == 0.0


def test_paired_difference_of_fractions_by_hand():
    new = np.array([1, 1, 1, 0, 1, 1, 0, 1, 1, 1], bool)
    old = np.array([1, 0, 1, 0, 1, 1, 1, 0, 1, 1], bool)
    # discordant: new only at 1 and 7, old only at 6 -> d = (2 - 1) / 10; Agresti-Min: half a track more in each
    # cell, d' = (2.5 - 1.5) / 12, var = ((2.5 + 1.5) / 12 - d'^2) / 12
    difference, err = uncertainty.paired_fraction_difference(new, old)
    assert difference == pytest.approx(0.1) and err == pytest.approx(math.sqrt((4 / 12 - (1 / 12) ** 2) / 12))


def test_two_tracks_triggered_only_by_the_new_network_are_no_certainty():
    # regression: the plain McNemar variance is 0 when every discordant track goes one way, which made
    # 2 of 2 tracks "better" at any confidence
    difference, err = uncertainty.paired_fraction_difference(np.array([True, True]), np.array([False, False]))
    assert difference == 1.0 and err > 0.3


def test_bootstrap_std_error_of_a_gaussian_and_deterministic_for_the_seed():
    rng = np.random.default_rng(3)
    values = rng.normal(0.0, 4.0, 20_000)
    figures = {"std": uncertainty.std_of(values), "trimmed": uncertainty.trimmed_std_of(values, 0.05),
               "mean": uncertainty.mean_of(values)}
    first = uncertainty.bootstrap(len(values), figures)
    again = uncertainty.bootstrap(len(values), figures)
    for name in figures:
        np.testing.assert_array_equal(first[name], again[name])
    # Gaussian: SE(std) = sigma / sqrt(2n), SE(mean) = sigma / sqrt(n); a 200-replicate SE is good to ~10%
    assert uncertainty.standard_error(first["std"]) == pytest.approx(4.0 / math.sqrt(2 * 20_000), rel=0.2)
    assert uncertainty.standard_error(first["mean"]) == pytest.approx(4.0 / math.sqrt(20_000), rel=0.2)
    # the replicas centre on the sample's own figure
    assert np.mean(first["trimmed"]) == pytest.approx(trimmed_std(values), rel=0.01)
    other = uncertainty.bootstrap(len(values), figures, seed=uncertainty.SEED + 1)
    assert not np.array_equal(other["std"], first["std"])


def test_trimmed_std_of_a_resample_matches_the_direct_computation():
    rng = np.random.default_rng(5)
    values = rng.standard_t(3, 501)
    drawn = rng.integers(0, 501, 501)
    counts = np.bincount(drawn, minlength=501)[:, None].astype(float)  # (tracks, one replica)
    assert uncertainty.trimmed_std_of(values, 0.05)(counts.copy())[0] == pytest.approx(trimmed_std(values[drawn]),
                                                                                          rel=1e-9)
    subset = np.arange(100, 300)
    in_subset = drawn[(drawn >= 100) & (drawn < 300)]
    assert uncertainty.trimmed_std_of(values, 0.05, subset)(counts.copy())[0] == pytest.approx(
        trimmed_std(values[in_subset]), rel=1e-9)


def test_trimmed_std_of_large_resamples_corrects_only_the_tails():
    rng = np.random.default_rng(6)
    values = rng.standard_t(3, 20_000)
    drawn = rng.integers(0, 20_000, (20_000, 3))  # three replicas; the tails are 5% + 10 sigma of 20,000 values
    counts = np.stack([np.bincount(d, minlength=20_000) for d in drawn.T], axis=1).astype(float)
    expected = [trimmed_std(values[d]) for d in drawn.T]
    np.testing.assert_allclose(uncertainty.trimmed_std_of(values, 0.05)(counts.copy()), expected, rtol=1e-9)
    # a replica that drew one value 20,000 times reaches past the tails: the full running count answers it
    piled = np.zeros((20_000, 1))
    piled[int(np.argmax(values))] = 20_000
    assert uncertainty.trimmed_std_of(values, 0.05)(piled)[0] == pytest.approx(0.0, abs=1e-9)


def correlated(n=20_000, seed=11):
    """Reco, old and new predictions whose errors share most of their spread (as real networks do)."""
    rng = np.random.default_rng(seed)
    reco = np.stack([rng.uniform(-0.9, 0.9, n), rng.uniform(-0.9, 0.9, n)], axis=1)
    common = rng.normal(0.0, 0.05, (n, 2))
    old = reco + common + rng.normal(0.0, 0.01, (n, 2))
    new = reco + 0.9 * common + rng.normal(0.0, 0.01, (n, 2))
    return new, reco, old


def test_paired_ratio_error_is_smaller_than_unpaired_for_correlated_networks():
    m = evaluate(*correlated(), z_cut_cm=15.0)
    for name in ("z_diff_std", "z_diff_std_trimmed", "theta_diff_std", "loss"):
        ratio = m[f"{name}_vs_old"]
        unpaired = ratio * math.hypot(m[f"{name}_err"] / m[name], m[f"{name}_old_err"] / m[f"{name}_old"])
        assert m[f"{name}_vs_old_err"] < 0.5 * unpaired, name


def test_evaluate_names_every_error_and_interval():
    m = evaluate(*correlated(4000), z_cut_cm=15.0)
    for name in ("loss", "z_diff_std", "z_diff_std_trimmed", "theta_diff_std", "theta_diff_std_trimmed"):
        for key in (f"{name}_err", f"{name}_old_err", f"{name}_vs_old_err"):
            assert m[key] > 0, key
        lo, hi = m[f"{name}_vs_old_ci"]
        assert lo < m[f"{name}_vs_old"] < hi and hi - lo == pytest.approx(2 * 1.96 * m[f"{name}_vs_old_err"], rel=0.3)
    for name in ("efficiency", "rejection"):
        for key in (f"{name}_ci", f"{name}_old_ci"):
            lo, hi = m[key]
            assert lo <= m[key[:-3]] <= hi, key
    binned = m["z_resolution_vs_z"]
    assert len(binned["new_err"]) == len(binned["old_err"]) == len(binned["counts"]) == 20
    assert all(e > 0 for e, c in zip(binned["new_err"], binned["counts"]) if c >= 30)
    cheap = evaluate(*correlated(4000), z_cut_cm=15.0, binned=False, uncertainties=False)
    assert not any(k.endswith(("_err", "_ci")) for k in cheap)  # the per-epoch validation stays cheap


def test_a_handful_of_tracks_has_unknown_errors():
    reco = np.zeros((5, 2))
    m = evaluate(np.full((5, 1), 0.01), reco, reco + np.arange(5)[:, None] * 0.01)
    assert math.isnan(m["z_diff_std_err"]) and math.isnan(m["loss_vs_old_err"])


def test_binned_resolution_drops_rows_outside_and_counts_the_rest():
    x = np.r_[np.full(100, 0.5), np.full(50, 3.0), 20.0]
    diff = np.r_[np.tile([-1.0, 1.0], 50), np.tile([-2.0, 2.0], 25), 0.0]
    binned = binned_resolution(x, diff, 2 * diff, np.array([0.0, 1.0, 2.0, 5.0]))
    assert binned["counts"] == [100, 0, 50]
    assert binned["new"][0] == pytest.approx(1.0) and binned["old"][2] == pytest.approx(4.0)
    assert math.isnan(binned["new"][1]) and math.isnan(binned["new_err"][1])
    assert binned["new_err"][0] >= 0
