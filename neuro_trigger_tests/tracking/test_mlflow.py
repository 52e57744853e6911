"""MLflow tracking against a real `mlflow server` on loopback, checked through mlflow's own client: a tracked
run's params, every expert's epochs and artifacts; a run whose server is unreachable or killed mid-run finishes
locally, and `main.py --sync` uploads it later with every epoch exactly once."""
import json
import os
import subprocess
import sys
import time

import pytest

from neuro_trigger_tests.conftest import REPO_ROOT, run_module
from neuro_trigger_tests.tracking.mlflow_server import MlflowServer

mlflow = pytest.importorskip("mlflow")  # requirements-tracking.txt; CI installs it

TRACKED = ["-p", "-d", "tracked", "-m", "epochs=3", "experts=[0,4]", "plot_every=100"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = MlflowServer(tmp_path_factory.mktemp("mlflow")).start()
    yield server
    server.kill()


def environment() -> dict:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MLFLOW_TRACKING_URI")}


def summary_of(run_dir) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def steps(client, run_id: str, key: str) -> list[int]:
    return sorted(m.step for m in client.get_metric_history(run_id, key))


def test_a_tracked_run_holds_its_params_every_experts_epochs_and_its_artifacts(server, tmp_path, small_data_args):
    result = run_module("neuro_trigger/main.py", "baseline_v2", *TRACKED, "--log-root", str(tmp_path),
                        "--tracking-uri", server.uri, *small_data_args)
    assert result.returncode == 0, result.stderr
    assert "tracking server" not in result.stderr
    run_dir = tmp_path / "baseline_v2" / "version_0"
    summary = summary_of(run_dir)
    assert summary["tracking"]["uri"] == server.uri
    client = mlflow.MlflowClient(server.uri)
    run = client.get_run(summary["tracking"]["run_id"])
    assert run.info.status == "FINISHED" and run.info.run_name == "baseline_v2/version_0"
    assert client.get_experiment(run.info.experiment_id).name == "baseline_v2"
    params = run.data.params
    assert params["learning_rate"] == "0.02" and params["act"] == "tanh/2" and params["epochs"] == "3"
    assert params["expert_4.batch_size"] == "512" and params["experts"] == "[0, 4]" and params["seed"] == "42"
    for expert in (0, 4):
        assert steps(client, run.info.run_id, f"expert_{expert}/val_loss") == [0, 1, 2]
        assert steps(client, run.info.run_id, f"expert_{expert}/train_loss") == [0, 1, 2]
        best = min(m.value for m in client.get_metric_history(run.info.run_id, f"expert_{expert}/val_loss"))
        assert best == pytest.approx(summary["experts"][f"expert_{expert}"]["best_val_loss"])
    test = summary["metrics"]["test"]
    assert run.data.metrics["test/z_diff_std"] == pytest.approx(test["z_diff_std"])
    assert run.data.metrics["test/z_diff_std_err"] == pytest.approx(test["z_diff_std_err"])
    assert run.data.metrics["expert_4/test/loss_vs_old"] == pytest.approx(
        summary["experts"]["expert_4"]["metrics"]["test"]["loss_vs_old"])
    tags = run.data.tags
    assert (tags["status"], tags["description"], tags["commit"]) == ("finished", "tracked", summary["git_id"] or "")
    assert "content_sha256" not in tags["data_fingerprint"] and summary["data"]["test"][0]["content_sha256"] in \
        tags["data_fingerprint"]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"weights.json", "summary.json", "report.html", "experts_config.json", "plots", "expert_0"} <= artifacts
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "expert_4/plots")}
    assert "expert_4/plots/z_resolution_vs_z.png" in plots
    weights = client.download_artifacts(run.info.run_id, "weights.json", str(tmp_path))
    assert json.loads(open(weights).read()) == json.loads((run_dir / "weights.json").read_text())


def test_without_a_tracking_uri_mlflow_is_never_imported(tmp_path, small_files):
    data = {s: [str(small_files[s][0])] for s in small_files}
    code = ("import sys, neuro_trigger as nt; "
            f"run = nt.train('baseline_v2', {{'epochs': 1}}, data={data!r}, log_dir={str(tmp_path)!r}); "
            "print(run.status, 'mlflow' in sys.modules, 'tracking' in run.summary)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=environment(), capture_output=True,
                            text=True, timeout=600)
    assert result.stdout.split()[-3:] == ["finished", "False", "False"], result.stderr


def test_an_unreachable_server_is_said_once_and_sync_uploads_the_run_later(server, tmp_path, small_data_args):
    closed = MlflowServer(tmp_path).uri  # a free port: nothing listens there
    result = run_module("neuro_trigger/main.py", "baseline_v2", *TRACKED, "--log-root", str(tmp_path),
                        "--tracking-uri", closed, *small_data_args)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count(f"tracking server {closed} failed") == 1
    run_dir = tmp_path / "baseline_v2" / "version_0"
    assert summary_of(run_dir)["status"] == "finished" and "tracking" not in summary_of(run_dir)
    synced = run_module("neuro_trigger/main.py", "--sync", str(run_dir), "--tracking-uri", server.uri)
    assert synced.returncode == 0, synced.stderr
    run_id = summary_of(run_dir)["tracking"]["run_id"]
    client = mlflow.MlflowClient(server.uri)
    assert steps(client, run_id, "expert_0/val_loss") == [0, 1, 2]
    assert client.get_run(run_id).info.status == "FINISHED"


def test_a_sweep_is_one_parent_run_with_its_four_trials_as_children(server, tmp_path, small_data_args):
    result = run_module("neuro_trigger/sweep.py", "baseline_v2", "-m", "learning_rate=0.01,0.02", "epochs=1",
                        "experts=[-1]", "--seeds", "2", *small_data_args, "--log-root", str(tmp_path), "--name", "lr",
                        "--tracking-uri", server.uri)
    assert result.returncode == 0, result.stderr
    client = mlflow.MlflowClient(server.uri)
    experiment = client.get_experiment_by_name("baseline_v2").experiment_id
    parents = client.search_runs([experiment], "attributes.run_name = 'sweep lr'")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    children = client.search_runs([experiment], f"tags.mlflow.parentRunId = '{parents[0].info.run_id}'")
    assert len(children) == 4 and {c.info.status for c in children} == {"FINISHED"}
    assert sorted((c.data.params["learning_rate"], c.data.params["seed"]) for c in children) == [
        ("0.01", "42"), ("0.01", "43"), ("0.02", "42"), ("0.02", "43")]
    folders = {c.data.tags["neuro_trigger.run_dir"] for c in children}
    assert folders == set((tmp_path / "sweeps" / "lr" / "runs.txt").read_text().split())
    assert "report.html" in {a.path for a in client.list_artifacts(parents[0].info.run_id)}


def test_a_server_killed_mid_run_then_sync_holds_every_epoch_once(server, tmp_path, small_data_args):
    """Kills the module's server: keep this test last in the file."""
    process = subprocess.Popen([sys.executable, "neuro_trigger/main.py", "baseline_v2", "-p", "-d", "killed", "-m",
                                "epochs=80", "experts=[0]", "early_stopping_patience=null", "plot_every=1000",
                                "--log-root", str(tmp_path), "--tracking-uri", server.uri, *small_data_args],
                               cwd=REPO_ROOT, env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    run_dir = tmp_path / "baseline_v2" / "version_0"
    client = mlflow.MlflowClient(server.uri)
    deadline = time.monotonic() + 300
    while True:  # until the server holds the first epoch
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        tracked = (summary_of(run_dir).get("tracking") or {}) if (run_dir / "summary.json").is_file() else {}
        if tracked and steps(client, tracked["run_id"], "expert_0/val_loss"):
            break
        time.sleep(0.2)
    server.kill()
    stderr = process.communicate(timeout=600)[1]
    assert process.returncode == 0, stderr
    assert stderr.count(f"tracking server {server.uri} failed") == 1
    summary = summary_of(run_dir)
    assert summary["status"] == "finished" and summary["experts"]["expert_0"]["epochs"] == 80
    server.start()
    for _ in range(2):  # a second sync sends nothing twice
        synced = run_module("neuro_trigger/main.py", "--sync", str(run_dir))  # the server its record names
        assert synced.returncode == 0, synced.stderr
    assert summary_of(run_dir)["tracking"] == tracked
    for key in ("expert_0/val_loss", "expert_0/train_loss", "expert_0/val_z_diff_std"):
        assert steps(client, tracked["run_id"], key) == list(range(80)), key
    run = client.get_run(tracked["run_id"])
    assert run.info.status == "FINISHED" and run.data.tags["status"] == "finished"
    assert run.data.metrics["test/loss_vs_old"] == pytest.approx(summary["metrics"]["test"]["loss_vs_old"])
