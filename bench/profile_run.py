"""What a run costs besides training (issues 14 and 24): `baseline_v2 -p -m batch_size=2048` on 200,000
generated rows, 5 epochs.

    python bench/profile_run.py                  # timing table: phases, training, non-training seconds
    python bench/profile_run.py --profile        # the same run under py-spy (every thread): top functions
    python bench/profile_run.py --rows 20000 --epochs 2 --repeats 3
    python bench/profile_run.py --compare-to HEAD~3 --repeats 2 --profile   # before (a worktree) and after
    python bench/profile_run.py --compare-to A --after B    # two commits, each in a worktree
    python bench/profile_run.py --compare-to d7866e8 --rows 20000 --epochs 2 --repeats 5
        # issue 22: no slower without a tracking URI than before the API and MLflow tracking (d7866e8)

`--compare-to GIT_REF` checks the commit out into a temporary git worktree and runs the same workload from
there and from this checkout, taking turns (before, after, before, ...), so both see the same machine load;
the table has a column each (medians, and with repeats their min..max), and the load average before and after
is noted. MLFLOW_TRACKING_URI is removed from the runs' environment: they are untracked runs.

The data set is made once by the project's generator (`python -m neuro_trigger.data.synthetic --out DIR
--rows N`, in $NEURO_TRIGGER_BENCH_DIR, default /tmp/nt_bench) and read once before the timed runs, so the
runs read it from the binary cache, as every run after a data set's first does.

The CPU seconds are those of the command and the processes it waited for: the evaluation workers, forked by
multiprocessing's fork server, are not among them; their own time is `workers_s`. `--profile` samples them too
(py-spy `--subprocesses`).

Training time is the wall time during which at least one expert is inside `trainer.fit` (the union of the
experts' intervals: each starts at its "training expert X" line in app.log and lasts its train_time_s), so
two experts training at once count once; non-training time is the command's wall time minus that. The
sum of the experts' train_time_s is printed beside it. `--profile` samples with py-spy (`--rate`, default
100 Hz) and adds up thread-seconds per function: threads that run at the same time are all counted.
"""
import argparse
import collections
import contextlib
import datetime
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

from common import RESULTS, WORK, report

ROOT = Path(__file__).resolve().parents[1]
# an expert's first line of training: "training expert X" before issue 21's console, "expert X training:" since
STARTED = re.compile(r"^(\S+ \S+) expert_(-?\d+) INFO neuro_trigger\.(?:training: training expert|progress: expert -?\d+ "
                     r"training:)")
IGNORED_FRAMES = ("threading.py", "<frozen importlib", "queue.py")  # waiting and import machinery


def make_data(rows: int) -> list[Path]:
    """The generated train, val and test files of `rows` training rows, made once and read once (cache)."""
    folder = WORK / f"profile_{rows}"
    files = [folder / f"neuroresults_random{i}.gz" for i in (1, 2, 3)]
    if not all(f.is_file() for f in files):
        subprocess.run([sys.executable, "-m", "neuro_trigger.data.synthetic", "--out", str(folder), "--rows",
                        str(rows)], cwd=ROOT, check=True, capture_output=True)
    subprocess.run([sys.executable, "-c", "import sys; from neuro_trigger.data import io; io.read_files(sys.argv[1:])",
                    *map(str, files)], cwd=ROOT, check=True)
    return files


def training_seconds(run_dir: Path, summary: dict) -> float:
    """Wall seconds during which at least one expert was training (union of the experts' fit intervals)."""
    starts = {}
    for line in (run_dir / "app.log").read_text().splitlines():
        match = STARTED.match(line)
        if match:
            starts[int(match.group(2))] = datetime.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
    intervals = sorted((starts[int(name.split("_")[1])], starts[int(name.split("_")[1])] + e["train_time_s"])
                       for name, e in summary["experts"].items() if int(name.split("_")[1]) in starts)
    total, end = 0.0, float("-inf")
    for lo, hi in intervals:
        total += max(0.0, hi - max(lo, end))
        end = max(end, hi)
    return total


def run_once(files: list[Path], epochs: int, profile: Path | None, rate: int, batch_size: int = 2048,
             checkout: Path = ROOT) -> dict:
    """One timed run of the workload from `checkout`; returns its phases in seconds."""
    with tempfile.TemporaryDirectory() as log_root:
        command = [sys.executable, "neuro_trigger/main.py", "baseline_v2", "-p", "-d", "profile", "--log-root",
                   log_root, "--data", *map(str, files), "-m", f"epochs={epochs}", f"batch_size={batch_size}"]
        if profile is not None:
            py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
            command = [py_spy, "record", "--subprocesses", "--format", "raw", "--rate", str(rate), "-o", str(profile),
                       "--", *command]
        environment = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}  # untracked runs
        start, cpu = time.perf_counter(), _children_cpu()
        subprocess.run(command, cwd=checkout, check=True, capture_output=True, env=environment)
        wall, cpu = time.perf_counter() - start, _children_cpu() - cpu
        run_dir = next(Path(log_root).glob("baseline_v2/version_*"))
        summary = json.loads((run_dir / "summary.json").read_text())
        training = training_seconds(run_dir, summary)
    t = summary["timing"]
    return {
        "command wall": wall, "training (union of fit intervals)": training, "non-training": wall - training,
        "CPU seconds of the command (user + system, all processes)": cpu,
        "sum of train_time_s": sum(e["train_time_s"] for e in summary["experts"].values()),
        "startup_s (imports, config)": t["startup_s"], "data_s": t["data_s"],
        "experts_s (threads: training, evaluation, plots)": t["experts_s"],
        "  experts_s - training": t["experts_s"] - training,
        "  expert_evaluation_s (sum over experts)": t["expert_evaluation_s"],
        "  expert_plots_s (sum over experts)": t["expert_plots_s"],
        "export_s (weights, predictions, overall metrics, plots)": t["export_s"],
        "plots_wait_s (figures still drawing after the export)": t.get("plots_wait_s", 0.0),
        "rest (run folder, report.html, exit)": wall - t["startup_s"] - t["data_s"] - t["experts_s"] - t["export_s"]
        - t.get("plots_wait_s", 0.0),
        "workers_s (CPU seconds of the evaluation and figure workers, not in the CPU above)": t.get("workers_s", 0.0),
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def top_functions(raw: Path, rate: int, count: int = 30) -> list[dict]:
    """Thread-seconds per function from py-spy's raw output: inclusive (with its callees) and self."""
    inclusive, own = collections.Counter(), collections.Counter()
    for line in raw.read_text().splitlines():
        stack, samples = line.rsplit(" ", 1)
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        own[frames[-1]] += int(samples)
        for frame in set(frames):
            if not any(skip in frame for skip in IGNORED_FRAMES):
                inclusive[frame] += int(samples)
    return ([{"kind": "inclusive", "thread-s": n / rate, "function": f} for f, n in inclusive.most_common(count)]
            + [{"kind": "self", "thread-s": n / rate, "function": f} for f, n in own.most_common(count // 2)])


@contextlib.contextmanager
def worktree(ref: str) -> Iterator[Path]:
    """A temporary git worktree of `ref` (detached), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="nt_before_"))
    subprocess.run(["git", "worktree", "add", "--detach", str(folder), ref], cwd=ROOT, check=True,
                   capture_output=True)
    try:
        yield folder
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def _table(columns: dict[str, list[dict]]) -> list[dict]:
    """One row per phase, a column of medians per checkout and, with repeats, one of its spread (min..max)."""
    first = next(iter(columns.values()))
    rows = []
    for phase in first[0]:
        row = {"phase": phase}
        for name, runs in columns.items():
            values = [r[phase] for r in runs]
            row[name] = round(statistics.median(values), 2)
            if len(values) > 1:
                row[f"{name} min..max"] = f"{min(values):.2f}..{max(values):.2f}"
        rows.append(row)
    return rows


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="training rows (val and test get a quarter each)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=2048, help="of every expert (-m batch_size=...)")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs; the table shows their medians")
    parser.add_argument("--profile", action="store_true", help="one more run under py-spy: top functions")
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument("--compare-to", metavar="GIT_REF", help="also run this commit (a worktree), taking turns")
    parser.add_argument("--after", metavar="GIT_REF", help="with --compare-to: this commit (a worktree) instead of "
                                                          "the checkout, e.g. to leave out other people's work")
    args = parser.parse_args()
    files = make_data(args.rows)
    with contextlib.ExitStack() as stack:
        checkouts = {"seconds": ROOT}
        if args.compare_to:
            after = ("after (this checkout)", ROOT) if not args.after else \
                (f"after ({args.after})", stack.enter_context(worktree(args.after)))
            checkouts = {f"before ({args.compare_to})": stack.enter_context(worktree(args.compare_to)),
                         after[0]: after[1]}
        load_before = _load()
        runs: dict[str, list[dict]] = {name: [] for name in checkouts}
        for _ in range(args.repeats):
            for name, checkout in checkouts.items():
                runs[name].append(run_once(files, args.epochs, None, args.rate, args.batch_size, checkout))
        note = (f"baseline_v2 -p -m batch_size={args.batch_size}, {args.rows} rows, {args.epochs} epochs, median "
                f"of {args.repeats}; load average (1/5/15 min) {load_before} before, {_load()} after")
        report("profile_run", _table(runs), note)
        if args.profile:
            RESULTS.mkdir(exist_ok=True)
            for i, (name, checkout) in enumerate(checkouts.items()):
                raw = RESULTS / ("profile_run.pyspy.txt" if i == len(checkouts) - 1 else "profile_run_before.pyspy.txt")
                profiled = run_once(files, args.epochs, raw, args.rate, args.batch_size, checkout)
                report("profile_run_functions" + ("" if raw.name == "profile_run.pyspy.txt" else "_before"),
                       top_functions(raw, args.rate),
                       f"{name} under py-spy (command wall {profiled['command wall']:.1f} s); raw stacks in {raw}")


if __name__ == "__main__":
    main()
