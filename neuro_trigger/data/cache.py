"""Binary cache of parsed neuroresults files, keyed by content hash and reader format version.

The cache lives in `$NEURO_TRIGGER_CACHE` (default `~/.cache/neuro_trigger`). Entries are
uncompressed `.npz` archives written atomically; the zip CRCs and a shape check detect a
truncated or corrupt entry, which is then rebuilt rather than trusted.
"""
import hashlib
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from neuro_trigger.atomic import atomic_path, write_json
from neuro_trigger.data.tracks import Tracks

FORMAT_VERSION = 1  # bump when the reader's output changes


def cache_dir() -> Path:
    root = os.environ.get("NEURO_TRIGGER_CACHE") or Path.home() / ".cache" / "neuro_trigger"
    return Path(root)


def content_hash(path: str | os.PathLike) -> str:
    """sha256 of the file's bytes, memoised per (path, size, mtime, inode) so unchanged files are not re-read."""
    path = Path(path).resolve()
    stat = path.stat()
    stamp = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "inode": stat.st_ino}
    memo = cache_dir() / "hashes" / (hashlib.sha1(str(path).encode()).hexdigest() + ".json")
    try:
        saved = json.loads(memo.read_text())
        if saved.get("stamp") == stamp and len(saved.get("sha256", "")) == 64:
            return saved["sha256"]
    except (OSError, ValueError):
        pass
    with open(path, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        write_json(memo, {"path": str(path), "stamp": stamp, "sha256": digest})
    except OSError:
        pass  # a read-only cache only costs speed
    return digest


def _entry(digest: str) -> Path:
    return cache_dir() / f"{digest}-v{FORMAT_VERSION}.npz"


def load(digest: str) -> Tracks | None:
    """The cached `Tracks` for this content hash, or None when absent or damaged."""
    entry = _entry(digest)
    if not entry.exists():
        return None
    try:
        with np.load(entry, allow_pickle=False) as archive:
            tracks = Tracks(**{name: archive[name] for name in archive.files})
        n = len(tracks.row)
        shapes_ok = (tracks.ids.shape == (n, 9) and tracks.inputs.shape == (n, 27)
                     and tracks.reco.shape == tracks.old.shape == tracks.old_raw.shape == (n, 2))
        if shapes_ok:
            return tracks
    except (OSError, ValueError, TypeError, KeyError, EOFError, zipfile.BadZipFile):
        pass
    entry.unlink(missing_ok=True)
    return None


def store(digest: str, tracks: Tracks) -> None:
    """Write the cache entry atomically; a failure to write only costs speed next time."""
    try:
        cache_dir().mkdir(parents=True, exist_ok=True)
        with atomic_path(_entry(digest)) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **tracks.arrays())
    except OSError:
        pass
