"""The binary cache: hit, miss after a change, and rebuild after corruption."""
import numpy as np
import pytest

from neuro_trigger.data import cache, io, synthetic


@pytest.fixture
def data_file(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURO_TRIGGER_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "data.gz"
    io.write_file(path, synthetic.generate(300, seed=3))
    return path


def count_parses(monkeypatch):
    calls = []
    original = io.parse
    monkeypatch.setattr(io, "parse", lambda p: calls.append(p) or original(p))
    return calls


def test_second_read_comes_from_the_cache(data_file, monkeypatch):
    calls = count_parses(monkeypatch)
    first = io.read_file(data_file)
    second = io.read_file(data_file)
    assert len(calls) == 1
    for name, values in first.arrays().items():
        np.testing.assert_array_equal(getattr(second, name), values)


def test_changed_file_is_parsed_again(data_file, monkeypatch):
    calls = count_parses(monkeypatch)
    io.read_file(data_file)
    io.write_file(data_file, synthetic.generate(200, seed=4))
    assert len(io.read_file(data_file)) == 200
    assert len(calls) == 2


@pytest.mark.parametrize("damage", ["truncate", "flip_bytes", "garbage"])
def test_damaged_cache_is_rebuilt_not_trusted(data_file, monkeypatch, damage):
    good = io.read_file(data_file)
    entry = next(cache.cache_dir().glob("*.npz"))
    blob = bytearray(entry.read_bytes())
    if damage == "truncate":
        blob = blob[: len(blob) // 2]
    elif damage == "flip_bytes":
        middle = len(blob) // 2
        blob[middle:middle + 64] = bytes(b ^ 0xFF for b in blob[middle:middle + 64])
    else:
        blob = bytearray(b"not a cache")
    entry.write_bytes(bytes(blob))
    calls = count_parses(monkeypatch)
    again = io.read_file(data_file)
    assert len(calls) == 1
    np.testing.assert_array_equal(again.inputs, good.inputs)
    assert io.read_file(data_file) is not None and len(calls) == 1  # the rebuilt entry is used
