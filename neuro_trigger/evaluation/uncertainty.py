"""Statistical uncertainties of the run metrics: a paired bootstrap for resolutions, losses and their
ratios, Wilson intervals for efficiency and rejection (docs/metrics.md).

The bootstrap draws, once per split, a matrix of resampling counts (replicate x track); every figure of
the new and of the old network is recomputed from the same counts, so ratios and differences carry
their paired (correlated) uncertainty. Counts instead of resampled copies make each replicate a weighted
sum over the sorted values: no per-replicate sort, one matrix product per figure.
"""
from typing import Callable

import numpy as np

REPLICATES = 200  # the standard error itself is then known to about 1 / sqrt(2 * 200) = 5%
SEED = 20240  # fixed: the same data gives the same errors
Z95 = 1.959963984540054  # two-sided 95% of a normal distribution
CHUNK_ELEMENTS = 1 << 22  # replicates x tracks per block, bounds the memory (~32 MB of float64)


def wilson_interval(k: int, n: int, z: float = Z95) -> list[float]:
    """The Wilson score interval [lo, hi] of a binomial fraction k/n (NaNs for n = 0)."""
    if n <= 0:
        return [float("nan"), float("nan")]
    lo, hi, _ = wilson_arrays(np.array([k]), np.array([n]), z)
    return [float(lo[0]), float(hi[0])]


def wilson_arrays(k: np.ndarray, n: np.ndarray, z: float = Z95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lo, hi, k/n) of the Wilson interval for arrays of counts, NaN where n = 0 (error bars per bin)."""
    k, n = np.asarray(k, float), np.asarray(n, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denominator = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denominator
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # exactly 0 and 1 at the ends (k = 0, k = n), where rounding would otherwise leave 1e-16 off
    lo = np.where(k == 0, 0.0, np.clip(centre - half, 0, 1))
    hi = np.where(k == n, 1.0, np.clip(centre + half, 0, 1))
    return np.where(n > 0, lo, np.nan), np.where(n > 0, hi, np.nan), p


def paired_fraction_difference(passed_new: np.ndarray, passed_old: np.ndarray) -> tuple[float, float]:
    """(p_new - p_old, its standard error) for two yes/no outcomes on the same tracks (the McNemar variance)."""
    n = len(passed_new)
    if n == 0:
        return float("nan"), float("nan")
    only_new = float(np.count_nonzero(passed_new & ~passed_old))
    only_old = float(np.count_nonzero(passed_old & ~passed_new))
    difference = (only_new - only_old) / n
    variance = max((only_new + only_old) / n - difference ** 2, 0.0) / n
    return difference, float(np.sqrt(variance))


Figure = Callable[[np.ndarray], np.ndarray]  # (block, n) resampling counts -> (block,) values of a figure


def bootstrap(n: int, figures: dict[str, Figure], replicates: int = REPLICATES, seed: int = SEED) -> dict[str, np.ndarray]:
    """(replicates,) values of every figure, all from the same resampled tracks (paired).

    The counts (how often each of the n tracks is drawn in a replicate; each row sums to n) are made in
    blocks of bounded size and every figure sees each block once, so memory stays flat for millions of rows.
    """
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in figures}
    block = max(1, CHUNK_ELEMENTS // max(n, 1))
    for start in range(0, replicates if n else 0, block):
        rows = min(block, replicates - start)
        draws = rng.integers(0, n, size=(rows, n)) + (np.arange(rows) * n)[:, None]
        # float32 holds these small integers and their running sums (< 2^24 tracks) exactly, at half the bandwidth
        counts = np.bincount(draws.ravel(), minlength=rows * n).reshape(rows, n).astype(np.float32)
        for name, figure in figures.items():
            parts[name].append(figure(counts))
    return {name: np.concatenate(p) if p else np.full(replicates, np.nan) for name, p in parts.items()}


def mean_of(values: np.ndarray) -> Figure:
    """The mean of `values` (one per track) in each replicate."""
    values = np.asarray(values, dtype=np.float32)
    return lambda counts: (counts @ values).astype(np.float64) / len(values)


def std_of(values: np.ndarray) -> Figure:
    """The population std of `values` in each replicate."""
    centred = values - (np.mean(values) if len(values) else 0.0)  # centred once: numerically safe variance
    moments = np.stack([centred, centred * centred], axis=1).astype(np.float32)  # (n, 2)

    def figure(counts: np.ndarray) -> np.ndarray:
        m1, m2 = ((counts @ moments).astype(np.float64) / len(values)).T
        return np.sqrt(np.maximum(m2 - m1 * m1, 0.0))
    return figure


def trimmed_std_of(values: np.ndarray, trim: float, subset: np.ndarray | None = None) -> Figure:
    """The std after dropping the `trim` fraction at each end (as `metrics.trimmed_std`), in each replicate.

    With `subset` (track indices) only those tracks count: a bin of the split, whose size then varies between
    replicates as it would between repeated experiments. NaN where fewer than 2 values remain.
    """
    idx = np.arange(len(values)) if subset is None else np.asarray(subset)
    order = idx[np.argsort(values[idx], kind="stable")]
    x = values[order]
    x = x - (np.mean(x) if len(x) else 0.0)
    moments = np.stack([x, x * x], axis=1).astype(np.float32)  # (m, 2)

    def figure(counts: np.ndarray) -> np.ndarray:
        c = counts[:, order]  # counts of the sorted values, (block, m)
        cumulative = np.cumsum(c, axis=1)
        total = cumulative[:, -1].astype(np.float64)
        cut = np.floor(total * trim)
        low, high = cut[:, None].astype(np.float32), (total - cut)[:, None].astype(np.float32)
        # the weight of each sorted value that survives the trim: its share of positions [cut, total - cut)
        before = np.subtract(cumulative, c, out=c)
        np.clip(before, low, high, out=before)
        np.clip(cumulative, low, high, out=cumulative)
        kept = np.subtract(cumulative, before, out=cumulative)
        weight = total - 2 * cut
        with np.errstate(invalid="ignore", divide="ignore"):
            m1, m2 = ((kept @ moments).astype(np.float64) / weight[:, None]).T
            result = np.sqrt(np.maximum(m2 - m1 * m1, 0.0))
        return np.where(weight >= 2, result, np.nan)
    return figure


def standard_error(replicates: np.ndarray) -> float:
    """The bootstrap standard error: the std of a figure over the replicates.

    Replicates where the figure is undefined (a bin left with fewer than 2 tracks) are skipped while they
    are rare; NaN when more than 10% are undefined, since the error would then be meaningless.
    """
    replicates = np.asarray(replicates, dtype=np.float64)
    finite = replicates[np.isfinite(replicates)]
    if len(finite) < 2 or len(finite) < 0.9 * len(replicates):
        return float("nan")
    return float(np.std(finite, ddof=1))


def ratio_error(new: np.ndarray, old: np.ndarray) -> float:
    """Paired standard error of new / old from the same replicates."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return standard_error(new / old)
