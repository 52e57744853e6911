"""A 16-trial sweep (4 learning rates x 4 seeds of baseline_v2 at a small batch), packed (`--pack 8`: two packs
of 8) against unpacked, both with one worker: wall time of the sweep command, and the time of the training
itself (sum over the trials' experts of train_time_s; a pack's is counted once).

    python bench/sweep_pack.py
    python bench/sweep_pack.py --compare-to 5b9a422 --rounds 2 [--packed-only]

`--compare-to GIT_REF` runs the same sweeps from a worktree of that commit too, taking turns (before, after,
before, ...), so both see the same machine load; `overhead_per_trial_s` is (wall - training) / 16: what a trial
costs beyond its training (issue 21: at most 2 s), including the plots the sweep draws at its end."""
import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import report, synthetic_file

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = int(os.environ.get("BENCH_SWEEP_EPOCHS", 5))
ROWS = int(os.environ.get("BENCH_SWEEP_ROWS", 20000))
BATCH = int(os.environ.get("BENCH_SWEEP_BATCH", 128))
PACK = 8


def sweep(log_root: Path, pack: list[str], data: list[str], checkout: Path = ROOT) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "neuro_trigger/sweep.py", "baseline_v2", "-m",
                    "learning_rate=0.005,0.01,0.02,0.04", f"epochs={EPOCHS}", f"batch_size={BATCH}",
                    "early_stopping_patience=null", "--seeds", "4", *pack, "--data", *data, "--log-root",
                    str(log_root), "--name", "lr"], cwd=checkout, check=True, capture_output=True)
    return time.perf_counter() - start


def training_seconds(log_root: Path) -> float:
    """Training time of the sweep: per pack (or unpacked trial), the sum of its experts' train_time_s."""
    seen, total = set(), 0.0
    for summary_path in (log_root / "baseline_v2").glob("version_*/summary.json"):
        summary = json.loads(summary_path.read_text())
        pack = tuple(sorted([str(summary_path.parent), *summary.get("packed_with", [])]))
        if pack not in seen:
            seen.add(pack)
            total += sum(e["train_time_s"] for e in summary["experts"].values())
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--compare-to", metavar="GIT_REF", help="also run this commit (a worktree), taking turns")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of every sweep (each checkout in turn)")
    parser.add_argument("--packed-only", action="store_true", help="only the packed sweep")
    args = parser.parse_args()
    data = [str(synthetic_file(ROWS, seed=s)) for s in (1, 2, 3)]
    kinds = [(f"packed by {PACK}", ["--pack", str(PACK)])] + ([] if args.packed_only else [("unpacked", [])])
    rows = []
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        checkouts = {"": ROOT}
        if args.compare_to:
            from profile_run import worktree

            checkouts = {f"before ({args.compare_to}), ": stack.enter_context(worktree(args.compare_to)),
                         "after, ": ROOT}
        for round_ in range(args.rounds):
            for name, pack in kinds:
                for label, checkout in checkouts.items():
                    log_root = Path(tmp) / f"{label}{name}_{round_}".replace(" ", "_").replace(",", "")
                    wall = sweep(log_root, pack, data, checkout)
                    training = training_seconds(log_root)
                    rows.append({"sweep": label + name, "round": round_, "wall_s": wall, "training_s": training,
                                 "overhead_per_trial_s": (wall - training) / 16})
    report("sweep_pack", rows, f"16 trials (4 lr x 4 seeds), {EPOCHS} epochs, batch {BATCH}, {ROWS} rows per "
                               "split, 1 worker; overhead_per_trial_s = (wall - training) / 16")


if __name__ == "__main__":
    main()
