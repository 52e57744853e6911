"""A NeuroTrigger3DH run's results: weights.json and network.conf as basf2 deploys them (SPEC-3DH 3), the
deployability verdict with the wrap count, and the predictions of every split in the 3DH file layout.

One network for all rows: the run's metrics are that network's (its evaluation computed them, float and fixed
point); nothing is computed again.
"""
from pathlib import Path

import numpy as np
import torch

from neuro_trigger.atomic import atomic_path, write_json
from neuro_trigger.data import files_3dh
from neuro_trigger.data.splits import SPLITS
from neuro_trigger.hardware import deploy_3dh
from neuro_trigger.hardware.fixed_point_3dh import unscale
from neuro_trigger.runs.export import expert_key

FLOAT_COLUMNS = ["PredZ", "PredTheta", "PredNNT", "PredSTT"]  # network outputs in [-1, 1], before unscaling
FIXED_COLUMNS = ["PredZFix", "PredThetaFix", "PredNNTFix", "PredSTTFix"]  # hardware integers, units of 2^-12
PHYSICS_COLUMNS = ["PredZ_cm", "PredTheta_deg", "PredNNT_unscaled", "PredSTT_unscaled"]


def deployability(network, test_metrics: dict) -> dict:
    """{'deployable', 'reason'}: basf2 must be able to run it, and no test track may come near the window's wrap
    (SPEC-3DH O8), where the hardware's outputs stop following the network's."""
    reason = deploy_3dh.not_deployable_reason(network)
    wraps = test_metrics.get("wrap_tracks", 0)
    if reason is None and wraps:
        reason = (f"{wraps} test tracks reach |pre-activation| >= {test_metrics['wrap_at'] - test_metrics['wrap_margin']:g}"
                  f" (largest {test_metrics['max_preactivation']:.1f}), near the 18-bit window's wrap at 32")
    return {"deployable": reason is None, "reason": reason}


def prediction_columns(pred: np.ndarray, fixed_nodes: np.ndarray | None, output_scale) -> dict[str, np.ndarray]:
    """PredZ ... PredSTT (scaled), the unscaled physics (z cm, theta degrees, NNT, STT) and, for a deployable
    network, PredZFix ... PredSTTFix (the hardware's integer outputs)."""
    physics = unscale(pred, output_scale).astype(np.float64)
    physics[:, 1] = np.degrees(physics[:, 1])
    columns = {**dict(zip(FLOAT_COLUMNS, pred.T)), **dict(zip(PHYSICS_COLUMNS, physics.T))}
    if fixed_nodes is not None:
        columns.update(zip(FIXED_COLUMNS, np.asarray(fixed_nodes).T))
    return columns


def write_predictions(run_dir: Path, split: str, tracks, pred: np.ndarray, fixed_nodes: np.ndarray | None,
                      output_scale, with_csv: bool) -> None:
    """`predictions_<split>.pt` (rows and predictions, what `compare_to` reads) and, `with_csv`, the split's rows in
    the 3DH layout with the prediction columns appended (`predictions_<split>.csv.gz`)."""
    if with_csv:
        with atomic_path(run_dir / f"predictions_{split}.csv.gz") as tmp:
            files_3dh.write_file(tmp, tracks, extra=prediction_columns(pred, fixed_nodes, output_scale), csv=True)
    with atomic_path(run_dir / f"predictions_{split}.pt") as tmp:
        torch.save({"row": torch.from_numpy(tracks.row), "expert": torch.from_numpy(np.full(len(tracks), -1)),
                    "pred": torch.from_numpy(np.ascontiguousarray(pred, dtype=np.float32))}, tmp)


def export_overall_3dh(run_dir: Path, prepared: dict, networks: dict, results: dict, summary: dict,
                       config: dict) -> None:
    """weights.json (+ network.conf), deployability, metrics and predictions of a 3DH run."""
    summary["experts"] = {expert_key(x): r.summary() for x, r in results.items()}
    summary["metrics"] = {}
    for expert, result in results.items():
        if not result.predictions:
            continue
        network, data = networks[expert], prepared[expert]
        test = result.metrics.get("test", {})
        summary["deployable"] = {expert_key(expert): deployability(network, test)}
        if deploy_3dh.not_deployable_reason(network) is None:
            deploy_3dh.write_network(run_dir, network, config["output_scale"])
        else:
            write_json(run_dir / "weights.json", {k: v.tolist() for k, v in network.state_dict().items()})
        fixed = getattr(result.predictions, "fixed_nodes", {})
        for split in SPLITS:
            write_predictions(run_dir, split, data.splits[split], result.predictions[split], fixed.get(split),
                              config["output_scale"], with_csv=split != "train" or config["save_train_predictions"])
        summary["metrics"] = {split: result.metrics[split] for split in SPLITS if split in result.metrics}
