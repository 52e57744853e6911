"""Train the NeuroTrigger experts: `python neuro_trigger/main.py CONFIG [-p] [-s] [-d DESCRIPTION] [-m KEY=VALUE ...]`;
continue a run (`--resume RUN_DIR`) or upload finished ones to an MLflow server (`--sync RUN ...`).

Only this file touches argparse; user mistakes become one line on stderr and exit code 2. The
config, the overrides and the paths are checked before torch and Lightning are imported, so a
typo is answered in about a second.
"""
import argparse
import shlex
import sys
import time
from pathlib import Path

PROCESS_START = time.time()

if __package__ in (None, ""):  # run as a script: make the package importable without PYTHONPATH
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neuro_trigger import config as config_lib  # noqa: E402
from neuro_trigger import cli  # noqa: E402
from neuro_trigger.api import training  # noqa: E402
from neuro_trigger.configs import configs  # noqa: E402
from neuro_trigger.errors import CONTROL_CHARACTERS, UserError, phase, printable  # noqa: E402

EPILOG = """available configs:
{configs}

examples:
  python neuro_trigger/main.py baseline_v2                 debug run (/tmp/nt_pytorch_debug_log, expert -1, few epochs)
  python neuro_trigger/main.py baseline_v2 -p -d "first"   production run of all five experts into log/
  python neuro_trigger/main.py reweight_normal -p -m expert_2.batch_size=16 act=softsign dist.n_buckets=21
  python neuro_trigger/main.py baseline_v2 -p --data train.gz val.gz test1.gz,test2.gz
  python neuro_trigger/main.py baseline_v2 -p --seeds 8                 8 seeds of every expert, trained together
  python neuro_trigger/main.py --sync log/baseline_v2/version_3 --tracking-uri http://127.0.0.1:5000
  python neuro_trigger/main.py --draw log/baseline_v2/version_7          the plots of a sweep trial, into its report
"""


def build_parser() -> argparse.ArgumentParser:
    listing = "\n".join(f"  {name:<26} {c.get('description', '')}" for name, c in configs.items())
    parser = argparse.ArgumentParser(
        prog="python neuro_trigger/main.py", description="Train the NeuroTrigger expert networks.",
        epilog=EPILOG.format(configs=listing), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", nargs="?", help="name of a config in neuro_trigger/configs.py")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR",
                        help="continue an interrupted, failed or killed run (log/<config>/version_<n>) "
                             "from each expert's last checkpoint")
    parser.add_argument("--sync", nargs="+", type=Path, metavar="RUN",
                        help="upload run folders (or config folders, a sweep folder, a log root) to an MLflow server, "
                             "sending only what it does not hold yet: the server of --tracking-uri, else the one "
                             "each run's record names, else MLFLOW_TRACKING_URI (docs/tracking.md)")
    parser.add_argument("--draw", type=Path, nargs="+", metavar="RUN_DIR",
                        help="draw the plots of finished runs made without them (sweep trials) and put them into "
                             "their report.html")
    parser.add_argument("-p", "--production", action="store_true",
                        help="production run into log/ (default: debug run into /tmp/nt_pytorch_debug_log)")
    parser.add_argument("-s", "--solo_expert", action="store_true",
                        help="train one network on all rows (expert -1) instead of the five experts")
    parser.add_argument("-d", "--description", default=None,
                        help="one-line description of the run (asked for in production runs on a terminal)")
    parser.add_argument("-m", "--modify", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                        help="override config keys with dotted paths; values are Python/JSON literals, "
                             "else strings (e.g. expert_2.batch_size=16 act=softsign dist.n_buckets=21); "
                             "-m may be repeated")
    cli.add_data_option(parser)
    parser.add_argument("--seeds", type=int, default=None, metavar="K",
                        help="train K copies of every expert together, seeds SEED .. SEED+K-1 (same as "
                             "-m pack.seeds=K); weights.json gets each expert's best copy, summary.json the spread")
    parser.add_argument("--log-root", type=Path, default=None, help="write the run folder below this folder")
    parser.add_argument("--tracking-uri", default=None, metavar="URI",
                        help="also send the run to this MLflow server as it trains (else the config key "
                             "tracking_uri, else MLFLOW_TRACKING_URI; docs/tracking.md)")
    return parser


def description_of(args: argparse.Namespace) -> str:
    """The -d text; in production runs on a terminal without -d, ask for it."""
    if args.description is not None:
        return args.description
    if args.production and sys.stdin is not None and sys.stdin.isatty():
        try:
            return input("Run description: ").strip()
        except EOFError:
            return ""
    return ""


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    phase("startup")
    interactive = sys.stderr is not None and sys.stderr.isatty()
    if args.sync:
        return sync(args)
    if args.draw is not None:
        return draw(args)
    if args.resume is not None:
        if args.config or args.modify or args.data or args.log_root or args.seeds is not None or args.tracking_uri:
            raise UserError("--resume takes only the run folder: the run's own config and data are used")
        try:
            run_dir, code = training.resume_run(args.resume, interactive)
        except KeyboardInterrupt:  # stopped before it trained again: the folder is as it was
            print(resume_command(args.resume))
            raise
    else:
        run_dir, code = training.train_run(
            args.config, config_lib.parse_overrides(args.modify) if args.config else {},
            data=cli.data_files(args.data), seeds=args.seeds, log_dir=args.log_root, production=args.production,
            solo_expert=args.solo_expert, description=lambda: description_of(args), process_start=PROCESS_START,
            interactive=interactive, tracking_uri=args.tracking_uri)
    from neuro_trigger.evaluation.verdict import print_run_verdict
    from neuro_trigger.runs.record import try_read_summary

    print_run_verdict(try_read_summary(run_dir)[0] or {}, console=cli.stdout_console())
    print(f"run folder: {printable(str(run_dir), None)}")
    if code not in (0, 2):
        print(resume_command(run_dir))
    return code


def sync(args: argparse.Namespace) -> int:
    """`--sync RUN ...`: each run folder uploaded, its MLflow run id printed."""
    if args.config or args.resume or args.modify or args.data or args.log_root or args.seeds is not None \
            or args.production or args.solo_expert or args.description is not None or args.draw is not None:
        raise UserError("--sync takes only run folders (and --tracking-uri): what a run holds is uploaded as it is")
    cli.quiet_warnings()
    from neuro_trigger.api.tracking import sync_run
    from neuro_trigger.runs.record import find_named_runs

    for run in find_named_runs(args.sync):
        run_id = sync_run(run.path, args.tracking_uri)
        print(f"{printable(str(run.path), None)}: MLflow run {run_id}")
    return 0


def draw(args: argparse.Namespace) -> int:
    """`--draw RUN_DIR ...`: each run's plots and report.html, one line per run."""
    if args.config or args.resume or args.modify or args.data or args.log_root or args.seeds is not None \
            or args.tracking_uri or args.production or args.solo_expert or args.description is not None:
        raise UserError("--draw takes only run folders: each run's own config, data and weights are used")
    missing = next((p for p in args.draw if not (p / "summary.json").is_file()), None)
    if missing is not None:
        raise UserError(f"--draw {missing}: not a run folder (no summary.json)")
    from neuro_trigger.inference import draw_figures

    for run_dir in args.draw:
        images = draw_figures(run_dir)
        report = printable(str(run_dir / "report.html"), None)
        print(f"{printable(str(run_dir), None)}: {len(images)} plots, report {report}")
    return 0


def resume_command(run_dir: Path) -> str:
    """The line that continues a run, ready to paste into a shell whatever the folder's name holds."""
    return f"to continue it: python neuro_trigger/main.py --resume {shell_word(str(run_dir))}"


def shell_word(text: str) -> str:
    """`text` quoted for a POSIX shell (shlex.quote); with control characters, which must not reach the
    terminal raw, as bash's $'...' with escapes."""
    if not CONTROL_CHARACTERS.search(text):
        return shlex.quote(text)
    return "$'" + text.encode("unicode_escape").decode("ascii").replace("'", "\\'") + "'"


if __name__ == "__main__":
    cli.exit_without_teardown(cli.run_cli(main))
