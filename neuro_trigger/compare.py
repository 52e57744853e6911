"""Compare runs: `python -m neuro_trigger.compare RUN [RUN ...] [--split val|test] [--metric NAME] [--wide |
--columns A,B] [--experts] [--json] [--plot OUT.png]`.

RUN is a run folder, a config folder (all its versions) or the log root (all runs).
"""
import argparse
import json
import math
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from neuro_trigger import cli
from neuro_trigger.atomic import finite_json
from neuro_trigger.errors import UserError, printable
from neuro_trigger.evaluation import metric_table
from neuro_trigger.evaluation.comparison import KEY_METRICS, compare
from neuro_trigger.evaluation.metric_table import format_pm
from neuro_trigger.runs.record import find_named_runs, read_summary


def _fmt(value, error=None, spread=None, scale: float = 1.0) -> str:
    """`value ± error` (the statistical error, rounded as the verdict and the report round it), with
    `(seeds ± spread)` of the seeds for a group; numbers times `scale` (100 for % of a fraction)."""
    if value is None or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "-"
    finite = error is not None and math.isfinite(error)
    text = format_pm(value * scale, error * scale if finite else float("nan"))
    if spread is not None and math.isfinite(spread):
        text += f" (seeds ± {spread * scale:.2g})"
    return text


def _header(name: str) -> Text:
    """A metric column's title with the unit of its numbers, from the metric table: `efficiency [%]` (as text:
    `[cm]` is no rich markup)."""
    unit = metric_table.shown_unit(name)[0]
    return Text(f"{name} [{unit}]" if unit else name)


DEFAULT_COLUMNS = ["loss_vs_old", "z_diff_std_trimmed", "efficiency", "rejection"]


def _short(path: str) -> Text:
    path = Path(path)
    return _plain(f"{path.parent.name}/{path.name}")


DESCRIPTION_LIMIT = 200  # characters of a description shown in the table (at most 7 lines of its column)


def _plain(text: str, limit: int | None = None) -> Text:
    """User text (a run's name, its description) as a table cell: never rich markup, control characters escaped,
    cut to `limit` characters."""
    return Text(printable(text, limit))


def print_table(result: dict, console: Console, columns: list[str]) -> None:
    """Every run on its own line with its description, grouped by seed group; a group of several seeds
    ends with a line of the mean (± statistical error, and the seeds' std). Fits `console.width`."""
    experts = any(row["scope"] != "overall" for row in result["rows"])
    differing = bool(result["differing_hyperparameters"])
    table = Table(title=f"{result['split']} split, sorted by {result['metric']}; value ± statistical error")
    table.add_column("run", no_wrap=True)
    table.add_column("description", overflow="fold", max_width=30)
    for name, shown in (("scope", experts), ("data", result["data_mismatch"]), ("differs", differing)):
        if shown:
            table.add_column(name, overflow="fold")
    for name in columns:
        table.add_column(_header(name), overflow="fold", justify="right")
    scale = {name: metric_table.shown_unit(name)[1] for name in columns}
    runs = {entry["run"]: entry for entry in result["runs"]}
    for row in result["rows"]:
        extra = [value for value, shown in ((row["scope"], experts), (row["data"], result["data_mismatch"]),
                                            (", ".join(f"{k}={json.dumps(v)}" for k, v in
                                                       row["hyperparameters"].items() if v is not None), differing))
                 if shown]
        for path in row["runs"]:
            metrics = runs[path]["metrics"].get(row["scope"], {})
            table.add_row(_short(path), _plain(str(runs[path]["description"] or ""), DESCRIPTION_LIMIT),
                          *map(_plain, extra),
                          *[_fmt(metrics.get(m), metrics.get(f"{m}_err"), scale=scale[m]) for m in columns])
            packed = runs[path].get("packed_seeds")
            if packed and row["scope"] == "overall":
                spread = packed["metrics"]
                table.add_row(f"  {len(packed['seeds'])} packed seeds", "mean over seeds", *map(_plain, extra),
                              *[_fmt(spread.get(m, {}).get("mean"), None, spread.get(m, {}).get("std"), scale[m])
                                for m in columns])
        if row["count"] > 1:
            table.add_row(f"[bold]mean ({row['count']} seeds)[/]", "", *map(_plain, extra),
                          *[_fmt(row[m], row[f"{m}_err"], row[f"{m}_std"], scale[m]) for m in columns],
                          end_section=True)
        else:
            table.rows[-1].end_section = True
    console.print(table)
    if result["data_mismatch"]:
        console.print(f"[bold red]warning:[/] the runs used {result['data_sets']} different data sets (column "
                      "'data'): numbers of different letters are not comparable")
    if result["fingerprinted_by_bytes"]:
        by_bytes = ", ".join(escape(_short(path).plain) for path in result["fingerprinted_by_bytes"])
        console.print(f"note: the data fingerprints were computed differently: {by_bytes} recorded only the bytes "
                      f"of their data files (a release before content fingerprints), the others the decompressed "
                      f"content; such a run counts as the same data only where the file bytes are identical",
                      soft_wrap=True)
    for run in result["unfinished"]:
        console.print(f"not finished: {escape(printable(run['runs'][0]))} (status: {escape(printable(run['status']))})",
                      soft_wrap=True)


def console() -> Console:
    """`cli.stdout_console`: the terminal's width, COLUMNS, or piped no width limit. Either way a run's name is
    never wrapped, so a script finds it whole."""
    return cli.stdout_console()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m neuro_trigger.compare", description=__doc__)
    parser.add_argument("runs", nargs="+", type=Path, help="run folders, config folders or a log root")
    parser.add_argument("--split", choices=["val", "test", "train"], default="test")
    parser.add_argument("--metric", default="loss_vs_old", choices=KEY_METRICS, help="sort by this metric")
    parser.add_argument("--experts", action="store_true", help="also one row per expert")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--plot", type=Path, help="write an overlay of resolution vs z and z_reco - z_pred")
    parser.add_argument("--wide", action="store_true", help="show every metric column (default: "
                        + ", ".join(DEFAULT_COLUMNS) + ")")
    parser.add_argument("--columns", help="comma-separated metric columns to show, of: " + ", ".join(KEY_METRICS))
    args = parser.parse_args(argv)
    columns = KEY_METRICS if args.wide else DEFAULT_COLUMNS
    if args.columns:
        columns = [c.strip() for c in args.columns.split(",") if c.strip()]
        unknown = [c for c in columns if c not in KEY_METRICS]
        if unknown or not columns:
            raise UserError(f"--columns: unknown metric {unknown[0] if unknown else args.columns!r}; "
                            f"expected some of {', '.join(KEY_METRICS)}")
    if args.plot:
        cli.check_output_is_no_input("--plot", args.plot, args.runs)
    runs = find_named_runs(args.runs)
    result = compare(runs, args.split, args.metric, args.experts)
    if args.plot:
        from neuro_trigger.evaluation.overlay import write_overlay
        from neuro_trigger.runs.export import read_prediction_columns

        shown = {Path(r["runs"][0]): read_summary(r["runs"][0]) for r in result["rows"] if r["scope"] == "overall"}
        needed = ["RecoZ", "ScaleZ", "PredZ"]
        write_overlay([(f"{s.get('config_name')}/{d.name}", s["metrics"][args.split],
                        read_prediction_columns(d, args.split, needed)) for d, s in shown.items()], args.split, args.plot)
    if args.json:
        print(json.dumps(finite_json(result), default=str))
    else:
        print_table(result, console(), columns)
    return 0


if __name__ == "__main__":
    sys.exit(cli.run_cli(main))
