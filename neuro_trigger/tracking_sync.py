"""Upload run folders to an MLflow tracking server: `python -m neuro_trigger.tracking_sync RUN [RUN ...]
[--tracking-uri URI]`.

RUN is a run folder, a config folder (all its versions), a sweep folder or the log root. What the server already
holds (a run tracked until its server failed, or synced before) is not sent again: every epoch is there once.
The server is the one given, else the one each run's record names, else MLFLOW_TRACKING_URI.
"""
import argparse
import sys
from pathlib import Path

from neuro_trigger import cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m neuro_trigger.tracking_sync", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run folders, config folders, sweep folders or a log root")
    parser.add_argument("--tracking-uri", default=None, metavar="URI", help="the MLflow server, e.g. "
                        "http://127.0.0.1:5000 (default: the one each run's record names, else MLFLOW_TRACKING_URI)")
    args = parser.parse_args(argv)
    cli.quiet_warnings()
    from neuro_trigger.api.tracking import sync_run
    from neuro_trigger.runs.record import find_named_runs

    for run in find_named_runs(args.runs):
        run_id = sync_run(run.path, args.tracking_uri)
        print(f"{run.path}: MLflow run {run_id}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run_cli(main))
