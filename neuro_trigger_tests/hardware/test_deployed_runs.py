"""Run folders of deployable and non-deployable networks: weights.json in basf2's form, the fixed-point
prediction columns against an independent plain-Python SPEC 10, the _fixed metrics, and bad input."""
import gzip
import json
import math

import numpy as np
import pytest
import torch

from neuro_trigger import config as config_lib
from neuro_trigger.cli import run_cli
from neuro_trigger.constants import INPUT_COLUMNS
from neuro_trigger.data.splits import SPLITS
from neuro_trigger.inference import load_networks
from neuro_trigger.main import main
from neuro_trigger.models import build_network
from neuro_trigger.run import RunRequest, execute
from neuro_trigger.runs import export
from neuro_trigger_tests.conftest import run_module

BASF2_KEYS = ["model.net.0.weight", "model.net.0.bias", "model.net.2.weight", "model.net.2.bias"]
EXPERTS = [0, 1]


def tiny_run(log_root, files, config_name, **overrides):
    request = RunRequest(config_name, production=True, description=config_name, log_root=log_root,
                         data_files={s: [str(files[s][0])] for s in SPLITS},
                         overrides={"epochs": 1, "experts": EXPERTS, **overrides})
    run_dir, code = execute(request)
    assert code == 0
    return run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory, small_files):
    log_root = tmp_path_factory.mktemp("log")
    runs = {name: tiny_run(log_root, small_files, name, save_train_predictions=True)
            for name in ("baseline_v2", "baseline_v1", "baseline_v2_bn")}
    return runs | {"relu": tiny_run(log_root, small_files, "baseline_v2", act="relu")}


def columns(run_dir, names, split="test"):
    return export.read_prediction_columns(run_dir, split, ["Expert", *names])


def inputs_of(cols) -> np.ndarray:
    return np.stack([cols[c] for c in INPUT_COLUMNS], 1).astype(np.float32)  # the float32 values the network saw


@pytest.mark.parametrize("name", ["baseline_v2", "baseline_v1", "baseline_v2_bn"])
def test_weights_json_through_half_tanh_reproduces_the_predictions(runs, name):
    weights = json.loads((runs[name] / "weights.json").read_text())
    cols = columns(runs[name], [*INPUT_COLUMNS, "PredZ", "PredTheta"])
    x = inputs_of(cols).astype(np.float64)
    for expert in EXPERTS:
        entry = weights[f"expert_{expert}"]
        assert entry["deployable"] is True and list(entry["weights"]) == BASF2_KEYS
        assert entry["shapes"] == {BASF2_KEYS[0]: [81, 27], BASF2_KEYS[1]: [81], BASF2_KEYS[2]: [2, 81],
                                   BASF2_KEYS[3]: [2]}
        w = {k: np.array(v) for k, v in entry["weights"].items()}
        rows = cols["Expert"] == expert
        hidden = np.tanh((x[rows] @ w[BASF2_KEYS[0]].T + w[BASF2_KEYS[1]]) / 2)
        out = np.tanh((hidden @ w[BASF2_KEYS[2]].T + w[BASF2_KEYS[3]]) / 2)
        np.testing.assert_allclose(out[:, 0], cols["PredZ"][rows], atol=1e-5, rtol=0)
        np.testing.assert_allclose(out[:, 1], cols["PredTheta"][rows], atol=1e-5, rtol=0)


def spec10_nodes(x: list[float], w: dict, precision=(12, 8, 8, 12, 10, 10)) -> list[int]:
    """SPEC section 10 in plain Python, one row: truncated inputs, rounded weights, integer sums, the table."""
    p_nodes, p_weights, p_lut = precision[3], precision[4], precision[5]
    dp = p_nodes + p_weights - p_lut
    x_max = math.ceil(math.atanh(1 - 2.0 ** -(p_nodes + 1)) * 2.0 ** (p_lut + 1))

    def quantize(v: float) -> int:
        v = float(np.float32(v)) * 2 ** p_weights
        return int(math.copysign(math.floor(abs(v) + 0.5), v))

    def node(total: int) -> int:
        b = abs(total) >> dp
        if b >= x_max:
            value = 2 ** p_nodes
        else:
            xf = float(np.float32((b + 0.5 - 2.0 ** -(dp + 1)) / 2 ** p_lut))
            value = int(math.floor(math.tanh(xf / 2) * 2 ** p_nodes + 0.5))
        return -value if total < 0 else value

    layer = [int(v * 2 ** p_nodes) for v in x]
    for weight, bias in ((w[BASF2_KEYS[0]], w[BASF2_KEYS[1]]), (w[BASF2_KEYS[2]], w[BASF2_KEYS[3]])):
        layer = [node(sum(a * quantize(b) for a, b in zip(layer, row)) + 2 ** p_nodes * quantize(c))
                 for row, c in zip(weight, bias)]
    return layer


@pytest.mark.parametrize("name", ["baseline_v2", "baseline_v2_bn"])
def test_fixed_point_columns_equal_plain_python_spec10_on_every_row(runs, name):
    weights = json.loads((runs[name] / "weights.json").read_text())
    cols = columns(runs[name], [*INPUT_COLUMNS, "PredZFix", "PredThetaFix"])
    x = inputs_of(cols)
    expected = np.array([spec10_nodes([float(v) for v in row], weights[f"expert_{e}"]["weights"])
                         for row, e in zip(x, cols["Expert"])])
    np.testing.assert_array_equal(cols["PredZFix"], expected[:, 0])
    np.testing.assert_array_equal(cols["PredThetaFix"], expected[:, 1])
    assert np.abs(expected).max() <= 4096 and len(np.unique(expected[:, 0])) > 10


def test_summary_fixed_metrics_match_the_columns(runs):
    summary = json.loads((runs["baseline_v2"] / "summary.json").read_text())
    for split in SPLITS:
        cols = columns(runs["baseline_v2"], ["RecoZ", "PredZ", "PredZFix"], split)
        diff = cols["RecoZ"] * 100 - cols["PredZFix"] / 4096 * 100
        metrics = summary["metrics"][split]
        assert metrics["z_diff_std_fixed"] == pytest.approx(float(np.std(diff)), rel=1e-9)
        assert metrics["z_float_vs_fixed_max_cm"] == pytest.approx(
            float(np.abs(cols["PredZ"] - cols["PredZFix"] / 4096).max() * 100), rel=1e-9)
        for expert in EXPERTS:
            rows = cols["Expert"] == expert
            assert summary["experts"][f"expert_{expert}"]["metrics"][split]["z_diff_std_fixed"] == pytest.approx(
                float(np.std(diff[rows])), rel=1e-9)
    test = summary["metrics"]["test"]
    assert {"loss_fixed", "loss_fixed_vs_old", "z_diff_std_trimmed_fixed", "efficiency_fixed", "rejection_fixed",
            "z_resolution_vs_z_fixed", "theta_float_vs_fixed_max_deg"} <= set(test)
    assert not any(k.endswith("_old_fixed") or k in ("rows_fixed", "z_cut_cm_fixed") for k in test)
    assert summary["deployable"] == {f"expert_{x}": {"deployable": True, "reason": None} for x in EXPERTS}


def test_non_deployable_run_keeps_state_dict_naming_and_says_why(runs):
    weights = json.loads((runs["relu"] / "weights.json").read_text())
    entry = weights["expert_0"]
    assert entry["deployable"] is False and "ReLU" in entry["not_deployable_reason"]
    assert "hidden.weight" in entry["weights"]
    summary = json.loads((runs["relu"] / "summary.json").read_text())
    assert summary["deployable"]["expert_0"]["deployable"] is False
    assert "z_diff_std_fixed" not in summary["metrics"]["test"]
    assert "PredZFix" not in gzip.open(runs["relu"] / "predictions_test.csv.gz", "rt").readline()


@pytest.mark.parametrize("name", ["baseline_v1", "baseline_v2_bn"])
def test_deployed_form_loads_back_to_the_same_network(runs, name):
    config, trained = load_networks(runs[name])
    weights = export.read_weights(runs[name])
    x = torch.rand(500, 27) * 2 - 1
    for expert, network in trained.items():
        loaded = build_network(config_lib.for_expert(config, expert))
        export.load_weights(loaded, weights, expert, "weights.json")
        loaded.eval()
        torch.testing.assert_close(loaded(x), network(x), atol=1e-6, rtol=0)


def test_original_trainer_and_earlier_weights_files_load(runs, tmp_path):
    """The original PyTorch trainer wrote only `shapes` and `weights` with basf2's keys, for tanh(x/2) networks;
    our earlier runs wrote state-dict naming (`hidden.weight`)."""
    rng = np.random.default_rng(0)
    original = {BASF2_KEYS[0]: rng.normal(size=(81, 27)), BASF2_KEYS[1]: rng.normal(size=81),
                BASF2_KEYS[2]: rng.normal(size=(2, 81)), BASF2_KEYS[3]: rng.normal(size=2)}
    path = tmp_path / "weights.json"
    path.write_text(json.dumps({f"expert_{x}": {"shapes": {k: list(v.shape) for k, v in original.items()},
                                                "weights": {k: v.tolist() for k, v in original.items()}}
                                for x in range(5)}))
    config = config_lib.resolve("baseline_v2", {"load_pre_trained_weights": str(path)})
    network = build_network(config_lib.for_expert(config, 3))
    export.load_weights(network, export.read_weights(path), 3, str(path))
    torch.testing.assert_close(network.hidden.weight, torch.tensor(original[BASF2_KEYS[0]], dtype=torch.float32))
    torch.testing.assert_close(network.output.bias, torch.tensor(original[BASF2_KEYS[3]], dtype=torch.float32))
    tanh = build_network(config_lib.for_expert(config_lib.resolve("baseline_v1"), 3))
    export.load_weights(tanh, export.read_weights(path), 3, str(path))  # tanh(x) = tanh(2x / 2): halved
    torch.testing.assert_close(tanh.hidden.weight * 2, network.hidden.weight)
    earlier = build_network(config_lib.for_expert(config_lib.resolve("baseline_v2", {"act": "relu"}), 0))
    export.load_weights(earlier, export.read_weights(runs["relu"]), 0, "relu run")
    state = torch.load(runs["relu"] / "expert_0" / "ckpts" / "best.ckpt", weights_only=True)["state_dict"]
    torch.testing.assert_close(earlier.hidden.weight, state["network.hidden.weight"])


def test_predict_fixed_point_reproduces_the_run_columns(runs, small_files, tmp_path):
    out = tmp_path / "pred.csv"
    result = run_module("-m", "neuro_trigger.predict", str(runs["baseline_v2"]), str(small_files["test"][0]),
                        "--fixed-point", "--json", "--out", str(out))
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    cols = columns(runs["baseline_v2"], ["Event", "Track", "PredZFix", "PredThetaFix"])
    new = export.read_columns(out, ["Expert", "PredZFix", "PredThetaFix"])
    predicted = np.isin(new["Expert"], EXPERTS)
    np.testing.assert_array_equal(new["PredZFix"][predicted], cols["PredZFix"])
    summary = json.loads((runs["baseline_v2"] / "summary.json").read_text())
    assert metrics["overall"]["z_diff_std_fixed"] == pytest.approx(summary["metrics"]["test"]["z_diff_std_fixed"])


def test_fixed_point_predict_of_a_non_deployable_run_is_one_line_and_exit_2(runs, small_files):
    result = run_module("-m", "neuro_trigger.predict", str(runs["relu"]), str(small_files["test"][0]), "--fixed-point")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "ReLU" in result.stderr, result.stderr


def test_bad_hardware_config_and_weights_are_one_line_and_exit_2(runs, small_data_args, tmp_path, capsys):
    """The same entry point as `python neuro_trigger/main.py` (in-process: the subprocess start costs 10 s)."""
    wrong = tmp_path / "wrong.json"
    weights = json.loads((runs["baseline_v2"] / "weights.json").read_text())
    weights["expert_0"]["weights"]["model.net.0.weight"] = [[0.0] * 26] * 81
    wrong.write_text(json.dumps(weights))
    common = ["baseline_v2", *small_data_args, "--log-root", str(tmp_path / "log")]
    cases = [(["-p", "-d", "x", "-m", f"load_pre_trained_weights={wrong}", "experts=[0]"], "[81, 26]"),
             (["-m", "precision=[12,8,8,12,10]"], "'precision'"),
             (["-m", "precision=[12,8,8,4,2,10]"], "'precision'"),
             (["-m", "act=relu", "early_stopping_patience=None", 'quantization_aware={"epochs":1}'], "deployable"),
             (["-m", 'quantization_aware={"epochs":1}'], "early_stopping_patience")]
    for args, words in cases:
        assert run_cli(main, [*common, *args]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error:") and words in err, err
    assert not (tmp_path / "log").exists()


def test_quantization_aware_run_validates_in_fixed_point(small_files, tmp_path):
    run_dir = tiny_run(tmp_path, small_files, "baseline_v2", epochs=2, experts=[1], early_stopping_patience=None,
                       quantization_aware={"epochs": 1})
    result = json.loads((run_dir / "expert_1" / "result.json").read_text())
    # the best checkpoint's validation loss is the fixed-point network's loss on the validation split
    assert result["best_val_loss"] == pytest.approx(result["metrics"]["val"]["loss_fixed"], rel=1e-5)
    assert result["best_val_loss"] != pytest.approx(result["metrics"]["val"]["loss"], rel=1e-5)
