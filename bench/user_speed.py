"""What a user gets (issue 24): one expert trained through `main.py` on 67k rows, its summary.json samples/s
against a raw PyTorch loop over the same number of rows with 1 and with 2 torch threads, in the same run;
on a quiet machine and beside a busy neighbour (a process spinning on one core).

    python bench/user_speed.py                      # batch 16, 128, 2048; quiet and busy; --seeds 8 at 16, 128
    python bench/user_speed.py --before d8eeb2a     # main.py of an older commit too (a git worktree), same run
    python bench/user_speed.py --profile 2048       # one epoch at batch 2048 by part (py-spy over main.py)
    python bench/user_speed.py --threads            # the raw loop in the main thread or a worker thread, 1 or 2
                                                    # torch threads (the measurement behind training/threads.py)
    python bench/user_speed.py --rounds 5           # raw 1 thread, raw 2 threads and main.py taking turns, 5 rounds
                                                    # per batch, quiet and busy: medians (the README's figures)
    python bench/user_speed.py --seeds-wall         # wall time of 8 single runs against one `--seeds 8` run

The raw loop runs in a fresh process of its own, in its main thread, as a user's script would, over as many rows
as main.py trains on. Each main.py run is a production run of the solo expert (`-s`) of baseline_v2 without early
stopping; `epochs` per batch below. `epoch overhead ms` is what an epoch costs beyond the raw loop's 1-thread
time for its rows: validation, checkpoints, loggers, plots and Lightning's loop. `--seeds 8` rows give the
samples/s of all eight networks against one network's run: how many times faster than eight single runs. The
last rows train the five experts of `baseline_v2 -p` one and two at a time (`workers`).
"""
import argparse
import collections
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import WORK, report
from profile_run import make_data

ROOT = Path(__file__).resolve().parents[1]
ROWS = int(os.environ.get("BENCH_USER_ROWS", 67_000))
EPOCHS = {16: 3, 128: 12, 2048: 100}
SEED_EPOCHS = {16: 2, 128: 4}
# the raw loop steps through as many rows as main.py trains on: a shorter loop (it took 0.6 s at batch 128) caught
# this machine's speed of a moment, and the better of two such moments overstated the raw figure
RAW_STEPS = {batch: epochs * ROWS // batch for batch, epochs in EPOCHS.items()}
PARTS = [  # (part of an epoch, a frame that marks it), first match wins
    ("training steps", "training_step (neuro_trigger"), ("validation", "validation_step (neuro_trigger"),
    ("TensorBoard plots", "PlotCallback"), ("checkpoints", "ModelCheckpoint"),
    ("row order and batches", "Batches.__iter__"), ("loggers", "log"), ("rest of Lightning's loop", "")]


def raw_loop(batch: int, threads: int | None = None) -> float:
    """Samples/s of a plain loop (BaselineModel, fused Adam, MSE) over ROWS rows, in the calling thread."""
    import torch

    from neuro_trigger.models import BaselineModel, HalfTanh

    if threads is not None:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    x, y = torch.randn(ROWS, 27), torch.rand(ROWS, 2) * 2 - 1
    net, loss_fn = BaselineModel(27, 2, HalfTanh()), torch.nn.MSELoss()
    optimizer = torch.optim.Adam(net.parameters(), 1e-3, fused=True)
    warmup, steps = 20, RAW_STEPS[batch]
    for step in range(warmup + steps):
        if step == warmup:
            start = time.perf_counter()
        i = (step * batch) % (ROWS - batch)
        optimizer.zero_grad(set_to_none=True)
        loss_fn(net(x[i:i + batch]), y[i:i + batch]).backward()
        optimizer.step()
    return steps * batch / (time.perf_counter() - start)


def data_files() -> list[str]:
    """The generator's train (ROWS rows), val and test files, made once and read once (binary cache)."""
    return [str(f) for f in make_data(ROWS)]


def trained(tree: Path, batch: int, epochs: int, extra: list[str] = (), profile: Path | None = None,
            solo: bool = True) -> dict:
    """The summary.json of `main.py` of `tree` (the solo expert's entry, with `solo`)."""
    with tempfile.TemporaryDirectory() as log_root:
        command = [sys.executable, str(tree / "neuro_trigger" / "main.py"), "baseline_v2", "-p", "-d", "bench",
                   *(["-s"] if solo else []), "--log-root", log_root, "--data", *data_files(), *extra,
                   "-m", f"batch_size={batch}", f"epochs={epochs}", "early_stopping_patience=None"]
        if profile is not None:
            command = [str(Path(sys.executable).with_name("py-spy")), "record", "--format", "raw", "--rate", "250",
                       "-o", str(profile), "--", *command]
        subprocess.run(command, cwd=tree, check=True, capture_output=True)
        summary = json.loads(next(Path(log_root).glob("baseline_v2/version_*/summary.json")).read_text())
    return summary["experts"]["expert_-1"] if solo else summary


def raw(batch: int, threads: int) -> float:
    out = subprocess.run([sys.executable, __file__, "--raw-loop", str(batch), str(threads)], check=True,
                         capture_output=True, text=True).stdout
    return float(out.split()[-1])


class Neighbour:
    """A process spinning on one core while the block runs (nothing when `busy` is false)."""

    def __init__(self, busy: bool):
        self.busy, self.process = busy, None

    def __enter__(self):
        if self.busy:
            self.process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        return self

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()


def worktree(ref: str) -> Path:
    """A checkout of `ref` beside the bench data (made once), to run its main.py in the same session."""
    path = WORK / f"tree_{ref.replace('/', '_')}"
    if not path.is_dir():
        subprocess.run(["git", "worktree", "add", "--detach", str(path), ref], cwd=ROOT, check=True,
                       capture_output=True)
    return path


def speed_rows(trees: dict[str, Path]) -> list[dict]:
    rows = []
    for busy in (False, True):
        for batch, epochs in EPOCHS.items():
            with Neighbour(busy):
                row = {"batch": batch, "neighbour": "busy" if busy else "quiet",
                       "raw 1 thread": raw(batch, 1), "raw 2 threads": raw(batch, 2)}
                best_raw = max(row["raw 1 thread"], row["raw 2 threads"])
                for name, tree in trees.items():
                    expert = trained(tree, batch, epochs)
                    row[f"{name} main.py"] = expert["samples_per_s"]
                    row[f"{name} / best raw"] = expert["samples_per_s"] / best_raw
                    row[f"{name} epoch overhead ms"] = 1e3 * (expert["train_time_s"] / expert["epochs"]
                                                              - ROWS / row["raw 1 thread"])
            rows.append(row)
    for batch, epochs in SEED_EPOCHS.items():
        row = {"batch": batch, "neighbour": "quiet, --seeds 8"}
        for name, tree in trees.items():
            single = trained(tree, batch, epochs)["samples_per_s"]
            packed = trained(tree, batch, epochs, ["--seeds", "8"])["samples_per_s"]
            row.update({f"{name} main.py": packed, f"{name} / best raw": None,
                        f"{name} seeds 8 / 1 network": packed / single})
        rows.append(row)
    return rows


def alternating_rounds(rounds: int) -> list[dict]:
    """Per batch and neighbour: raw 1 thread, raw 2 threads and main.py in turn, `rounds` times; the medians and
    the median of the rounds' ratios (a round's three figures share the machine's state of that minute)."""
    rows = []
    for busy in (False, True):
        for batch, epochs in EPOCHS.items():
            figures = []
            for _ in range(rounds):
                with Neighbour(busy):
                    figures.append((raw(batch, 1), raw(batch, 2), trained(ROOT, batch, epochs)["samples_per_s"]))
            one, two, product = (statistics.median(column) for column in zip(*figures))
            rows.append({"batch": batch, "neighbour": "busy" if busy else "quiet", "raw 1 thread": one,
                         "raw 2 threads": two, "main.py": product, "main.py / best raw": product / max(one, two),
                         "median of round ratios": statistics.median(m / max(a, b) for a, b, m in figures)})
    return rows


def seeds_wall() -> list[dict]:
    """Wall time of getting 8 networks: 8 single runs (seeds 0-7) against one `--seeds 8` run."""
    rows = []
    for batch, epochs in SEED_EPOCHS.items():
        single = []
        for seed in range(8):
            started = time.perf_counter()
            trained(ROOT, batch, epochs, ["-m", f"seed={seed}"])
            single.append(time.perf_counter() - started)
        started = time.perf_counter()
        trained(ROOT, batch, epochs, ["--seeds", "8"])
        packed = time.perf_counter() - started
        rows.append({"batch": batch, "8 single runs s": sum(single), "--seeds 8 s": packed,
                     "times faster": sum(single) / packed})
    return rows


def thread_policy() -> list[dict]:
    """The raw loop in this process's main thread and in a worker thread, with 1 and 2 torch threads, after the
    main thread ran torch ops (as a run's main thread has), quiet and beside a busy neighbour."""
    import threading

    import torch

    torch.randn(500, 500) @ torch.randn(500, 500)
    rows = []
    for busy in (False, True):
        with Neighbour(busy):
            for batch in RAW_STEPS:
                row = {"batch": batch, "neighbour": "busy" if busy else "quiet"}
                for place in ("main thread", "expert thread"):
                    for threads in (1, 2):
                        torch.set_num_threads(threads)
                        result = []
                        if place == "main thread":
                            result.append(raw_loop(batch))
                        else:
                            worker = threading.Thread(target=lambda: result.append(raw_loop(batch)))
                            worker.start()
                            worker.join()
                        row[f"{place}, {threads} torch thread{'s' * (threads > 1)}"] = result[0]
                rows.append(row)
    return rows


def five_experts(trees: dict[str, Path], batch: int = 128, epochs: int = 12) -> list[dict]:
    """The five experts of baseline_v2 (the same 67k rows, split by hit pattern), one or two at a time:
    the wall time of their threads (training, evaluation, plots) and their summed samples/s."""
    rows = []
    for workers in (1, 2):
        row = {"batch": batch, "neighbour": f"quiet, 5 experts, workers={workers}"}
        for name, tree in trees.items():
            summary = trained(tree, batch, epochs, ["-m", f"workers={workers}"], solo=False)
            row[f"{name} experts_s"] = summary["timing"]["experts_s"]
            row[f"{name} train s (sum)"] = sum(e["train_time_s"] for e in summary["experts"].values())
        rows.append(row)
    return rows


def epoch_profile(trees: dict[str, Path], batch: int) -> list[dict]:
    """Milliseconds per epoch by part, from py-spy's samples of the expert thread inside `trainer.fit`
    (sampling slows the process: compare parts with each other, and before with after)."""
    rows = {part: {"part": part} for part, _ in PARTS}
    for name, tree in trees.items():
        raw_file = WORK / f"user_speed_profile_{name}.txt"
        expert = trained(tree, batch, EPOCHS[batch], profile=raw_file)
        seconds = collections.Counter()
        for line in raw_file.read_text().splitlines():
            stack, samples = line.rsplit(" ", 1)
            if "_FitLoop.run" in stack:
                frames = re.sub(r":\d+\)", ")", stack)
                seconds[next(part for part, mark in PARTS if mark in frames)] += int(samples) / 250
        for part, _ in PARTS:
            rows[part][f"{name} ms/epoch"] = 1e3 * seconds[part] / expert["epochs"]
    total = {"part": "all", **{k: sum(r[k] for r in rows.values()) for k in next(iter(rows.values())) if k != "part"}}
    return [*rows.values(), total]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", metavar="GIT_REF", help="also time main.py of this commit")
    parser.add_argument("--profile", type=int, metavar="BATCH", choices=sorted(EPOCHS),
                        help="only the profile of one epoch at this batch size")
    parser.add_argument("--threads", action="store_true", help="only the thread-policy measurement")
    parser.add_argument("--rounds", type=int, metavar="N", help="only alternating rounds of raw loops and main.py")
    parser.add_argument("--seeds-wall", action="store_true", help="only 8 single runs against one --seeds 8 run")
    parser.add_argument("--raw-loop", nargs=2, type=int, metavar=("BATCH", "THREADS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.raw_loop:
        print(raw_loop(*args.raw_loop))
        return
    trees = {"after": ROOT}
    if args.before:
        trees = {"before": worktree(args.before), **trees}
    note = f"{ROWS} training rows, 2-core machine, load {os.getloadavg()[0]:.1f} at the start"
    if args.threads:
        report("user_speed_threads", thread_policy(), f"raw loop, samples/s, {note}")
    elif args.rounds:
        report("user_speed_rounds", alternating_rounds(args.rounds), f"samples/s, medians of {args.rounds}, {note}")
    elif args.seeds_wall:
        report("user_speed_seeds_wall", seeds_wall(), f"seconds, epochs {SEED_EPOCHS}, {note}")
    elif args.profile:
        report("user_speed_epoch", epoch_profile(trees, args.profile), f"batch {args.profile}, {note}")
    else:
        report("user_speed", speed_rows(trees) + five_experts(trees),
               f"samples/s, epochs {EPOCHS}, seeds epochs {SEED_EPOCHS}, {note}")


if __name__ == "__main__":
    main()
