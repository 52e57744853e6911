"""`sweep.py --pack K`: compatible trials train as one pack, and each is still an ordinary trial."""
import json
from pathlib import Path

import numpy as np
import pytest

from neuro_trigger_tests.sweeping.helpers import (FAST, assert_each_point_finished_once, journal, load_study,
                                                   summary_of, sweep)

POINTS = [({"learning_rate": lr, "weight_decay": wd}, seed) for lr in (0.01, 0.03) for wd in (0.0, 0.001)
          for seed in (42, 43)]


def weights(run_dir) -> dict:
    return {f"{x}/{k}": np.array(v) for x, e in json.loads((Path(run_dir) / "weights.json").read_text()).items()
            for k, v in e["weights"].items()}


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory, small_data_args):
    """The same 8 trials (2 learning rates x 2 weight decays x 2 seeds), packed by 8 and unpacked."""
    roots = {}
    for name, extra in (("packed", ["--pack", "8"]), ("unpacked", [])):
        roots[name] = tmp_path_factory.mktemp(name)
        result = sweep("baseline_v2", "-m", "learning_rate=0.01,0.03", "weight_decay=0.0,0.001", "optim=AdamW",
                       *FAST, "--seeds", "2", *extra, *small_data_args, "--log-root", str(roots[name]),
                       "--name", "lr")
        assert result.returncode == 0, result.stderr[-3000:]
    return roots


def trials_by_point(log_root) -> dict:
    done = assert_each_point_finished_once(load_study("lr", journal(log_root, "lr")), POINTS)
    return {(json.dumps(t.params, sort_keys=True), t.user_attrs["seed"]): t for t in done}


def test_packed_trials_are_ordinary_trials(sweeps):
    packed = trials_by_point(sweeps["packed"])
    for trial in packed.values():
        assert len(trial.user_attrs["packed_with"]) == 7  # all eight trained as one pack
        summary = summary_of(trial.user_attrs["run_dir"])
        assert summary["status"] == "finished" and summary["sweep"]["trial"] == trial.number
        assert summary["seed"] == trial.user_attrs["seed"]
        assert summary["config"]["learning_rate"] == trial.params["learning_rate"]
        assert trial.value == pytest.approx(summary["metrics"]["val"]["loss_vs_old"])
        run_dir = Path(trial.user_attrs["run_dir"])
        assert (run_dir / "expert_-1" / "result.json").is_file() and list((run_dir / "expert_-1" / "tb").iterdir())
    runs = (sweeps["packed"] / "sweeps" / "lr" / "runs.txt").read_text().split()
    assert sorted(runs) == sorted(t.user_attrs["run_dir"] for t in packed.values())


def test_a_packed_trial_trains_the_network_its_unpacked_twin_does(sweeps):
    """Also the regression test of a bug found while building it: the first trial of a pack was given the
    weights of the pack's best copy (its network doubled as the holder of the best copy)."""
    packed, unpacked = trials_by_point(sweeps["packed"]), trials_by_point(sweeps["unpacked"])
    for point, trial in packed.items():
        twin = unpacked[point]
        a, b = weights(trial.user_attrs["run_dir"]), weights(twin.user_attrs["run_dir"])
        assert max(float(np.abs(a[k] - b[k]).max()) for k in a) < 1e-4, point
        assert trial.value == pytest.approx(twin.value, rel=1e-3)


def test_pack_size_is_checked(tmp_path, small_data_args):
    result = sweep("baseline_v2", "-m", "learning_rate=0.01,0.03", *FAST, "--pack", "0", *small_data_args,
                   "--log-root", str(tmp_path))
    assert result.returncode == 2 and "--pack 0: expected a number >= 1 and <= 64" in result.stderr
    assert not (tmp_path / "sweeps").exists()
