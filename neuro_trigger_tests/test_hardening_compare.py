"""compare, hardened (issue 23 items 3 and 5): run names stay whole when the output is piped, data gzipped
twice is one data set, and old run folders whose fingerprints are of the file bytes are still read and named."""
import gzip
import json
import shutil

import pytest

from neuro_trigger.data.splits import SPLITS
from neuro_trigger_tests.conftest import run_module


@pytest.fixture(scope="module")
def regzipped_runs(tmp_path_factory, small_files):
    """Two runs through main.py: one on the small data set, one on the same content gzipped again later."""
    root = tmp_path_factory.mktemp("regzipped")
    again = {}
    for split in SPLITS:
        again[split] = root / f"again_{split}.gz"
        content = gzip.decompress(small_files[split][0].read_bytes())
        again[split].write_bytes(gzip.compress(content, compresslevel=6, mtime=1_700_000_000))
        assert again[split].read_bytes() != small_files[split][0].read_bytes()
    log_root = root / "log"
    for files in ({s: small_files[s][0] for s in SPLITS}, again):
        made = run_module("neuro_trigger/main.py", "baseline_v2", "-p", "-d", "regzipped", "--log-root", str(log_root),
                          "--data", *[str(files[s]) for s in SPLITS], "-m", "epochs=1", "experts=[0]")
        assert made.returncode == 0, made.stderr[-2000:]
    return log_root / "baseline_v2"


def test_compare_piped_keeps_run_names_whole(regzipped_runs, monkeypatch):
    """Bug: piped, rich used 80 columns and wrapped `baseline_v2/version_0` over three lines."""
    monkeypatch.setenv("COLUMNS", "40")
    piped = run_module("-m", "neuro_trigger.compare", str(regzipped_runs), "--split", "val", "--wide")
    assert piped.returncode == 0, piped.stderr
    for name in ("baseline_v2/version_0", "baseline_v2/version_1"):
        assert sum(name in line for line in piped.stdout.splitlines()) == 1, piped.stdout


def test_data_gzipped_twice_is_one_fingerprint_in_compare(regzipped_runs):
    data = [json.loads((regzipped_runs / v / "summary.json").read_text())["data"]["train"][0]
            for v in ("version_0", "version_1")]
    assert data[0]["sha256"] != data[1]["sha256"] and data[0]["content_sha256"] == data[1]["content_sha256"]
    compared = json.loads(run_module("-m", "neuro_trigger.compare", str(regzipped_runs), "--json").stdout)
    assert not compared["data_mismatch"] and {r["data"] for r in compared["runs"]} == {"A"}
    assert compared["fingerprinted_by_bytes"] == []


def test_compare_says_when_data_fingerprints_were_computed_differently(regzipped_runs, tmp_path):
    """Folders of the release before content fingerprints recorded only the bytes' sha256: still read; counted as
    the same data where the bytes are identical; and compare says that the fingerprints differ in kind."""
    old = tmp_path / "baseline_v2"
    for version in ("version_0", "version_1"):
        shutil.copytree(regzipped_runs / version, old / version)
        summary = json.loads((old / version / "summary.json").read_text())
        summary.pop("schema_version")
        summary["data"] = {s: [{"path": f["path"], "sha256": f["sha256"]} for f in files]
                           for s, files in summary["data"].items()}
        (old / version / "summary.json").write_text(json.dumps(summary))
    runs = [str(regzipped_runs / "version_0"), str(regzipped_runs / "version_1"), str(old / "version_1")]
    compared = run_module("-m", "neuro_trigger.compare", *runs, "--json")
    assert compared.returncode == 0, compared.stderr
    result = json.loads(compared.stdout)
    assert result["fingerprinted_by_bytes"] == [str(old / "version_1")]
    assert not result["data_mismatch"]  # the old run's bytes are those of version_1: the same content
    shown = run_module("-m", "neuro_trigger.compare", *runs).stdout
    assert f"note: the data fingerprints were computed differently: {old.name}/version_1 recorded only the bytes" \
        in shown, shown
    both_old = json.loads(run_module("-m", "neuro_trigger.compare", str(old), "--json").stdout)
    assert both_old["fingerprinted_by_bytes"] == [] and both_old["data_mismatch"]  # all of one kind: no note
