"""Apply a finished run to new data: `python -m neuro_trigger.predict RUN_DIR FILE [FILE ...]
[--out OUT.csv] [--filter EXPR] [--checkpoint best|last] [--fixed-point] [--json]`.

Every row goes to its expert (by the `Expert` column, or to the run's single -1 network); the
metrics compare the run with the files' old-network columns, per expert and overall. With
`--fixed-point` the networks also run in the FPGAs' arithmetic (SPEC 10): `PredZFix` and
`PredThetaFix` columns and the `_fixed` metrics.
"""
import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

from neuro_trigger import config as config_lib
from neuro_trigger.atomic import atomic_path, finite_json
from neuro_trigger.cli import run_cli
from neuro_trigger.data import io
from neuro_trigger.data.filters import parse_filter
from neuro_trigger.errors import UserError
from neuro_trigger.evaluation.fixed_twins import fixed_point_metrics
from neuro_trigger.evaluation.metrics import evaluate
from neuro_trigger.hardware.deploy import fixed_point_predictions, not_deployable_reason
from neuro_trigger.hardware.fixed_point import DEFAULT_PRECISION
from neuro_trigger.inference import load_networks, predict
from neuro_trigger.runs.export import prediction_columns

SHOWN = ["rows", "loss_vs_old", "z_diff_std", "z_diff_std_old", "z_diff_std_trimmed", "z_diff_std_trimmed_old",
         "efficiency", "efficiency_old", "rejection", "rejection_old"]
SHOWN_FIXED = ["z_diff_std_fixed", "z_diff_std_trimmed_fixed", "efficiency_fixed", "z_float_vs_fixed_max_cm"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m neuro_trigger.predict", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="a finished run folder, e.g. log/baseline_v2/version_0")
    parser.add_argument("files", nargs="+", help="neuroresults files to predict (concatenated in order)")
    parser.add_argument("--out", type=Path, help="write the rows with PredZ, PredTheta (scaled) and "
                                                  "PredZ_cm, PredTheta_deg appended")
    parser.add_argument("--filter", default=None, help="filter expression (default: the run's own filter)")
    parser.add_argument("--checkpoint", choices=["best", "last"], default="best")
    parser.add_argument("--fixed-point", action="store_true",
                        help="also evaluate in the FPGA fixed-point arithmetic at the run's precision "
                             "(deployable runs only): PredZFix, PredThetaFix columns and *_fixed metrics")
    parser.add_argument("--json", action="store_true", help="print one JSON object with the metrics")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*is deprecated")

    config, networks = load_networks(args.run_dir, args.checkpoint)
    if args.fixed_point:
        _check_deployable(args.run_dir, networks)
    data_filter = parse_filter(args.filter if args.filter is not None else config["filter"])
    tracks = data_filter.apply(io.read_files(args.files))
    pred, used = predict(networks, tracks)
    fixed = None
    if args.fixed_point:
        precision_of = {x: config_lib.for_expert(config, x).get("precision", DEFAULT_PRECISION) for x in networks}
        fixed = fixed_point_predictions(networks, tracks.inputs, used, precision_of)
    predicted = used != -2
    untrained = {str(int(e)): int(c) for e, c in zip(*np.unique(tracks.expert[~predicted], return_counts=True))}
    result = {"run": str(args.run_dir), "files": args.files, "filter": repr(data_filter), "rows": len(tracks),
              "rows_predicted": int(predicted.sum()), "rows_without_trained_expert": untrained,
              "experts": {}, "overall": None}
    for expert in sorted(networks):
        rows = used == expert
        result["experts"][f"expert_{expert}"] = _metrics(rows, pred, fixed, tracks, config["z_cut_cm"])
    if predicted.any():
        result["overall"] = _metrics(predicted, pred, fixed, tracks, config["z_cut_cm"])
    if args.out:
        with atomic_path(args.out) as tmp:
            io.write_file(tmp, tracks, extra=prediction_columns(pred, None if fixed is None else fixed[0]))
        result["out"] = str(args.out)
    if args.json:
        print(json.dumps(finite_json(result)))
    else:
        _print(result)
    return 0


def _check_deployable(run_dir: Path, networks: dict) -> None:
    for expert, network in sorted(networks.items()):
        reason = not_deployable_reason(network)
        if reason:
            raise UserError(f"{run_dir}: --fixed-point needs a deployable network; expert_{expert} is {reason}")


def _metrics(rows: np.ndarray, pred: np.ndarray, fixed, tracks, z_cut_cm: float) -> dict:
    """Float metrics of the selected rows, plus the fixed-point twins when `fixed` (nodes, predictions) is given."""
    metrics = evaluate(pred[rows], tracks.reco[rows], tracks.old[rows], z_cut_cm)
    if fixed is not None:
        metrics.update(fixed_point_metrics(fixed[1][rows], pred[rows], tracks.reco[rows], tracks.old[rows], z_cut_cm))
    return metrics


def _print(result: dict) -> None:
    print(f"{result['rows']} rows, {result['rows_predicted']} predicted")
    if result["rows_without_trained_expert"]:
        print("rows of experts this run did not train (not predicted): "
              + ", ".join(f"expert {e}: {n}" for e, n in result["rows_without_trained_expert"].items()))
    shown = SHOWN + (SHOWN_FIXED if result["overall"] and "z_diff_std_fixed" in result["overall"] else [])
    print("scope      " + "  ".join(f"{name:>14}" for name in shown))
    for scope, metrics in [*result["experts"].items(), ("overall", result["overall"])]:
        if metrics:
            print(f"{scope:<10} " + "  ".join(f"{metrics.get(name, float('nan')):>14.4g}" for name in shown))


if __name__ == "__main__":
    sys.exit(run_cli(main))
