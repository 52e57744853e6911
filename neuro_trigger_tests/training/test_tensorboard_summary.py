"""TensorBoard holds everything (issue 21): per-epoch z, theta and trigger figures, the final test figures in
float and fixed point, and an HParams entry; and a run prints no Lightning warning the user cannot act on."""
import json
import os
import shutil

import pytest

from neuro_trigger_tests.conftest import run_module


@pytest.fixture(scope="module")
def run_and_resume(tmp_path_factory, small_data_args):
    """A finished run and its --resume after it was marked interrupted, on a machine where SLURM's `srun` is
    installed (as on the Belle II clusters), with their TensorBoard folder as it was before the resume."""
    tmp = tmp_path_factory.mktemp("tb")
    slurm_bin = tmp / "bin"
    slurm_bin.mkdir()
    (slurm_bin / "srun").symlink_to(shutil.which("false"))  # Lightning only asks whether srun is on the PATH
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{slurm_bin}{os.pathsep}{os.environ['PATH']}")
        first = run_module("neuro_trigger/main.py", "baseline_v2", "-p", "-d", "tb", "--log-root", str(tmp / "log"),
                           *small_data_args, "-m", "epochs=2", "experts=[0]")
        assert first.returncode == 0, first.stderr[-2000:]
        run_dir = tmp / "log" / "baseline_v2" / "version_0"
        shutil.copytree(run_dir / "expert_0" / "tb", tmp / "tb_before_resume")
        for record in (run_dir / "summary.json", run_dir / "expert_0" / "result.json"):
            record.write_text(json.dumps({**json.loads(record.read_text()), "status": "interrupted"}))
        resumed = run_module("neuro_trigger/main.py", "--resume", str(run_dir))
        assert resumed.returncode == 0, resumed.stderr[-2000:]
    return {"first": first, "resumed": resumed, "tb": tmp / "tb_before_resume"}


def test_no_srun_or_deleted_logs_warning_on_a_run_and_its_resume(run_and_resume):
    """Bug: Lightning warned "The `srun` command is available ..." on every run where SLURM is installed, and
    "Experiment logs directory ... will be deleted" on every --resume (the rows are kept by fit.csv_history_kept)."""
    for result in (run_and_resume["first"], run_and_resume["resumed"]):
        assert "srun" not in result.stderr
        assert "will be deleted" not in result.stderr and "exists and is not empty" not in result.stderr
        assert "Warning" not in result.stderr and "warn" not in result.stderr.lower()


def test_tensorboard_has_theta_and_trigger_figures_per_epoch_final_figures_and_hparams(run_and_resume):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    events = EventAccumulator(str(run_and_resume["tb"]))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    for name in ("z_diff_std", "theta_diff_std", "theta_diff_std_trimmed", "efficiency", "rejection"):
        assert [e.step for e in events.Scalars(f"val_{name}")] == [0, 1], name
    assert all(0 <= e.value <= 1 for name in ("efficiency", "rejection") for e in events.Scalars(f"val_{name}"))
    for name in ("z_diff_std", "theta_diff_std", "efficiency", "rejection"):  # float and fixed point, after training
        for tag in (f"test/{name}", f"test/{name}_fixed"):
            assert tag in scalars and [e.step for e in events.Scalars(tag)] == [2], tag

    content = events.PluginTagToContent("hparams")
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    session = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
    assert {"test/efficiency", "test/efficiency_fixed", "test/theta_diff_std"} <= {
        m.name.tag for m in experiment.metric_infos}
    hparams = dict(session.hparams)
    assert hparams["learning_rate"].number_value == 0.02 and hparams["batch_size"].number_value == 2048
    assert hparams["act"].string_value == "tanh/2" and hparams["expert"].number_value == 0
    assert hparams["compile"].string_value == "false" and "data" not in hparams
