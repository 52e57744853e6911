"""The pre-activation penalty (`preactivation_penalty`): a 3DH network whose pre-activations reach the hardware's
wrap without it is deployable with it, and the key is refused in one line where it cannot work."""
import json

import numpy as np
import pytest

import neuro_trigger as nt
from neuro_trigger.data import synthetic_3dh
from neuro_trigger.data.splits import SPLITS
from neuro_trigger_tests.conftest import run_module

HIDDEN = 8
BIAS = 29.0  # hidden node 0 sits at x = 29 on every track: beyond the wrap margin (28), below the wrap (32)


@pytest.fixture(scope="module")
def wrapping_start(tmp_path_factory):
    """Tiny 27-input 3DH data, and a 27-8-4 network whose hidden node 0 has no input weights and bias 29: tanh is
    flat there in float32, so the loss alone never moves it and every track stays near the wrap."""
    folder = tmp_path_factory.mktemp("penalty")
    files = synthetic_3dh.write_synthetic(folder, {"train": 2000, "val": 400, "test": 400}, seed=3, n_inputs=27)
    rng = np.random.default_rng(0)
    w0 = rng.normal(0, 0.2, (HIDDEN, 27))
    b0 = rng.normal(0, 0.2, HIDDEN)
    w0[0], b0[0] = 0.0, BIAS
    weights = {"model.0.weight": w0.tolist(), "model.0.bias": b0.tolist(),
               "model.2.weight": rng.normal(0, 0.2, (4, HIDDEN)).tolist(), "model.2.bias": [0.0] * 4}
    (folder / "weights.json").write_text(json.dumps(weights))
    return {s: [str(files[s][0])] for s in SPLITS}, folder / "weights.json"


@pytest.mark.parametrize("penalty", [None, "the 3dh configs' default"])
def test_a_network_that_would_wrap_is_deployable_with_the_penalty(tmp_path, wrapping_start, penalty):
    data, weights = wrapping_start
    overrides = {"hidden_sizes": [HIDDEN], "epochs": 1, "batch_size": 32, "optim": "SGD", "learning_rate": 1.0,
                 "load_pre_trained_weights": str(weights)}
    if penalty is None:
        overrides["preactivation_penalty"] = None
    run = nt.train("3dh_27", overrides, data=data, log_dir=tmp_path, production=True)
    summary = json.loads((run.path / "summary.json").read_text())
    test = summary["metrics"]["test"]
    if penalty is None:
        assert test["wrap_tracks"] == 400 and test["max_preactivation"] >= 28
        assert not summary["deployable"]["expert_-1"]["deployable"]
    else:  # 63 SGD steps, each taking 2% of the bias's excess over the limit
        assert test["wrap_tracks"] == 0 and test["max_preactivation"] < 28
        assert summary["deployable"]["expert_-1"]["deployable"]


@pytest.mark.parametrize("penalty, expected", [
    ({"limit": 0, "weight": 1}, "'preactivation_penalty' must be null or"),
    ({"weight": -1}, "'preactivation_penalty' must be null or"),
])
def test_a_bad_preactivation_penalty_is_refused_before_any_folder(tmp_path, wrapping_start, penalty, expected):
    with pytest.raises(nt.UserError, match=expected):
        nt.train("3dh_27", {"preactivation_penalty": penalty}, data=wrapping_start[0], log_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_penalty_with_compile_is_one_line_and_exit_2(tmp_path):
    result = run_module("neuro_trigger/main.py", "3dh_27", "--log-root", str(tmp_path), "-m", "compile=True")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "'preactivation_penalty' trains in float, eager" in result.stderr
    assert list(tmp_path.iterdir()) == []
