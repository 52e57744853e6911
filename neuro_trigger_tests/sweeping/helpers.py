"""Running sweeps as a user does (the CLI as a subprocess) and reading their studies back."""
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import optuna
from optuna.trial import TrialState

from neuro_trigger_tests.conftest import REPO_ROOT, run_module

# one expert, one epoch: a trial is a complete run folder in a few seconds
FAST = ["epochs=1", "experts=[-1]"]


def sweep(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return run_module("neuro_trigger/sweep.py", *args, timeout=timeout)


def start_sweep(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "neuro_trigger/sweep.py", *args], cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def load_study(name: str, storage) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=storage)


def journal(log_root: Path, name: str):
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    return JournalStorage(JournalFileBackend(str(log_root / "sweeps" / name / "journal.log")))


def assert_each_point_finished_once(study: optuna.Study, expected: list[tuple]) -> list[optuna.trial.FrozenTrial]:
    """Every (params, seed) of `expected` has exactly one COMPLETE trial; nothing is RUNNING or WAITING."""
    trials = study.get_trials()
    states = Counter(t.state for t in trials)
    assert states[TrialState.RUNNING] == 0 and states[TrialState.WAITING] == 0, states
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    points = Counter((json.dumps(t.params, sort_keys=True), t.user_attrs["seed"]) for t in done)
    assert set(points) == {(json.dumps(p, sort_keys=True), s) for p, s in expected}, points
    assert all(n == 1 for n in points.values()), points
    return done


def summary_of(run_dir: str | Path) -> dict:
    return json.loads((Path(run_dir) / "summary.json").read_text())
