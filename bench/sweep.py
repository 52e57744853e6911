"""A 4-trial sweep (2 learning rates x 2 seeds of baseline_v2) with 1 and with 2 worker processes, against
the same 4 runs started one after another with main.py; and the per-trial overhead of the sweep machinery
(a trial's time in the study, claimed to told, minus the time of its `run.execute` call)."""
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
OVERRIDES = [f"epochs={EPOCHS}", "early_stopping_patience=null"]
POINTS = [(lr, seed) for lr in (0.01, 0.02) for seed in (42, 43)]


def _timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def _run_seconds(run_dir: Path) -> float:
    """The run's own time: data loading plus training and export (what `execute` spends)."""
    summary = json.loads((run_dir / "summary.json").read_text())
    return summary["timing"]["data_s"] + summary["wall_time_s"]


def _overhead(log_root: Path, name: str) -> list[float]:
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    storage = JournalStorage(JournalFileBackend(str(log_root / "sweeps" / name / "journal.log")))
    trials = optuna.load_study(study_name=name, storage=storage).get_trials()
    return [(t.datetime_complete - t.datetime_start).total_seconds() - t.user_attrs["run_s"]
            for t in trials if t.state == optuna.trial.TrialState.COMPLETE]


def main() -> None:
    data = [str(synthetic_file(ROWS, seed=s)) for s in (1, 2, 3)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        log_root = Path(tmp) / "sequential"
        wall = sum(_timed(["neuro_trigger/main.py", "baseline_v2", "-p", "-d", "bench", "--log-root", str(log_root),
                           "--data", *data, "-m", *OVERRIDES, f"learning_rate={lr}", f"seed={seed}"])
                   for lr, seed in POINTS)
        runs = sum(_run_seconds(p) for p in (log_root / "baseline_v2").glob("version_*"))
        rows.append({"how": "4 x main.py, one after another", "wall_s": wall, "runs_s": runs, "speedup": 1.0})
        sequential = wall
        for workers in (1, 2):
            log_root = Path(tmp) / f"sweep_{workers}"
            wall = _timed(["neuro_trigger/sweep.py", "baseline_v2", "-m", *OVERRIDES, "learning_rate=0.01,0.02",
                           "--seeds", "2", "--workers", str(workers), "--data", *data, "--log-root", str(log_root),
                           "--name", "bench"])
            overhead = _overhead(log_root, "bench")
            rows.append({"how": f"sweep.py --workers {workers}", "wall_s": wall,
                         "runs_s": sum(_run_seconds(p) for p in (log_root / "baseline_v2").glob("version_*")),
                         "speedup": sequential / wall, "overhead_per_trial_s": sum(overhead) / len(overhead)})
    report("sweep", rows, f"baseline_v2, {EPOCHS} epochs, 5 experts, {ROWS} rows per split, {os.cpu_count()} cores; "
                          "runs_s: the runs' own time (data + training + export); overhead: a trial's time in the "
                          "study (claimed to told) minus its run.execute call")


if __name__ == "__main__":
    main()
