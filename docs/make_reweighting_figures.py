"""Draw the figures of docs/reweighting.md from the synthetic data set: `python docs/make_reweighting_figures.py`."""
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from neuro_trigger.constants import z_to_cm  # noqa: E402
from neuro_trigger.data import synthetic  # noqa: E402
from neuro_trigger.data.sampler import BucketSampler, bucket_edges  # noqa: E402
from neuro_trigger.evaluation import plots  # noqa: E402

OUT = ROOT / "docs" / "figures"
DISTS = {
    "buckets_norm_inf_bounds": {"n_buckets": 11, "inf_bounds": True, "norm": {"mean": 0.0, "std": 0.4}},
    "buckets_norm_finite": {"n_buckets": 11, "inf_bounds": False, "norm": {"mean": 0.0, "std": 0.4}},
    "buckets_uniform": {"n_buckets": 11, "uniform": {"lower": -1.0, "upper": 1.0}},
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    z = synthetic.generate(100_000, seed=1).z_reco
    for name, dist in DISTS.items():
        sampler = BucketSampler(z, dist, seed=0)
        figure = plots.bucket_probabilities(z_to_cm(z), z_to_cm(bucket_edges(dist["n_buckets"])),
                                            sampler.probabilities, str(dist))
        figure.savefig(OUT / f"{name}.png")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.8), dpi=90, layout="tight")
    ax = figure.add_subplot()
    bins = np.linspace(-100, 100, 101)
    ax.hist(z_to_cm(z), bins, histtype="step", label="training rows (one epoch unweighted)")
    for name in ("buckets_norm_inf_bounds", "buckets_uniform"):
        drawn = z[BucketSampler(z, DISTS[name], seed=0).draw(0)]
        ax.hist(z_to_cm(drawn), bins, histtype="step", label=f"one epoch sampled with {name[8:]}")
    ax.set(xlabel="reco z [cm]", ylabel="rows per 2 cm", yscale="log", title="z before and after sampling")
    ax.legend(fontsize=8)
    figure.savefig(OUT / "z_before_after_sampling.png")
    print(f"wrote figures to {OUT}")


if __name__ == "__main__":
    main()
