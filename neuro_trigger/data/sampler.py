"""The bucketed z-distribution sampler (SPEC section 5) that reweights training rows in z.

[-1, 1] is split into n equal buckets; each bucket gets the probability mass of the wanted
distribution over its interval, empty buckets get 0, and one sample is a bucket drawn by
those probabilities followed by a uniformly drawn row of that bucket. A whole epoch of
indices is drawn with a few vectorised numpy calls.
"""
from typing import Iterator

import numpy as np
import torch
from scipy import stats

from neuro_trigger.errors import UserError


def bucket_edges(n_buckets: int) -> np.ndarray:
    return np.linspace(-1.0, 1.0, n_buckets + 1)


def bucket_of(z: np.ndarray, n_buckets: int) -> np.ndarray:
    """Bucket index of each scaled z; bucket i is [-1 + 2i/n, -1 + 2(i+1)/n), the last also holds 1."""
    index = np.floor((np.asarray(z, dtype=np.float64) + 1.0) * (n_buckets / 2.0)).astype(np.int64)
    return np.clip(index, 0, n_buckets - 1)


def target_distribution(dist: dict):
    """The frozen scipy distribution named by a `dist` config, validated."""
    if "norm" in dist:
        norm = dist["norm"]
        mean, std = norm.get("mean", 0.0), norm.get("std", 1.0)
        if not std > 0:
            raise UserError(f"dist.norm.std: expected a positive number, got {std!r}")
        return stats.norm(loc=mean, scale=std)
    if "uniform" in dist:
        uniform = dist["uniform"]
        lower, upper = uniform.get("lower", -1.0), uniform.get("upper", 1.0)
        if not lower < upper:
            raise UserError(f"dist.uniform: expected lower < upper, got lower={lower!r}, upper={upper!r}")
        return stats.uniform(loc=lower, scale=upper - lower)
    raise UserError(f"dist: expected a 'norm' or a 'uniform' entry, got keys {sorted(dist)}")


def bucket_probabilities(dist: dict, counts: np.ndarray | None = None) -> np.ndarray:
    """Probability of each bucket: CDF differences, outer buckets open with `inf_bounds`,
    zero for empty buckets (`counts` rows per bucket), renormalised to sum to 1."""
    n = dist.get("n_buckets")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise UserError(f"dist.n_buckets: expected an integer >= 1, got {n!r}")
    edges = bucket_edges(n)
    if dist.get("inf_bounds", False):
        edges[0], edges[-1] = -np.inf, np.inf
    p = np.diff(target_distribution(dist).cdf(edges))
    if counts is not None:
        p = np.where(np.asarray(counts) > 0, p, 0.0)
    if not p.sum() > 0:
        raise UserError(f"dist: the distribution {dist} puts no probability on buckets that hold training rows")
    return p / p.sum()


class BucketSampler(torch.utils.data.Sampler):
    """Draws epochs of row indices so that z follows the `dist` config; seeded per epoch."""

    def __init__(self, z: np.ndarray, dist: dict, seed: int = 0, num_samples: int | None = None):
        self.n_buckets = dist.get("n_buckets")
        bucket_probabilities(dist)  # validate the config before touching the data
        bucket = bucket_of(z, self.n_buckets)
        self.counts = np.bincount(bucket, minlength=self.n_buckets)
        self.probabilities = bucket_probabilities(dist, self.counts)
        self.rows_by_bucket = np.argsort(bucket, kind="stable")
        self.starts = np.r_[0, np.cumsum(self.counts)[:-1]]
        self.num_samples = len(z) if num_samples is None else num_samples
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def draw(self, epoch: int) -> np.ndarray:
        """One epoch of row indices (int64), the same for the same seed and epoch."""
        rng = np.random.default_rng([self.seed, epoch])
        buckets = rng.choice(self.n_buckets, size=self.num_samples, p=self.probabilities)
        offsets = (rng.random(self.num_samples) * self.counts[buckets]).astype(np.int64)
        return self.rows_by_bucket[self.starts[buckets] + offsets]

    def __iter__(self) -> Iterator[int]:
        return iter(self.draw(self.epoch).tolist())
