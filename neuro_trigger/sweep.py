"""Sweeps: `python neuro_trigger/sweep.py CONFIG -m KEY=V1,V2 ... [--seeds N] [--workers N]`.

Every trial is a normal run folder `log/<config>/version_<n>`; the sweep (an Optuna study) lives in
`log/sweeps/<name>/`. Only this file touches argparse; user mistakes become one line and exit code 2. It is a
thin layer over `api/sweeping.py`, which `nt.sweep` runs too.
"""
import argparse
import json
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the package importable without PYTHONPATH
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neuro_trigger import cli  # noqa: E402
from neuro_trigger.api import sweeping  # noqa: E402
from neuro_trigger.errors import UserError  # noqa: E402
from neuro_trigger.sweeping.space import Space  # noqa: E402
from neuro_trigger.sweeps import sweeps as NAMED_SWEEPS  # noqa: E402

EPILOG = """named sweeps (neuro_trigger/sweeps.py):
{sweeps}

examples:
  python neuro_trigger/sweep.py baseline_v2 -m learning_rate=0.01,0.02 batch_size=512,2048 --seeds 3 --workers 2
  python neuro_trigger/sweep.py baseline_v2 -m learning_rate=0.005,0.01,0.02,0.04 --seeds 4 --pack 8
  python neuro_trigger/sweep.py baseline_v2 --method tpe --trials 40 -m "learning_rate=log(1e-4,1e-1)"
  python neuro_trigger/sweep.py learning_rate_v2 --storage postgresql://USER@HOST:5432/DB   (password: ~/.pgpass)
  python neuro_trigger/sweep.py --repair learning_rate_v2
  python neuro_trigger/sweep.py learning_rate_v2 --slurm partition=short,time=120,cpus=4,mem=8G --workers 8
  python neuro_trigger/sweep.py --status learning_rate_v2
"""


def build_parser() -> argparse.ArgumentParser:
    listing = "\n".join(f"  {name:<26} {s.get('description', '')}" for name, s in NAMED_SWEEPS.items())
    parser = argparse.ArgumentParser(
        prog="python neuro_trigger/sweep.py", description="Sweep configs and seeds: many runs, one Optuna study.",
        epilog=EPILOG.format(sweeps=listing), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", nargs="?", help="a config of configs.py, or a named sweep of sweeps.py")
    parser.add_argument("-m", "--modify", nargs="+", action="extend", default=[], metavar="KEY=VALUES",
                        help="KEY=V1,V2,... spans a grid; KEY=log(a,b) | float(a,b) | int(a,b) | choice(a,b,...) "
                             "is a range for random/TPE search; KEY=VALUE a plain override (values are literals)")
    parser.add_argument("--seeds", type=int, default=None, help="repeat every point with seeds seed, seed+1, ...")
    parser.add_argument("--method", choices=["grid", "random", "tpe"], default=None, help="default: grid")
    parser.add_argument("--trials", type=int, default=None,
                        help="random/TPE: stop at this many finished trials (run folders; seeds count)")
    parser.add_argument("--metric", default=None, help="SPLIT/NAME of summary.json (default val/loss_vs_old; "
                        "3dh: val/loss)")
    parser.add_argument("--direction", choices=["minimize", "maximize"], default=None,
                        help="default: maximize for efficiency and rejection, else minimize")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (local) or SLURM array tasks")
    parser.add_argument("--pack", type=int, default=None, metavar="K",
                        help="train up to K trials that differ only in seed, learning rate or weight decay "
                             "together (one vectorised module); each keeps its own run folder and result")
    parser.add_argument("--storage", default=None, metavar="URL",
                        help="postgresql://USER@HOST:PORT/DB to share the sweep between machines (default: a "
                             "journal file in the sweep folder); the password from ~/.pgpass, PGPASSFILE, "
                             "PGPASSWORD or --storage-password-file")
    parser.add_argument("--storage-password-file", type=Path, default=None, metavar="FILE",
                        help="the database password on the first line of FILE (mode 600); never written anywhere")
    parser.add_argument("--slurm", default=None, metavar="KEY=VALUE,...",
                        help="submit the workers as a SLURM job array: partition, time, cpus, mem, gpus, account, "
                             "qos (cluster=local: submitit's local executor)")
    parser.add_argument("--tracking-uri", default=None, metavar="URI",
                        help="send the sweep to this MLflow server: one parent run, its trials as child runs "
                             "(else MLFLOW_TRACKING_URI; docs/tracking.md)")
    parser.add_argument("--status", metavar="NAME", help="show the progress of a sweep and update its report")
    parser.add_argument("--resume", metavar="NAME", help="continue a sweep (same as rerunning its command)")
    parser.add_argument("--repair", metavar="NAME", help="keep every intact record of a sweep's damaged journal "
                        "(a backup of the damaged file is written first), then continue it with --resume")
    parser.add_argument("--json", action="store_true", help="with --status: print one JSON object")
    parser.add_argument("--draw-best", type=int, default=None, metavar="N",
                        help="trials are made without plots; at the end draw those of the N best (default 1; "
                             "any other: python neuro_trigger/main.py --draw RUN_DIR)")
    cli.add_data_option(parser)
    parser.add_argument("--log-root", type=Path, default=None, help="runs and log/sweeps/ below this folder")
    parser.add_argument("--name", default=None, help="name of the sweep (default: the named sweep, or config_<hash>)")
    return parser


def _repair(sweep_dir: Path, storage_url: str | None) -> int:
    """`--repair NAME`: the journal's intact records kept, the damaged file backed up beside it."""
    from neuro_trigger.sweeping import journal, study as study_lib

    if storage_url is not None:
        raise UserError(f"--repair {sweep_dir.name}: the sweep's study is in the database "
                        f"{study_lib.shown_url(storage_url)}, not in a journal file; nothing to repair")
    path = sweep_dir / journal.FILE
    repaired = journal.repair(path) if path.is_file() else None
    if repaired is None:
        print(f"{path}: the journal is whole; nothing to repair")
        return 0
    found, backup = repaired
    more = f", and {len(found.problems) - 1} more problem(s)" if len(found.problems) > 1 else ""
    print(f"{path}: kept {len(found.records)} intact records ({found.problems[0]}{more}); the damaged file is "
          f"{backup}; continue with: python neuro_trigger/sweep.py --resume {sweep_dir.name} "
          f"--log-root {sweep_dir.parent.parent}")
    return 0


def _status(sweep_dir: Path, storage_url: str | None, as_json: bool) -> int:
    """`--status NAME`: the sweep's progress, and its report brought up to date."""
    from neuro_trigger.sweeping import report, study as study_lib

    study_lib.open_storage(sweep_dir, storage_url)  # an unreachable database is one line, as for a run
    result = report.status(sweep_dir, storage_url)
    result["report"] = str(report.write_report(sweep_dir, storage_url))
    if as_json:
        print(json.dumps(result, default=str))
    else:
        report.print_status(result, sys.stdout)
        print(f"report: {result['report']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cli.quiet_warnings()
    from neuro_trigger.runs.folder import PRODUCTION_LOG_ROOT

    log_root = (args.log_root or PRODUCTION_LOG_ROOT).resolve()
    actions = [a for a in ("status", "resume", "repair") if getattr(args, a)]
    if len(actions) > 1:
        raise UserError(f"--{actions[0]} and --{actions[1]}: give one of them")
    existing = args.status or args.resume or args.repair
    if existing:
        if args.config or args.modify or args.data or args.name or args.seeds or args.method or args.trials \
                or args.metric or args.direction or (not args.resume and args.pack is not None):
            raise UserError(f"--{actions[0]} takes only the sweep name "
                            f"(and --storage, --workers, --slurm, --log-root)")
        sweep_dir, definition = sweeping.existing(existing, log_root)
        storage_url = args.storage or definition.extra.get("storage")
        if args.repair:
            return _repair(sweep_dir, storage_url)
        if args.status:
            from neuro_trigger.sweeping import study as study_lib

            return _status(sweep_dir, study_lib.private_url(storage_url, args.storage_password_file), args.json)
    else:
        if not args.config:
            raise UserError("no config or named sweep given; see --help")
        if args.workers < 1:
            raise UserError(f"--workers {args.workers}: expected a number >= 1")
        definition = sweeping.define(
            args.config, Space.parse(args.modify), seeds=args.seeds, method=args.method, trials=args.trials,
            metric=args.metric, direction=args.direction, data=cli.data_files(args.data), log_root=log_root,
            name=args.name, storage=args.storage, argv=sys.argv[1:])
        sweep_dir = log_root / "sweeps" / definition.name
        storage_url = args.storage
    done = sweeping.sweep_run(definition, sweep_dir, resume=bool(args.resume), workers=args.workers, pack=args.pack,
                              storage=storage_url, storage_password_file=args.storage_password_file,
                              slurm=args.slurm, tracking_uri=args.tracking_uri, draw_best=args.draw_best,
                              announce=lambda line: print(line, flush=True))
    if done.jobs:
        print(f"submitted job {done.jobs[0].split('_')[0]} ({len(done.jobs)} tasks: {', '.join(done.jobs)}); "
              f"progress: python neuro_trigger/sweep.py --status {definition.name}"
              + (f" --log-root {args.log_root}" if args.log_root else ""))
        return 0
    print(f"report: {done.report_path}")
    print(f"leaderboard: python -m neuro_trigger.compare {sweep_dir} --split {definition.metric.split('/')[0]}")
    return done.exit_code


if __name__ == "__main__":
    sys.exit(cli.run_cli(main))
