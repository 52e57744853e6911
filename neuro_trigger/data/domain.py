"""Values checked against their meaning (SPEC 2-3): a row that cannot be what its column says is refused.

Every check is one vectorised pass over a column block; only when a block fails is the first bad
row searched for, so the cost on a million rows stays in the tens of milliseconds. The optional
trigger-track columns (`2DPhi` ...) are informational, never trained on, and carried as read
(NaN or inf included; NaN is also what a mixed data set writes where a file lacked the column).
"""
from pathlib import Path

import numpy as np

from neuro_trigger.constants import ALL_EXPERTS, EXPERTS, ID_COLUMNS, INPUT_COLUMNS, RAW_MAX, RAW_MIN
from neuro_trigger.data.tracks import Tracks
from neuro_trigger.errors import UserError

# Scaled values are in [-1, 1] (basf2 clips targets to it and scales inputs into it); the tolerance only
# absorbs the last digit of a printed float, so 1.0000001 passes and 1.01 does not.
SCALED_TOLERANCE = 1e-6
INPUT_NODES = 27
OUTPUT_NODES = (1, 2)  # z only, or z and theta


def _refuse(path: Path, first_line: int, names: list[str], values: np.ndarray, bad: np.ndarray,
            expected: str) -> None:
    """Raise naming the first bad row's line, column and value; `bad` is (N, k) like `values`."""
    row = int(np.argmax(bad.any(axis=1)))
    column = int(np.argmax(bad[row]))
    value = values[row, column]
    shown = repr(float(value)) if values.dtype.kind == "f" else str(int(value))
    raise UserError(f"{path}:{row + first_line}: column {names[column]} is {shown}, expected {expected}")


def _check_scaled(path: Path, first_line: int, names: list[str], values: np.ndarray) -> None:
    limit = 1.0 + SCALED_TOLERANCE
    # min/max allocate nothing (an abs() would copy 100 MB at 1M rows); NaN makes them NaN and fails too
    if values.size and values.max() <= limit and values.min() >= -limit:
        return
    finite = np.isfinite(values)
    if not finite.all():
        _refuse(path, first_line, names, values, ~finite, "a finite number")
    _refuse(path, first_line, names, values, np.abs(values) > limit, "a scaled value in [-1, 1]")


def check_domain(path: Path, tracks: Tracks, first_line: int) -> None:
    """Refuse the first value outside its column's meaning, as `file:line: column X is V, expected ...`.

    `first_line` is the file line of row 0 (rows are assumed one per line after the header).
    """
    ids = tracks.ids[:, 6:9]  # Expert iNodes oNodes
    expert, inodes, onodes = ids[:, 0], ids[:, 1], ids[:, 2]
    if (expert.min(initial=0) < ALL_EXPERTS or expert.max(initial=0) > max(EXPERTS)
            or inodes.min(initial=INPUT_NODES) != INPUT_NODES or inodes.max(initial=INPUT_NODES) != INPUT_NODES
            or onodes.min(initial=1) < min(OUTPUT_NODES) or onodes.max(initial=1) > max(OUTPUT_NODES)):
        bad = np.stack([(expert < ALL_EXPERTS) | (expert > max(EXPERTS)), inodes != INPUT_NODES,
                        ~np.isin(onodes, OUTPUT_NODES)], axis=1)
        expected = {0: f"{ALL_EXPERTS} (no expert split) or an expert {min(EXPERTS)}..{max(EXPERTS)}",
                    1: f"{INPUT_NODES} input nodes", 2: "1 or 2 output nodes"}
        row = int(np.argmax(bad.any(axis=1)))
        column = int(np.argmax(bad[row]))
        _refuse(path, first_line, ID_COLUMNS[6:9], ids, bad, expected[column])
    _check_scaled(path, first_line, INPUT_COLUMNS, tracks.inputs)
    _check_scaled(path, first_line, ["RecoZ", "RecoTheta"], tracks.reco)
    _check_scaled(path, first_line, ["ScaleZ", "ScaleTheta"], tracks.old)
    raw = tracks.old_raw
    if raw.min(initial=0) < RAW_MIN or raw.max(initial=0) > RAW_MAX:
        _refuse(path, first_line, ["RawZ", "RawTheta"], raw, (raw < RAW_MIN) | (raw > RAW_MAX),
                f"a hardware integer in [{RAW_MIN}, {RAW_MAX}]")
