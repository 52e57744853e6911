"""Local sweeps through the CLI: a grid with two worker processes, and kill -9 then rerun."""
import json
import os
import signal
import time
from pathlib import Path

import pytest

from neuro_trigger_tests.conftest import run_module
from neuro_trigger_tests.sweeping.helpers import (FAST, assert_each_point_finished_once, journal, load_study,
                                                   start_sweep, summary_of, sweep)


@pytest.fixture(scope="module")
def grid_sweep(tmp_path_factory, small_data_args):
    """2 learning rates x 2 seeds with 2 worker processes."""
    log_root = tmp_path_factory.mktemp("log")
    result = sweep("baseline_v2", "-m", "learning_rate=0.01,0.02", *FAST, "--seeds", "2", "--workers", "2",
                   *small_data_args, "--log-root", str(log_root), "--name", "grid")
    return log_root, result


def test_grid_sweep_with_two_workers_runs_every_point_and_seed_once(grid_sweep):
    log_root, result = grid_sweep
    assert result.returncode == 0, result.stderr
    study = load_study("grid", journal(log_root, "grid"))
    expected = [({"learning_rate": lr}, seed) for lr in (0.01, 0.02) for seed in (42, 43)]
    done = assert_each_point_finished_once(study, expected)
    assert len(study.trials) == 4
    workers = set()
    for trial in done:
        summary = summary_of(trial.user_attrs["run_dir"])
        assert summary["status"] == "finished"
        assert summary["sweep"] == {"name": "grid", "trial": trial.number, "params": {"learning_rate":
                                                                                       trial.params["learning_rate"]}}
        assert summary["seed"] == trial.user_attrs["seed"] and summary["config"]["epochs"] == 1
        assert trial.value == pytest.approx(summary["metrics"]["val"]["loss_vs_old"])
        assert Path(summary["run_dir"]).parent == log_root / "baseline_v2"
        workers.add(trial.user_attrs["worker"]["pid"])
    assert len(workers) == 2, "both worker processes took trials"


def test_worker_processes_use_one_torch_thread_per_core_share(grid_sweep):
    log_root, _ = grid_sweep
    logs = "".join(p.read_text() for p in (log_root / "sweeps" / "grid" / "workers").glob("worker_*.log"))
    cores = len(os.sched_getaffinity(0))
    threads = [int(line.rsplit(", ", 1)[1].split()[0]) for line in logs.splitlines() if "torch threads" in line
               and "worker pid" in line]
    assert len(threads) == 2 and sum(threads) <= max(cores, 2)


def test_compare_lists_the_sweeps_runs(grid_sweep):
    log_root, _ = grid_sweep
    result = run_module("-m", "neuro_trigger.compare", str(log_root / "sweeps" / "grid"), "--split", "val", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["rows"]
    assert sorted(r["count"] for r in rows) == [2, 2]  # seeds grouped
    assert {r["hyperparameters"]["learning_rate"] for r in rows} == {0.01, 0.02}


def test_report_and_status_show_the_sweep(grid_sweep):
    log_root, result = grid_sweep
    report = (log_root / "sweeps" / "grid" / "report.html").read_text()
    assert report.count("data:image/png;base64,") == 3 and "http" not in report.replace("http-equiv", "")
    assert "4 done, 0 running" in result.stderr
    status = sweep("--status", "grid", "--log-root", str(log_root), "--json")
    assert status.returncode == 0, status.stderr
    state = json.loads(status.stdout)
    assert (state["done"], state["running"], state["failed"]) == (4, 0, 0)


def test_rerun_of_a_finished_sweep_runs_nothing(grid_sweep, small_data_args):
    log_root, _ = grid_sweep
    result = sweep("baseline_v2", "-m", "learning_rate=0.01,0.02", *FAST, "--seeds", "2", "--workers", "2",
                   *small_data_args, "--log-root", str(log_root), "--name", "grid")
    assert result.returncode == 0, result.stderr
    assert len(load_study("grid", journal(log_root, "grid")).trials) == 4
    assert len(list((log_root / "baseline_v2").glob("version_*"))) == 4


def test_kill_9_mid_trial_then_rerun_finishes_every_point_once(tmp_path, small_data_args):
    args = ["baseline_v2", "-m", "learning_rate=0.01,0.02", "epochs=40", "experts=[-1]", "--workers", "1",
            *small_data_args, "--log-root", str(tmp_path), "--name", "killed"]
    process = start_sweep(*args)
    first = tmp_path / "baseline_v2" / "version_0"
    deadline = time.time() + 300
    while not (first / "expert_-1" / "ckpts" / "last.ckpt").is_file():  # mid-trial, after a checkpoint
        assert process.poll() is None and time.time() < deadline, process.communicate()
        time.sleep(0.2)
    worker_pid = summary_of(first)["pid"]
    os.kill(worker_pid, signal.SIGKILL)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert summary_of(first)["status"] == "running"
    study = load_study("killed", journal(tmp_path, "killed"))
    assert [t.state.name for t in study.trials].count("RUNNING") == 1

    result = sweep(*args)
    assert result.returncode == 0, result.stderr
    study = load_study("killed", journal(tmp_path, "killed"))
    done = assert_each_point_finished_once(study, [({"learning_rate": 0.01}, 42), ({"learning_rate": 0.02}, 42)])
    killed = next(t for t in done if t.params["learning_rate"] == 0.01)
    assert killed.user_attrs["run_dir"] == str(first), "the interrupted trial continued in its own run folder"
    summary = summary_of(first)
    assert summary["status"] == "finished" and summary["resumed"], "resumed from its checkpoint via --resume"
    assert len(list((tmp_path / "baseline_v2").glob("version_*"))) == 2


def test_ctrl_c_stops_all_workers_cleanly_and_resume_continues(tmp_path, small_data_args):
    # long enough that no trial ends between its first checkpoint and the signal (40 epochs with early stopping
    # once did, when the epochs got faster)
    args = ["baseline_v2", "-m", "learning_rate=0.01,0.02", "epochs=300", "early_stopping_patience=None",
            "experts=[-1]", "--workers", "2", *small_data_args, "--log-root", str(tmp_path), "--name", "stopped"]
    process = start_sweep(*args)
    runs = [tmp_path / "baseline_v2" / f"version_{v}" for v in (0, 1)]
    deadline = time.time() + 300
    while not all((r / "expert_-1" / "ckpts" / "last.ckpt").is_file() for r in runs):  # both workers training
        assert process.poll() is None and time.time() < deadline, process.communicate()
        time.sleep(0.2)
    worker_pids = [summary_of(r)["pid"] for r in runs]
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    for pid in worker_pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert [summary_of(r)["status"] for r in runs] == ["interrupted", "interrupted"]
    states = [t.state.name for t in load_study("stopped", journal(tmp_path, "stopped")).trials]
    assert sorted(states) == ["FAIL", "FAIL", "WAITING", "WAITING"], "interrupted trials queued again"

    result = sweep("--resume", "stopped", "--log-root", str(tmp_path), "--workers", "2")
    assert result.returncode == 0, result.stderr
    done = assert_each_point_finished_once(load_study("stopped", journal(tmp_path, "stopped")),
                                           [({"learning_rate": 0.01}, 42), ({"learning_rate": 0.02}, 42)])
    assert sorted(t.user_attrs["run_dir"] for t in done) == [str(r) for r in runs]
    assert all(summary_of(r)["status"] == "finished" and summary_of(r)["resumed"] for r in runs)


def test_random_search_with_seeds_stops_at_the_trial_count(tmp_path, small_data_args):
    result = sweep("baseline_v2", "--method", "random", "--trials", "2", "--seeds", "2", "-m",
                   "learning_rate=log(1e-3,1e-1)", "batch_size=choice(512,2048)", *FAST, "--workers", "2",
                   *small_data_args, "--log-root", str(tmp_path), "--name", "random")
    assert result.returncode == 0, result.stderr
    trials = load_study("random", journal(tmp_path, "random")).trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * len(trials)
    points = {}
    for trial in trials:
        assert 1e-3 <= trial.params["learning_rate"] <= 1e-1 and trial.params["batch_size"] in (512, 2048)
        points.setdefault(json.dumps(trial.params, sort_keys=True), []).append(trial.user_attrs["seed"])
        assert summary_of(trial.user_attrs["run_dir"])["config"]["learning_rate"] == trial.params["learning_rate"]
    # stops at 2 finished trials; two workers may each have sampled a point at once
    assert 1 <= len(points) <= 2 and all(sorted(s) == [42, 43] for s in points.values()), points


def test_nt_trials_lists_every_trial_with_its_parameters_metrics_and_run(grid_sweep):
    import neuro_trigger as nt

    log_root, _ = grid_sweep
    frame = nt.trials("grid", log_dir=log_root)
    assert frame.attrs["metric"] == "val/loss_vs_old" and len(frame) == 4 and set(frame["state"]) == {"COMPLETE"}
    assert sorted(zip(frame["param.learning_rate"], frame["seed"])) == [(0.01, 42), (0.01, 43), (0.02, 42), (0.02, 43)]
    for _, row in frame.iterrows():
        summary = summary_of(row["run_dir"])
        assert row["status"] == "finished"
        assert row["val/loss_vs_old"] == pytest.approx(summary["metrics"]["val"]["loss_vs_old"])
        assert row["val.loss_vs_old"] == summary["metrics"]["val"]["loss_vs_old"]
    assert nt.trials(log_root / "sweeps" / "grid")["run_dir"].tolist() == frame["run_dir"].tolist()


def test_sweep_trials_have_no_plots_until_drawn_and_the_best_are_drawn_at_the_end(grid_sweep):
    """Issue 21 item 5: a trial writes metrics, weights and predictions but no plots; the sweep draws its best
    trials' plots at its end, and `main.py --draw` any other's, into its report."""
    log_root, result = grid_sweep
    runs = sorted((log_root / "baseline_v2").glob("version_*"))
    pending = [r for r in runs if summary_of(r).get("figures") == "pending"]
    drawn = [r for r in runs if summary_of(r).get("figures") == "drawn"]
    assert len(pending) == 3 and len(drawn) == 1, [summary_of(r).get("figures") for r in runs]
    trial = pending[0]
    assert not list(trial.glob("**/*.png"))
    assert (trial / "weights.json").is_file() and (trial / "predictions_test.csv.gz").is_file()
    report = (trial / "report.html").read_text()
    assert "data:image/png" not in report and "--draw" in report
    assert all("data:image/png" in (r / "report.html").read_text() for r in drawn)
    assert "plots of the best 1 trial(s) drawn" in result.stdout
    out = run_module("neuro_trigger/main.py", "--draw", str(trial))
    assert out.returncode == 0, out.stderr
    assert summary_of(trial)["figures"] == "drawn" and summary_of(trial)["status"] == "finished"
    pngs = {p.name for p in trial.glob("expert_-1/plots/*.png")}
    assert {"z_reco_vs_pred.png", "z_resolution_vs_z.png"} <= pngs and list(trial.glob("plots/*.png"))
    assert (trial / "report.html").read_text().count("data:image/png;base64,") == len(list(trial.glob("**/*.png")))


def test_plots_drawn_after_the_sweep_overlay_the_fixed_point_network_as_a_runs_own_plots_do(grid_sweep):
    """Plots drawn later (the best trials at the sweep's end, `main.py --draw`) lacked the fixed-point curves that a
    run's own plots draw for a deployable network."""
    from neuro_trigger.evaluation.plots import FIXED
    from neuro_trigger.evaluation.report_sections import png_curves

    log_root, _ = grid_sweep
    drawn = [r for r in sorted((log_root / "baseline_v2").glob("version_*")) if summary_of(r).get("figures") == "drawn"]
    assert drawn
    for run_dir in drawn:
        assert all(d["deployable"] for d in summary_of(run_dir)["deployable"].values())
        for plots in (run_dir / "expert_-1" / "plots", run_dir / "plots"):
            png = plots / "z_resolution_vs_z.png"
            assert FIXED in png_curves(png.read_bytes()), (png, png_curves(png.read_bytes()))
