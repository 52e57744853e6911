"""`python -m neuro_trigger.predict`: a finished run applied to data files."""
import json

import numpy as np
import pytest

from neuro_trigger.data.splits import SPLITS
from neuro_trigger.run import RunRequest, execute
from neuro_trigger.runs.export import read_columns, read_prediction_columns
from neuro_trigger_tests.conftest import run_module


@pytest.fixture(scope="module")
def two_expert_run(tmp_path_factory, small_files):
    request = RunRequest("baseline_v2", production=True, log_root=tmp_path_factory.mktemp("log"),
                         data_files={s: [str(small_files[s][0])] for s in SPLITS},
                         overrides={"epochs": 2, "experts": [0, 4]})
    run_dir, code = execute(request)
    assert code == 0
    return run_dir


def test_reproduces_the_runs_own_test_predictions_and_metrics(two_expert_run, small_files, tmp_path):
    out = tmp_path / "pred.csv"
    result = run_module("-m", "neuro_trigger.predict", str(two_expert_run), str(small_files["test"][0]),
                        "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    summary = json.loads((two_expert_run / "summary.json").read_text())
    for name in ("expert_0", "expert_4"):
        stored = summary["experts"][name]["metrics"]["test"]
        for key in ("rows", "loss", "loss_old", "z_diff_std", "z_diff_std_trimmed", "efficiency", "rejection"):
            assert report["experts"][name][key] == stored[key], (name, key)
    columns = ["RecoZ", "PredZ", "PredTheta", "PredZ_cm", "PredTheta_deg", "Expert"]
    written = read_columns(out, columns)
    stored_rows = read_prediction_columns(two_expert_run, "test", columns)
    trained = np.isin(written["Expert"], [0, 4])
    np.testing.assert_array_equal(written["PredZ"][trained], stored_rows["PredZ"])
    np.testing.assert_array_equal(written["PredTheta"][trained], stored_rows["PredTheta"])
    np.testing.assert_allclose(written["PredZ_cm"][trained], 100 * written["PredZ"][trained])
    assert np.isnan(written["PredZ"][~trained]).all()


def test_rows_of_untrained_experts_are_counted_not_dropped(two_expert_run, small_files):
    result = run_module("-m", "neuro_trigger.predict", str(two_expert_run), str(small_files["val"][0]))
    assert result.returncode == 0, result.stderr
    assert "rows of experts this run did not train" in result.stdout and "expert 2:" in result.stdout
    report = json.loads(run_module("-m", "neuro_trigger.predict", str(two_expert_run), str(small_files["val"][0]),
                                   "--json", "--checkpoint", "last").stdout)
    untrained = report["rows_without_trained_expert"]
    assert set(untrained) == {"1", "2", "3"}
    assert report["rows_predicted"] + sum(untrained.values()) == report["rows"] == 1500
    assert report["overall"]["rows"] == report["rows_predicted"]


@pytest.mark.parametrize("model", ["BaselineModel", "BaselineModelBN"], ids=["stacked_copies", "listed_copies"])
def test_last_checkpoint_of_packed_seeds_predicts_with_the_best_seeds_copy(tmp_path, small_files, model):
    """Regression: the one engine's last.ckpt holds every copy (stacked weights or a list of networks), and
    `--checkpoint last` once read only single networks. After one epoch the last weights are the best ones."""
    request = RunRequest("baseline_v2", production=True, log_root=tmp_path,
                         data_files={s: [str(small_files[s][0])] for s in SPLITS},
                         overrides={"epochs": 1, "experts": [0], "pack": {"seeds": 3}, "model": model})
    run_dir, code = execute(request)
    assert code == 0
    best, last = (json.loads(run_module("-m", "neuro_trigger.predict", str(run_dir), str(small_files["test"][0]),
                                        "--json", "--checkpoint", checkpoint).stdout)["overall"]
                  for checkpoint in ("best", "last"))
    figures = ("rows", "loss", "z_diff_std", "z_diff_std_trimmed", "efficiency", "rejection")
    assert best["rows"] > 0 and [last[k] for k in figures] == pytest.approx([best[k] for k in figures], rel=1e-5)


def test_a_solo_expert_run_predicts_every_row(tmp_path, small_files):
    request = RunRequest("baseline_v2", production=False, log_root=tmp_path,
                         data_files={s: [str(small_files[s][0])] for s in SPLITS}, overrides={"epochs": 1})
    run_dir, _ = execute(request)
    report = json.loads(run_module("-m", "neuro_trigger.predict", str(run_dir), str(small_files["test"][0]),
                                   "--json", "--filter", "DuplicateEventsFilter()").stdout)
    assert report["rows_predicted"] == report["rows"] < 1500 and list(report["experts"]) == ["expert_-1"]


def test_bad_input_is_one_line_and_exit_2(two_expert_run, tmp_path, small_files):
    for args in ([str(tmp_path), str(small_files["test"][0])],
                 [str(two_expert_run), str(tmp_path / "missing.gz")],
                 [str(two_expert_run), str(small_files["test"][0]), "--filter", "exec('x')"]):
        result = run_module("-m", "neuro_trigger.predict", *args)
        assert result.returncode == 2 and result.stderr.startswith("error: ") and "Traceback" not in result.stderr
