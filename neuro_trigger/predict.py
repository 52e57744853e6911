"""Apply a finished run to new data: `python -m neuro_trigger.predict RUN_DIR FILE [FILE ...]
[--out OUT.csv] [--filter EXPR] [--checkpoint best|last] [--fixed-point] [--json]`, or
`python -m neuro_trigger.predict RUN_DIR --precision-profile [--bit-scan]`.

Every row goes to its expert (by the `Expert` column, or to the run's single -1 network); the
metrics compare the run with the files' old-network columns, per expert and overall. With
`--fixed-point` the networks also run in the FPGAs' arithmetic (SPEC 10): `PredZFix` and
`PredThetaFix` columns and the `_fixed` metrics. A NeuroTrigger3DH run (SPEC-3DH) reads 3DH files and appends
PredZ PredTheta PredNNT PredSTT, the unscaled columns and, with `--fixed-point`, PredZFix ... PredSTTFix.
`--precision-profile` profiles the run's networks on its own test split against the hardware word (docs/deploying.md,
"Precision profile") into RUN_DIR/precision/ and the report; `--bit-scan` adds the scan over weight and input bits.
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
from neuro_trigger.errors import UserError, describe, user_input
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
    parser.add_argument("files", nargs="*", help="neuroresults files to predict (concatenated in order)")
    parser.add_argument("--out", type=Path, help="write the rows (real CSV for a .csv or .csv.gz name, else the input's "
                                                  "tab-separated layout) with PredZ, PredTheta (scaled) and "
                                                  "PredZ_cm, PredTheta_deg appended")
    parser.add_argument("--filter", default=None, help="filter expression (default: the run's own filter)")
    parser.add_argument("--checkpoint", choices=["best", "last"], default="best")
    parser.add_argument("--fixed-point", action="store_true",
                        help="also evaluate in the FPGA fixed-point arithmetic at the run's precision "
                             "(deployable runs only): PredZFix, PredThetaFix columns and *_fixed metrics")
    parser.add_argument("--json", action="store_true", help="print one JSON object with the metrics")
    parser.add_argument("--precision-profile", action="store_true",
                        help="instead of predicting files: per layer of every network, the ranges of weights and "
                             "pre-activations on the run's test split against the hardware word, saturated and "
                             "wrapped counts, float-vs-fixed differences; figures and JSON into RUN_DIR/precision/, "
                             "added to report.html (deployable runs only)")
    parser.add_argument("--bit-scan", action="store_true",
                        help="with --precision-profile: also the fixed-point z resolution and the tracks changed by "
                             "more than 1 cm against the weight and the input fraction bits")
    args = parser.parse_args(argv)
    cli.quiet_warnings()
    if args.precision_profile or args.bit_scan:
        if args.files or args.out or args.filter is not None or args.fixed_point or args.json:
            raise UserError("--precision-profile takes only the run folder (and --checkpoint, --bit-scan): it "
                            "profiles the run's own test split")
        return _precision_profile(args.run_dir, args.checkpoint, args.bit_scan)
    if not args.files:
        raise UserError("give the files to predict after the run folder (or --precision-profile)")

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


def _hardware_networks(run_dir: Path, config: dict, networks: dict) -> tuple[dict, dict]:
    """(name -> the family's arithmetic, name -> float layers in the hardware's form) of every network, refusing
    one the hardware cannot run."""
    from neuro_trigger.config import for_expert
    from neuro_trigger.hardware import deploy_3dh
    from neuro_trigger.hardware.deploy import not_deployable_reason
    from neuro_trigger.evaluation import precision_profile as profile_lib
    from neuro_trigger.hardware import deploy
    from neuro_trigger.hardware.fixed_point import DEFAULT_PRECISION

    arithmetic_of, layers_of = {}, {}
    for expert, network in sorted(networks.items()):
        name = f"expert_{expert}"
        if config.get("family") == THREE_DH.name:
            name = "network"
            reason = deploy_3dh.not_deployable_reason(network)
            arithmetic_of[name], layers_of[name] = profile_lib.ThreeDHArithmetic(), deploy_3dh.layers_of(network)
        else:
            reason = not_deployable_reason(network)
            weights = {} if reason else deploy.basf2_weights(network)
            layers_of[name] = [(weights[f"model.net.{k}.weight"], weights[f"model.net.{k}.bias"]) for k in (0, 2)] \
                if weights else []
            arithmetic_of[name] = profile_lib.ClassicArithmetic(for_expert(config, expert).get("precision",
                                                                                                DEFAULT_PRECISION))
        if reason:
            raise UserError(f"{run_dir}: --precision-profile needs networks the hardware runs; {name} is {reason}")
    return arithmetic_of, layers_of


def _precision_profile(run_dir: Path, checkpoint: str, with_scan: bool) -> int:
    """The precision profile (and bit-width scan) of a run's networks on its test split: into RUN_DIR/precision/,
    report.html written again with it, the saturation table printed."""
    from rich.table import Table

    from neuro_trigger.atomic import write_text
    from neuro_trigger.compare import console
    from neuro_trigger.constants import FIXED_PREDICTION_COLUMNS, INPUT_COLUMNS, z_to_cm
    from neuro_trigger.data.families import THREE_DH_TARGETS, three_dh_input_columns
    from neuro_trigger.data.filters import rows_of
    from neuro_trigger.evaluation import metrics_3dh, precision_plots, precision_profile as profile_lib, report
    from neuro_trigger.evaluation.precision_scan import bit_scan
    from neuro_trigger.inference import load_networks
    from neuro_trigger.runs import export, export_3dh

    summary = read_summary(run_dir)
    config, networks = load_networks(run_dir, checkpoint)
    arithmetic_of, layers_of = _hardware_networks(run_dir, config, networks)
    three_dh = config.get("family") == THREE_DH.name
    inputs = three_dh_input_columns(config["in_size"]) if three_dh else INPUT_COLUMNS
    targets = list(THREE_DH_TARGETS) if three_dh else ["RecoZ"]
    fixed = export_3dh.FIXED_COLUMNS if three_dh else FIXED_PREDICTION_COLUMNS  # every deployable run has them
    columns = export.read_prediction_columns(run_dir, "test", [*inputs, *targets, *fixed,
                                                               *([] if three_dh else ["Expert"])])
    x = np.stack([columns[c] for c in inputs], 1).astype(np.float32)  # the float32 values the networks saw
    rows = {name: np.ones(len(x), bool) if three_dh else rows_of(int(name.split("_", 1)[1]), columns["Expert"])
            for name in layers_of}
    inputs_of = {name: x[r] for name, r in rows.items()}
    # the fixed-point outputs the run recorded, of its best networks: what the profile must reproduce bit for bit
    recorded = {name: np.stack([columns[c][r] for c in fixed], 1) for name, r in rows.items()} \
        if checkpoint == "best" else None
    if three_dh:
        def z_cm(out: np.ndarray) -> np.ndarray:
            return metrics_3dh.physics(out, config["output_scale"])[:, 0]
        reco = np.stack([columns[c] for c in targets], 1)
    else:
        def z_cm(out: np.ndarray) -> np.ndarray:
            return z_to_cm(out[:, 0])
        reco = columns["RecoZ"][:, None]
    z_reco = np.concatenate([z_cm(reco[r]) for r in rows.values()])
    result = {"family": config.get("family", "classic"), "split": "test", "checkpoint": checkpoint,
              "description": f"test split ({len(x)} tracks), {checkpoint} checkpoint; counts are values (tracks x "
                             f"nodes) in the hardware's arithmetic",
              **profile_lib.profile(arithmetic_of, layers_of, inputs_of, recorded)}
    scan = bit_scan(result["family"], arithmetic_of, layers_of, inputs_of, z_reco, z_cm) if with_scan else None
    folder = run_dir / precision_plots.FOLDER
    try:
        paths = precision_plots.write(folder, result, scan, f"{summary.get('config_name', '')} {run_dir.name}")
        write_text(run_dir / "report.html", report.render({**summary, "run_dir": str(run_dir)}, report.images_of(run_dir, summary)))
    except OSError as e:
        raise UserError(f"{folder}: cannot write the precision profile ({describe(e)})") from None
    table = Table(*precision_plots.TABLE_COLUMNS, title=f"precision profile, {result['description']}")
    for row in precision_plots.table_rows(result):
        table.add_row(*row)
    console().print(table)
    mismatches = {name: n["twin_mismatches"] for name, n in result["networks"].items() if "twin_mismatches" in n}
    if mismatches:
        print(f"fixed point at the hardware's precision against the run's {', '.join(fixed)}: "
              + ", ".join(f"{name} {n} of {result['networks'][name]['rows']} tracks differ" for name, n in
                          mismatches.items()))
    for path in paths:
        print(f"wrote {path}")
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
