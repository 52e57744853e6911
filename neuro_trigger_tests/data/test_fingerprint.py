"""Data fingerprints of content, not bytes (issue 12 item 4); no stale rows after an in-place edit (issue 13 item 6)."""
import gzip
import os

import numpy as np

from neuro_trigger.data import cache, io, synthetic
from neuro_trigger.evaluation.comparison import Run
from neuro_trigger_tests.data.test_io import SPEC_ROW, write_raw


def summary_entry(path) -> dict:
    """A `data` entry as run.py records it in summary.json."""
    return {"path": str(path), **cache.fingerprint(path)}


def test_regzipped_identical_file_is_the_same_data_for_compare(tmp_path):
    first, second = tmp_path / "a.gz", tmp_path / "b.gz"
    io.write_file(first, synthetic.generate(300, seed=1), gzip_level=1)
    second.write_bytes(gzip.compress(gzip.decompress(first.read_bytes()), compresslevel=9, mtime=12345))
    assert first.read_bytes() != second.read_bytes()
    a, b = summary_entry(first), summary_entry(second)
    assert a["sha256"] != b["sha256"] and a["content_sha256"] == b["content_sha256"]
    runs = [Run(tmp_path / name, {"data": {"train": [entry], "val": [], "test": []}}) for name, entry in
            (("v0", a), ("v1", b))]
    assert runs[0].data_key == runs[1].data_key
    assert cache.same_data(a, cache.fingerprint(second))  # --resume and compare_to accept it too


def test_summaries_from_before_content_hashes_are_compared_by_bytes(tmp_path):
    path = tmp_path / "a.gz"
    io.write_file(path, synthetic.generate(100, seed=1))
    now = cache.fingerprint(path)
    assert cache.same_data({"path": str(path), "sha256": now["sha256"]}, now)
    assert not cache.same_data({"path": str(path), "sha256": "0" * 64}, now)
    plain = write_raw(tmp_path / "plain.txt", [SPEC_ROW])  # uncompressed: content hash == byte hash
    digests = cache.fingerprint(plain)
    assert digests["content_sha256"] == digests["sha256"]
    assert Run(tmp_path, {"data": {"train": [{"sha256": digests["sha256"]}]}}).data_key == \
        Run(tmp_path, {"data": {"train": [{"path": str(plain), **digests}]}}).data_key


def test_in_place_edit_with_restored_mtime_is_detected(tmp_path, monkeypatch):
    """Bug: the memo was keyed on (size, mtime, inode) only, so this edit returned the old rows."""
    monkeypatch.setattr(cache, "RACY_NS", 0)  # trust the memo at once, as for a file edited long ago
    path = write_raw(tmp_path / "data.txt", [SPEC_ROW, SPEC_ROW])
    before = os.stat(path)
    assert io.read_file(path).reco[0, 0] == 0.555959
    recorded = summary_entry(path)
    text = path.read_text()
    with open(path, "r+") as f:  # same size, same inode
        f.write(text.replace("0.555959", "0.555958", 1))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)
    assert io.read_file(path).reco[0, 0] == 0.555958
    assert not cache.same_data(recorded, cache.fingerprint(path))  # what --resume checks


def test_memo_of_a_file_changed_just_before_hashing_is_not_trusted(tmp_path, monkeypatch):
    """Coarse timestamps: a change in the same tick as the hash must not hide behind the memo."""
    path = write_raw(tmp_path / "fresh.txt", [SPEC_ROW])
    calls = []
    original = cache._hash_file
    monkeypatch.setattr(cache, "_hash_file", lambda p: calls.append(p) or original(p))
    cache.fingerprint(path)
    cache.fingerprint(path)
    assert len(calls) == 2
    monkeypatch.setattr(cache, "RACY_NS", 0)  # the file now counts as changed long before its last hash
    cache.fingerprint(path)
    assert len(calls) == 2


def test_memo_makes_the_second_fingerprint_cheap_and_equal(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "RACY_NS", 0)
    path = tmp_path / "a.gz"
    io.write_file(path, synthetic.generate(200, seed=2))
    first = cache.fingerprint(path)
    monkeypatch.setattr(cache, "_hash_file", lambda p: (_ for _ in ()).throw(AssertionError("re-hashed")))
    assert cache.fingerprint(path) == first
    np.testing.assert_array_equal(io.read_file(path).row, np.arange(200))
