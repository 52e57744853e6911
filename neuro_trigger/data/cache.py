"""Fingerprints of data files and the binary cache of parsed ones, keyed by content hash and format version.

A file's fingerprint is the sha256 of its decompressed content (`content_sha256`): a re-gzipped
identical file is the same data. The byte hash (`sha256`) is computed in the same pass and kept
for summaries written before content hashes existed. Hashing a 1M-row `.gz` takes about 1.6 s
(inflate + sha256), so the result is memoised per file on (size, mtime_ns, ctime_ns, inode). An
edit cannot keep ctime (the kernel sets it on every change), and, as in git's "racy clean" rule,
a memo is trusted only if the file's last change was well before it was hashed, so coarse
timestamps cannot hide an edit made in the same tick.

The cache lives in `$NEURO_TRIGGER_CACHE` (default `~/.cache/neuro_trigger`). Entries are
uncompressed `.npz` archives written atomically; the zip CRCs and a shape check detect a
truncated or corrupt entry, which is then rebuilt rather than trusted.
"""
import hashlib
import json
import logging
import os
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np

from neuro_trigger.atomic import atomic_path, write_json
from neuro_trigger.constants import TRIGGER_TRACK_COLUMNS
from neuro_trigger.data.families import FAMILIES
from neuro_trigger.data.tracks import ARRAYS, Tracks
from neuro_trigger.errors import UserError, describe

FORMAT_VERSION = 3  # bump when the reader's output changes (2: optional trigger-track columns; 3: 3DH files)
RACY_NS = 2_000_000_000  # a change this close before hashing might share the memo's timestamps
CHUNK = 1 << 20
log = logging.getLogger("neuro_trigger.data")
_warned = False  # about a cache that cannot be written: once per process


def cache_dir() -> Path:
    root = os.environ.get("NEURO_TRIGGER_CACHE") or Path.home() / ".cache" / "neuro_trigger"
    return Path(root)


def _hash_file(path: Path) -> dict[str, str]:
    """sha256 of the decompressed content and of the bytes, in one read (`.gz` by suffix, as the reader)."""
    content, raw = hashlib.sha256(), hashlib.sha256()
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if path.suffix == ".gz" else None
    try:
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                raw.update(chunk)
                if inflate is None:
                    continue
                content.update(inflate.decompress(chunk))
                while inflate.eof and inflate.unused_data:  # concatenated gzip members, as gzip.open reads them
                    rest = inflate.unused_data
                    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    content.update(inflate.decompress(rest))
    except OSError as e:
        raise UserError(f"{path}: cannot read the data file ({e.strerror or e})") from None
    except zlib.error as e:
        raise UserError(f"{path}: not a valid gzip file ({e})") from None
    if inflate is None:
        content = raw
    elif not inflate.eof:
        raise UserError(f"{path}: truncated gzip file (compressed stream ends early)")
    return {"content_sha256": content.hexdigest(), "sha256": raw.hexdigest()}


def fingerprint(path: str | os.PathLike) -> dict[str, str]:
    """`{"content_sha256", "sha256"}` of a data file, memoised while the file is provably unchanged."""
    path = Path(path).resolve()
    try:
        stat = path.stat()
    except OSError as e:
        raise UserError(f"{path}: cannot access the data file ({e.strerror or e})") from None
    stamp = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "ctime_ns": stat.st_ctime_ns, "inode": stat.st_ino}
    memo = cache_dir() / "hashes" / (hashlib.sha1(str(path).encode()).hexdigest() + ".json")
    try:
        saved = json.loads(memo.read_text())
        if (saved.get("stamp") == stamp and saved.get("format") == "content+bytes"
                and max(stat.st_mtime_ns, stat.st_ctime_ns) < saved["hashed_at_ns"] - RACY_NS):
            return {"content_sha256": saved["content_sha256"], "sha256": saved["sha256"]}
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        pass
    hashed_at = time.time_ns()
    digests = _hash_file(path)
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        write_json(memo, {"path": str(path), "stamp": stamp, "format": "content+bytes",
                          "hashed_at_ns": hashed_at, **digests})
    except OSError:
        pass  # a read-only cache only costs speed
    return digests


def content_hash(path: str | os.PathLike) -> str:
    """sha256 of the file's decompressed content: the data's identity, whatever its compression."""
    return fingerprint(path)["content_sha256"]


def same_data(recorded: dict, current: dict) -> bool:
    """Whether a recorded data entry (summary.json) and a current fingerprint name the same content.

    Entries written before content hashes (only `sha256`, of the bytes) are compared by bytes: exact,
    but a re-compressed file then counts as changed.
    """
    if "content_sha256" in recorded:
        return recorded["content_sha256"] == current["content_sha256"]
    return recorded.get("sha256") == current["sha256"]


def _entry(digest: str) -> Path:
    return cache_dir() / f"{digest}-v{FORMAT_VERSION}.npz"


def load(digest: str) -> Tracks | None:
    """The cached `Tracks` for this content hash, or None when absent or damaged."""
    entry = _entry(digest)
    if not entry.exists():
        return None
    try:
        with np.load(entry, allow_pickle=False) as archive:
            columns = tuple(str(c) for c in archive["trigger_track_columns"])
            family = FAMILIES[str(archive["family"])]
            tracks = Tracks(**{name: archive[name] for name in ARRAYS}, trigger_track_columns=columns,
                            family=family.name)
        n = len(tracks.row)
        targets = len(family.targets)
        shapes_ok = (tracks.ids.shape == (n, 9) and tracks.inputs.ndim == 2 and len(tracks.inputs) == n
                     and tracks.inputs.shape[1] in family.input_sizes
                     and tracks.reco.shape == tracks.old.shape == tracks.old_raw.shape == (n, targets)
                     and tracks.trigger_track.shape == (n, len(TRIGGER_TRACK_COLUMNS))
                     and tracks.track_type.shape == (n,))
        if shapes_ok:
            return tracks
    except (OSError, ValueError, TypeError, KeyError, EOFError, zipfile.BadZipFile):
        pass
    entry.unlink(missing_ok=True)
    return None


def store(digest: str, tracks: Tracks) -> None:
    """Write the cache entry atomically; a failure to write only costs speed next time (one warning)."""
    global _warned
    try:
        cache_dir().mkdir(parents=True, exist_ok=True)
        with atomic_path(_entry(digest)) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **tracks.arrays(), trigger_track_columns=np.array(tracks.trigger_track_columns, dtype=str),
                         family=np.array(tracks.family))
    except OSError as e:
        if not _warned:
            _warned = True
            log.warning("warning: the data cache %s cannot be written (%s): skipped, the files are parsed again "
                        "next time (set NEURO_TRIGGER_CACHE to a writable folder)", cache_dir(), describe(e))
