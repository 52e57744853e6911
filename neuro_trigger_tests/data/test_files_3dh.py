"""3DH training files (SPEC-3DH 2): both layouts read by header, basf2's byte layout, the toy writer, bad input."""
import gzip

import numpy as np
import pytest

from neuro_trigger.data import cache, files_3dh, io, splits, synthetic_3dh
from neuro_trigger.data.families import CLASSIC, THREE_DH, detect, three_dh_header
from neuro_trigger.errors import UserError
from neuro_trigger_tests.data.test_io import SPEC_ROW, write_raw


def basf2_file(path, n_inputs, rows):
    """A file byte for byte as CDCTrigger3DHNeuroData writes it: names each followed by a tab, the target names,
    std::endl after the header, then one gzip member per row, numbers as `ostream <<` prints them."""
    names = three_dh_header(n_inputs)
    with open(path, "wb") as f:
        f.write(gzip.compress(("".join(n + "\t" for n in names[:n_inputs]) + "\t".join(names[n_inputs:]) + "\n\n")
                              .encode()))
        for row in rows:
            f.write(gzip.compress(("".join(v + "\t" for v in row[:-1]) + row[-1] + "\n").encode()))
    return path


def row_of(n_inputs, inputs=("0.5", "-0", "1e-05"), targets=("-0.02", "0.3125", "1", "-1"), track_type="0"):
    values = (list(inputs) * n_inputs)[:n_inputs]
    return values + list(targets) + [track_type]


@pytest.mark.parametrize("n_inputs, width", [(27, 32), (126, 131)])
def test_both_layouts_are_told_by_their_header(tmp_path, n_inputs, width):
    assert len(three_dh_header(n_inputs)) == width
    assert detect(three_dh_header(n_inputs)) == (THREE_DH, n_inputs)
    path = basf2_file(tmp_path / "out.gz", n_inputs, [row_of(n_inputs), row_of(n_inputs, track_type="3")])
    tracks = io.read_file(path, use_cache=False)
    assert tracks.family == "3dh" and tracks.inputs.shape == (2, n_inputs) and tracks.reco.shape == (2, 4)
    assert tracks.inputs[0, :3].tolist() == [0.5, 0.0, np.float32(1e-05)]
    assert tracks.reco[0].tolist() == [-0.02, 0.3125, 1.0, -1.0]
    assert tracks.track_type.tolist() == [0, 3]
    assert (tracks.expert == -1).all() and np.isnan(tracks.old).all()


def test_the_27_input_header_is_the_classic_input_order():
    assert three_dh_header(27)[:27] == io.INPUT_COLUMNS and CLASSIC.input_sizes == (27,)


def test_toy_files_read_back_equal_to_six_digits_and_cache(tmp_path):
    files = synthetic_3dh.write_synthetic(tmp_path, {"train": 300, "val": 50, "test": 50}, seed=3, n_inputs=126,
                                          rows_per_member=1)
    generated = synthetic_3dh.generate(300, 126, seed=3, run=1)
    back = io.read_file(files["train"][0])
    np.testing.assert_allclose(back.inputs, generated.inputs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(back.reco, generated.reco, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(back.track_type, generated.track_type)
    cached = cache.load(cache.content_hash(files["train"][0]))
    assert cached is not None and cached.family == "3dh" and cached.inputs.shape == (300, 126)
    np.testing.assert_array_equal(cached.reco, back.reco)


def test_toy_targets_follow_the_labels():
    tracks = synthetic_3dh.generate(4000, 27, seed=1)
    nnt, stt = tracks.reco[:, 2], tracks.reco[:, 3]
    assert set(np.unique(nnt)) == set(np.unique(stt)) == {-1.0, 1.0}
    assert (stt[nnt < 0] < 0).all() and 0.1 < (stt > 0).mean() < (nnt > 0).mean() < 0.6
    assert ((tracks.track_type == 0) == (nnt > 0)).all()
    z_cm = (tracks.reco[:, 0] + 1) * 100 - 100  # outputScale z: [-100, 100] cm
    real = tracks.track_type != 3
    assert (np.abs(z_cm[real & (nnt > 0)]) <= 1.0 + 1e-9).all()
    hidden = tracks.inputs.reshape(-1, 9, 3)
    assert ((hidden == 0).all(axis=2).sum(axis=1) <= 5).all()  # the finder needs hits in 4 superlayers


@pytest.mark.parametrize("header, found", [
    (three_dh_header(27)[:-1], "31 columns"),
    (three_dh_header(126)[:50] + three_dh_header(126)[51:], "130 columns"),
    (three_dh_header(27)[:27] + ["RecoZ", "RecoTheta", "TrackType"], "30 columns"),
])
def test_a_file_fitting_neither_layout_is_refused_in_one_line(tmp_path, header, found):
    path = write_raw(tmp_path / "bad.gz", [["0"] * len(header)], header=header)
    with pytest.raises(UserError) as caught:
        io.read_file(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and found in message
    assert "neuroresults (42, 45 or 46 columns)" in message and "126 inputs (131 columns)" in message


@pytest.mark.parametrize("targets, track_type, expected", [
    (("0", "0", "1.5", "-1"), "0", r":3: column RecoNNTClassification is 1.5, expected a value scaled"),
    (("0", "-1.2", "1", "-1"), "0", r":3: column RecoTheta is -1.2"),
    (("0", "0", "1", "-1"), "7", r":3: column TrackType is 7, expected one of 0 Real"),
    (("0", "0", "1", "-1"), "1.5", r":3: column TrackType is '1.5', expected an integer"),
])
def test_bad_values_are_refused_naming_line_and_column(tmp_path, targets, track_type, expected):
    path = basf2_file(tmp_path / "bad.gz", 27, [row_of(27, targets=targets, track_type=track_type)])
    with pytest.raises(UserError, match=expected):
        io.read_file(path, use_cache=False)


def test_non_finite_input_is_refused(tmp_path):
    path = basf2_file(tmp_path / "nan.gz", 27, [row_of(27, inputs=("nan",))])
    with pytest.raises(UserError, match=r"nan.gz:3: column SL0-relID is nan, expected a finite number"):
        io.read_file(path, use_cache=False)


def test_3dh_and_neuroresults_files_cannot_share_a_split(tmp_path):
    three_dh = basf2_file(tmp_path / "a.gz", 27, [row_of(27)])
    classic = write_raw(tmp_path / "b.gz", [SPEC_ROW])
    wide = basf2_file(tmp_path / "c.gz", 126, [row_of(126)])
    for other in (classic, wide):
        with pytest.raises(UserError, match=f"{other}: a .* cannot be joined with {three_dh}"):
            io.read_files([three_dh, other], use_cache=False)


def test_writer_writes_percent_g_numbers_without_a_trailing_tab(tmp_path):
    tracks = files_3dh.tracks_of_columns({**{n: np.array([1e-05, -0.0]) for n in three_dh_header(27)[:31]},
                                          "TrackType": np.array([0, 1])}, 27)
    path = tmp_path / "w.gz"
    files_3dh.write_file(path, tracks)
    lines = gzip.open(path, "rt").read().split("\n")
    assert lines[1] == "" and lines[2] == "\t".join(["1e-05"] * 31 + ["0"]) and lines[3].startswith("-0\t-0\t")


def test_embedded_3dh_data_set_is_named_by_the_config(tmp_path, monkeypatch):
    monkeypatch.setattr(splits, "EMBEDDED_3DH_ROWS", {"train": 40, "val": 10, "test": 10})
    monkeypatch.setenv("NEURO_TRIGGER_DATA", str(tmp_path))
    monkeypatch.setitem(splits.EMBEDDED, "synthetic_3dh_27", (
        "small27", "3dh27", lambda folder: synthetic_3dh.write_synthetic(folder, splits.EMBEDDED_3DH_ROWS, 1, 27)))
    files = splits.resolve_files("synthetic_3dh_27")
    assert files["train"][0].name == "3dh27_random1.gz"
    assert io.read_file(files["train"][0]).inputs.shape == (40, 27)
    with pytest.raises(UserError, match="expected 'synthetic' or 'synthetic_3dh_27' or 'synthetic_3dh_126'"):
        splits.resolve_files("synthetic_3dh_64")


def test_toy_writer_and_inspector_from_the_command_line(tmp_path):
    from neuro_trigger_tests.conftest import run_module

    made = run_module("-m", "neuro_trigger.data.synthetic_3dh", "--out", str(tmp_path), "--rows", "400",
                      "--inputs", "126")
    assert made.returncode == 0, made.stderr
    shown = run_module("-m", "neuro_trigger.data", str(tmp_path / "3dh126_random1.gz"), "--json")
    info = __import__("json").loads(shown.stdout)
    assert info["family"] == "3dh" and info["inputs"] == 126 and info["rows"] == 400
    assert set(info["track_types"]) <= {"Real", "Background", "UnrelatedFake"} and info["track_types"]["Real"] > 0
