"""The bucketed z sampler (SPEC section 5): bucket maths and drawn frequencies."""
import numpy as np
import pytest
from scipy import stats

from neuro_trigger.data.sampler import BucketSampler, bucket_of, bucket_probabilities
from neuro_trigger.errors import UserError

NORM = {"n_buckets": 5, "norm": {"mean": 0.0, "std": 0.5}}


def test_bucket_edges_and_the_last_bucket_holds_one():
    assert bucket_of(np.array([-1.0, -0.61, -0.6, 0.0, 0.99, 1.0]), 5).tolist() == [0, 0, 1, 2, 4, 4]


def test_probabilities_are_cdf_differences():
    edges = np.linspace(-1, 1, 6)
    cdf = stats.norm(0, 0.5).cdf
    finite = np.diff(cdf(edges))
    np.testing.assert_allclose(bucket_probabilities({**NORM, "inf_bounds": False}), finite / finite.sum())
    open_edges = edges.copy()
    open_edges[0], open_edges[-1] = -np.inf, np.inf
    with_inf = bucket_probabilities({**NORM, "inf_bounds": True})
    np.testing.assert_allclose(with_inf, np.diff(cdf(open_edges)))
    assert with_inf.sum() == pytest.approx(1.0) and with_inf[0] > finite[0]  # the open tail adds mass
    np.testing.assert_allclose(bucket_probabilities({"n_buckets": 4, "uniform": {"lower": -1, "upper": 0}}),
                               [0.5, 0.5, 0, 0])


@pytest.mark.parametrize("dist", [
    {**NORM, "inf_bounds": True}, {**NORM, "inf_bounds": False},
    {"n_buckets": 8, "uniform": {"lower": -1.0, "upper": 1.0}},
    {"n_buckets": 8, "uniform": {"lower": -0.5, "upper": 1.0}, "inf_bounds": True},
])
def test_drawn_bucket_frequencies_match_probabilities(dist):
    rng = np.random.default_rng(1)
    z = np.clip(np.r_[rng.normal(0, 0.02, 60_000), rng.uniform(-1, 1, 40_000)], -1, 1)  # IP peak + background
    sampler = BucketSampler(z, dist, seed=3)
    drawn = bucket_of(z[sampler.draw(0)], dist["n_buckets"])
    observed = np.bincount(drawn, minlength=dist["n_buckets"])
    expected = sampler.probabilities * len(drawn)
    used = expected > 0
    assert observed[~used].sum() == 0
    _, p_value = stats.chisquare(observed[used], expected[used])
    assert p_value > 1e-3
    assert len(drawn) == len(z)


def test_empty_buckets_get_no_probability():
    z = np.r_[np.full(100, -0.9), np.full(100, 0.9)]  # buckets 0 and 4 of 5 only
    sampler = BucketSampler(z, {**NORM, "inf_bounds": False}, seed=0)
    assert sampler.probabilities[1:4].tolist() == [0, 0, 0]
    assert sampler.probabilities.sum() == pytest.approx(1.0)
    assert set(np.unique(z[sampler.draw(0)])) == {-0.9, 0.9}


def test_draws_are_seeded_per_epoch_and_rows_uniform_within_a_bucket():
    z = np.linspace(-1, 1, 1000)
    a, b = BucketSampler(z, NORM, seed=5), BucketSampler(z, NORM, seed=5)
    np.testing.assert_array_equal(a.draw(3), b.draw(3))
    assert not np.array_equal(a.draw(3), a.draw(4))
    rows_in_middle = a.draw(0)[bucket_of(z[a.draw(0)], 5) == 2]
    counts = np.bincount(rows_in_middle - rows_in_middle.min())
    assert counts.max() < 5 * counts.mean()


@pytest.mark.parametrize("dist, message", [
    ({"n_buckets": 0, "uniform": {}}, "n_buckets"),
    ({"n_buckets": 3, "norm": {"std": 0}}, "std"),
    ({"n_buckets": 3, "uniform": {"lower": 1, "upper": 1}}, "lower < upper"),
    ({"n_buckets": 3}, "'norm' or a 'uniform'"),
])
def test_bad_distributions_are_refused(dist, message):
    with pytest.raises(UserError, match=message):
        bucket_probabilities(dist)
