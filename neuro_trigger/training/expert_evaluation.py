"""What one trained expert is worth: its predictions and metrics on every split, and its plots.

Kept apart from `fit` so that new ways of judging a network (fixed-point arithmetic, uncertainties)
land here and in `evaluation/`, not in the training loop. The metrics and plots are computed in worker
processes where the run has them (evaluation/offload.py), beside the training of the other experts.
"""
from pathlib import Path

import numpy as np
import torch

from neuro_trigger.constants import z_to_cm
from neuro_trigger.data.families import FAMILIES
from neuro_trigger.data.sampler import BucketSampler
from neuro_trigger.data.splits import SPLITS
from neuro_trigger.errors import phase
from neuro_trigger.evaluation import offload, plots
from neuro_trigger.evaluation.fixed_twins import split_evaluation, twin_network
from neuro_trigger.evaluation.plots_3dh import write_plots_3dh
from neuro_trigger.evaluation.report import ERRORS_OF_SPLIT
from neuro_trigger.hardware.fixed_point import FixedPointNetwork, Precision
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


class SplitPredictions(dict):
    """split -> (N, out_size) float predictions of one network; for a deployable network also `fixed_nodes`:
    split -> (N, 2) output node values of `fixed_network`, its fixed-point arithmetic, which the run's
    combined network reuses (routed back to the file's rows) instead of computing them again."""

    def __init__(self, predictions: dict, fixed_network: FixedPointNetwork | None = None,
                 fixed_nodes: dict | None = None):
        super().__init__(predictions)
        self.fixed_network, self.fixed_nodes = fixed_network, fixed_nodes or {}


def evaluate_expert(network: torch.nn.Module, data: ExpertData) -> tuple[SplitPredictions, dict]:
    """(predictions, metrics) per split, against the exact float64 targets and reference; a deployable
    network's metrics also get their `_fixed` twins, from the FPGA arithmetic at the config's precision.

    Bootstrap errors only for what the verdict and report show (`report.ERRORS_OF_SPLIT`), the others are NaN.
    The splits are evaluated in worker processes at once, where the run has them."""
    phase("evaluation")
    fixed = twin_network(network, data.config)
    evaluate_split, settings = split_evaluation(data.config)
    predictions, jobs = {}, {}
    for split in SPLITS:
        inputs = data.tensors(split)[0]
        predictions[split] = predict_all(network, inputs, data.config["out_size"])
        job = (predictions[split], fixed, inputs.numpy(), data.splits[split].reco, data.reference[split],
               settings, ERRORS_OF_SPLIT[split])
        jobs[split] = (offload.submit(evaluate_split, *job), job)
    done = {split: offload.result(future, evaluate_split, *job) for split, (future, job) in jobs.items()}
    nodes = {split: split_nodes for split, (_, split_nodes) in done.items() if split_nodes is not None}
    return SplitPredictions(predictions, fixed, nodes), {split: metrics for split, (metrics, _) in done.items()}


def predictions_of_test_split(network: torch.nn.Module, data: ExpertData) -> SplitPredictions:
    """The test split's float predictions and, for a deployable network, its fixed-point output nodes: what the
    plots of a run drawn later (`main.py --draw`) overlay, without evaluating it again (3DH plots read the metrics)."""
    inputs = data.tensors("test")[0]
    predictions = {"test": predict_all(network, inputs, data.config["out_size"])}
    if FAMILIES[data.config["family"]].classification_outputs:
        return SplitPredictions(predictions)
    fixed = twin_network(network, data.config)
    return SplitPredictions(predictions, fixed, None if fixed is None else {"test": fixed.nodes(inputs.numpy())})


def write_expert_plots(expert_dir: Path, data: ExpertData, predictions: dict, metrics: dict) -> None:
    """PNG plots of the test split (and the sampler's buckets for a reweighted expert), drawn in a worker
    process where the run has them: they are in the folder when the run's `offload.workers()` block ends."""
    if FAMILIES[data.config["family"]].classification_outputs:  # 3DH: drawn from the metrics of the test split
        offload.submit_background(write_plots_3dh, expert_dir / "plots", metrics["test"], f"expert {data.expert}, test")
        return
    test = data.splits["test"]
    z_reco, z_old = z_to_cm(test.z_reco), z_to_cm(data.reference["test"][:, 0])
    z_pred = z_to_cm(predictions["test"][:, 0])
    title = f"expert {data.expert}, test"
    theta = plots.theta_degrees(test.reco, predictions["test"], data.reference["test"])
    buckets = None
    if data.config["dist"]:
        sampler = make_sampler(data)
        edges = z_to_cm(np.linspace(-1, 1, sampler.n_buckets + 1))
        buckets = (z_to_cm(data.splits["train"].z_reco), edges, sampler.probabilities, f"expert {data.expert}, train")
    fixed = plots.fixed_point_curves(fixed_predictions(predictions, "test"),
                                     metrics["test"].get("z_resolution_vs_z_fixed"))
    shares = offload.figure_shares()
    for share in range(shares):
        offload.submit_background(plots.write_split_plots, expert_dir / "plots", z_reco, z_pred, z_old,
                                  metrics["test"]["z_resolution_vs_z"], title, data.config["z_cut_cm"], theta,
                                  test.trigger_track_column("2DPt"), buckets, part=(share, shares), fixed=fixed)


def fixed_predictions(predictions: dict, split: str) -> np.ndarray | None:
    """A deployable network's fixed-point predictions of `split` (its output nodes over the precision's one),
    from the evaluation (`SplitPredictions`); None where it has none."""
    network, nodes = getattr(predictions, "fixed_network", None), getattr(predictions, "fixed_nodes", {}).get(split)
    if network is None or nodes is None:
        return None
    return nodes / float(Precision.of(network.precision).one)
