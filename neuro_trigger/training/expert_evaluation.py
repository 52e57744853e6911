"""What one trained expert is worth: its predictions and metrics on every split, and its plots.

Kept apart from `fit` so that new ways of judging a network (fixed-point arithmetic, uncertainties)
land here and in `evaluation/`, not in the training loop.
"""
from pathlib import Path

import numpy as np
import torch

from neuro_trigger.constants import z_to_cm
from neuro_trigger.data.sampler import BucketSampler
from neuro_trigger.data.splits import SPLITS
from neuro_trigger.evaluation import plots
from neuro_trigger.evaluation.fixed_twins import evaluate_with_fixed
from neuro_trigger.hardware.deploy import fixed_point_network
from neuro_trigger.hardware.fixed_point import DEFAULT_PRECISION
from neuro_trigger.runs.export import write_plots
from neuro_trigger.training.batches import PermutationSampler
from neuro_trigger.training.expert_data import ExpertData

CHUNK = 1 << 18  # rows per forward pass


def make_sampler(data: ExpertData):
    """The training sampler of an expert: the z-bucket sampler when reweighted, else a seeded permutation."""
    train = data.splits["train"]
    seed = (data.config["seed"] + data.expert) % 2 ** 64  # numpy wants >= 0: seed 0 of expert -1 is 2**64 - 1
    if data.config["dist"]:
        return BucketSampler(train.z_reco, data.config["dist"], seed=seed)
    return PermutationSampler(len(train), seed=seed)


@torch.no_grad()
def predict_all(network: torch.nn.Module, inputs: torch.Tensor, out_size: int) -> np.ndarray:
    """(N, out_size) float64 predictions for a whole split, in eval mode, in large chunks."""
    was_training = network.training
    network.eval()
    try:
        if not len(inputs):
            return np.zeros((0, out_size))
        return torch.cat([network(inputs[i:i + CHUNK]) for i in range(0, len(inputs), CHUNK)]).double().numpy()
    finally:
        network.train(was_training)


def evaluate_expert(network: torch.nn.Module, data: ExpertData) -> tuple[dict, dict]:
    """(predictions, metrics) per split, against the exact float64 targets and reference; a deployable
    network's metrics also get their `_fixed` twins, from the FPGA arithmetic at the config's precision."""
    predictions, metrics = {}, {}
    fixed = fixed_point_network(network, data.config.get("precision", DEFAULT_PRECISION))
    for split in SPLITS:
        inputs = data.tensors(split)[0]
        predictions[split] = predict_all(network, inputs, data.config["out_size"])
        reco, reference = data.splits[split].reco, data.reference[split]
        fixed_pred = None if fixed is None else fixed.predict(inputs.numpy())
        metrics[split] = evaluate_with_fixed(predictions[split], fixed_pred, reco, reference, data.config["z_cut_cm"])
    return predictions, metrics


def write_expert_plots(expert_dir: Path, data: ExpertData, predictions: dict, metrics: dict) -> None:
    """PNG plots of the test split (and the sampler's buckets for a reweighted expert)."""
    test = data.splits["test"]
    z_reco, z_old = z_to_cm(test.z_reco), z_to_cm(data.reference["test"][:, 0])
    z_pred = z_to_cm(predictions["test"][:, 0])
    title = f"expert {data.expert}, test"
    theta = plots.theta_degrees(test.reco, predictions["test"], data.reference["test"])
    figures = plots.split_figures(z_reco, z_pred, z_old, metrics["test"]["z_resolution_vs_z"], title,
                                  data.config["z_cut_cm"], theta, test.trigger_track_column("2DPt"))
    if data.config["dist"]:
        sampler = make_sampler(data)
        edges = z_to_cm(np.linspace(-1, 1, sampler.n_buckets + 1))
        figures["z_buckets"] = plots.bucket_probabilities(z_to_cm(data.splits["train"].z_reco), edges,
                                                          sampler.probabilities, f"expert {data.expert}, train")
    write_plots(expert_dir / "plots", figures)
