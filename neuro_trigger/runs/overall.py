"""The run's combined network, all experts together: weights.json, the predictions files, and the overall
metrics and plots in summary.json and plots/.

Nothing an expert's evaluation computed is computed again: each expert's fixed-point output nodes are routed
back to the file's rows. The overall metrics (in worker processes, evaluation/offload.py) and the predictions
files (here) are made at the same time.
"""
from pathlib import Path

import numpy as np

from neuro_trigger.constants import z_to_cm
from neuro_trigger.data.families import FAMILIES, THREE_DH
from neuro_trigger.data.splits import SPLITS
from neuro_trigger.evaluation import offload, plots
from neuro_trigger.evaluation.fixed_twins import evaluate_with_fixed, twin_predictions
from neuro_trigger.evaluation.report import ERRORS_OF_SPLIT
from neuro_trigger.runs import export
from neuro_trigger.runs.combined import combine_experts
from neuro_trigger.runs.export_3dh import export_overall_3dh


def export_overall(run_dir: Path, data: dict, prepared: dict, networks: dict, results: dict, summary: dict,
                   config: dict, figures: bool = True) -> None:
    """weights.json, predictions per split, per-expert and overall metrics into the summary, and with `figures`
    overall plots (drawn in a worker where the run has them: in plots/ when its `offload.workers()` block ends)."""
    if FAMILIES[config["family"]].export_format == THREE_DH.export_format:
        export_overall_3dh(run_dir, prepared, networks, results, summary, config)
        return
    trained = {x: networks[x] for x, r in results.items() if r.predictions}
    if trained:
        export.write_weights(run_dir, trained)
        summary["deployable"] = export.deployability(trained)
    summary["experts"] = {f"expert_{x}": r.summary() for x, r in results.items()}
    summary["metrics"] = {}
    combined, jobs = {}, {}
    for split in ("test", "val", "train"):  # the test split first: its plots wait for its metrics
        parts = combine_experts(data, prepared, {x: r.predictions for x, r in results.items()}, split)
        if parts is None:
            continue
        tracks, pred, reference, expert = parts
        fixed = twin_predictions(trained, config, tracks.inputs, expert,
                                 evaluated_nodes({x: r.predictions for x, r in results.items()}, prepared, split))
        job = (pred, None if fixed is None else fixed[1], tracks.reco, reference, config["z_cut_cm"],
               ERRORS_OF_SPLIT[split])
        jobs[split] = (offload.submit(evaluate_with_fixed, *job), job)
        combined[split] = (tracks, pred, reference, expert, fixed)
    metrics = {}
    if "test" in combined:
        metrics["test"] = _result(jobs.pop("test"))
        if figures:
            write_overall_plots(run_dir, combined["test"], metrics["test"], config)
    for split, (tracks, pred, _, expert, fixed) in combined.items():  # beside the workers' evaluation and plots
        export.write_predictions(run_dir, split, tracks, pred, expert,
                                 None if fixed is None else fixed[0].astype(np.int64),
                                 with_csv=split != "train" or config["save_train_predictions"])
    metrics.update({split: _result(job) for split, job in jobs.items()})
    summary["metrics"] = {split: metrics[split] for split in SPLITS if split in metrics}


def write_overall_plots(run_dir: Path, test: tuple, test_metrics: dict, config: dict) -> None:
    """The PNGs of all experts together in plots/, from `test` = (tracks, predictions, reference, expert,
    fixed-point (nodes, predictions) or None) of the test split (`combine_experts`), the fixed-point network
    overlaid where it exists; handed to the figure workers (in the folder when the `workers()` block ends)."""
    tracks, pred, reference, _, fixed = test
    curves = plots.fixed_point_curves(None if fixed is None else fixed[1], test_metrics.get("z_resolution_vs_z_fixed"))
    shares = offload.figure_shares()
    for share in range(shares):
        offload.submit_background(
            plots.write_split_plots, run_dir / "plots", z_to_cm(tracks.z_reco), z_to_cm(pred[:, 0]),
            z_to_cm(reference[:, 0]), test_metrics["z_resolution_vs_z"], "all experts, test",
            config["z_cut_cm"], plots.theta_degrees(tracks.reco, pred, reference),
            tracks.trigger_track_column("2DPt"), part=(share, shares), fixed=curves)


def _result(job: tuple) -> dict:
    future, arguments = job
    return offload.result(future, evaluate_with_fixed, *arguments)


def evaluated_nodes(predictions: dict, prepared: dict, split: str) -> dict[int, tuple]:
    """Per expert, (fixed-point network, its output nodes of the split's rows in row order) from the expert's
    predictions (`SplitPredictions`), where it has them: `combine_experts` puts each expert's rows in row order."""
    known = {}
    for x, split_predictions in predictions.items():
        nodes = getattr(split_predictions, "fixed_nodes", {}).get(split)
        if nodes is not None:
            order = np.argsort(prepared[x].splits[split].row, kind="stable")
            known[x] = (split_predictions.fixed_network, nodes[order])
    return known
