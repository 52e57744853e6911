"""User mistakes cost one line and exit code 2, before any trial starts (no run folder, no study)."""
import importlib
import socket

import pytest

from neuro_trigger.api.sweeping import define
from neuro_trigger.cli import run_cli
from neuro_trigger.errors import UserError
from neuro_trigger.sweeping import named
from neuro_trigger.sweeps import sweeps as NAMED_SWEEPS
from neuro_trigger.sweeping.definition import check_metric
from neuro_trigger.sweeping.slurm import parse_options
from neuro_trigger.sweeping.space import Range, Space, split_top_level
from neuro_trigger_tests.sweeping.helpers import sweep

sweep_cli = importlib.import_module("neuro_trigger.sweep")  # `from neuro_trigger import sweep` is `nt.sweep`


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("args, message", [
    (["-m", "learning_rate=log(1e-1,1e-4)", "--method", "tpe", "--trials", "3"], "LOW < HIGH"),
    (["-m", "learning_rate=loog(1e-4,1e-1)"], "must be int or float"),  # not a range: a plain (bad) value
    (["-m", "learnin_rate=0.01,0.02"], "did you mean 'learning_rate'"),
    (["-m", "expert_2.batch_sise=16,32"], "did you mean 'batch_size'"),
    (["-m", "act=tanh,sigmoid_x"], "unknown act"),
    (["-m", "learning_rate=0.01,0.02", "--metric", "val/loss_vs_odl"], "did you mean val/loss_vs_old"),
    (["-m", "learning_rate=0.01,0.02", "--metric", "valid/loss"], "SPLIT/NAME"),
    (["-m", "learning_rate=log(1e-4,1e-1)"], "ranges need --method random or tpe"),
    (["--method", "tpe", "-m", "learning_rate=log(1e-4,1e-1)"], "--trials N"),
    (["-m", "learning_rate=0.01,0.02", "--slurm", "partion=short"], "did you mean 'partition'"),
    (["-m", "learning_rate=0.01,0.02", "--storage", "postgresql://u:pw@127.0.0.1:{port}/db"], "cannot connect"),
    (["-m", "learning_rate=0.01,0.02", "--storage", "notaurl"], "not a database URL"),
    # bug: a second -m silently replaced the first (argparse nargs="+" without extend), so this typo was lost
    (["-m", "learnin_rate=0.01", "-m", "batch_size=128,512"], "did you mean 'learning_rate'"),
])
def test_bad_input_is_one_line_and_exit_2_before_any_trial(tmp_path, small_data_args, args, message, capsys):
    args = [a.replace("{port}", str(_unused_port())) for a in args]
    code = run_cli(sweep_cli.main, ["baseline_v2", *args, *small_data_args, "--log-root", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert message in err
    assert "pw" not in err.replace("postgresql://u@", ""), "no password in messages"
    assert not (tmp_path / "baseline_v2").exists(), "no run folder"
    assert not list(tmp_path.glob("sweeps/*/journal.log")), "no study"


def test_unreachable_database_from_the_command_line(tmp_path, small_data_args):
    result = sweep("baseline_v2", "-m", "learning_rate=0.01,0.02", *small_data_args, "--log-root", str(tmp_path),
                   "--storage", f"postgresql://u:pw@127.0.0.1:{_unused_port()}/db", timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: --storage postgresql://u@127.0.0.1:") and "cannot connect" in result.stderr
    assert not list(tmp_path.rglob("*"))


def test_unknown_sweep_for_status_is_a_user_error(tmp_path, capsys):
    assert run_cli(sweep_cli.main, ["--status", "nosuch", "--log-root", str(tmp_path)]) == 2
    assert "no sweep 'nosuch'" in capsys.readouterr().err


def test_ranges_and_grids_are_parsed_as_literals_never_evaluated():
    space = Space.parse(["learning_rate=log(1e-4,1e-1)", "batch_size=choice(128,512,2048)", "epochs=int(50,200)",
                         "act=tanh,tanh/2", "experts=[0,1],[2]", "dist.n_buckets=21",
                         "filter=__import__('os').system('true')"])
    assert space.ranges["learning_rate"] == Range("log", (1e-4, 1e-1))
    assert space.ranges["batch_size"] == Range("choice", (128, 512, 2048))
    assert space.ranges["epochs"] == Range("int", (50, 200))
    assert space.axes == {"act": ["tanh", "tanh/2"], "experts": [[0, 1], [2]]}
    assert space.overrides["filter"] == "__import__('os').system('true')"  # a plain string, not run
    assert split_top_level('a,[1,2],"x,y"') == ["a", "[1,2]", '"x,y"']
    for bad in ["log(0,1)", "int(1.5,3)", "float(1)", "choice()", "log(a,b)"]:
        with pytest.raises(UserError):
            Range.parse("k", bad)


def test_metrics_that_appear_later_are_accepted():
    assert check_metric("val/z_diff_std_trimmed_fixed") == ("val", "z_diff_std_trimmed_fixed")
    assert check_metric("test/efficiency") == ("test", "efficiency")
    with pytest.raises(UserError):
        check_metric("val/z_resolution_vs_z")


def test_named_sweep_typo_gets_a_suggestion():
    with pytest.raises(UserError, match="did you mean 'seeds'"):
        named.check("x", {"config": "baseline_v2", "seed": 3})


def test_slurm_options_become_submitit_parameters():
    assert parse_options("partition=short,time=1:30:00,cpus=4,mem=8G") == {
        "cluster": "slurm", "timeout_min": 90, "cpus_per_task": 4, "mem_gb": 8, "slurm_partition": "short"}


@pytest.mark.parametrize("name", list(NAMED_SWEEPS))
def test_every_named_sweep_is_valid(name, tmp_path):
    definition = define(name, Space(), log_root=tmp_path)  # what sweep.py NAME and nt.sweep(NAME) run
    assert definition.name == name and definition.config == NAMED_SWEEPS[name]["config"]
    assert definition.method == "grid" and definition.space.axes or definition.trials
