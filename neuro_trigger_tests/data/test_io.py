"""Reader and writer of the neuroresults format (SPEC section 3) and its bad-input errors."""
import gzip

import numpy as np
import pytest

from neuro_trigger.constants import COLUMNS, TRIGGER_TRACK_COLUMNS
from neuro_trigger.data import cache, io, synthetic
from neuro_trigger.errors import UserError

SPEC_ROW = ("20 738 0 13824 0 5 0 27 2 -0.724473 0.496094 -0.048085 -0.40891 -0.636719 -0.0713857 "
            "0.0051578 0 -0.098006 0.0100303 0 -0.125662 0 0 0 0.0480976 -0.710938 -0.181244 "
            "-0.412553 0 -0.209359 -0.351387 0 -0.239288 -0.346536 0 -0.269049 0.555959 0.337421 "
            "0.4447564399951165 1822 0.19057502136491267 781").split()


def write_raw(path, rows, header=None):
    text = "\t".join(header or COLUMNS) + "\n\n" + "".join("\t".join(r) + "\n" for r in rows)
    if str(path).endswith(".gz"):
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize("suffix", [".gz", ".txt"])
def test_round_trip_gives_exact_values(tmp_path, suffix):
    tracks = synthetic.generate(500, seed=1)
    path = tmp_path / f"f{suffix}"
    io.write_file(path, tracks)
    back = io.read_file(path, use_cache=False)
    for name, values in tracks.arrays().items():
        np.testing.assert_array_equal(getattr(back, name), values, err_msg=name)
        assert getattr(back, name).flags["C_CONTIGUOUS"]
    assert back.inputs.dtype == np.float32 and back.ids.dtype == np.int64


def test_synthetic_file_has_header_empty_line_and_46_columns(tmp_path):
    path = tmp_path / "f.txt"
    io.write_file(path, synthetic.generate(10, seed=1))
    lines = path.read_text().split("\n")
    assert lines[0].split("\t") == COLUMNS + TRIGGER_TRACK_COLUMNS and len(COLUMNS) == 42
    assert lines[1] == ""
    assert all(len(line.split("\t")) == 46 for line in lines[2:] if line)


def test_reads_the_spec_example_row(tmp_path):
    tracks = io.read_file(write_raw(tmp_path / "real.gz", [SPEC_ROW]), use_cache=False)
    assert tracks.ids[0].tolist() == [20, 738, 0, 13824, 0, 5, 0, 27, 2]
    assert tracks.inputs[0, 0] == np.float32(-0.724473)
    assert tracks.reco[0].tolist() == [0.555959, 0.337421]
    assert tracks.old[0].tolist() == [0.4447564399951165, 0.19057502136491267]
    assert tracks.old_raw[0].tolist() == [1822, 781]
    # Scale = (Raw - 0.5) / 4095.5 holds for the real row
    np.testing.assert_allclose(tracks.old[0], (tracks.old_raw[0] - 0.5) / 4095.5, rtol=1e-12)


def test_several_files_are_concatenated_in_order(tmp_path):
    a, b = synthetic.generate(30, seed=1), synthetic.generate(20, seed=2)
    io.write_file(tmp_path / "a.gz", a)
    io.write_file(tmp_path / "b.gz", b)
    joined = io.read_files([tmp_path / "a.gz", tmp_path / "b.gz"])
    assert len(joined) == 50
    np.testing.assert_array_equal(joined.inputs[30:], b.inputs)
    np.testing.assert_array_equal(joined.row, np.arange(50))


@pytest.mark.parametrize("rows, expected", [
    ([SPEC_ROW, SPEC_ROW[:-1]], r"bad\.gz:4: 41 columns, expected 42"),
    ([SPEC_ROW[:12] + ["abc"] + SPEC_ROW[13:]], r"bad\.gz:3: column SL1-relID is 'abc', expected a number"),
    ([SPEC_ROW[:3] + ["1.5"] + SPEC_ROW[4:]], r"bad\.gz:3: column Event is '1.5', expected an integer"),
    ([SPEC_ROW, SPEC_ROW[:9] + ["nan"] + SPEC_ROW[10:]], r"bad\.gz:4: column SL0-relID is nan, expected a finite"),
    ([SPEC_ROW[:36] + ["inf"] + SPEC_ROW[37:]], r"bad\.gz:3: column RecoZ is inf, expected a finite number"),
    ([], r"bad\.gz: no data rows"),
])
def test_bad_rows_name_file_and_line(tmp_path, rows, expected):
    path = write_raw(tmp_path / "bad.gz", rows)
    with pytest.raises(UserError, match=expected):
        io.read_file(path)
    assert not list(cache.cache_dir().glob(f"{cache.content_hash(path)}*.npz"))  # nothing cached


def test_empty_file_missing_file_and_wrong_header(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(UserError, match="empty.txt: empty file"):
        io.read_file(tmp_path / "empty.txt")
    with pytest.raises(UserError, match="nope.gz: data file not found"):
        io.read_file(tmp_path / "nope.gz")
    header = COLUMNS[:-1] + ["RawPhi"]
    with pytest.raises(UserError, match=r"h\.txt:1: unknown column 'RawPhi'"):
        io.read_file(write_raw(tmp_path / "h.txt", [SPEC_ROW], header=header))
    with pytest.raises(UserError, match=r"h2\.txt:1: required column 'RawTheta' is missing"):
        io.read_file(write_raw(tmp_path / "h2.txt", [SPEC_ROW[:-1]], header=COLUMNS[:-1]))


def test_a_huge_bad_value_is_not_echoed_back_whole(tmp_path):
    """Bug: a 130 KB bad value came back whole in the error line."""
    huge = "x" * 130_000
    with pytest.raises(UserError) as refused:
        io.read_file(write_raw(tmp_path / "bad.gz", [SPEC_ROW[:12] + [huge] + SPEC_ROW[13:]]))
    assert "column SL1-relID is 'xxxx" in str(refused.value) and len(str(refused.value)) < 300
    with pytest.raises(UserError) as refused:
        io.read_file(write_raw(tmp_path / "head.gz", [SPEC_ROW], header=COLUMNS + [huge]))
    assert "unknown column" in str(refused.value) and len(str(refused.value)) < 400


def test_predictions_are_real_csv_and_old_tab_separated_ones_are_still_read(tmp_path):
    """Issue 21: predicted.csv was tab-separated under a .csv name. It is comma-separated now; the tab-separated
    predictions files of earlier releases are read as before, by the data reader and by the predictions reader."""
    import pandas as pd

    from neuro_trigger.runs.export import prediction_columns, read_prediction_columns

    tracks = synthetic.generate(300, seed=5)
    extra = prediction_columns(np.linspace(-0.5, 0.5, 600).reshape(300, 2))
    new, old = tmp_path / "new" / "predictions_test.csv.gz", tmp_path / "old" / "predictions_test.csv.gz"
    for path, csv in ((new, True), (old, False)):
        path.parent.mkdir()
        io.write_file(path, tracks, extra=extra, csv=csv)
    with gzip.open(new, "rt") as f:
        header, first_row = f.readline(), f.readline()
    assert header.rstrip("\n").split(",")[-4:] == ["PredZ", "PredTheta", "PredZ_cm", "PredTheta_deg"]
    assert "\t" not in header and first_row.strip()  # no empty line after the header: what every CSV tool reads
    assert list(pd.read_csv(new).columns) == header.rstrip("\n").split(",")
    assert io.is_csv_name("predicted.csv") and io.is_csv_name("x.CSV.gz") and not io.is_csv_name("x.gz")
    for path in (new, old):
        back = io.read_file(path, use_cache=False)  # predict reads a predictions file as input
        np.testing.assert_array_equal(back.reco, tracks.reco)
        np.testing.assert_array_equal(back.inputs, tracks.inputs)
        columns = read_prediction_columns(path.parent, "test", ["RecoZ", "PredZ"])  # compare --plot, the overlay
        np.testing.assert_array_equal(columns["PredZ"], extra["PredZ"])
    from neuro_trigger.data import files_3dh, synthetic_3dh

    three_dh = synthetic_3dh.generate(50, 27, seed=1)
    files_3dh.write_file(tmp_path / "3dh.csv.gz", three_dh, csv=True)
    files_3dh.write_file(tmp_path / "3dh.gz", three_dh)  # basf2's tab-separated layout, %g as basf2 prints
    np.testing.assert_array_equal(io.read_file(tmp_path / "3dh.csv.gz", use_cache=False).inputs,
                                  io.read_file(tmp_path / "3dh.gz", use_cache=False).inputs)
    bad = tmp_path / "bad.csv"
    bad.write_text(",".join(COLUMNS) + "\n" + ",".join(SPEC_ROW[:-1] + ["x"]) + "\n")
    with pytest.raises(UserError, match=r"bad.csv:2: column RawTheta is 'x', expected an integer"):
        io.read_file(bad, use_cache=False)
