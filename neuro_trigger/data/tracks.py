"""`Tracks`: one split of neuroresults (or 3DH) rows held as contiguous column-block arrays.

Every array has one row per (NN track, reco track) pair, in file order; batches and
subsets are made by indexing these arrays, never by building per-row Python objects.
A 3DH file (SPEC-3DH 2) fills the same arrays: its inputs (27 or 126), its four scaled targets
and TrackType; it holds no event identity and no hardware prediction (see `data/files_3dh.py`).
"""
from dataclasses import dataclass, field

import numpy as np

from neuro_trigger.constants import ID_COLUMNS, TRIGGER_TRACK_COLUMNS

ARRAYS = ("ids", "inputs", "reco", "old", "old_raw", "row", "trigger_track", "track_type")


@dataclass
class Tracks:
    ids: np.ndarray  # (N, 9) int64: Experiment Run Subrun Event Track nTracks Expert iNodes oNodes
    inputs: np.ndarray  # (N, 27) float32, scaled to [-1, 1] (3DH: (N, 27 or 126), SPEC-3DH 1.2)
    reco: np.ndarray  # (N, 2) float64: RecoZ, RecoTheta (scaled targets); 3DH: (N, 4) with NNT and STT
    old: np.ndarray  # (N, 2) float64: ScaleZ, ScaleTheta (the hardware network's output, scaled); 3DH: NaN
    old_raw: np.ndarray  # (N, 2) int64: RawZ, RawTheta (the same as hardware integers); 3DH: (N, 4) zeros
    row: np.ndarray  # (N,) int64: position of the row in the loaded split (all files concatenated)
    # (N, 4) float64: 2DPhi [rad], 3DTheta [rad], 2DinvPt [1/GeV], 2DPt [GeV] of newer files (SPEC 3a);
    # NaN where the row's file lacks the column. None at construction means "no such columns".
    trigger_track: np.ndarray | None = None
    # which of TRIGGER_TRACK_COLUMNS the data carries (in that order): () for 42-column files
    trigger_track_columns: tuple[str, ...] = field(default=())
    track_type: np.ndarray | None = None  # (N,) int64: 3DH TrackType (SPEC-3DH 2.3); -1 for neuroresults rows
    family: str = "classic"  # the network family of the file the rows come from (data/families.py)

    def __post_init__(self) -> None:
        if self.trigger_track is None:
            self.trigger_track = np.full((len(self.row), len(TRIGGER_TRACK_COLUMNS)), np.nan)
        if self.track_type is None:
            self.track_type = np.full(len(self.row), -1, dtype=np.int64)
        self.trigger_track_columns = tuple(c for c in TRIGGER_TRACK_COLUMNS if c in self.trigger_track_columns)

    def __len__(self) -> int:
        return len(self.row)

    def column(self, name: str) -> np.ndarray:
        """One of the 9 integer id columns by its file name, e.g. `column("Event")`."""
        return self.ids[:, ID_COLUMNS.index(name)]

    @property
    def expert(self) -> np.ndarray:
        return self.column("Expert")

    @property
    def event(self) -> np.ndarray:
        return self.column("Event")

    @property
    def event_key(self) -> np.ndarray:
        """(N, 4) identity of the event: Experiment, Run, Subrun, Event."""
        return self.ids[:, :4]

    @property
    def z_reco(self) -> np.ndarray:
        return self.reco[:, 0]

    @property
    def theta_reco(self) -> np.ndarray:
        return self.reco[:, 1]

    def trigger_track_column(self, name: str) -> np.ndarray | None:
        """One optional column (`2DPhi`, `3DTheta`, `2DinvPt`, `2DPt`), or None when the data lacks it."""
        if name not in self.trigger_track_columns:
            return None
        return self.trigger_track[:, TRIGGER_TRACK_COLUMNS.index(name)]

    def subset(self, selection: np.ndarray) -> "Tracks":
        """The rows picked by a boolean mask or an index array, as a new contiguous `Tracks`."""
        arrays = {name: np.ascontiguousarray(getattr(self, name)[selection]) for name in ARRAYS}
        return Tracks(**arrays, trigger_track_columns=self.trigger_track_columns, family=self.family)

    @staticmethod
    def concatenate(parts: list["Tracks"]) -> "Tracks":
        """Join several files' rows in order; `row` is renumbered to run over the joined split.

        Mixing layouts: the joined data carries every optional column that any part carries; rows of
        a part without it hold NaN there. Parts of different families or input counts cannot be joined
        (`io.read_files` refuses them first, naming the files).
        """
        joined = {name: np.concatenate([getattr(p, name) for p in parts]) for name in ARRAYS}
        joined["row"] = np.arange(sum(len(p) for p in parts), dtype=np.int64)
        columns = tuple(c for p in parts for c in p.trigger_track_columns)
        return Tracks(**joined, trigger_track_columns=columns, family=parts[0].family)

    def arrays(self) -> dict[str, np.ndarray]:
        """The row arrays by field name (without the `trigger_track_columns` list)."""
        return {name: getattr(self, name) for name in ARRAYS}
