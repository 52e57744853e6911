"""Two sweep processes ("machines", each with its own log root) sharing one study on a real PostgreSQL server."""
import os
import signal
import subprocess
import sys
import time

import pytest

from neuro_trigger.sweeping.study import database_url, open_storage
from neuro_trigger_tests.conftest import REPO_ROOT
from neuro_trigger_tests.sweeping.helpers import FAST, assert_each_point_finished_once, load_study, start_sweep, \
    summary_of
from neuro_trigger_tests.sweeping.postgres import postgres_server


@pytest.fixture(scope="module")
def postgres_url():
    with postgres_server() as url:
        yield url


def test_two_sweep_processes_share_one_postgresql_study(tmp_path, small_data_args, postgres_url):
    args = ["baseline_v2", "-m", "learning_rate=0.01,0.02", *FAST, "--seeds", "2", "--workers", "1",
            *small_data_args, "--name", "shared", "--storage", postgres_url]
    # both start on an empty database at once: table creation and study creation race
    machines = [start_sweep(*args, "--log-root", str(tmp_path / f"machine_{i}")) for i in range(2)]
    outputs = [m.communicate(timeout=600) for m in machines]
    for machine, (out, err) in zip(machines, outputs):
        assert machine.returncode == 0, err
    study = load_study("shared", open_storage(tmp_path, postgres_url))
    expected = [({"learning_rate": lr}, seed) for lr in (0.01, 0.02) for seed in (42, 43)]
    done = assert_each_point_finished_once(study, expected)
    assert len(study.trials) == 4
    for trial in done:
        summary = summary_of(trial.user_attrs["run_dir"])
        assert summary["sweep"]["trial"] == trial.number and summary["status"] == "finished"


def test_plain_postgresql_url_uses_the_installed_psycopg2_driver():
    assert database_url("postgresql://u:pw@host:5432/db") == "postgresql+psycopg2://u:pw@host:5432/db"
    assert database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_trial_of_a_killed_worker_is_failed_by_heartbeat_and_retried(tmp_path, small_data_args, postgres_url):
    env = {**os.environ, "NEURO_TRIGGER_SWEEP_HEARTBEAT_S": "1"}  # stale after a 4 s grace period
    args = ["baseline_v2", "-m", "learning_rate=0.01", "epochs=40", "experts=[-1]", *small_data_args,
            "--name", "heartbeat", "--storage", postgres_url, "--log-root", str(tmp_path)]
    process = start_sweep(*args, env=env)
    run_dir = tmp_path / "baseline_v2" / "version_0"
    deadline = time.time() + 300
    while not (run_dir / "expert_-1" / "ckpts" / "last.ckpt").is_file():
        assert process.poll() is None and time.time() < deadline, process.communicate()
        time.sleep(0.2)
    os.kill(summary_of(run_dir)["pid"], signal.SIGKILL)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)
    time.sleep(5)  # past the grace period: the heartbeat is stale

    result = subprocess.run([sys.executable, "neuro_trigger/sweep.py", *args], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    study = load_study("heartbeat", open_storage(tmp_path, postgres_url))
    assert [t.state.name for t in study.trials] == ["FAIL", "COMPLETE"]
    assert study.trials[1].system_attrs["retry_history"] == [0]
    assert study.trials[1].user_attrs["run_dir"] == str(run_dir) and summary_of(run_dir)["resumed"]
