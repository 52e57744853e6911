"""Compare runs: `python -m neuro_trigger.compare RUN [RUN ...] [--split val|test] [--metric NAME] [--plot OUT.png]`.

RUN is a run folder, a config folder (all its versions) or the log root (all runs).
"""
import argparse
import json
import math
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from neuro_trigger.atomic import finite_json
from neuro_trigger.cli import run_cli
from neuro_trigger.errors import UserError
from neuro_trigger.evaluation.comparison import KEY_METRICS, compare, find_runs


def _fmt(value, spread=None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    text = f"{value:.4g}"
    return text + (f" ± {spread:.2g}" if spread else "")


TABLE_METRICS = ["loss_vs_old", "z_diff_std", "z_diff_std_old", "z_diff_std_trimmed", "z_diff_std_trimmed_old",
                 "efficiency", "rejection"]


def print_table(result: dict, console: Console) -> None:
    table = Table(title=f"{result['split']} split, sorted by {result['metric']}")
    for column in ["run", "n", "description", "scope", "data", "differs", *TABLE_METRICS]:
        table.add_column(column, overflow="fold")
    for row in result["rows"]:
        first = Path(row["runs"][0])
        name = f"{first.parent.name}/{first.name}" + (f" +{row['count'] - 1}" if row["count"] > 1 else "")
        differs = ", ".join(f"{k}={json.dumps(v)}" for k, v in row["hyperparameters"].items() if v is not None)
        table.add_row(name, str(row["count"]), str(row["description"] or ""), row["scope"], row["data"], differs,
                      *[_fmt(row[m], row[f"{m}_std"] if row["count"] > 1 else None) for m in TABLE_METRICS])
    console.print(table)
    if result["data_mismatch"]:
        console.print(f"[bold red]warning:[/] the runs used {result['data_sets']} different data sets (column "
                      "'data'): numbers of different letters are not comparable")
    for run in result["unfinished"]:
        console.print(f"not finished: {run['runs'][0]} (status: {run['status']})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m neuro_trigger.compare", description=__doc__)
    parser.add_argument("runs", nargs="+", type=Path, help="run folders, config folders or a log root")
    parser.add_argument("--split", choices=["val", "test", "train"], default="test")
    parser.add_argument("--metric", default="loss_vs_old", choices=KEY_METRICS, help="sort by this metric")
    parser.add_argument("--experts", action="store_true", help="also one row per expert")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--plot", type=Path, help="write an overlay of resolution vs z and z_reco - z_pred")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.runs if not p.exists()]
    if missing:
        raise UserError(f"{missing[0]}: no such run, config or log folder")
    runs = find_runs(args.runs)
    if not runs:
        raise UserError(f"{' '.join(map(str, args.runs))}: no run folders (version_<n>) found")
    result = compare(runs, args.split, args.metric, args.experts)
    if args.plot:
        from neuro_trigger.evaluation.overlay import write_overlay

        write_overlay([Path(r["runs"][0]) for r in result["rows"] if r["scope"] == "overall"], args.split, args.plot)
    if args.json:
        print(json.dumps(finite_json(result), default=str))
    else:
        print_table(result, Console(width=200))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
