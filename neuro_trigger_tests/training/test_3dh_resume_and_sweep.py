"""NeuroTrigger3DH runs as the classic ones: `--resume` of an interrupted run finishes it exactly as an uninterrupted
run, and a sweep over a 3DH config runs its trials with the family's default metric (val/loss: 3DH runs write no
loss_vs_old, so every trial failed before)."""
import json
import os
import subprocess
import sys

import pytest

from neuro_trigger.data import synthetic_3dh
from neuro_trigger.data.splits import SPLITS
from neuro_trigger_tests.conftest import REPO_ROOT, run_module
from neuro_trigger_tests.sweeping.helpers import assert_each_point_finished_once, journal, load_study, summary_of
from neuro_trigger_tests.training.test_reliability import outputs

RUN = ["3dh_27", "-p", "-m", "epochs=2", "hidden_sizes=[8]"]


@pytest.fixture(scope="module")
def data_args(tmp_path_factory) -> list[str]:
    folder = tmp_path_factory.mktemp("data3dh_resume")
    files = synthetic_3dh.write_synthetic(folder, {"train": 2000, "val": 400, "test": 400}, seed=6, n_inputs=27)
    return ["--data"] + [str(files[s][0]) for s in SPLITS]


@pytest.mark.slow
def test_an_interrupted_3dh_run_resumes_exactly(tmp_path, data_args):
    uninterrupted = run_module("neuro_trigger/main.py", *RUN, "--log-root", str(tmp_path / "a"), *data_args)
    assert uninterrupted.returncode == 0, uninterrupted.stderr
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["NEURO_TRIGGER_SIGNAL_AT"] = "evaluation:SIGTERM"  # training done and checkpointed, nothing exported
    interrupted = subprocess.run([sys.executable, "neuro_trigger/main.py", *RUN, "--log-root", str(tmp_path / "b"),
                                  *data_args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert interrupted.returncode == 143, interrupted.stderr
    run_dir = tmp_path / "b" / "3dh_27" / "version_0"
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "interrupted"
    resumed = run_module("neuro_trigger/main.py", "--resume", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr
    assert "3DH verdict" in resumed.stdout
    assert outputs(run_dir) == outputs(tmp_path / "a" / "3dh_27" / "version_0")


@pytest.mark.slow
def test_a_sweep_over_a_3dh_config_finishes_its_trials(tmp_path, data_args):
    result = run_module("neuro_trigger/sweep.py", "3dh_27", "-m", "learning_rate=0.01,0.02", "epochs=1",
                        "hidden_sizes=[8]", *data_args, "--log-root", str(tmp_path), "--name", "grid3dh")
    assert result.returncode == 0, result.stderr
    study = load_study("grid3dh", journal(tmp_path, "grid3dh"))
    done = assert_each_point_finished_once(study, [({"learning_rate": lr}, 42) for lr in (0.01, 0.02)])
    for trial in done:
        summary = summary_of(trial.user_attrs["run_dir"])
        assert summary["status"] == "finished" and summary["config"]["family"] == "3dh"
        assert trial.value == pytest.approx(summary["metrics"]["val"]["loss"])


def test_a_3dh_sweep_on_a_metric_against_the_old_network_is_refused_before_any_trial(tmp_path, data_args):
    """An explicit `--metric val/loss_vs_old` on a 3DH sweep without compare_to let every trial fail; now refused."""
    result = run_module("neuro_trigger/sweep.py", "3dh_27", "-m", "learning_rate=0.01,0.02", *data_args,
                        "--log-root", str(tmp_path), "--metric", "val/loss_vs_old")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--metric 'val/loss_vs_old'" in lines[0] and "val/loss" in lines[0], result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "sweeps").exists()


def test_a_classic_sweep_on_a_3dh_output_is_refused_before_any_trial(tmp_path):
    result = run_module("neuro_trigger/sweep.py", "baseline_v2", "-m", "learning_rate=0.01,0.02",
                        "--log-root", str(tmp_path), "--metric", "val/nnt_auc")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no nnt output" in lines[0] and "val/loss_vs_old" in lines[0], result.stderr
    assert not (tmp_path / "sweeps").exists()


@pytest.mark.slow
def test_a_3dh_sweep_maximises_a_roc_area(tmp_path, data_args):
    """nnt_auc and stt_auc are sweep metrics: the trial's value is the run's ROC area, and higher is better."""
    result = run_module("neuro_trigger/sweep.py", "3dh_27", "-m", "learning_rate=0.01", "epochs=1", "hidden_sizes=[8]",
                        *data_args, "--log-root", str(tmp_path), "--name", "auc3dh", "--metric", "val/stt_auc")
    assert result.returncode == 0, result.stderr
    study = load_study("auc3dh", journal(tmp_path, "auc3dh"))
    assert study.direction.name == "MAXIMIZE"
    (trial,) = assert_each_point_finished_once(study, [({}, 42)])  # one value: an override, not an axis
    assert trial.value == pytest.approx(summary_of(trial.user_attrs["run_dir"])["metrics"]["val"]["stt_auc"])
