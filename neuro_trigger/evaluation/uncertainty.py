"""Statistical uncertainties of the run metrics: a paired bootstrap for resolutions, losses and their
ratios, Wilson intervals for efficiency and rejection (docs/metrics.md).

The bootstrap draws, once per split, a matrix of resampling counts (replicate x track); every figure of
the new and of the old network is recomputed from the same counts, so ratios and differences carry
their paired (correlated) uncertainty. Counts instead of resampled copies make each replicate a weighted
sum over the sorted values: no per-replicate sort, one matrix product per group of figures on the same tracks.
"""
from typing import Callable

import numpy as np

REPLICATES = 200  # the standard error itself is then known to about 1 / sqrt(2 * 200) = 5%
SEED = 20240  # fixed: the same data gives the same errors
Z95 = 1.959963984540054  # two-sided 95% of a normal distribution
CHUNK_ELEMENTS = 1 << 22  # tracks x replicates per block: bounds the memory (~32 MB of float64 counts)


def wilson_interval(k: int, n: int, z: float = Z95) -> list[float]:
    """The Wilson score interval [lo, hi] of a binomial fraction k/n (NaNs for n = 0)."""
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
    """(p_new - p_old, its standard error) for two yes/no outcomes on the same tracks.

    The McNemar variance of the discordant tracks, with Agresti and Min's half a track added to each cell of the
    2x2 table, so that few or one-sided discordant tracks (2 of 2 triggered by the new network only) do not
    claim an error of zero.
    """
    n = len(passed_new)
    if n == 0:
        return float("nan"), float("nan")
    only_new = float(np.count_nonzero(passed_new & ~passed_old))
    only_old = float(np.count_nonzero(passed_old & ~passed_new))
    adjusted_n = n + 2.0
    adjusted = (only_new - only_old) / adjusted_n
    variance = max((only_new + only_old + 1.0) / adjusted_n - adjusted ** 2, 0.0) / adjusted_n
    return (only_new - only_old) / n, float(np.sqrt(variance))


class Figure:
    """A figure of the resampled tracks, per replicate: sums of per-track `vectors` (k, m) over the tracks of
    `subset` (all tracks where None) weighted by their resampling counts, `finish`ed into one value each.

    Called with a (n, block) counts matrix it computes its own sums; `bootstrap` instead computes the sums of
    all figures on the same subset in one matrix product (one pass over the counts, not one per figure).
    """

    def __init__(self, vectors: np.ndarray, finish: Callable[[np.ndarray, np.ndarray], np.ndarray],
                 subset: np.ndarray | None = None):
        self.vectors, self.finish, self.subset = np.atleast_2d(np.asarray(vectors, dtype=np.float64)), finish, subset

    def __call__(self, counts: np.ndarray) -> np.ndarray:
        mine = counts if self.subset is None else counts[self.subset]
        return self.finish((mine.T @ self.vectors.T).T, mine)

    def subset_key(self):
        """Figures with equal keys resample the same tracks."""
        return None if self.subset is None else np.asarray(self.subset).tobytes()


def bootstrap(n: int, figures: dict[str, Figure], replicates: int = REPLICATES,
              seed: int = SEED) -> dict[str, np.ndarray]:
    """(replicates,) values of every figure, all from the same resampled tracks (paired).

    The counts (how often each of the n tracks is drawn in a replicate; each column sums to n) are made in
    blocks of bounded size and every figure sees each block once, so memory stays flat for millions of rows.
    Track-major layout (n, block): picking the tracks of a bin or in sorted order copies whole rows. Figures
    on the same tracks (the new and old network's of a bin) share the picked rows and one matrix product of
    their stacked vectors.
    """
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in figures}
    groups: dict = {}
    for name, figure in figures.items():
        # a `family:` prefix stacks apart: BLAS rounds by the product's shape, and a network's errors must not
        # change in the last digit with whether its fixed-point twin's figures are asked for too
        groups.setdefault((figure.subset_key(), name.rpartition(":")[0]), []).append((name, figure))
    stacked = {key: (np.concatenate([f.vectors for _, f in members]),
                     np.cumsum([0] + [len(f.vectors) for _, f in members])) for key, members in groups.items()}
    block = max(1, CHUNK_ELEMENTS // max(n, 1))
    for start in range(0, replicates if n else 0, block):
        rows = min(block, replicates - start)
        # float64: float32 would halve the bandwidth but lose digits in m2 - m1^2 of narrow, offset values
        counts = np.empty((n, rows))
        for replica in range(rows):  # the same draws as one (rows, n) call, without its (rows, n) temporaries
            counts[:, replica] = np.bincount(rng.integers(0, n, n), minlength=n)
        for key, members in groups.items():
            subset = members[0][1].subset
            mine = counts if subset is None else counts[subset]
            vectors, offsets = stacked[key]
            sums = (mine.T @ vectors.T).T  # (k, block); this order is BLAS's fast case for a C-ordered `mine`
            for i, (name, figure) in enumerate(members):
                parts[name].append(figure.finish(sums[offsets[i]:offsets[i + 1]], mine))
    return {name: np.concatenate(p) if p else np.full(replicates, np.nan) for name, p in parts.items()}


def mean_of(values: np.ndarray) -> Figure:
    """The mean of `values` (one per track) in each replicate."""
    values = np.asarray(values, dtype=np.float64)
    return Figure(values, lambda sums, counts: sums[0] / len(values))


def std_of(values: np.ndarray) -> Figure:
    """The population std of `values` in each replicate."""
    centred = values - (np.mean(values) if len(values) else 0.0)  # centred once: numerically safe variance

    def finish(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
        m1, m2 = sums[0] / len(values), sums[1] / len(values)
        return np.sqrt(np.maximum(m2 - m1 * m1, 0.0))
    return Figure(np.stack([centred, centred * centred]), finish)


def trimmed_std_of(values: np.ndarray, trim: float, subset: np.ndarray | None = None) -> Figure:
    """The std after dropping the `trim` fraction at each end (as `metrics.trimmed_std`), in each replicate.

    With `subset` (track indices) only those tracks count: a bin of the split, whose size then varies between
    replicates as it would between repeated experiments. NaN where fewer than 2 values remain.
    Only the sorted values near the two cuts need a running count: the sums over all tracks are corrected
    by what the replicate drops from each tail (a tail holds the cut plus a margin of 10 standard deviations
    of the draws landing in it; a replicate reaching past it is answered from every sorted value).
    """
    idx = np.arange(len(values)) if subset is None else np.asarray(subset)
    centre = float(np.mean(values[idx])) if len(idx) else 0.0
    x = values[idx] - centre  # (m,) in idx order
    position = np.argsort(x, kind="stable")  # sorted order within idx
    first, second = x, x * x
    m = len(idx)
    expected = trim * m  # draws dropped at each end, on average
    tail = int(np.ceil(expected + 10 * np.sqrt(expected + trim * trim * m) + 10))
    low, high = position[:tail], position[::-1][:tail]  # the lowest and the highest values, outermost first

    def dropped(c: np.ndarray, cut: np.ndarray) -> np.ndarray:
        """Per sorted tail value (outermost first), how many of its draws fall among the `cut` outermost."""
        cumulative = np.cumsum(c, axis=0)
        return np.minimum(cumulative, cut) - np.minimum(cumulative - c, cut)

    def finish(sums: np.ndarray, mine: np.ndarray) -> np.ndarray:
        total = sums[0]
        cut = np.floor(total * trim)
        lows, highs = low, high
        if not (2 * tail < m and (mine[low].sum(axis=0) >= cut).all() and (mine[high].sum(axis=0) >= cut).all()):
            lows, highs = position, position[::-1]  # a block with a replica too far out in a tail: every value
        d_low, d_high = dropped(mine[lows], cut), dropped(mine[highs], cut)
        s1 = sums[1] - (first[lows] @ d_low + first[highs] @ d_high)
        s2 = sums[2] - (second[lows] @ d_low + second[highs] @ d_high)
        return _trimmed(s1, s2, total - 2 * cut)
    return Figure(np.stack([np.ones(m), first, second]), finish, subset)


def _trimmed(s1: np.ndarray, s2: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The std from the sums of the kept values and their squares (NaN where fewer than 2 remain)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        m1, m2 = s1 / weight, s2 / weight
        result = np.sqrt(np.maximum(m2 - m1 * m1, 0.0))
    return np.where(weight >= 2, result, np.nan)


def standard_error(replicates: np.ndarray) -> float:
    """The bootstrap standard error: the std of a figure over the replicates.

    Replicates where the figure is undefined (a bin left with fewer than 2 tracks) are skipped while they
    are rare; NaN when more than 10% are undefined, since the error would then be meaningless.
    """
    finite = _finite(replicates)
    return float("nan") if finite is None else float(np.std(finite, ddof=1))


def percentile_interval(replicates: np.ndarray, level: float = 0.95) -> list[float]:
    """The bootstrap percentile interval [lo, hi] of a figure (NaNs under the same rule as `standard_error`).

    Honest where the figure's distribution is skewed, as a ratio of two losses with heavy tails is.
    """
    finite = _finite(replicates)
    if finite is None:
        return [float("nan"), float("nan")]
    return [float(v) for v in np.percentile(finite, [50 * (1 - level), 50 * (1 + level)])]


def _finite(replicates: np.ndarray) -> np.ndarray | None:
    """The defined replicates, or None when fewer than 2 or more than 10% undefined."""
    replicates = np.asarray(replicates, dtype=np.float64)
    finite = replicates[np.isfinite(replicates)]
    return None if len(finite) < 2 or len(finite) < 0.9 * len(replicates) else finite


def ratios(new: np.ndarray, old: np.ndarray) -> np.ndarray:
    """new / old replica by replica (NaN where old is 0)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(old != 0, new / np.where(old != 0, old, 1.0), np.nan)
