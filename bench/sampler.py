"""One epoch of 1,000,000 reweighted indices: per-item np.random.choice(p=...) vs the project's sampler."""
import os

import numpy as np

from common import median_time, report
from neuro_trigger.data import synthetic
from neuro_trigger.data.sampler import BucketSampler, bucket_of

ROWS = int(os.environ.get("BENCH_SAMPLER_ROWS", 1_000_000))
DIST = {"n_buckets": 11, "inf_bounds": True, "norm": {"mean": 0.0, "std": 0.4}}


class PerItemReweighting:
    """What a Dataset.__getitem__-style sampler does: one bucket draw and one row draw per item."""

    def __init__(self, z: np.ndarray):
        self.sampler = BucketSampler(z, DIST)
        bucket = bucket_of(z, DIST["n_buckets"])
        self.rows = [np.flatnonzero(bucket == b) for b in range(DIST["n_buckets"])]

    def epoch(self, n: int) -> list[int]:
        out = []
        for _ in range(n):
            b = np.random.choice(DIST["n_buckets"], p=self.sampler.probabilities)
            out.append(int(self.rows[b][np.random.randint(len(self.rows[b]))]))
        return out


def main() -> None:
    z = synthetic.generate(ROWS, seed=4).z_reco
    per_item = PerItemReweighting(z)
    sampler = BucketSampler(z, DIST, seed=1)
    slow = median_time(lambda: per_item.epoch(ROWS), repeats=1)
    fast = median_time(lambda: sampler.draw(0), repeats=5, warmup=1)
    report("sampler", [{"variant": "per-item np.random.choice", "seconds": slow},
                       {"variant": "BucketSampler.draw", "seconds": fast, "speedup": slow / fast}],
           f"{ROWS} indices, {DIST}")


if __name__ == "__main__":
    main()
