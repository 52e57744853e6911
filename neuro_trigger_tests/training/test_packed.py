"""Packed seeds (`--seeds K`, `pack: {"seeds": K}`): K copies of each expert trained as one vectorised module.

The contract is equivalence: copy k is the single-network run with seed k, step for step.
"""
import json

import numpy as np
import pytest

from neuro_trigger.data.splits import SPLITS
from neuro_trigger.run import RunRequest, execute
from neuro_trigger_tests.conftest import run_module

EXPERTS = [1, 3]


def run(log_root, files, **overrides):
    request = RunRequest("baseline_v2", production=True, log_root=log_root,
                         data_files={s: [str(files[s][0])] for s in SPLITS},
                         overrides={"experts": EXPERTS, "batch_size": 64, **overrides})
    run_dir, code = execute(request)
    assert code == 0
    return run_dir


def weights(path) -> dict:
    return {expert: {name: np.array(value) for name, value in entry["weights"].items()}
            for expert, entry in json.loads(path.read_text()).items()}


def max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float(np.abs(a[x][name] - b[x][name]).max()) for x in a for name in a[x])


@pytest.mark.parametrize("sampling", [{}, {"dist": {"n_buckets": 5, "uniform": {"lower": -1.0, "upper": 1.0}}}],
                         ids=["shuffled", "reweighted"])
def test_packed_copy_k_equals_the_single_run_with_seed_k(tmp_path, small_files, sampling):
    packed = run(tmp_path / "packed", small_files, epochs=1, seed=5, pack={"seeds": 3}, **sampling)
    for seed in (5, 6, 7):
        single = run(tmp_path / f"single{seed}", small_files, epochs=1, seed=seed, **sampling)
        assert max_difference(weights(packed / f"weights_seed{seed}.json"), weights(single / "weights.json")) < 1e-4
    # the copies differ from each other: their seeds reached both initialisation and row order
    assert max_difference(weights(packed / "weights_seed5.json"), weights(packed / "weights_seed6.json")) > 1e-2


@pytest.mark.parametrize("changes", [{"model": "BaselineModelBN"},
                                     {"quantization_aware": {"epochs": 1}, "early_stopping_patience": None}],
                         ids=["batch_norm", "quantization_aware"])
def test_packs_of_batch_norm_and_quantization_aware_networks_equal_their_single_runs(tmp_path, small_files, changes):
    """The one engine packs what only the single-network engine could train before: copy k keeps its own
    batch-norm statistics, and trains through its own straight-through fixed-point pass."""
    packed = run(tmp_path / "packed", small_files, epochs=2, seed=5, pack={"seeds": 2}, experts=[1], **changes)
    for seed in (5, 6):
        single = run(tmp_path / f"single{seed}", small_files, epochs=2, seed=seed, experts=[1], **changes)
        assert max_difference(weights(packed / f"weights_seed{seed}.json"), weights(single / "weights.json")) < 1e-4
    assert max_difference(weights(packed / "weights_seed5.json"), weights(packed / "weights_seed6.json")) > 1e-2


def test_each_copy_stops_early_when_its_single_run_would(tmp_path, small_files):
    overrides = {"epochs": 6, "early_stopping_patience": 0, "learning_rate": 0.05}
    packed = run(tmp_path / "packed", small_files, seed=11, pack={"seeds": 2}, **overrides)
    stopped_early = 0
    for expert in EXPERTS:
        copies = json.loads((packed / f"expert_{expert}" / "result.json").read_text())["copies"]
        for copy in copies:
            single = run(tmp_path / f"single{copy['seed']}_{expert}", small_files, seed=copy["seed"],
                         **{**overrides, "experts": [expert]})
            alone = json.loads((single / f"expert_{expert}" / "result.json").read_text())
            assert copy["epochs"] == alone["epochs"]
            assert copy["best_val_loss"] == pytest.approx(alone["best_val_loss"], rel=1e-4)
            stopped_early += copy["stopped_early_at_epoch"] is not None
    assert stopped_early  # the case this test is about happened


def test_seeds_run_folder_summary_and_best_copy(tmp_path, small_files, small_data_args):
    log_root = tmp_path / "log"
    result = run_module("neuro_trigger/main.py", "baseline_v2", "-p", "--seeds", "3", "-m", "epochs=2",
                        f"experts={EXPERTS}", "seed=20", "--log-root", str(log_root), "-d", "three seeds",
                        *small_data_args)
    assert result.returncode == 0, result.stderr[-2000:]
    # regression: the logging interval was once set in optimizer steps, and Lightning warned in every run
    assert "log_every_n_steps" not in result.stderr
    run_dir = next(log_root.glob("baseline_v2/version_*"))
    summary = json.loads((run_dir / "summary.json").read_text())
    seeds = summary["seeds"]
    assert seeds["seeds"] == [20, 21, 22]
    assert [s["seed"] for s in seeds["per_seed"]] == [20, 21, 22]
    z_std = [s["metrics"]["test"]["z_diff_std"] for s in seeds["per_seed"]]
    spread = seeds["metrics"]["test"]["z_diff_std"]
    assert spread["mean"] == pytest.approx(np.mean(z_std)) and spread["std"] == pytest.approx(np.std(z_std, ddof=1))
    assert spread["n"] == 3
    assert seeds["experts"]["expert_1"]["test"]["z_diff_std"]["n"] == 3
    best = weights(run_dir / "weights.json")
    for expert in EXPERTS:
        result_json = json.loads((run_dir / f"expert_{expert}" / "result.json").read_text())
        losses = {c["seed"]: c["best_val_loss"] for c in result_json["copies"]}
        assert result_json["best_seed"] == min(losses, key=losses.get) == seeds["best_seed"][f"expert_{expert}"]
        of_best = weights(run_dir / f"weights_seed{result_json['best_seed']}.json")[f"expert_{expert}"]
        assert max_difference({"x": best[f"expert_{expert}"]}, {"x": of_best}) == 0.0
    report = (run_dir / "report.html").read_text()
    assert "3 seeds" in report and "weights_seed20.json" in report


@pytest.mark.parametrize("args, expected", [
    (["--seeds", "0"], "pack.seeds: expected an integer >= 1 and <= 64, got 0"),
    (["-m", "pack={'copies': 2}"], "pack: expected {'seeds': K}"),
    (["-m", "expert_2.pack={'seeds': 2}"], "'pack' is set for the whole run, not per expert"),
])
def test_unpackable_requests_are_refused_before_any_folder(tmp_path, small_data_args, args, expected):
    result = run_module("neuro_trigger/main.py", "baseline_v2", "-p", "-d", "x", "--log-root", str(tmp_path), *args,
                        *small_data_args)
    assert result.returncode == 2, result.stderr[-2000:]
    assert expected in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.rglob("summary.json"))


def test_runs_packed_with_their_own_rates_train_as_they_would_alone(tmp_path, small_files):
    """execute_pack: per-copy learning rate and (coupled, Adam) weight decay are applied per copy."""
    from neuro_trigger.run import execute_pack

    points = [{"learning_rate": 0.01, "weight_decay": 0.0, "seed": 1}, {"learning_rate": 0.04, "weight_decay": 0.01,
                                                                         "seed": 1}]
    data = {s: [str(small_files[s][0])] for s in SPLITS}
    requests = [RunRequest("baseline_v2", production=True, log_root=tmp_path / "packed", data_files=data,
                           overrides={"experts": [-1], "epochs": 2, "batch_size": 64, **p}) for p in points]
    outcomes = execute_pack(requests)
    assert [code for _, code in outcomes] == [0, 0]
    for (run_dir, _), point in zip(outcomes, points):
        alone = run(tmp_path / f"alone{point['learning_rate']}", small_files, **{**point, "epochs": 2, "experts": [-1]})
        assert max_difference(weights(run_dir / "weights.json"), weights(alone / "weights.json")) < 1e-4
        assert json.loads((run_dir / "summary.json").read_text())["config"]["learning_rate"] == point["learning_rate"]


def test_a_killed_packed_run_resumes_to_the_uninterrupted_result(tmp_path, small_data_args):
    """Each copy's best weights, best val loss and early-stopping count travel in last.ckpt."""
    from neuro_trigger_tests.training.test_reliability import start, wait_for

    extra = ("--seeds", "2", "-m", "experts=[1,2]", "early_stopping_patience=3")
    reference = start(tmp_path / "reference", small_data_args, *extra)
    assert reference.wait(timeout=300) == 0, reference.stderr.read()
    process = start(tmp_path / "killed", small_data_args, *extra)
    run_dir = tmp_path / "killed" / "baseline_v2" / "version_0"
    wait_for(run_dir / "expert_1" / "ckpts" / "last.ckpt", process)
    process.kill()
    process.wait()
    resumed = run_module("neuro_trigger/main.py", "--resume", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    done = tmp_path / "reference" / "baseline_v2" / "version_0"
    for name in ("weights.json", "weights_seed42.json", "weights_seed43.json"):
        assert json.loads((run_dir / name).read_text()) == json.loads((done / name).read_text())
    seeds_of = [json.loads((d / "summary.json").read_text())["seeds"]["per_seed"] for d in (run_dir, done)]
    assert seeds_of[0] == seeds_of[1]
