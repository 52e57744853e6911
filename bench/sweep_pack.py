"""A 16-trial sweep (4 learning rates x 4 seeds of baseline_v2 at a small batch), packed (`--pack 8`: two packs
of 8) against unpacked, both with one worker: wall time of the sweep command, and the time of the training
itself (sum over the trials' experts of train_time_s; a pack's is counted once)."""
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


def sweep(log_root: Path, pack: list[str], data: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "neuro_trigger/sweep.py", "baseline_v2", "-m",
                    "learning_rate=0.005,0.01,0.02,0.04", f"epochs={EPOCHS}", f"batch_size={BATCH}",
                    "early_stopping_patience=null", "--seeds", "4", *pack, "--data", *data, "--log-root",
                    str(log_root), "--name", "lr"], cwd=ROOT, check=True, capture_output=True)
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
    data = [str(synthetic_file(ROWS, seed=s)) for s in (1, 2, 3)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, pack in (("unpacked", []), (f"packed by {PACK}", ["--pack", str(PACK)])):
            log_root = Path(tmp) / name.replace(" ", "_")
            wall = sweep(log_root, pack, data)
            rows.append({"sweep": name, "wall_s": wall, "training_s": training_seconds(log_root)})
    for row in rows:
        row["wall_vs_unpacked"] = rows[0]["wall_s"] / row["wall_s"]
        row["training_vs_unpacked"] = rows[0]["training_s"] / row["training_s"]
    report("sweep_pack", rows, f"16 trials (4 lr x 4 seeds), {EPOCHS} epochs, batch {BATCH}, {ROWS} rows per "
                               "split, 1 worker; *_vs_unpacked: how many times faster")


if __name__ == "__main__":
    main()
