"""The Python API (`import neuro_trigger as nt`) on real run folders: trained through `nt.train`, interrupted
through the CLI, and read back with the same numbers as `compare`."""
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import neuro_trigger as nt
from neuro_trigger.data.splits import SPLITS
from neuro_trigger.evaluation.comparison import KEY_METRICS
from neuro_trigger_tests.conftest import REPO_ROOT, run_module

TINY = {"epochs": 2, "experts": [0, 4]}
# w *= -9 per step: the loss stops being finite in the first epoch (test_reliability's failing recipe)
DIVERGING = {"epochs": 3, "experts": [0], "model": "DeepModel", "act": "relu", "optim": "SGD",
             "learning_rate": 10, "weight_decay": 1, "batch_size": 16}


def interrupted_run(log_root, small_data_args) -> None:
    """A CLI run stopped by Ctrl-C once its first checkpoint exists."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    process = subprocess.Popen([sys.executable, "neuro_trigger/main.py", "baseline_v2", "-p", "-d", "stopped",
                                "-m", "epochs=200", "experts=[0]", "early_stopping_patience=null",
                                "--log-root", str(log_root), *small_data_args], cwd=REPO_ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    checkpoint = log_root / "baseline_v2" / "version_2" / "expert_0" / "ckpts" / "last.ckpt"
    deadline = time.monotonic() + 180
    while not checkpoint.exists():
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=180) == 130, process.stderr.read()


@pytest.fixture(scope="module")
def log_root(tmp_path_factory, small_files, small_data_args):
    root = tmp_path_factory.mktemp("api-log")
    data = {s: [str(small_files[s][0])] for s in SPLITS}
    seeds = nt.train("baseline_v2", TINY, data=data, seeds=2, log_dir=root, production=True, description="seeds")
    failed = nt.train("baseline_v2", DIVERGING, data=data, log_dir=root, production=True, description="diverges")
    assert (seeds.status, failed.status) == ("finished", "failed")
    interrupted_run(root, small_data_args)
    nt.train("baseline_v2", {**TINY, "act": "softsign"}, data=data, log_dir=root, production=True,
             description="softsign")
    return root


def same(a, b) -> bool:
    return (a is None or (isinstance(a, float) and math.isnan(a))) and (b is None or math.isnan(b)) or a == b


def test_runs_dataframe_has_every_run_with_its_status_and_the_numbers_of_compare(log_root):
    frame = nt.runs(log_root)
    assert list(frame["description"]) == ["seeds", "diverges", "stopped", "softsign"]
    assert list(frame["status"]) == ["finished", "failed", "interrupted", "finished"]
    assert frame.loc[0, "config.pack.seeds"] == 2 and frame.loc[3, "config.act"] == "softsign"
    assert frame["git_id"].notna().all() and frame["data_fingerprint"].nunique() == 1
    assert "expert 0" in frame.loc[1, "error"]
    result = run_module("-m", "neuro_trigger.compare", str(log_root), "--split", "test", "--json")
    assert result.returncode == 0, result.stderr
    shown = {entry["run"]: entry for entry in json.loads(result.stdout)["runs"]}
    assert {run: entry["status"] for run, entry in shown.items()} == dict(zip(frame["run_dir"], frame["status"]))
    for _, row in frame.iterrows():
        metrics = shown[row["run_dir"]]["metrics"].get("overall")
        if row["status"] != "finished":  # compare lists it without figures; the frame has what its record holds
            recorded = nt.Run(row["run_dir"]).summary.get("metrics", {}).get("test", {})
            assert metrics is None and same(recorded.get("z_diff_std"), row["test.z_diff_std"])
            continue
        for name in KEY_METRICS:
            for key in (name, f"{name}_err"):
                assert same(metrics[key], row.get(f"test.{key}")), (row["run_dir"], key)
    seeds_run = nt.Run(frame.loc[0, "run_dir"])
    compared = seeds_run.compare([frame.loc[3, "run_dir"]]).set_index("run")
    for run, row in compared.iterrows():
        for name in KEY_METRICS:
            assert same(row[name], shown[run]["metrics"]["overall"][name])


def test_runs_selects_by_status_config_and_time_and_per_expert(log_root):
    assert list(nt.runs(log_root, status="finished")["description"]) == ["seeds", "softsign"]
    assert len(nt.runs(str(log_root / "*"), config="baseline_v2")) == 4
    assert len(nt.runs(log_root, config="deep_v1")) == 0
    assert len(nt.runs(log_root, since="2999-01-01")) == 0
    experts = nt.runs(log_root, status="finished", per_expert=True)
    assert list(experts["expert"]) == [0, 4, 0, 4]
    summary = nt.Run(experts.loc[1, "run_dir"]).summary
    assert experts.loc[1, "test.z_diff_std"] == summary["experts"]["expert_4"]["metrics"]["test"]["z_diff_std"]
    with pytest.raises(nt.UserError, match="since="):
        nt.runs(log_root, since="yesterday")


def test_run_gives_history_predictions_networks_and_predicts_like_the_run(log_root, small_files):
    import torch

    run = nt.Run(nt.runs(log_root, status="finished")["run_dir"].iloc[0])
    assert run.report_path.is_file() and run.config["pack"] == {"seeds": 2}
    history = run.history()
    assert list(history["expert"]) == [0, 0, 4, 4] and list(history["epoch"]) == [0, 1, 0, 1]
    assert history["val_loss"].notna().all() and history["train_loss"].notna().all()
    best = run.summary["experts"]["expert_0"]["best_val_loss"]
    assert history[history["expert"] == 0]["val_loss"].min() == pytest.approx(best)
    predictions = run.predictions("test")
    assert len(predictions) == run.summary["metrics"]["test"]["rows"] and "PredZFix" not in predictions
    assert "PredZFix" in run.predictions("test", fixed_point=True)
    network = run.network(0)
    assert not network.training
    copies = [run.network(0, seed=s) for s in (42, 43)]
    weights = [torch.cat([p.flatten() for p in n.parameters()]) for n in (network, *copies)]
    assert not torch.equal(weights[1], weights[2])
    assert torch.equal(weights[0], weights[1 + run.summary["experts"]["expert_0"]["best_seed"] - 42])
    with pytest.raises(nt.UserError, match="no network of seed 7"):
        run.network(0, seed=7)
    predicted = run.predict(small_files["test"][0])
    trained = predicted[predicted["expert_used"].isin([0, 4])]  # rows of the experts the run did not train: NaN
    assert predicted["PredZ"].isna().sum() == len(predicted) - len(trained)
    keys = ["Experiment", "Run", "Subrun", "Event", "Track"]
    joined = trained.merge(predictions, on=keys, suffixes=("", "_run"), validate="one_to_one")
    assert len(joined) == len(predictions)
    np.testing.assert_allclose(joined["PredZ"], joined["PredZ_run"], rtol=1e-5, atol=1e-6)


def test_a_user_mistake_is_a_typed_exception_before_any_folder(tmp_path, small_files):
    data = {s: [str(small_files[s][0])] for s in SPLITS}
    with pytest.raises(nt.UserError, match="epochs"):
        nt.train("baseline_v2", {"epochs": -1}, data=data, log_dir=tmp_path)
    with pytest.raises(nt.UserError, match="no config named|unknown config|choose"):
        nt.train("no_such_config", data=data, log_dir=tmp_path)
    with pytest.raises(nt.UserError, match="data file not found"):
        nt.train("baseline_v2", data={s: [str(tmp_path / "missing.gz")] for s in SPLITS}, log_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_dataset_gives_an_experts_rows_after_filters_with_the_samplers_weights(small_files):
    data = {s: [str(small_files[s][0])] for s in SPLITS}
    plain = nt.dataset("baseline_v2", "train", expert=2, data=data)
    assert len(plain) and (plain["Expert"] == 2).all() and (plain["sampler_weight"] == 1).all()
    weighted = nt.dataset("baseline_v2", "train", expert=2, data=data,
                          overrides={"dist.n_buckets": 5, "dist.uniform": {"lower": -1.0, "upper": 1.0}})
    assert len(weighted) == len(plain) and weighted["sampler_weight"].mean() == pytest.approx(1.0)
    buckets = np.minimum(((weighted["RecoZ"] + 1) / 2 * 5).astype(int).clip(0, 4), 4)
    chance = weighted.groupby(buckets)["sampler_weight"].sum()
    np.testing.assert_allclose(chance / chance.sum(), 0.2, rtol=1e-9)  # uniform in z: every bucket a fifth


def test_importing_the_package_imports_neither_the_api_nor_pandas():
    result = run_module("-c", "import sys, neuro_trigger.main; import neuro_trigger as nt; "
                              "print('pandas' in sys.modules, 'neuro_trigger.api.tables' in sys.modules); "
                              "import neuro_trigger.runs.record; print(callable(nt.runs), callable(nt.dataset), "
                              "callable(nt.dataset))")
    assert result.stdout.split() == ["False", "False", "True", "True", "True"], result.stderr


@pytest.mark.slow  # about 25 s on 2 idle cores: a worker process per sweep, and the CLI once
def test_sweep_runs_what_the_cli_runs_and_trials_reads_it_back(tmp_path, small_files, small_data_args):
    data = {s: [str(small_files[s][0])] for s in SPLITS}
    sweep = nt.sweep("baseline_v2", {"learning_rate": [0.01, 0.02]}, overrides={"epochs": 1, "experts": [-1]},
                     data=data, log_dir=tmp_path)
    assert (sweep.status, sweep.exit_code, sweep.path) == ("finished", 0, tmp_path / "sweeps" / sweep.name)
    trials = nt.trials(sweep)
    assert len(trials) == 2 and set(trials["state"]) == {"COMPLETE"} and set(trials["status"]) == {"finished"}
    assert sorted(trials["param.learning_rate"]) == [0.01, 0.02]
    for _, trial in trials.iterrows():
        summary = json.loads((Path(trial["run_dir"]) / "summary.json").read_text())
        assert summary["config"]["learning_rate"] == trial["param.learning_rate"]
        assert trial["value"] == trial["val/loss_vs_old"] == pytest.approx(summary["metrics"]["val"]["loss_vs_old"])
        assert trial["test.z_diff_std"] == summary["metrics"]["test"]["z_diff_std"]
    # the same sweep from the command line is the same definition: it continues it and trains nothing more
    result = run_module("neuro_trigger/sweep.py", "baseline_v2", "-m", "learning_rate=0.01,0.02", "epochs=1",
                        "experts=[-1]", *small_data_args, "--log-root", str(tmp_path))
    assert result.returncode == 0 and f"sweep {sweep.name}:" in result.stdout, result.stderr
    assert len(list((tmp_path / "baseline_v2").glob("version_*"))) == 2


def test_a_sweep_mistake_is_a_typed_exception_before_any_trial(tmp_path, small_files):
    data = {s: [str(small_files[s][0])] for s in SPLITS}
    with pytest.raises(nt.UserError, match="epochs"):
        nt.sweep("baseline_v2", {"learning_rate": [0.01, 0.02]}, overrides={"epochs": -1}, data=data, log_dir=tmp_path)
    with pytest.raises(nt.UserError, match="ranges need --method random or tpe"):
        nt.sweep("baseline_v2", ranges={"learning_rate": "log(1e-4,1e-1)"}, data=data, log_dir=tmp_path)
    with pytest.raises(nt.UserError, match="given twice"):
        nt.sweep("baseline_v2", {"learning_rate": [0.01]}, modify=["learning_rate=0.1"], data=data, log_dir=tmp_path)
    with pytest.raises(nt.UserError, match="--pack 99"):
        nt.sweep("baseline_v2", {"learning_rate": [0.01, 0.02]}, pack=99, data=data, log_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_tab_separated_predictions_of_earlier_releases_are_still_read(log_root, tmp_path):
    """Issue 21: predictions files are real CSV now; a run folder of an earlier release, whose
    predictions_<split>.csv.gz are tab-separated with an empty line after the header, reads the same."""
    import gzip
    import shutil

    copy = tmp_path / "baseline_v2" / "version_0"
    shutil.copytree(nt.runs(log_root, status="finished")["run_dir"].iloc[0], copy)
    path = copy / "predictions_test.csv.gz"
    current = nt.Run(copy).predictions("test", fixed_point=True)
    lines = gzip.open(path, "rt").read().splitlines()
    assert "\t" not in lines[0] and lines[1]
    with gzip.open(path, "wt") as f:
        f.write("\n\n".join([lines[0].replace(",", "\t"), "\n".join(lines[1:]).replace(",", "\t")]) + "\n")
    earlier = nt.Run(copy).predictions("test", fixed_point=True)
    assert list(earlier.columns) == list(current.columns) and len(earlier) == len(current)
    np.testing.assert_allclose(earlier.to_numpy(float), current.to_numpy(float))
    plotted = run_module("-m", "neuro_trigger.compare", str(copy), "--plot", str(tmp_path / "overlay.png"))
    assert plotted.returncode == 0, plotted.stderr
    assert (tmp_path / "overlay.png").stat().st_size > 0
