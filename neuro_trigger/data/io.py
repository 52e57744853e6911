"""Reader and writer of basf2 "neuroresults" files (SPEC section 3).

Tab-separated text, optionally gzip-compressed: a header line, an empty line, then one row
of 42 columns per (NN track, reco track). Parsing uses pyarrow's multithreaded CSV reader;
the result is cached in binary form (see `cache`).
"""
import gzip
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from neuro_trigger.constants import COLUMNS, ID_COLUMNS, INPUT_COLUMNS, INT_COLUMNS
from neuro_trigger.data import cache
from neuro_trigger.data.tracks import Tracks
from neuro_trigger.errors import UserError

HEADER_LINES = 2  # the header and the empty line after it


def _open_text(path: Path):
    return gzip.open(path, "rt") if path.suffix == ".gz" else open(path, "rt")


def _check_header(path: Path) -> None:
    try:
        with _open_text(path) as f:
            header = f.readline()
            blank = f.readline()
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: cannot read as a neuroresults text file ({e})") from None
    if not header:
        raise UserError(f"{path}: empty file, expected a header line with the 42 neuroresults columns")
    names = header.rstrip("\r\n").split("\t")
    if names != COLUMNS:
        if len(names) != len(COLUMNS):
            raise UserError(f"{path}:1: header has {len(names)} columns, expected the {len(COLUMNS)} "
                            f"neuroresults columns ({' '.join(COLUMNS[:3])} ... {COLUMNS[-1]})")
        bad = next(i for i, (a, b) in enumerate(zip(names, COLUMNS)) if a != b)
        raise UserError(f"{path}:1: header column {bad + 1} is {names[bad]!r}, expected {COLUMNS[bad]!r}")
    if blank.strip():
        raise UserError(f"{path}:2: expected an empty line after the header")


def _locate_bad_line(path: Path) -> str:
    """Slow scan, only run after a parse failure, to name the first malformed line."""
    with _open_text(path) as f:
        for lineno, line in enumerate(f, start=1):
            if lineno <= HEADER_LINES or not line.strip():
                continue
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) != len(COLUMNS):
                return f"{path}:{lineno}: {len(fields)} columns, expected {len(COLUMNS)}"
            for name, value in zip(COLUMNS, fields):
                try:
                    int(value) if name in INT_COLUMNS else float(value)
                except ValueError:
                    kind = "an integer" if name in INT_COLUMNS else "a number"
                    return f"{path}:{lineno}: column {name} is {value!r}, expected {kind}"
    return f"{path}: malformed neuroresults file"


def parse(path: str | os.PathLike) -> Tracks:
    """Parse one file without the cache. Raises `UserError` naming the file and line on bad input."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: data file not found")
    _check_header(path)
    types = {name: pa.int64() if name in INT_COLUMNS else
             (pa.float32() if name in INPUT_COLUMNS else pa.float64()) for name in COLUMNS}
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(skip_rows=1, column_names=COLUMNS, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter="\t", ignore_empty_lines=True),
            convert_options=pacsv.ConvertOptions(column_types=types, null_values=[], strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, OSError, EOFError) as e:
        raise UserError(_locate_bad_line(path) if isinstance(e, pa.ArrowInvalid) else f"{path}: {e}") from None
    if table.num_rows == 0:
        raise UserError(f"{path}: no data rows after the header")

    def block(names: list[str], dtype) -> np.ndarray:
        return np.ascontiguousarray(np.column_stack([table.column(n).to_numpy() for n in names]), dtype=dtype)

    tracks = Tracks(
        ids=block(ID_COLUMNS, np.int64),
        inputs=block(INPUT_COLUMNS, np.float32),
        reco=block(["RecoZ", "RecoTheta"], np.float64),
        old=block(["ScaleZ", "ScaleTheta"], np.float64),
        old_raw=block(["RawZ", "RawTheta"], np.int64),
        row=np.arange(table.num_rows, dtype=np.int64),
    )
    _check_finite(path, tracks)
    return tracks


def _check_finite(path: Path, tracks: Tracks) -> None:
    for name, values in (("inputs", tracks.inputs), ("RecoZ/RecoTheta", tracks.reco),
                         ("ScaleZ/ScaleTheta", tracks.old)):
        bad = ~np.isfinite(values).all(axis=1)
        if bad.any():
            first = int(np.argmax(bad))
            raise UserError(f"{path}:{first + HEADER_LINES + 1}: NaN or inf in {name}, expected finite numbers")


def read_file(path: str | os.PathLike, use_cache: bool = True) -> Tracks:
    """One file's rows, from the binary cache when the file's content is unchanged."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: data file not found")
    if not use_cache:
        return parse(path)
    digest = cache.content_hash(path)
    tracks = cache.load(digest)
    if tracks is None:
        tracks = parse(path)
        cache.store(digest, tracks)
    return tracks


def read_files(paths: list[str | os.PathLike], use_cache: bool = True) -> Tracks:
    """All rows of several files of one split, concatenated in the given order."""
    if not paths:
        raise UserError("no data files given")
    parts = [read_file(p, use_cache) for p in paths]
    return parts[0] if len(parts) == 1 else Tracks.concatenate(parts)


def to_table(tracks: Tracks, extra: dict[str, np.ndarray] | None = None) -> pa.Table:
    """The rows as an Arrow table in file column order, with optional extra columns appended."""
    columns = {name: tracks.ids[:, i] for i, name in enumerate(ID_COLUMNS)}
    columns.update({name: tracks.inputs[:, i] for i, name in enumerate(INPUT_COLUMNS)})
    columns.update({"RecoZ": tracks.reco[:, 0], "RecoTheta": tracks.reco[:, 1],
                    "ScaleZ": tracks.old[:, 0], "RawZ": tracks.old_raw[:, 0],
                    "ScaleTheta": tracks.old[:, 1], "RawTheta": tracks.old_raw[:, 1]})
    columns.update(extra or {})
    return pa.table(columns)


def write_file(path: str | os.PathLike, tracks: Tracks, extra: dict[str, np.ndarray] | None = None,
               gzip_level: int = 1) -> None:
    """Write rows in the neuroresults format (`.gz` compresses); `extra` columns are appended."""
    path = Path(path)
    table = to_table(tracks, extra)
    header = ("\t".join(table.column_names) + "\n\n").encode()
    options = pacsv.WriteOptions(include_header=False, delimiter="\t", quoting_style="none")
    opener = gzip.open(path, "wb", compresslevel=gzip_level) if path.suffix == ".gz" else open(path, "wb")
    with opener as sink:
        sink.write(header)
        pacsv.write_csv(table, sink, options)
