"""Train the NeuroTrigger experts: `python neuro_trigger/main.py CONFIG [-p] [-s] [-d DESCRIPTION] [-m KEY=VALUE ...]`.

Only this file touches argparse; user mistakes become one line on stderr and exit code 2.
"""
import argparse
import sys
import time
import warnings
from pathlib import Path

PROCESS_START = time.time()

if __package__ in (None, ""):  # run as a script: make the package importable without PYTHONPATH
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neuro_trigger.cli import run_cli  # noqa: E402
from neuro_trigger.config import parse_overrides  # noqa: E402
from neuro_trigger.configs import configs  # noqa: E402
from neuro_trigger.errors import UserError  # noqa: E402
from neuro_trigger.data.splits import SPLITS  # noqa: E402

EPILOG = """available configs:
{configs}

examples:
  python neuro_trigger/main.py baseline_v2                 debug run (/tmp/nt_pytorch_debug_log, expert -1, few epochs)
  python neuro_trigger/main.py baseline_v2 -p -d "first"   production run of all five experts into log/
  python neuro_trigger/main.py reweight_normal -p -m expert_2.batch_size=16 act=softsign dist.n_buckets=21
  python neuro_trigger/main.py baseline_v2 -p --data train.gz val.gz test1.gz,test2.gz
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
    parser.add_argument("-p", "--production", action="store_true",
                        help="production run into log/ (default: debug run into /tmp/nt_pytorch_debug_log)")
    parser.add_argument("-s", "--solo_expert", action="store_true",
                        help="train one network on all rows (expert -1) instead of the five experts")
    parser.add_argument("-d", "--description", default=None,
                        help="one-line description of the run (asked for in production runs on a terminal)")
    parser.add_argument("-m", "--modify", nargs="+", default=[], metavar="KEY=VALUE",
                        help="override config keys with dotted paths; values are Python/JSON literals, "
                             "else strings (e.g. expert_2.batch_size=16 act=softsign dist.n_buckets=21)")
    parser.add_argument("--data", nargs=3, metavar=("TRAIN", "VAL", "TEST"), default=None,
                        help="data files per split instead of the config's data set; "
                             "several files of one split are joined with commas")
    parser.add_argument("--log-root", type=Path, default=None, help="write the run folder below this folder")
    return parser


def description_of(args: argparse.Namespace) -> str:
    """The -d text; in production runs on a terminal without -d, ask for it."""
    if args.description is not None:
        return args.description
    if args.production and sys.stdin.isatty():
        try:
            return input("Run description: ").strip()
        except EOFError:
            return ""
    return ""


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*is deprecated")
    from neuro_trigger.run import RunRequest, execute, resolve_request, resume  # heavy imports after --help
    from neuro_trigger.runs.logs import configure_console
    from neuro_trigger.evaluation.verdict import print_run_verdict

    configure_console(interactive=sys.stderr.isatty())
    if args.resume is not None:
        if args.config or args.modify or args.data or args.log_root:
            raise UserError("--resume takes only the run folder: the run's own config and data are used")
        run_dir, code = resume(args.resume)
        print_run_verdict(run_dir)
        print(f"run folder: {run_dir}")
        return code
    if not args.config:
        raise UserError("no config given; choose one of: " + ", ".join(configs))

    data = None
    if args.data is not None:
        data = {split: [p for p in files.split(",") if p] for split, files in zip(SPLITS, args.data)}
    request = RunRequest(config_name=args.config, overrides=parse_overrides(args.modify),
                         production=args.production, solo_expert=args.solo_expert, data_files=data,
                         log_root=args.log_root, description="", process_start=PROCESS_START)
    resolve_request(request)  # a config mistake is reported before anyone is asked for a description
    request.description = description_of(args)
    run_dir, code = execute(request)
    print_run_verdict(run_dir)
    print(f"run folder: {run_dir}")
    return code


if __name__ == "__main__":
    sys.exit(run_cli(main))
