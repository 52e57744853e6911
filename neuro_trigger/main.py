"""Train the NeuroTrigger experts: `python neuro_trigger/main.py CONFIG [-p] [-s] [-d DESCRIPTION] [-m KEY=VALUE ...]`.

Only this file touches argparse; user mistakes become one line on stderr and exit code 2. The
config, the overrides and the paths are checked before torch and Lightning are imported, so a
typo is answered in about a second.
"""
import argparse
import gc
import os
import shlex
import sys
import time
from pathlib import Path

PROCESS_START = time.time()

if __package__ in (None, ""):  # run as a script: make the package importable without PYTHONPATH
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neuro_trigger import config as config_lib  # noqa: E402
from neuro_trigger import cli  # noqa: E402
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
    parser.add_argument("-m", "--modify", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                        help="override config keys with dotted paths; values are Python/JSON literals, "
                             "else strings (e.g. expert_2.batch_size=16 act=softsign dist.n_buckets=21); "
                             "-m may be repeated")
    cli.add_data_option(parser)
    parser.add_argument("--seeds", type=int, default=None, metavar="K",
                        help="train K copies of every expert together, seeds SEED .. SEED+K-1 (same as "
                             "-m pack.seeds=K); weights.json gets each expert's best copy, summary.json the spread")
    parser.add_argument("--log-root", type=Path, default=None, help="write the run folder below this folder")
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


def check_before_imports(config_name: str, overrides: dict) -> None:
    """The config, the overrides and the data paths, checked without torch (run.py checks them all again)."""
    config = config_lib.resolve(config_name, overrides)
    if isinstance(config["data"], dict):
        from neuro_trigger.data.splits import resolve_files

        for split, paths in resolve_files(config["data"]).items():
            for path in paths:
                if not path.exists():
                    raise UserError(f"{path}: data file not found (data.{split})")


def check_log_root(log_root: Path) -> None:
    """The log root, or the nearest folder above it that exists, can hold run folders."""
    if "\0" in str(log_root):
        raise UserError(f"log root {str(log_root)!r}: a path cannot hold a NUL character")
    existing = log_root.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"log root {log_root}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"log root {log_root}: {existing} is not writable")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    phase("startup")
    if args.resume is not None:
        if args.config or args.modify or args.data or args.log_root or args.seeds is not None:
            raise UserError("--resume takes only the run folder: the run's own config and data are used")
        from neuro_trigger.runs import folder
        from neuro_trigger.runs.resume import load_resumable

        load_resumable(args.resume)
        folder.lock_run_folder(args.resume)  # held until this process ends (run.resume's own call is a no-op)
    elif not args.config:
        raise UserError("no config given; choose one of: " + ", ".join(configs))
    else:
        overrides = config_lib.parse_overrides(args.modify)
        if args.seeds is not None:
            overrides["pack"] = {"seeds": args.seeds}
        data = cli.data_files(args.data)
        check_before_imports(args.config, overrides if data is None else {**overrides, "data": data})
        from neuro_trigger.runs import folder

        check_log_root(args.log_root or (folder.PRODUCTION_LOG_ROOT if args.production else folder.DEBUG_LOG_ROOT))

    from neuro_trigger.evaluation import offload

    offload.start_server()  # imports numpy and matplotlib for the evaluation workers while torch is imported here
    cli.quiet_warnings()
    # torch and Lightning make millions of objects and next to no garbage: collecting while they are imported
    # only scans them again and again (six full collections, about 1 s), and once frozen out of the
    # collector's view, the collections during the run no longer scan them either (another 1 s)
    gc.disable()
    from neuro_trigger.run import RunRequest, execute, resolve_request, resume  # heavy imports after the checks
    from neuro_trigger.runs.logs import configure_console
    from neuro_trigger.evaluation.verdict import print_run_verdict
    from neuro_trigger.runs.record import try_read_summary

    gc.freeze()
    gc.enable()

    configure_console(interactive=sys.stderr is not None and sys.stderr.isatty())
    try:
        if args.resume is not None:
            run_dir, code = resume(args.resume)
        else:
            request = RunRequest(config_name=args.config, overrides=overrides, production=args.production,
                                 solo_expert=args.solo_expert, data_files=data, log_root=args.log_root,
                                 description="", process_start=PROCESS_START)
            resolve_request(request)  # a config mistake is reported before anyone is asked for a description
            request.description = description_of(args)
            run_dir, code = execute(request)
    except KeyboardInterrupt:
        if args.resume is not None:  # stopped before it trained again: the folder is as it was
            print(resume_command(args.resume))
        raise
    print_run_verdict(try_read_summary(run_dir)[0] or {})
    print(f"run folder: {printable(str(run_dir), None)}")
    if code not in (0, 2):
        print(resume_command(run_dir))
    return code


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
