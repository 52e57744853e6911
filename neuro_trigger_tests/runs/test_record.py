"""summary.json is one typed record: a real run's record matches docs/run-folder.md, damaged records are
reported with their cause, and records of the previous release (no schema_version) still read."""
import json
import re
import shutil

import pytest

from neuro_trigger.runs import record
from neuro_trigger_tests.conftest import REPO_ROOT, run_module


def documented_keys(section: str) -> set[str]:
    """The keys in the first column of a table under `## section` of docs/run-folder.md."""
    text = (REPO_ROOT / "docs" / "run-folder.md").read_text().split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return {key for cell in re.findall(r"^\| ([^|]+) \|", text, re.M) for key in re.findall(r"`(\w+)`", cell)}


@pytest.fixture(scope="module")
def packed_run(tmp_path_factory, small_data_args):
    """A finished production run with packed seeds, made through the CLI."""
    log_root = tmp_path_factory.mktemp("log")
    result = run_module("neuro_trigger/main.py", "baseline_v2", "-p", "-d", "record", "--log-root", str(log_root),
                        *small_data_args, "-m", "epochs=1", "experts=[0]", "pack={'seeds': 2}")
    assert result.returncode == 0, result.stderr
    return log_root / "baseline_v2" / "version_0"


def test_every_key_of_the_record_is_documented():
    assert documented_keys("summary.json") == set(record.Summary.__annotations__)
    assert documented_keys("experts.expert_x") == set(record.Expert.__annotations__)


def test_a_real_runs_summary_matches_the_documented_schema(packed_run):
    raw = json.loads((packed_run / "summary.json").read_text())
    assert set(raw) <= documented_keys("summary.json"), set(raw) - documented_keys("summary.json")
    for expert in raw["experts"].values():
        assert set(expert) <= documented_keys("experts.expert_x")
    summary = record.read_summary(packed_run, require=tuple(raw))  # types checked
    assert summary["schema_version"] == record.SCHEMA_VERSION and summary["status"] == "finished"
    assert isinstance(summary["metrics"]["test"]["z_diff_std"], float)


@pytest.mark.parametrize("content, cause", [
    ('{"status": 3, "config": {}}', "summary.json: status is int, expected str"),
    ('{"config": {}, "experts": {"expert_0": {"epochs": "two"}}}', "experts.expert_0.epochs is str, expected int"),
    ("[1, 2]", "summary.json is not a JSON object"),
    ("{broken", "summary.json is not readable JSON"),
    ('{"status": "finished"}', "summary.json has no 'config'"),
    ('{"config": {}, "schema_version": 99}', "newer than this release's"),
])
def test_a_damaged_record_is_refused_with_its_cause(tmp_path, content, cause):
    (tmp_path / "summary.json").write_text(content)
    with pytest.raises(record.DamagedRecord, match=re.escape(cause)) as caught:
        record.read_summary(tmp_path)
    assert str(tmp_path) in str(caught.value)
    if "has no" not in cause:  # compare asks for no key
        assert cause.split(":")[0] in record.try_read_summary(tmp_path)[1]


def test_a_damaged_record_is_one_line_for_predict_and_listed_by_compare(packed_run, tmp_path, small_files):
    damaged = shutil.copytree(packed_run, tmp_path / "baseline_v2" / "version_5")
    summary = json.loads((damaged / "summary.json").read_text())
    (damaged / "summary.json").write_text(json.dumps({**summary, "experts": {"expert_0": {"status": 1}}}))
    result = run_module("-m", "neuro_trigger.predict", str(damaged), str(small_files["test"][0]))
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "experts.expert_0.status is int, expected str" in result.stderr
    listed = run_module("-m", "neuro_trigger.compare", str(packed_run), str(damaged), "--json")
    assert listed.returncode == 0, listed.stderr
    assert "experts.expert_0.status is int" in json.loads(listed.stdout)["unfinished"][0]["status"]


def test_a_record_of_the_previous_release_still_reads(packed_run, tmp_path):
    """Folders written before schema_version: predict (load_networks), compare and compare_to read them."""
    from neuro_trigger.inference import load_networks

    old = shutil.copytree(packed_run, tmp_path / "version_0")
    summary = json.loads((old / "summary.json").read_text())
    del summary["schema_version"]
    (old / "summary.json").write_text(json.dumps(summary))
    assert record.read_summary(old, require=("config", "data"))["status"] == "finished"
    config, networks = load_networks(old)
    assert list(networks) == [0] and config["seed"] == summary["seed"]
    assert [r.status for r in record.find_runs([old])] == ["finished"]
