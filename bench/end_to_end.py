"""`python neuro_trigger/main.py baseline_v2 -p` on the embedded data set with a fixed number of epochs,
split into start-up, data loading, experts (training, evaluation, plots) and export."""
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import report

EPOCHS = int(os.environ.get("BENCH_E2E_EPOCHS", 50))
ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    with tempfile.TemporaryDirectory() as log_root:
        subprocess.run([sys.executable, "-c", "from neuro_trigger.data.splits import embedded_files; embedded_files()"],
                       cwd=ROOT, check=True)  # generation on first use is not part of a run
        start = time.perf_counter()
        subprocess.run([sys.executable, "neuro_trigger/main.py", "baseline_v2", "-p", "-d", "benchmark",
                        "--log-root", log_root, "-m", f"epochs={EPOCHS}", "early_stopping_patience=null"],
                       cwd=ROOT, check=True, capture_output=True)
        wall = time.perf_counter() - start
        summary = json.loads(next(Path(log_root).glob("baseline_v2/version_0/summary.json")).read_text())
    timing = summary["timing"]
    plots = timing["expert_plots_s"]
    rows = [
        {"phase": "start-up (imports, config)", "seconds": timing["startup_s"]},
        {"phase": "data loading", "seconds": timing["data_s"]},
        {"phase": "experts in threads (wall)", "seconds": timing["experts_s"]},
        {"phase": "  of which evaluation (sum over experts)", "seconds": timing["expert_evaluation_s"]},
        {"phase": "  of which plots, TensorBoard + PNG (sum over expert threads)", "seconds": plots},
        {"phase": "export (weights, predictions, overall plots)", "seconds": timing["export_s"]},
        {"phase": "whole command", "seconds": wall},
        {"phase": "share of plots (summed over threads) + export", "seconds": (plots + timing["export_s"]) / wall},
        {"phase": "share of plots (one thread's worth) + export",
         "seconds": (plots / max(1, min(2, len(summary["experts"]))) + timing["export_s"]) / wall},
    ]
    report("end_to_end", rows, f"baseline_v2 -p, {EPOCHS} epochs, embedded data set; per-expert samples/s "
                               + ", ".join(f"{k}: {v['samples_per_s']:.0f}" for k, v in summary["experts"].items()))


if __name__ == "__main__":
    main()
