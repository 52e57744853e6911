"""Hostile input, round two (issue 23): weights that are not finite numbers and JSON nested beyond any real
file get one clear line and exit 2, before any run folder exists."""
import json
import math

import pytest
import torch

from neuro_trigger.data.splits import SPLITS
from neuro_trigger.hardware.deploy import not_deployable_reason
from neuro_trigger.models import BaselineModel, HalfTanh
from neuro_trigger.run import RunRequest, execute
from neuro_trigger_tests.conftest import run_module

DEEP = 100_000  # levels of nesting: json.loads of this raises RecursionError


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, small_files):
    request = RunRequest("baseline_v2", production=True, log_root=tmp_path_factory.mktemp("log"),
                         data_files={s: [str(small_files[s][0])] for s in SPLITS},
                         overrides={"epochs": 1, "experts": [0]})
    run_dir, code = execute(request)
    assert code == 0
    return run_dir


def one_line_refusal(result, *words: str) -> None:
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert all(word in result.stderr for word in words), result.stderr


@pytest.mark.parametrize("bad", [math.nan, math.inf, 1e39], ids=["nan", "inf", "beyond_float32"])
def test_non_finite_weights_in_load_pre_trained_weights_are_refused_before_any_folder(tmp_path, finished_run,
                                                                                      small_data_args, bad):
    weights = json.loads((finished_run / "weights.json").read_text())
    weights["expert_0"]["weights"]["model.net.0.weight"][3][5] = bad
    path = tmp_path / "weights.json"
    path.write_text(json.dumps(weights))  # NaN and Infinity as Python's json writes them
    log_root = tmp_path / "log"
    result = run_module("neuro_trigger/main.py", "baseline_v2", "-p", "-d", "x", "--log-root", str(log_root),
                        *small_data_args, "-m", "experts=[0]", f"load_pre_trained_weights={path}")
    one_line_refusal(result, str(path), "model.net.0.weight", "not finite")
    assert not log_root.exists() or not list(log_root.rglob("summary.json"))


def test_a_network_with_weights_that_are_not_finite_is_never_deployable():
    network = BaselineModel(27, 2, HalfTanh())
    assert not_deployable_reason(network) is None
    with torch.no_grad():
        network.output.bias[1] = math.inf
    assert "not finite" in not_deployable_reason(network)


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


def test_deeply_nested_weights_json_is_refused_in_one_line(tmp_path, small_data_args):
    path = tmp_path / "weights.json"
    path.write_text(nested(DEEP))
    result = run_module("neuro_trigger/main.py", "baseline_v2", "-p", "-d", "x", "--log-root", str(tmp_path / "log"),
                        *small_data_args, "-m", f"load_pre_trained_weights={path}")
    one_line_refusal(result, str(path), "nested too deeply")
    assert not (tmp_path / "log").exists() or not list((tmp_path / "log").rglob("summary.json"))


def test_deeply_nested_summary_json_is_refused_by_predict_and_resume_and_listed_as_damaged_by_compare(
        tmp_path, finished_run, small_files):
    damaged = tmp_path / "baseline_v2" / "version_0"
    damaged.mkdir(parents=True)
    (damaged / "summary.json").write_text('{"status": ' + nested(DEEP) + "}")
    one_line_refusal(run_module("-m", "neuro_trigger.predict", str(damaged), str(small_files["test"][0])),
                     "nested too deeply")
    one_line_refusal(run_module("neuro_trigger/main.py", "--resume", str(damaged)), "nested too deeply")
    compared = run_module("-m", "neuro_trigger.compare", str(damaged), str(finished_run), "--json")
    assert compared.returncode == 0 and "Traceback" not in compared.stderr, compared.stderr[-2000:]
    statuses = {row["run"]: row["status"] for row in json.loads(compared.stdout)["runs"]}
    assert statuses[str(damaged)] == "summary.json is not readable JSON"
    assert statuses[str(finished_run)] == "finished"
