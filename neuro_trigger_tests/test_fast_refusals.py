"""sweep.py and predict refuse a typo or a missing path before torch and Lightning are imported (issue 21: they
answered after 10 s and 4-4.5 s, where main.py answers in about a second)."""
import json

from neuro_trigger_tests.conftest import run_module
from neuro_trigger_tests.test_hardening import assert_one_line_refusal

HEAVY = ("torch", "pytorch_lightning", "lightning", "optuna")
IN_PROCESS = """
import importlib, json, sys
from neuro_trigger import cli, predict
sweep = importlib.import_module("neuro_trigger.sweep")  # the CLI module: `from neuro_trigger import sweep` is nt.sweep
codes = [cli.run_cli(module.main, argv) for module, argv in (
    (sweep, ["baseline_v2", "-m", "learning_rat=0.1,0.2", "--log-root", sys.argv[1]]),
    (sweep, ["baseline_v3", "--log-root", sys.argv[1]]),
    (sweep, ["baseline_v2", "--data", sys.argv[1] + "/nope.gz", "a", "b", "--log-root", sys.argv[1]]),
    (predict, [sys.argv[1] + "/no_run", "x.gz"]),
    (predict, [sys.argv[1], sys.argv[1] + "/nope.gz"]),
    (predict, [sys.argv[1], sys.argv[1] + "/summary.json", "--filter", "Nope("]))]
print(json.dumps({"codes": codes, "heavy": [name for name in %r if name in sys.modules]}))
""" % (HEAVY,)


def test_sweep_typo_and_predict_missing_path_are_one_line(tmp_path):
    sweep = run_module("neuro_trigger/sweep.py", "baseline_v2", "-m", "learning_rat=0.1,0.2", "--log-root",
                       str(tmp_path))
    assert_one_line_refusal(sweep, "unknown key 'learning_rat'", "learning_rate")
    predict = run_module("-m", "neuro_trigger.predict", str(tmp_path / "no_run"), str(tmp_path / "x.gz"))
    assert_one_line_refusal(predict, "not a run folder")


def test_refusals_happen_before_torch_lightning_and_optuna_are_imported(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps({"config": {}, "status": "finished"}))  # a run folder to predict
    result = run_module("-c", IN_PROCESS, str(tmp_path))
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.splitlines()[-1])
    assert answer["codes"] == [2] * 6, result.stderr
    assert answer["heavy"] == [], answer
    assert result.stderr.count("error: ") == 6 and "Traceback" not in result.stderr
    assert "nope.gz: data file not found" in result.stderr and "filter 'Nope('" in result.stderr
