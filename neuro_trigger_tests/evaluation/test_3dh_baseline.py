"""A deployed NeuroTrigger3DH network (weights.json + network.conf, SPEC-3DH 3) as the `compare_to` baseline of a 3DH
run: the verdict judges the new network against it in hardware arithmetic; a baseline of the other family is refused
in one line, exit 2, before any run folder exists."""
import json
import shutil

import pytest

import neuro_trigger as nt
from neuro_trigger.data import synthetic_3dh
from neuro_trigger.data.splits import SPLITS
from neuro_trigger_tests.conftest import run_module

TINY = ["-m", "epochs=1", "hidden_sizes=[8]"]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """Tiny 27-input 3DH data, a run on it, and that run's deployed files copied to a folder of their own."""
    root = tmp_path_factory.mktemp("baseline")
    files = synthetic_3dh.write_synthetic(root, {"train": 2000, "val": 400, "test": 400}, seed=4, n_inputs=27)
    data = ["--data"] + [str(files[s][0]) for s in SPLITS]
    log_root = root / "log"
    result = run_module("neuro_trigger/main.py", "3dh_27", "-p", "--log-root", str(log_root), *data, *TINY)
    assert result.returncode == 0, result.stderr
    hardware = root / "in_hardware"
    hardware.mkdir()
    for name in ("weights.json", "network.conf"):
        shutil.copy(log_root / "3dh_27" / "version_0" / name, hardware / name)
    return data, log_root, hardware


@pytest.mark.slow
def test_a_deployed_network_is_the_baseline_of_the_verdict(deployed):
    """The same config and seed train the same network again, so its fixed-point figures equal the baseline's,
    which are computed from the deployed files alone."""
    data, log_root, hardware = deployed
    result = run_module("neuro_trigger/main.py", "3dh_27", "-p", "--log-root", str(log_root), *data, *TINY,
                        "-m", f"compare_to={hardware}")
    assert result.returncode == 0, result.stderr
    assert f"against the compare_to baseline {hardware}" in result.stdout
    lines = [line for line in result.stdout.splitlines() if "ROC area" in line or "trimmed std" in line]
    assert len(lines) == 4 and all("fixed point" in line and "(not significant), baseline" in line for line in lines)
    test = json.loads((log_root / "3dh_27" / "version_1" / "summary.json").read_text())["metrics"]["test"]
    for figure in ("z_diff_std_trimmed", "theta_diff_std_trimmed", "nnt_auc", "stt_auc"):
        assert test[f"{figure}_fixed"] == test[f"{figure}_old"] and test[f"{figure}_fixed_minus_old"] == 0
    assert test["z_diff_std_trimmed_minus_old_err"] >= 0 and test["nnt_auc_minus_old_err"] > 0


def test_a_classic_baseline_for_a_3dh_run_is_one_line_and_exit_2(deployed, tmp_path):
    data, _, _ = deployed
    classic = tmp_path / "classic_weights.json"
    classic.write_text(json.dumps({"expert_0": {"weights": {}}}))
    log_root = tmp_path / "log"
    result = run_module("neuro_trigger/main.py", "3dh_27", "-p", "--log-root", str(log_root), *data, *TINY,
                        "-m", f"compare_to={classic}")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "holds a classic network (expert_N keys), but this config trains a 3dh network" in result.stderr
    assert not log_root.exists()


def test_a_3dh_baseline_for_a_classic_run_is_refused_before_any_folder(deployed, small_files, tmp_path):
    _, log_root, hardware = deployed
    data = {s: [str(small_files[s][0])] for s in SPLITS}
    for baseline, expected in ((str(hardware), "a baseline only for the 3dh family"),
                               ("3dh_27/version_0", "a run of the 3dh family, but this config trains a classic")):
        with pytest.raises(nt.UserError, match=expected):
            nt.train("baseline_v2", {"epochs": 1, "compare_to": baseline}, data=data, log_dir=log_root,
                     production=True)
    assert not (log_root / "baseline_v2").exists()
