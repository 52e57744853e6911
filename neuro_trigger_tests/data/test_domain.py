"""Issue 13 item 4: data values checked against their meaning, one test per column class."""
import pytest

from neuro_trigger.data import io
from neuro_trigger.errors import UserError
from neuro_trigger_tests.conftest import run_module
from neuro_trigger_tests.data.test_io import SPEC_ROW, write_raw

POSITION = {"Expert": 6, "iNodes": 7, "oNodes": 8, "SL1-driftT": 13, "RecoZ": 36, "RecoTheta": 37,
            "ScaleZ": 38, "RawZ": 39, "ScaleTheta": 40, "RawTheta": 41}


def with_value(column: str, value: str) -> list[str]:
    row = list(SPEC_ROW)
    row[POSITION[column]] = value
    return row


@pytest.mark.parametrize("column, value, expected", [
    ("Expert", "7", r"column Expert is 7, expected -1 \(no expert split\) or an expert 0\.\.4"),
    ("Expert", "-3", r"column Expert is -3, expected -1"),
    ("iNodes", "26", r"column iNodes is 26, expected 27 input nodes"),
    ("oNodes", "3", r"column oNodes is 3, expected 1 or 2 output nodes"),
    ("SL1-driftT", "1.5", r"column SL1-driftT is 1\.5, expected a scaled value in \[-1, 1\]"),
    ("RecoZ", "1e300", r"column RecoZ is 1e\+300, expected a scaled value in \[-1, 1\]"),
    ("RecoTheta", "-1.01", r"column RecoTheta is -1\.01, expected a scaled value"),
    ("ScaleZ", "nan", r"column ScaleZ is nan, expected a finite number"),
    ("ScaleTheta", "-inf", r"column ScaleTheta is -inf, expected a finite number"),
    ("RawZ", "5000", r"column RawZ is 5000, expected a hardware integer in \[-4095, 4096\]"),
    ("RawTheta", "-4096", r"column RawTheta is -4096, expected a hardware integer"),
])
def test_value_outside_its_meaning_is_refused_with_file_line_and_column(tmp_path, column, value, expected):
    path = write_raw(tmp_path / "bad.gz", [SPEC_ROW, SPEC_ROW, with_value(column, value)])
    with pytest.raises(UserError, match=r"bad\.gz:5: " + expected):
        io.read_file(path, use_cache=False)


@pytest.mark.parametrize("column, value", [
    ("Expert", "-1"), ("Expert", "4"), ("oNodes", "1"),  # one network on all rows; z-only networks
    ("RecoZ", "1"), ("RecoTheta", "-1"), ("SL1-driftT", "1.0000001"),  # edges, and the last printed digit
    ("RawZ", "4096"), ("RawTheta", "-4095"),
])
def test_values_at_the_edges_of_their_meaning_are_accepted(tmp_path, column, value):
    tracks = io.read_file(write_raw(tmp_path / "ok.txt", [with_value(column, value)]), use_cache=False)
    assert len(tracks) == 1


def test_expert_7_is_refused_by_training_before_any_run_folder(tmp_path, small_files):
    """Bug: an Expert of 7 was silently dropped and -3 trained on; now the run is refused up front."""
    bad = write_raw(tmp_path / "bad.gz", [with_value("Expert", "7")])
    log = tmp_path / "log"
    result = run_module("neuro_trigger/main.py", "baseline_v2", "--log-root", str(log), "--data", str(bad),
                        str(small_files["val"][0]), str(small_files["test"][0]), "-m", "epochs=1")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: {bad}:3: column Expert is 7") and result.stderr.count("\n") == 1
    assert not log.exists() or not any(log.rglob("summary.json"))
