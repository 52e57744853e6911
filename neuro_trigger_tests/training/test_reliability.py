"""Interrupted runs resume exactly; bad input is refused clearly; concurrent runs do not collide."""
import gzip
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from neuro_trigger_tests.conftest import REPO_ROOT, run_module

TRAIN = ["-p", "-d", "reliability", "-m", "epochs=40", "early_stopping_patience=null"]


def start(log_root: Path, data_args: list[str], *extra: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.Popen([sys.executable, "neuro_trigger/main.py", "baseline_v2", *TRAIN, *extra,
                             "--log-root", str(log_root), *data_args], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.05)


def outputs(run_dir: Path) -> dict:
    """What must match between an uninterrupted and a resumed run."""
    summary = json.loads((run_dir / "summary.json").read_text())
    return {
        "epochs": {x: e["epochs"] for x, e in summary["experts"].items()},
        "best": {x: e["best_val_loss"] for x, e in summary["experts"].items()},
        "weights": json.loads((run_dir / "weights.json").read_text()),
        "predictions": gzip.open(run_dir / "predictions_test.csv.gz", "rt").read(),
        "files": sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*")
                        if p.is_file() and "tfevents" not in p.name),
    }


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, small_data_args):
    log_root = tmp_path_factory.mktemp("reference")
    process = start(log_root, small_data_args)
    assert process.wait(timeout=300) == 0, process.stderr.read()
    return outputs(log_root / "baseline_v2" / "version_0")


def test_kill_9_then_resume_matches_an_uninterrupted_run(tmp_path, small_data_args, uninterrupted):
    process = start(tmp_path, small_data_args)
    run_dir = tmp_path / "baseline_v2" / "version_0"
    wait_for(run_dir / "expert_0" / "ckpts" / "last.ckpt", process)
    process.kill()
    process.wait()
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "running"
    resumed = run_module("neuro_trigger/main.py", "--resume", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished" and len(summary["resumed"]) == 1
    assert outputs(run_dir) == uninterrupted


def test_ctrl_c_stops_all_experts_and_resume_completes(tmp_path, small_data_args, uninterrupted):
    process = start(tmp_path, small_data_args)
    run_dir = tmp_path / "baseline_v2" / "version_0"
    wait_for(run_dir / "expert_0" / "ckpts" / "last.ckpt", process)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) == 130
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    assert "interrupted" in {e["status"] for e in summary["experts"].values()}
    for name, expert in summary["experts"].items():  # experts waiting for a core had nothing to save yet
        assert (run_dir / name / "ckpts" / "last.ckpt").is_file() == (expert["epochs"] > 0)
    assert run_module("neuro_trigger/main.py", "--resume", str(run_dir)).returncode == 0
    assert outputs(run_dir) == uninterrupted


def test_sigterm_twice_exits_at_once(tmp_path, small_data_args):
    process = start(tmp_path, small_data_args, "-m", "epochs=400")
    wait_for(tmp_path / "baseline_v2" / "version_0" / "expert_0" / "ckpts" / "last.ckpt", process)
    process.send_signal(signal.SIGTERM)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 143  # 128 + SIGTERM, as shells expect


def test_resume_refuses_finished_foreign_and_changed_runs(tmp_path, small_files):
    data = tmp_path / "data"
    data.mkdir()
    copies = []
    for split in ("train", "val", "test"):
        copy = data / small_files[split][0].name
        copy.write_bytes(small_files[split][0].read_bytes())
        copies.append(str(copy))
    result = run_module("neuro_trigger/main.py", "baseline_v2", "-p", "-d", "", "--log-root", str(tmp_path / "log"),
                        "--data", *copies, "-m", "epochs=1", "experts=[3]")
    assert result.returncode == 0, result.stderr
    run_dir = tmp_path / "log" / "baseline_v2" / "version_0"
    finished = run_module("neuro_trigger/main.py", "--resume", str(run_dir))
    assert finished.returncode == 2 and "already finished" in finished.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    (run_dir / "summary.json").write_text(json.dumps({**summary, "status": "interrupted"}))
    Path(copies[1]).write_bytes(small_files["test"][0].read_bytes())  # the validation file changed
    changed = run_module("neuro_trigger/main.py", "--resume", str(run_dir))
    assert changed.returncode == 2 and "changed since the run started" in changed.stderr
    foreign = run_module("neuro_trigger/main.py", "--resume", str(tmp_path))
    assert foreign.returncode == 2 and "not a run folder" in foreign.stderr
    for result in (finished, changed, foreign):
        assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


def test_two_runs_started_together_get_their_own_versions(tmp_path, small_data_args):
    processes = [start(tmp_path, small_data_args, "-m", "epochs=2", "experts=[2,3]") for _ in range(2)]
    assert [p.wait(timeout=300) for p in processes] == [0, 0]
    for version in (0, 1):
        summary = json.loads((tmp_path / "baseline_v2" / f"version_{version}" / "summary.json").read_text())
        assert summary["status"] == "finished"
    assert len((tmp_path / "log.txt").read_text().splitlines()) == 2


def test_cache_is_safe_when_two_processes_build_it_at_once(tmp_path, small_files):
    env = {**os.environ, "NEURO_TRIGGER_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-m", "neuro_trigger.data", str(small_files["train"][0]), "--json"]
    processes = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    results = [json.loads(p.communicate(timeout=120)[0]) for p in processes]
    assert results[0] == results[1] and results[0]["rows"] == 6000
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1
    again = subprocess.run(command, env=env, capture_output=True, text=True)
    assert json.loads(again.stdout) == results[0]


def test_nan_loss_stops_the_expert_with_a_clear_message(tmp_path, small_data_args):
    result = run_module("neuro_trigger/main.py", "baseline_v2", "-p", "-d", "", "--log-root", str(tmp_path),
                        *small_data_args, "-m", "epochs=3", "experts=[0]", "model=DeepModel", "act=relu",
                        "optim=SGD", "learning_rate=10", "weight_decay=1", "batch_size=16")  # w *= -9 per step
    assert result.returncode == 1
    summary = json.loads((tmp_path / "baseline_v2" / "version_0" / "summary.json").read_text())
    assert summary["status"] == "failed"
    error = summary["experts"]["expert_0"]["error"]
    assert "loss is" in error and "epoch 0" in error and "step" in error


@pytest.mark.parametrize("overrides, message", [
    (["compare_to=baseline_v2/version_7"], "compare_to 'baseline_v2/version_7': no run at"),
    (["load_pre_trained_weights=missing/weights.json"], "cannot read weights"),
    (['dist={"n_buckets": 5, "norm": {"mean": 0, "std": -1}}'], "dist.norm.std: expected a positive number"),
    (['dist={"n_buckets": 5, "uniform": {"lower": 1, "upper": 0}}'], "expected lower < upper"),
    (['dist={"n_buckets": 0, "uniform": {}}'], "dist.n_buckets: expected an integer >= 1"),
    (["extends=baseline_v1"], "-m extends: the parent of a config is set in configs.py"),
])
def test_bad_references_and_distributions_are_refused(tmp_path, small_data_args, overrides, message):
    result = run_module("neuro_trigger/main.py", "baseline_v2", "-p", "-d", "", "--log-root", str(tmp_path),
                        *small_data_args, "-m", *overrides)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "baseline_v2").exists()


def test_wrong_weight_shapes_and_compare_to_other_data_are_refused(tmp_path, small_files, small_data_args):
    deep = run_module("neuro_trigger/main.py", "deep_v1", "-p", "-d", "", "--log-root", str(tmp_path),
                      *small_data_args, "-m", "epochs=1", "experts=[1]")
    assert deep.returncode == 0, deep.stderr
    weights = tmp_path / "deep_v1" / "version_0" / "weights.json"
    wrong = run_module("neuro_trigger/main.py", "baseline_v2", "-p", "--log-root", str(tmp_path), *small_data_args,
                       "-m", "experts=[1]", f"load_pre_trained_weights={weights}")
    assert wrong.returncode == 2 and "expert_1" in wrong.stderr and "has no tensor" in wrong.stderr
    other = [small_data_args[0], small_data_args[2], small_data_args[1], small_data_args[3]]  # train/val swapped
    mismatch = run_module("neuro_trigger/main.py", "baseline_v2", "-p", "--log-root", str(tmp_path), *other,
                          "-m", "experts=[1]", "compare_to=deep_v1/version_0")
    assert mismatch.returncode == 2 and "different data files" in mismatch.stderr


def test_log_root_that_cannot_hold_runs(tmp_path, small_data_args):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    result = run_module("neuro_trigger/main.py", "baseline_v2", "-p", "--log-root", str(not_a_folder),
                        *small_data_args)
    assert result.returncode == 2 and "log root" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_log_root(tmp_path, small_data_args):
    root = tmp_path / "ro"
    root.mkdir()
    root.chmod(stat.S_IRUSR | stat.S_IXUSR)
    result = run_module("neuro_trigger/main.py", "baseline_v2", "-p", "--log-root", str(root), *small_data_args)
    assert result.returncode == 2 and "log root" in result.stderr


def test_no_eval_or_unsafe_load_in_the_package():
    sources = "\n".join(p.read_text() for p in (REPO_ROOT / "neuro_trigger").rglob("*.py"))
    for forbidden in (r"(^|[^\w.])(eval|exec)\(", r"import pickle|pickle\.load", r"allow_pickle=True",
                      r"weights_only=False"):
        assert not re.search(forbidden, sources, re.MULTILINE), forbidden
    loads = [line for line in sources.splitlines() if "torch.load(" in line]
    assert loads and all("weights_only=True" in line for line in loads)
