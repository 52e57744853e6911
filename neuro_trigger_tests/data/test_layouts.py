"""SPEC 3a: the 42-, 45- and 46-column layouts, read by header names, mixed in one data set, written back as read."""
import json

import numpy as np
import pytest

from neuro_trigger.constants import COLUMNS, TRIGGER_TRACK_COLUMNS
from neuro_trigger.data import cache, io, synthetic
from neuro_trigger.data.filters import parse_filter
from neuro_trigger.errors import UserError
from neuro_trigger_tests.conftest import run_module
from neuro_trigger_tests.data.test_io import SPEC_ROW, write_raw

LAYOUTS = {42: [], 45: TRIGGER_TRACK_COLUMNS[:3], 46: TRIGGER_TRACK_COLUMNS}
TRIGGER_VALUES = ["1.25", "0.75", "-2.5", "0.4"]  # 2DPhi [rad], 3DTheta [rad], 2DinvPt [1/GeV], 2DPt [GeV]


def layout_file(path, width, rows=2):
    optional = LAYOUTS[width]
    return write_raw(path, [SPEC_ROW + TRIGGER_VALUES[:len(optional)]] * rows, header=COLUMNS + optional)


@pytest.mark.parametrize("width", [42, 45, 46])
def test_each_layout_reads_and_writes_back_in_its_own_layout(tmp_path, width):
    tracks = io.read_file(layout_file(tmp_path / f"in{width}.gz", width), use_cache=False)
    assert tracks.trigger_track_columns == tuple(LAYOUTS[width])
    assert tracks.ids[0].tolist() == [20, 738, 0, 13824, 0, 5, 0, 27, 2]
    for i, name in enumerate(LAYOUTS[width]):
        assert tracks.trigger_track_column(name)[0] == float(TRIGGER_VALUES[i])
    assert np.isnan(tracks.trigger_track[:, len(LAYOUTS[width]):]).all()
    out = tmp_path / f"out{width}.txt"
    io.write_file(out, tracks)
    lines = out.read_text().splitlines()
    assert lines[0].split("\t") == COLUMNS + LAYOUTS[width]
    assert all(len(line.split("\t")) == width for line in lines[2:])
    back = io.read_file(out, use_cache=False)
    for name, values in tracks.arrays().items():
        np.testing.assert_array_equal(getattr(back, name), values, err_msg=name)


def test_columns_are_found_by_name_not_position(tmp_path):
    names = COLUMNS + TRIGGER_TRACK_COLUMNS
    order = names[::-1]
    row = dict(zip(names, SPEC_ROW + TRIGGER_VALUES))
    tracks = io.read_file(write_raw(tmp_path / "reversed.txt", [[row[n] for n in order]], header=order),
                          use_cache=False)
    assert tracks.ids[0].tolist() == [20, 738, 0, 13824, 0, 5, 0, 27, 2]
    assert tracks.old_raw[0].tolist() == [1822, 781]
    assert tracks.trigger_track[0].tolist() == [float(v) for v in TRIGGER_VALUES]


def test_mixed_data_set_keeps_every_optional_column_nan_where_a_file_lacks_it(tmp_path):
    files = [layout_file(tmp_path / f"f{w}.gz", w, rows=r) for w, r in ((42, 1), (46, 2), (45, 3))]
    tracks = io.read_files(files)
    assert len(tracks) == 6 and tracks.trigger_track_columns == tuple(TRIGGER_TRACK_COLUMNS)
    pt = tracks.trigger_track_column("2DPt")
    assert np.isnan(pt[0]) and (pt[1:3] == 0.4).all() and np.isnan(pt[3:]).all()
    assert np.isnan(tracks.trigger_track[0]).all() and (tracks.trigger_track[3:, 0] == 1.25).all()
    # filters and subsets carry the columns; a subset of 42-column rows keeps the union layout
    kept = parse_filter("RangeFilter(0, 2)").apply(tracks)
    assert kept.trigger_track_columns == tuple(TRIGGER_TRACK_COLUMNS) and kept.trigger_track.shape == (2, 4)
    assert kept.trigger_track.flags["C_CONTIGUOUS"]
    out = tmp_path / "mixed.gz"
    io.write_file(out, tracks)
    back = io.read_file(out)  # NaN (unknown) in an optional column is accepted
    np.testing.assert_array_equal(back.trigger_track, tracks.trigger_track)


def test_the_cache_keeps_the_layout(tmp_path):
    path = layout_file(tmp_path / "f45.gz", 45)
    first = io.read_file(path)
    assert cache.load(cache.content_hash(path)) is not None
    again = io.read_file(path)
    assert again.trigger_track_columns == first.trigger_track_columns == tuple(TRIGGER_TRACK_COLUMNS[:3])
    np.testing.assert_array_equal(again.trigger_track, first.trigger_track)


@pytest.mark.parametrize("header, expected", [
    (COLUMNS + TRIGGER_TRACK_COLUMNS + ["Charge"], r"f\.txt:1: unknown column 'Charge'"),
    (COLUMNS[:9] + COLUMNS[10:], r"f\.txt:1: required column 'SL0-relID' is missing"),
    (COLUMNS[:12] + ["SL0-extra_input0"] + COLUMNS[12:], r"f\.txt:1: the header fits no known layout \(43 columns: "
                                                          r".*expected neuroresults .* or 3DH with 27 inputs"),
    (COLUMNS + ["2DPhi", "2DPhi"], r"f\.txt:1: column '2DPhi' appears twice"),
])
def test_bad_headers_are_refused_naming_file_and_column(tmp_path, header, expected):
    path = write_raw(tmp_path / "f.txt", [["0"] * len(header)], header=header)
    with pytest.raises(UserError, match=expected):
        io.read_file(path)


def test_data_cli_shows_the_optional_columns_ranges(tmp_path):
    path = tmp_path / "syn.gz"
    io.write_file(path, synthetic.generate(500, seed=2))
    info = json.loads(run_module("-m", "neuro_trigger.data", str(path), "--json").stdout)
    assert info["trigger_track_columns"] == TRIGGER_TRACK_COLUMNS
    assert 0 < info["2DPt"]["min"] and info["2DPt"]["max"] < 10
    assert -np.pi <= info["2DPhi"]["min"] and info["2DPhi"]["max"] <= np.pi
    table = run_module("-m", "neuro_trigger.data", str(path)).stdout
    assert "2DPt" in table and "3DTheta" in table
    old = layout_file(tmp_path / "old.gz", 42)
    assert "2DPt" not in json.loads(run_module("-m", "neuro_trigger.data", str(old), "--json").stdout)
