"""main.py as a user runs it: a production run of all five experts and everything it writes."""
import gzip
import json
import math

import numpy as np
import pytest
import torch

from neuro_trigger import config as config_lib
from neuro_trigger.configs import configs
from neuro_trigger.data import io
from neuro_trigger.data.splits import SPLITS
from neuro_trigger.run import RunRequest, _build_networks, resolve_request
from neuro_trigger_tests.conftest import run_module

EPOCHS = 3
CONSOLE = {}  # what the first run printed, piped: {"stdout": ..., "stderr": ...}


@pytest.fixture(scope="module")
def production_run(tmp_path_factory, small_data_args):
    """Two production runs of baseline_v2 into one log root; expert 2 trains with batch size 16."""
    log_root = tmp_path_factory.mktemp("log")
    args = ["neuro_trigger/main.py", "baseline_v2", "-p", "-d", "first run", "--log-root", str(log_root),
            *small_data_args, "-m", f"epochs={EPOCHS}", "expert_2.batch_size=16"]
    first = run_module(*args)
    assert first.returncode == 0, first.stderr
    CONSOLE.update(stdout=first.stdout, stderr=first.stderr)
    second = run_module(*args[:4], "second run", *args[5:])
    assert second.returncode == 0, second.stderr
    return log_root


def test_run_folder_holds_every_file(production_run):
    run_dir = production_run / "baseline_v2" / "version_0"
    for name in ["app.log", "git_id.txt", "git_diff.txt", "summary.json", "weights.json",
                 *[f"expert_{x}.log" for x in range(5)],
                 *[f"predictions_{s}.pt" for s in SPLITS], "predictions_val.csv.gz", "predictions_test.csv.gz"]:
        assert (run_dir / name).is_file(), name
    # lean run folders: the train split's input-format predictions only on request (save_train_predictions)
    assert not list(run_dir.glob("predictions_train.csv*"))
    for x in range(5):
        expert_dir = run_dir / f"expert_{x}"
        assert (expert_dir / "ckpts" / "best.ckpt").is_file() and (expert_dir / "ckpts" / "last.ckpt").is_file()
        assert (expert_dir / "csv" / "metrics.csv").is_file()
        assert list((expert_dir / "tb").glob("events.out.tfevents.*"))
        assert json.loads((expert_dir / "result.json").read_text())["status"] == "finished"
    assert len((run_dir / "git_id.txt").read_text().strip()) in (40, len("no commit yet")) or \
        "not a git checkout" in (run_dir / "git_id.txt").read_text()


def test_logs_are_split_by_thread(production_run):
    run_dir = production_run / "baseline_v2" / "version_0"
    app = (run_dir / "app.log").read_text()
    expert_3 = (run_dir / "expert_3.log").read_text()
    assert "expert_0" in app and "expert_3" in app and "MainThread" in app
    assert "expert 3 training" in expert_3 and f"epoch {EPOCHS}/{EPOCHS}" in expert_3  # epoch lines: files only
    assert all(" expert_3 " in line for line in expert_3.splitlines() if line[:4].isdigit())


def test_piped_run_prints_its_phases_in_order_and_few_lines(production_run):
    """Bug (issue 21): piped to a file, `main.py baseline_v2 -p` printed every epoch of every expert (about 500
    lines), nothing between the last epoch and the end, and its final table wrapped at 80 columns."""
    stdout, stderr = CONSOLE["stdout"].splitlines(), CONSOLE["stderr"].splitlines()
    assert len(stdout) + len(stderr) <= 60
    assert not [line for line in stdout + stderr if "warn" in line.lower() or "epoch 1/" in line]
    markers = ["loading:", "training: 5 experts", *[f"expert 3 {p}:" for p in ("training", "evaluating", "plots",
                                                                             "finished")], "export:"]
    at = [next(i for i, line in enumerate(stderr) if marker in line) for marker in markers]
    assert at == sorted(at)
    for expert in range(5):
        assert [p for line in stderr for p in ("training", "evaluating", "plots", "finished")
                if f" expert {expert} {p}:" in line] == ["training", "evaluating", "plots", "finished"]
    title = next(line for line in stdout if "against the old network" in line)
    assert title.strip().startswith("overall") and title.strip().endswith("paired)")  # one line, not wrapped
    assert any(len(line) > 80 for line in stdout)  # the sentences at full width


def test_second_run_gets_the_next_version_and_log_txt_lines(production_run):
    assert (production_run / "baseline_v2" / "version_1" / "summary.json").is_file()
    lines = (production_run / "log.txt").read_text().splitlines()
    assert len(lines) == 2 and lines[0].endswith("first run") and lines[1].endswith("second run")
    assert "version_0" in lines[0] and "version_1" in lines[1]


def test_weights_json_has_the_hardware_shapes(production_run):
    weights = json.loads((production_run / "baseline_v2" / "version_0" / "weights.json").read_text())
    assert sorted(weights) == [f"expert_{x}" for x in range(5)]
    for entry in weights.values():
        assert entry["shapes"] == {"model.net.0.weight": [81, 27], "model.net.0.bias": [81],
                                   "model.net.2.weight": [2, 81], "model.net.2.bias": [2]}  # basf2's keys
        assert np.array(entry["weights"]["model.net.0.weight"]).shape == (81, 27) and entry["deployable"]


def test_summary_holds_config_provenance_and_metrics(production_run):
    summary = json.loads((production_run / "baseline_v2" / "version_0" / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["description"] == "first run"
    assert summary["seed"] == 42 and summary["config"]["act"] == "tanh/2"
    assert {"python", "torch", "pytorch_lightning"} <= set(summary["environment"])
    assert all(len(f["sha256"]) == 64 for s in SPLITS for f in summary["data"][s])
    assert summary["start_time"] and summary["end_time"]
    for x in range(5):
        expert = summary["experts"][f"expert_{x}"]
        assert expert["epochs"] == EPOCHS and expert["samples_per_s"] > 0 and expert["train_time_s"] > 0
        for split in SPLITS:
            metrics = expert["metrics"][split]
            assert metrics["rows"] > 0 and math.isfinite(metrics["loss"]) and math.isfinite(metrics["loss_vs_old"])
            assert metrics["z_diff_std"] > 0 and metrics["theta_diff_std"] > 0
    for split in SPLITS:
        assert summary["metrics"][split]["rows"] == summary["rows"][split]


def test_per_expert_override_reaches_the_trained_module(production_run):
    summary = json.loads((production_run / "baseline_v2" / "version_0" / "summary.json").read_text())
    assert summary["experts_config"]["expert_2"]["batch_size"] == 16
    assert summary["experts_config"]["expert_0"]["batch_size"] == 2048
    for expert, batch in ((2, 16), (0, 2048)):
        rows = summary["experts"][f"expert_{expert}"]["metrics"]["train"]["rows"]
        lines = (production_run / "baseline_v2" / "version_0" / f"expert_{expert}" / "csv" / "metrics.csv"
                 ).read_text().splitlines()
        header = lines[0].split(",")
        steps = [int(line.split(",")[header.index("step")]) for line in lines[1:]]
        assert max(steps) + 1 == EPOCHS * math.ceil(rows / batch)  # steps actually taken at that batch size


def test_prediction_files_match_the_input_format(production_run, small_files):
    run_dir = production_run / "baseline_v2" / "version_0"
    with gzip.open(run_dir / "predictions_test.csv.gz", "rt") as f:  # the input's columns as real CSV
        header = f.readline().rstrip("\n").split(",")
    with gzip.open(small_files["test"][0], "rt") as f:
        input_header = f.readline().rstrip("\n").split("\t")
    assert len(input_header) == 46  # the embedded synthetic layout (SPEC 3a): written back as read
    assert header == input_header + ["PredZ", "PredTheta", "PredZ_cm", "PredTheta_deg",
                                     "PredZFix", "PredThetaFix"]
    data = torch.load(run_dir / "predictions_test.pt", weights_only=True)
    original = io.read_file(small_files["test"][0])
    assert data["pred"].shape == (len(original), 2)
    np.testing.assert_array_equal(np.sort(data["row"].numpy()), np.arange(len(original)))


def test_same_seed_gives_the_same_weights(production_run):
    first = json.loads((production_run / "baseline_v2" / "version_0" / "weights.json").read_text())
    second = json.loads((production_run / "baseline_v2" / "version_1" / "weights.json").read_text())
    assert first == second


def test_pre_trained_weights_reproduce_the_loaded_predictions(production_run, small_files):
    run_dir = production_run / "baseline_v2" / "version_0"
    data = {s: [str(small_files[s][0])] for s in SPLITS}
    request = RunRequest("baseline_v2", production=True, data_files=data,
                         overrides={"load_pre_trained_weights": str(run_dir / "weights.json")})
    networks = _build_networks(resolve_request(request))
    stored = torch.load(run_dir / "predictions_test.pt", weights_only=True)
    tracks = io.read_file(small_files["test"][0])
    for x, network in networks.items():
        rows = stored["row"][stored["expert"] == x].numpy()
        with torch.no_grad():
            pred = network(torch.from_numpy(tracks.inputs[rows]))
        torch.testing.assert_close(pred, stored["pred"][stored["expert"] == x])


def test_debug_run_trains_one_expert_for_few_epochs(tmp_path, small_data_args):
    result = run_module("neuro_trigger/main.py", "baseline_v1", "--log-root", str(tmp_path), *small_data_args)
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "baseline_v1" / "version_0" / "summary.json").read_text())
    assert list(summary["experts"]) == ["expert_-1"] and summary["experts"]["expert_-1"]["epochs"] <= 5
    assert not (tmp_path / "log.txt").exists()


def test_an_expert_without_rows_is_refused_before_the_run_folder(tmp_path, small_data_args):
    """Issue 13: an expert left without rows by its filter used to fail after the run folder existed."""
    result = run_module("neuro_trigger/main.py", "baseline_v2", "-p", "-d", "", "--log-root", str(tmp_path),
                        *small_data_args, "-m", "epochs=1", "experts=[0,3]", 'expert_3.filter="RangeFilter(0, 0)"')
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: expert 3: no training rows left after filter 'RangeFilter(0, 0)'")
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("args, message", [
    (["baseline_v3"], "unknown config 'baseline_v3' (did you mean 'baseline_v2'?)"),
    (["baseline_v2", "-m", "bach_size=16"], "unknown key 'bach_size' (did you mean 'batch_size'?)"),
    (["baseline_v2", "-m", "batch_size=big"], "key 'batch_size' must be int, got 'big'"),
    (["baseline_v2", "-m", "act=tanh/3"], "unknown act 'tanh/3'"),
    (["baseline_v2", "-m", "experts=[0,5]"], "'experts' must be distinct numbers of 0..4"),
    (["baseline_v2", "--data", "a.gz", "b.gz", "c.gz"], "a.gz: data file not found"),
    (["baseline_v2", "-m", "filter=__import__('os').system('touch PWNED')"], "filter"),
    (["baseline_v2", "-m", "act=__import__('os').system('touch PWNED')"], "unknown act"),
])
def test_user_mistakes_are_one_line_and_exit_2(tmp_path, args, message):
    result = run_module("neuro_trigger/main.py", *args, "--log-root", str(tmp_path))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    assert not any(tmp_path.iterdir())  # no run folder for a mistake
    assert not (tmp_path / "PWNED").exists()


def test_draw_of_a_folder_that_is_no_run_is_one_line_and_exit_2(tmp_path):
    """`--draw` (issue 21: a sweep trial's plots on demand) names the folder before importing torch."""
    result = run_module("neuro_trigger/main.py", "--draw", str(tmp_path))
    assert result.returncode == 2 and result.stderr == f"error: --draw {tmp_path}: not a run folder (no summary.json)\n"
    result = run_module("neuro_trigger/main.py", "--draw", str(tmp_path), "-p")
    assert result.returncode == 2 and "--draw takes only run folders" in result.stderr


def test_help_lists_the_configs():
    result = run_module("neuro_trigger/main.py", "--help")
    assert result.returncode == 0
    for name in configs:
        assert name in result.stdout
    assert "--solo_expert" in result.stdout and "-m" in result.stdout


def test_runs_as_a_module_too(tmp_path):
    assert run_module("-m", "neuro_trigger.main", "--help").returncode == 0


@pytest.mark.parametrize("name", list(configs))
def test_every_config_resolves_and_validates(name):
    config = config_lib.resolve(name)
    for expert in config["experts"]:
        assert config_lib.for_expert(config, expert)["description"]
