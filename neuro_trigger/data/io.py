"""Reader and writer of basf2 "neuroresults" files (SPEC sections 3 and 3a) and reader of 3DH files (SPEC-3DH 2).

Tab-separated text, optionally gzip-compressed: a header line, an empty line, then one row
per (NN track, reco track). Columns are found by the header's names: the 42 of SPEC 3 are
required, `2DPhi 3DTheta 2DinvPt 2DPt` of newer basf2 files are optional and kept. A header that is
exactly one of the two 3DH layouts (32 or 131 columns) makes a 3DH file (`files_3dh`); anything else
3DH-like is refused naming the columns found and the layouts expected. Parsing uses pyarrow's
multithreaded CSV reader; the result is cached in binary form (see `cache`).
The prediction columns a run or `predict --out` appends to a classic file (`PredZ` ...) are accepted and ignored,
so their files are read as the inputs they were made from. Those files are real CSV (comma-separated, the header
and then the rows) where their name ends in `.csv` or `.csv.gz`; files of earlier releases are tab-separated under
that name, and every reader takes both: the header line says which (`delimiter_of`).
"""
import gzip
import os
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from neuro_trigger.constants import (COLUMNS, FIXED_PREDICTION_COLUMNS, ID_COLUMNS, INPUT_COLUMNS, INT_COLUMNS,
                                     PREDICTION_COLUMNS, TRIGGER_TRACK_COLUMNS)
from neuro_trigger.data import cache, files_3dh
from neuro_trigger.data.domain import check_domain
from neuro_trigger.data.families import CLASSIC, THREE_DH, detect, looks_three_dh
from neuro_trigger.data.tracks import Tracks
from neuro_trigger.errors import UserError

HEADER_LINES = 2  # the header and the empty line after it (a CSV file has no empty line: its rows start at line 2)
PREDICTED_COLUMNS = set(PREDICTION_COLUMNS) | set(FIXED_PREDICTION_COLUMNS)  # an earlier prediction's, ignored
KNOWN_COLUMNS = set(COLUMNS) | set(TRIGGER_TRACK_COLUMNS) | PREDICTED_COLUMNS
HEADER_LIMIT = 1 << 16  # characters: the longest header has 46 short names; garbage is refused after this much
EXTRA_INPUT = re.compile(r"SL\d+-extra_input\d+")


def _short(text: str, limit: int = 40) -> str:
    """A value from the file as it is shown in a message: quoted, and cut when long."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text)} characters)"


def _open_text(path: Path):
    return gzip.open(path, "rt") if path.suffix == ".gz" else open(path, "rt")


def _columns_found(names: list[str]) -> str:
    shown = names if len(names) <= 6 else names[:3] + ["..."] + names[-2:]
    return f"{len(names)} columns: {_short(' '.join(shown), 120)}"


def _refuse_layout(path: Path, names: list[str]) -> UserError:
    return UserError(f"{path}:1: the header fits no known layout ({_columns_found(names)}); expected "
                     f"{CLASSIC.layouts} or {THREE_DH.layouts}")


def is_csv_name(path: str | os.PathLike) -> bool:
    """Whether a file of predictions is written as real CSV: its name ends in `.csv` or `.csv.gz`."""
    name = Path(path).name.lower()
    return name.endswith(".csv") or name.endswith(".csv.gz")


def delimiter_of(header: str) -> str:
    """The column separator a header line uses: a tab (neuroresults, 3DH, predictions of earlier releases), else
    a comma (the CSV predictions files)."""
    return "," if "\t" not in header and "," in header else "\t"


def _first_lines(path: Path) -> tuple[str, str]:
    try:
        with _open_text(path) as f:
            return f.readline(HEADER_LIMIT), f.readline(HEADER_LIMIT)
    except gzip.BadGzipFile as e:
        raise UserError(f"{path}: not a valid gzip file ({e})") from None
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: cannot read as a neuroresults text file ({e})") from None


def file_delimiter(path: str | os.PathLike) -> str:
    """The column separator of a data or predictions file, from its header line."""
    return delimiter_of(_first_lines(Path(path))[0])


def _read_header(path: Path) -> list[str]:
    """The header's column names, refused unless they are the 42 required ones plus optional ones, or exactly
    one of the 3DH layouts."""
    header, blank = _first_lines(path)
    if not header:
        raise UserError(f"{path}: empty file, expected a header line with the 42 neuroresults columns")
    delimiter = delimiter_of(header)
    names = header.rstrip("\r\n").split(delimiter)
    if not header.endswith("\n") and len(names) == 1:
        raise UserError(f"{path}:1: no end of line in the first {HEADER_LIMIT} characters, expected a header line "
                        "with the 42 neuroresults columns")
    three_dh = detect(names) is not None
    if not three_dh and (looks_three_dh(names) or any(EXTRA_INPUT.fullmatch(n) for n in names)):
        raise _refuse_layout(path, names)
    unknown = [] if three_dh else [n for n in names if n not in KNOWN_COLUMNS]
    if unknown:
        raise UserError(f"{path}:1: unknown column {_short(unknown[0])}, expected the 42 neuroresults columns "
                        f"({' '.join(COLUMNS[:3])} ... {COLUMNS[-1]}) and optionally "
                        f"{' '.join(TRIGGER_TRACK_COLUMNS)}")
    duplicate = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if duplicate:
        raise UserError(f"{path}:1: column {_short(duplicate)} appears twice in the header")
    missing = [] if three_dh else [n for n in COLUMNS if n not in names]
    if missing:
        raise UserError(f"{path}:1: required column {missing[0]!r} is missing from the header"
                        + (f" ({len(missing)} missing)" if len(missing) > 1 else ""))
    if not header.endswith("\n"):
        raise UserError(f"{path}:1: header longer than {HEADER_LIMIT} characters")
    if blank.strip() and delimiter == "\t":
        raise UserError(f"{path}:2: expected an empty line after the header")
    return names


def _locate_bad_line(path: Path, names: list[str], int_columns: set[str], delimiter: str = "\t") -> str:
    """Slow scan, only run after a parse failure, to name the first malformed line."""
    with _open_text(path) as f:
        for lineno, line in enumerate(f, start=1):
            if lineno == 1 or not line.strip():
                continue
            fields = line.rstrip("\r\n").split(delimiter)
            if len(fields) != len(names):
                return f"{path}:{lineno}: {len(fields)} columns, expected {len(names)}"
            for name, value in zip(names, fields):
                try:
                    int(value) if name in int_columns else float(value)
                except ValueError:
                    kind = "an integer" if name in int_columns else "a number"
                    return f"{path}:{lineno}: column {name} is {_short(value)}, expected {kind}"
    return f"{path}: malformed neuroresults file"


def check_data_file(path: Path) -> None:
    """Refuse a path that is missing, a directory, not a regular file, or not accessible, in one line."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise UserError(f"{path}: data file not found") from None
    except OSError as e:
        raise UserError(f"{path}: cannot access the data file ({e.strerror or e})") from None
    if os.path.isdir(path):
        raise UserError(f"{path}: is a directory, expected a data file")
    if not path.is_file():
        raise UserError(f"{path}: not a regular file (mode {oct(mode)}), expected a data file")
    if not os.access(path, os.R_OK):
        raise UserError(f"{path}: permission denied, cannot read the data file")


def parse(path: str | os.PathLike) -> Tracks:
    """Parse one file without the cache. Raises `UserError` naming the file and line on bad input."""
    path = Path(path)
    check_data_file(path)
    names = _read_header(path)
    first_line = _first_data_line(path)
    three_dh = detect(names)
    if three_dh is not None:
        kinds = files_3dh.column_types(three_dh[1])
        table = _read_table(path, names, {name: getattr(pa, kind)() for name, kind in kinds.items()},
                            {name for name, kind in kinds.items() if kind == "int64"})
        tracks = files_3dh.tracks_of_columns({name: table.column(name).to_numpy() for name in names}, three_dh[1])
        files_3dh.check_domain(path, tracks, first_line=first_line)
        return tracks
    optional = [n for n in TRIGGER_TRACK_COLUMNS if n in names]
    types = {name: pa.int64() if name in INT_COLUMNS else
             (pa.float32() if name in INPUT_COLUMNS else pa.float64()) for name in names}
    table = _read_table(path, names, types, INT_COLUMNS)

    def block(columns: list[str], dtype) -> np.ndarray:
        return np.ascontiguousarray(np.column_stack([table.column(n).to_numpy() for n in columns]), dtype=dtype)

    trigger_track = np.full((table.num_rows, len(TRIGGER_TRACK_COLUMNS)), np.nan)
    for name in optional:
        trigger_track[:, TRIGGER_TRACK_COLUMNS.index(name)] = table.column(name).to_numpy()
    tracks = Tracks(
        ids=block(ID_COLUMNS, np.int64),
        inputs=block(INPUT_COLUMNS, np.float32),
        reco=block(["RecoZ", "RecoTheta"], np.float64),
        old=block(["ScaleZ", "ScaleTheta"], np.float64),
        old_raw=block(["RawZ", "RawTheta"], np.int64),
        row=np.arange(table.num_rows, dtype=np.int64),
        trigger_track=trigger_track,
        trigger_track_columns=tuple(optional),
    )
    check_domain(path, tracks, first_line=first_line)
    return tracks


def _first_data_line(path: Path) -> int:
    """The line number of the first row: 3 after a header and its empty line, 2 in a CSV file without one."""
    return HEADER_LINES + 1 if not _first_lines(path)[1].strip() else 2


def _read_table(path: Path, names: list[str], types: dict, int_columns: set[str]) -> pa.Table:
    """The rows after the header as an Arrow table of the given column types; a bad line is named."""
    delimiter = file_delimiter(path)
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(skip_rows=1, column_names=names, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, ignore_empty_lines=True),
            convert_options=pacsv.ConvertOptions(column_types=types, null_values=[], strings_can_be_null=False,
                                                 include_columns=[n for n in names if n not in PREDICTED_COLUMNS]),
        )
    except (pa.ArrowInvalid, OSError, EOFError) as e:
        raise UserError(_locate_bad_line(path, names, int_columns, delimiter) if isinstance(e, pa.ArrowInvalid)
                        else f"{path}: {e}") from None
    if table.num_rows == 0:
        raise UserError(f"{path}: no data rows after the header")
    return table


def read_file(path: str | os.PathLike, use_cache: bool = True) -> Tracks:
    """One file's rows, from the binary cache when the file's content is unchanged."""
    path = Path(path)
    check_data_file(path)
    _read_header(path)  # a file that is no neuroresults file is refused before it is hashed whole
    if not use_cache:
        return parse(path)
    digest = cache.content_hash(path)
    tracks = cache.load(digest)
    if tracks is None:
        tracks = parse(path)
        cache.store(digest, tracks)
    return tracks


def read_files(paths: list[str | os.PathLike], use_cache: bool = True) -> Tracks:
    """All rows of several files of one split, concatenated in the given order (layouts may mix)."""
    if not paths:
        raise UserError("no data files given")
    parts = [read_file(p, use_cache) for p in paths]
    layouts = [(p.family, p.inputs.shape[1]) for p in parts]
    if len(set(layouts)) > 1:
        other = next(i for i, layout in enumerate(layouts) if layout != layouts[0])
        raise UserError(f"{paths[other]}: a {layouts[other][0]} file with {layouts[other][1]} inputs cannot be "
                        f"joined with {paths[0]} ({layouts[0][0]}, {layouts[0][1]} inputs) in one split")
    return parts[0] if len(parts) == 1 else Tracks.concatenate(parts)


def to_table(tracks: Tracks, extra: dict[str, np.ndarray] | None = None) -> pa.Table:
    """The rows as an Arrow table in file column order (the 42 required columns, then the optional
    columns the data carries), with optional extra columns appended."""
    columns = {name: tracks.ids[:, i] for i, name in enumerate(ID_COLUMNS)}
    columns.update({name: tracks.inputs[:, i] for i, name in enumerate(INPUT_COLUMNS)})
    columns.update({"RecoZ": tracks.reco[:, 0], "RecoTheta": tracks.reco[:, 1],
                    "ScaleZ": tracks.old[:, 0], "RawZ": tracks.old_raw[:, 0],
                    "ScaleTheta": tracks.old[:, 1], "RawTheta": tracks.old_raw[:, 1]})
    columns.update({name: tracks.trigger_track_column(name) for name in tracks.trigger_track_columns})
    columns.update(extra or {})
    return pa.table(columns)


def write_file(path: str | os.PathLike, tracks: Tracks, extra: dict[str, np.ndarray] | None = None,
               gzip_level: int = 1, compress: bool | None = None, csv: bool = False) -> None:
    """Write rows in the neuroresults layout they were read in; `extra` columns are appended. With `csv`, as real
    CSV: the same columns comma-separated, the header line and then the rows (no empty line).

    Compressed with gzip when `compress`, or by default when the name ends in `.gz`.
    """
    path = Path(path)
    compress = path.suffix == ".gz" if compress is None else compress
    table = to_table(tracks, extra)
    delimiter = "," if csv else "\t"
    header = (delimiter.join(table.column_names) + ("\n" if csv else "\n\n")).encode()
    options = pacsv.WriteOptions(include_header=False, delimiter=delimiter, quoting_style="none")
    opener = gzip.open(path, "wb", compresslevel=gzip_level) if compress else open(path, "wb")
    with opener as sink:
        sink.write(header)
        pacsv.write_csv(table, sink, options)
