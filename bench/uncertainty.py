"""What the uncertainties cost: `evaluate` of one split with and without errors (paired bootstrap, Wilson).

The per-epoch validation runs without them (binned=False, uncertainties=False); the end-of-training
evaluation of every split, per expert and overall, runs with them.
"""
import os
import time

import numpy as np

from common import median_time, report
from neuro_trigger.data import synthetic
from neuro_trigger.evaluation.metrics import evaluate

ROWS = [int(n) for n in os.environ.get("BENCH_UNCERTAINTY_ROWS", "50000,200000").split(",")]


def main() -> None:
    rows = []
    for n in ROWS:
        tracks = synthetic.generate(n, seed=6)
        rng = np.random.default_rng(0)
        pred = tracks.old + rng.normal(0.0, 0.01, tracks.old.shape)  # a stand-in network close to the old one
        for out in (1, 2):
            p = pred[:, :out]
            base = median_time(lambda: evaluate(p, tracks.reco, tracks.old, binned=False, uncertainties=False), 3, 1)
            binned = median_time(lambda: evaluate(p, tracks.reco, tracks.old, uncertainties=False), 3, 1)
            full = median_time(lambda: evaluate(p, tracks.reco, tracks.old), 3, 1)
            cpu = time.process_time()
            evaluate(p, tracks.reco, tracks.old)
            cpu = time.process_time() - cpu  # CPU seconds, all threads: what it costs on an idle machine
            rows.append({"rows": n, "out_size": out, "validation (no errors) s": base, "binned, no errors s": binned,
                         "with errors s": full, "with errors, CPU s": cpu})
    report("uncertainty", rows, "evaluate() of one split; bootstrap of 200 replicates; wall: median of 3")


if __name__ == "__main__":
    main()
