"""The --slurm path through submitit's local executor: submit, return at once, follow with --status."""
import json
import re
import time

from neuro_trigger_tests.sweeping.helpers import FAST, assert_each_point_finished_once, journal, load_study, \
    summary_of, sweep


def test_slurm_array_submits_and_returns_then_status_follows_it(tmp_path, small_data_args):
    submitted = sweep("baseline_v2", "-m", "learning_rate=0.01,0.02", *FAST, "--workers", "2", *small_data_args,
                      "--log-root", str(tmp_path), "--name", "array", "--slurm", "cluster=local,time=10,cpus=1",
                      timeout=120)
    assert submitted.returncode == 0, submitted.stderr
    assert "submitted job" in submitted.stdout and "--status array" in submitted.stdout
    deadline = time.time() + 300  # never wait on a job without a limit
    while True:
        status = sweep("--status", "array", "--log-root", str(tmp_path), "--json", timeout=120)
        assert status.returncode == 0, status.stderr
        state = json.loads(status.stdout)
        if state["done"] + state["failed"] == 2 or time.time() > deadline:
            break
        time.sleep(2)
    assert (state["done"], state["failed"]) == (2, 0), state
    done = assert_each_point_finished_once(load_study("array", journal(tmp_path, "array")),
                                           [({"learning_rate": 0.01}, 42), ({"learning_rate": 0.02}, 42)])
    job_ids = {summary_of(t.user_attrs["run_dir"])["sweep"]["slurm_job_id"] for t in done}
    assert all(job_ids) and job_ids <= set(re.findall(r"[0-9_]+", submitted.stdout))
    assert (tmp_path / "sweeps" / "array" / "report.html").is_file()
