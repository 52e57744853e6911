"""`python -m neuro_trigger.data`: inspection of generated and real-format files."""
import json

from neuro_trigger_tests.conftest import run_module
from neuro_trigger_tests.data.test_io import SPEC_ROW, write_raw


def test_json_summary_of_generated_files(small_files):
    result = run_module("-m", "neuro_trigger.data", str(small_files["train"][0]), "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["rows"] == 6000
    assert set(info["experts"]) == {"0", "1", "2", "3", "4"} and sum(info["experts"].values()) == 6000
    assert -100 <= info["z_reco_cm"]["min"] and info["z_reco_cm"]["max"] <= 100


def test_filter_and_table_output(small_files):
    files = [str(small_files["val"][0]), str(small_files["test"][0])]
    plain = json.loads(run_module("-m", "neuro_trigger.data", *files, "--json").stdout)
    filtered = run_module("-m", "neuro_trigger.data", *files, "--json", "--filter",
                          "ConCatFilter([Max2EventsFilter(), DuplicateEventsFilter()])")
    assert plain["rows"] == 3000 and 0 < json.loads(filtered.stdout)["rows"] < 3000
    table = run_module("-m", "neuro_trigger.data", *files)
    assert "rows: 3000" in table.stdout and "expert  0" in table.stdout


def test_real_format_file(tmp_path):
    path = write_raw(tmp_path / "real.gz", [SPEC_ROW, SPEC_ROW])
    info = json.loads(run_module("-m", "neuro_trigger.data", str(path), "--json").stdout)
    assert info == {**info, "rows": 2, "experts": {"0": 2}}
    assert abs(info["z_reco_cm"]["mean"] - 55.5959) < 1e-6


def test_user_errors_are_one_line_with_exit_code_2(tmp_path, small_files):
    bad = write_raw(tmp_path / "bad.gz", [SPEC_ROW[:-1]])
    for args in ([str(tmp_path / "missing.gz")], [str(bad)],
                 [str(small_files["val"][0]), "--filter", "__import__('os').system('touch PWNED')"]):
        result = run_module("-m", "neuro_trigger.data", *args, cwd=tmp_path)
        assert result.returncode == 2
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "PWNED").exists()
