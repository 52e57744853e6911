"""Apply a finished run to new data: `python -m neuro_trigger.predict RUN_DIR FILE [FILE ...]
[--out OUT.csv] [--filter EXPR] [--checkpoint best|last] [--fixed-point] [--json]`.

Every row goes to its expert (by the `Expert` column, or to the run's single -1 network); the
metrics compare the run with the files' old-network columns, per expert and overall. With
`--fixed-point` the networks also run in the FPGAs' arithmetic (SPEC 10): `PredZFix` and
`PredThetaFix` columns and the `_fixed` metrics. A NeuroTrigger3DH run (SPEC-3DH) reads 3DH files and appends
PredZ PredTheta PredNNT PredSTT, the unscaled columns and, with `--fixed-point`, PredZFix ... PredSTTFix.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
from rich.console import Console

from neuro_trigger import cli
from neuro_trigger.atomic import atomic_path, finite_json
from neuro_trigger.data import files_3dh, io
from neuro_trigger.data.families import THREE_DH
from neuro_trigger.data.filters import parse_filter
from neuro_trigger.errors import UserError, user_input
from neuro_trigger.evaluation import verdict_3dh
from neuro_trigger.evaluation.fixed_twins import evaluate_split_3dh, evaluate_with_fixed, twin_predictions
from neuro_trigger.evaluation.verdict import Verdict, rich_table, scope_name, verdict_of
from neuro_trigger.runs.record import read_summary

# torch and what needs it (inference, hardware, runs.export*) are imported once the arguments are checked, so a
# typo or a missing path is answered in about a second, as by main.py


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m neuro_trigger.predict", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="a run folder, e.g. log/baseline_v2/version_0 (an unfinished "
                                                    "one is used with a warning)")
    parser.add_argument("files", nargs="+", help="neuroresults files to predict (concatenated in order)")
    parser.add_argument("--out", type=Path, help="write the rows (real CSV for a .csv or .csv.gz name, else the input's "
                                                  "tab-separated layout) with PredZ, PredTheta (scaled) and "
                                                  "PredZ_cm, PredTheta_deg appended")
    parser.add_argument("--filter", default=None, help="filter expression (default: the run's own filter)")
    parser.add_argument("--checkpoint", choices=["best", "last"], default="best")
    parser.add_argument("--fixed-point", action="store_true",
                        help="also evaluate in the FPGA fixed-point arithmetic at the run's precision "
                             "(deployable runs only): PredZFix, PredThetaFix columns and *_fixed metrics")
    parser.add_argument("--json", action="store_true", help="print one JSON object with the metrics")
    args = parser.parse_args(argv)
    cli.quiet_warnings()

    if args.out is not None:
        if not args.out.parent.is_dir():
            raise UserError(f"--out {args.out}: folder {args.out.parent} does not exist")
        cli.check_output_is_no_input("--out", args.out, [*map(Path, args.files), args.run_dir])
    summary = read_summary(args.run_dir)
    for path in args.files:
        io.check_data_file(Path(path))
    if args.filter is not None:
        with user_input("--filter"):
            parse_filter(args.filter)
    from neuro_trigger.inference import load_networks, predict, unfinished_warning
    from neuro_trigger.runs.export import prediction_columns

    run_status, warning = summary.get("status"), unfinished_warning(args.run_dir, summary)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    config, networks = load_networks(args.run_dir, args.checkpoint)
    if config.get("family") == THREE_DH.name:
        return _main_3dh(args, config, networks, {"run_status": run_status, "warning": warning})
    if args.fixed_point:
        _check_deployable(args.run_dir, networks)
    with user_input("--filter"):
        data_filter = parse_filter(args.filter if args.filter is not None else config["filter"])
    tracks = data_filter.apply(io.read_files(args.files))
    pred, used = predict(networks, tracks)
    fixed = twin_predictions(networks, config, tracks.inputs, used) if args.fixed_point else None
    predicted = used != -2
    untrained = {str(int(e)): int(c) for e, c in zip(*np.unique(tracks.expert[~predicted], return_counts=True))}
    result = {"run": str(args.run_dir), "files": args.files, "filter": repr(data_filter), "rows": len(tracks),
              "rows_predicted": int(predicted.sum()), "rows_without_trained_expert": untrained,
              "experts": {}, "overall": None, "run_status": run_status, "warning": warning}
    for expert in sorted(networks):
        rows = used == expert
        result["experts"][f"expert_{expert}"] = _metrics(rows, pred, fixed, tracks, config["z_cut_cm"])
    if predicted.any():
        result["overall"] = _metrics(predicted, pred, fixed, tracks, config["z_cut_cm"])
    if args.out:
        with user_input(f"--out {args.out}"), atomic_path(args.out) as tmp:
            io.write_file(tmp, tracks, extra=prediction_columns(pred, None if fixed is None else fixed[0]),
                          compress=args.out.suffix == ".gz", csv=io.is_csv_name(args.out))
        result["out"] = str(args.out)
    result["verdict"] = {v.scope.replace(" ", "_"): v.sentence for _, v in _verdicts(result)}
    if args.json:
        print(json.dumps(finite_json(result)))
    else:
        _print(result)
    return 0


def _main_3dh(args: argparse.Namespace, config: dict, networks: dict, status: dict) -> int:
    """predict for a NeuroTrigger3DH run: one network, its figures per output (float, and with --fixed-point the
    hardware's, bit for bit), the rows in the 3DH layout with PredZ..PredSTT, PredZFix..PredSTTFix and the
    unscaled columns appended."""
    from neuro_trigger.hardware import deploy_3dh
    from neuro_trigger.inference import predict
    from neuro_trigger.runs import export_3dh

    network = networks[-1]
    twin = deploy_3dh.fixed_point_network(network) if args.fixed_point else None
    if args.fixed_point and twin is None:
        raise UserError(f"{args.run_dir}: --fixed-point needs a deployable network; the run's is "
                        f"{deploy_3dh.not_deployable_reason(network)}")
    with user_input("--filter"):
        data_filter = parse_filter(args.filter if args.filter is not None else config["filter"])
    tracks = data_filter.apply(io.read_files(args.files))
    if tracks.family != THREE_DH.name or tracks.inputs.shape[1] != config["in_size"]:
        raise UserError(f"{args.files[0]}: a {tracks.family} file with {tracks.inputs.shape[1]} inputs; the run's "
                        f"network is 3dh with {config['in_size']} inputs")
    pred = predict(networks, tracks)[0]
    settings = (config["output_scale"], config["classification_cut"])
    metrics, nodes = evaluate_split_3dh(pred, twin, tracks.inputs, tracks.reco, tracks.old, settings)
    result = {"run": str(args.run_dir), "files": args.files, "filter": repr(data_filter), "rows": len(tracks),
              "metrics": metrics, **status}
    if args.out:
        with user_input(f"--out {args.out}"), atomic_path(args.out) as tmp:
            files_3dh.write_file(tmp, tracks, extra=export_3dh.prediction_columns(pred, nodes, config["output_scale"]),
                                 csv=io.is_csv_name(args.out))
        result["out"] = str(args.out)
    if args.json:
        print(json.dumps(finite_json(result)))
    else:
        print("\n".join(verdict_3dh.lines({"metrics": {"these files": metrics}}, "these files")))
    return 0


def _verdicts(result: dict) -> list[tuple[int, Verdict]]:
    """(rows, verdict) per expert and overall, where rows were predicted."""
    scopes = [*result["experts"].items(), ("overall", result["overall"])]
    return [(metrics["rows"], verdict_of(metrics, scope_name(scope))) for scope, metrics in scopes
            if metrics and metrics.get("rows")]


def _check_deployable(run_dir: Path, networks: dict) -> None:
    from neuro_trigger.hardware.deploy import not_deployable_reason

    for expert, network in sorted(networks.items()):
        reason = not_deployable_reason(network)
        if reason:
            raise UserError(f"{run_dir}: --fixed-point needs a deployable network; expert_{expert} is {reason}")


def _metrics(rows: np.ndarray, pred: np.ndarray, fixed, tracks, z_cut_cm: float) -> dict:
    """Float metrics of the selected rows, plus the fixed-point twins when `fixed` (nodes, predictions) is given."""
    return evaluate_with_fixed(pred[rows], None if fixed is None else fixed[1][rows], tracks.reco[rows],
                               tracks.old[rows], z_cut_cm)


def _print(result: dict) -> None:
    print(f"{result['rows']} rows, {result['rows_predicted']} predicted")
    if result["rows_without_trained_expert"]:
        print("rows of experts this run did not train (not predicted): "
              + ", ".join(f"expert {e}: {n}" for e, n in result["rows_without_trained_expert"].items()))
    verdicts = _verdicts(result)
    console = Console()
    for rows, verdict in verdicts:
        console.print(rich_table(verdict, f"{rows} rows of these files"))
    for _, verdict in verdicts:
        console.print(verdict.sentence, highlight=False, markup=False, soft_wrap=True)


if __name__ == "__main__":
    sys.exit(cli.run_cli(main))
