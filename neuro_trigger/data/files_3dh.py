"""The training files of basf2's `CDCTrigger3DHNeuroData` (SPEC-3DH 2): rows as `Tracks`, their checks, and the writer.

A file is a gzip TSV: the header (27 or 126 input columns, the four targets, TrackType), a blank line, then one
row per track, numbers in C++'s default `%g` form (6 significant digits), every row its own gzip member. The
reading itself (Arrow's CSV reader, multi-member gzip included) is `io.parse`'s, which tells the family from the
header; this module turns the columns into `Tracks`.

A 3DH row holds no event identity and no hardware prediction: its `ids` say Expert -1 (one network), iNodes /
oNodes the layout, Event the row's number in its file and nTracks 1 (each track its own event, so event filters
keep every row); `old` is NaN (no reference in the file: a `compare_to` run is the reference).
"""
import gzip
import os
from pathlib import Path

import numpy as np

from neuro_trigger.constants import ID_COLUMNS, TRIGGER_TRACK_COLUMNS
from neuro_trigger.data.families import THREE_DH, THREE_DH_TARGETS, TRACK_TYPE, TRACK_TYPES, three_dh_header
from neuro_trigger.data.tracks import Tracks
from neuro_trigger.errors import UserError

ROWS_PER_MEMBER = 4096  # gzip members of the writer: basf2 writes one per row, which is slow and 3x larger
SCALED_TOLERANCE = 1e-6  # as for neuroresults: absorbs the last printed digit of a clamped target


def column_types(n_inputs: int) -> dict[str, str]:
    """Each column's kind: "float32" inputs, "float64" targets, "int64" TrackType."""
    names = three_dh_header(n_inputs)
    return {name: "float32" if i < n_inputs else ("int64" if name == TRACK_TYPE else "float64")
            for i, name in enumerate(names)}


def tracks_of_columns(columns: dict[str, np.ndarray], n_inputs: int) -> Tracks:
    """The rows of one 3DH file as `Tracks` (see the module docstring for what fills the classic arrays)."""
    names = three_dh_header(n_inputs)
    n = len(columns[TRACK_TYPE])
    inputs = np.ascontiguousarray(np.column_stack([columns[name] for name in names[:n_inputs]]), dtype=np.float32)
    targets = np.ascontiguousarray(np.column_stack([columns[name] for name in THREE_DH_TARGETS]), dtype=np.float64)
    ids = np.zeros((n, len(ID_COLUMNS)), dtype=np.int64)
    ids[:, ID_COLUMNS.index("Event")] = np.arange(n)
    ids[:, ID_COLUMNS.index("nTracks")] = 1
    ids[:, ID_COLUMNS.index("Expert")] = -1
    ids[:, ID_COLUMNS.index("iNodes")] = n_inputs
    ids[:, ID_COLUMNS.index("oNodes")] = len(THREE_DH_TARGETS)
    return Tracks(ids=ids, inputs=inputs, reco=targets, old=np.full_like(targets, np.nan),
                  old_raw=np.zeros(targets.shape, dtype=np.int64), row=np.arange(n, dtype=np.int64),
                  trigger_track=np.full((n, len(TRIGGER_TRACK_COLUMNS)), np.nan),
                  track_type=np.ascontiguousarray(columns[TRACK_TYPE], dtype=np.int64), family=THREE_DH.name)


def _first_bad(path: Path, first_line: int, names: list[str], values: np.ndarray, bad: np.ndarray,
               expected: str) -> UserError:
    row = int(np.argmax(bad.any(axis=1)))
    column = int(np.argmax(bad[row]))
    value = values[row, column].item()
    return UserError(f"{path}:{row + first_line}: column {names[column]} is {value!r}, "
                     f"expected {expected}")


def check_domain(path: Path, tracks: Tracks, first_line: int) -> None:
    """Refuse the first value outside its meaning: inputs must be finite (relID is not clipped, SPEC-3DH 1.2),
    targets scaled to [-1, 1] (basf2 clamps them, SPEC-3DH 2.2), TrackType one of 0..4 (SPEC-3DH 2.3)."""
    names = three_dh_header(tracks.inputs.shape[1])
    finite = np.isfinite(tracks.inputs)
    if not finite.all():
        raise _first_bad(path, first_line, names, tracks.inputs, ~finite, "a finite number")
    limit = 1.0 + SCALED_TOLERANCE
    targets = tracks.reco
    if targets.size and not (targets.max() <= limit and targets.min() >= -limit):
        bad = ~(np.abs(targets) <= limit)
        raise _first_bad(path, first_line, list(THREE_DH_TARGETS), targets, bad,
                         "a value scaled with outputScale, in [-1, 1]")
    types = tracks.track_type[:, None]
    bad = ~np.isin(types, list(TRACK_TYPES))
    if bad.any():
        kinds = ", ".join(f"{k} {v}" for k, v in TRACK_TYPES.items())
        raise _first_bad(path, first_line, [TRACK_TYPE], types, bad, f"one of {kinds}")


def _row_format(n_inputs: int, extra: int, delimiter: str = "\t") -> str:
    return delimiter.join(["%g"] * (n_inputs + len(THREE_DH_TARGETS)) + ["%d"] + ["%.9g"] * extra) + "\n"


def write_file(path: str | os.PathLike, tracks: Tracks, rows_per_member: int = ROWS_PER_MEMBER,
               extra: dict[str, np.ndarray] | None = None, csv: bool = False) -> None:
    """Write 3DH rows as `CDCTrigger3DHNeuroData` does (SPEC-3DH 2.1): header and blank line as one gzip member,
    then the rows in `%g` form, `rows_per_member` rows per gzip member (1: exactly basf2's file). `extra` columns
    (predictions) are appended after TrackType, with 9 significant digits (float32 exactly). With `csv` (the
    predictions files): comma-separated, and no blank line after the header."""
    n_inputs = tracks.inputs.shape[1]
    extra = extra or {}
    delimiter = "," if csv else "\t"
    header = "".join(f"{name}{delimiter}" for name in three_dh_header(n_inputs)[:n_inputs])
    header += delimiter.join([*THREE_DH_TARGETS, TRACK_TYPE, *extra]) + "\n" + ("" if csv else "\n")
    row_format = _row_format(n_inputs, len(extra), delimiter)
    values = np.column_stack([tracks.inputs.astype(np.float64), tracks.reco]).tolist()
    tails = [(kind,) for kind in tracks.track_type.tolist()]  # TrackType and the extra columns of each row
    if extra:
        appended = np.column_stack([np.asarray(v, np.float64) for v in extra.values()]).tolist()
        tails = [(*tail, *more) for tail, more in zip(tails, appended)]
    with open(path, "wb") as sink:
        sink.write(gzip.compress(header.encode(), compresslevel=6))
        for start in range(0, len(tails), rows_per_member):
            block = "".join(row_format % (*row, *tail) for row, tail in
                            zip(values[start:start + rows_per_member], tails[start:start + rows_per_member]))
            sink.write(gzip.compress(block.encode(), compresslevel=6))
