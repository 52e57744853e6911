"""`Tracks`: one split of neuroresults rows held as contiguous column-block arrays.

Every array has one row per (NN track, reco track) pair, in file order; batches and
subsets are made by indexing these arrays, never by building per-row Python objects.
"""
from dataclasses import dataclass, fields

import numpy as np

from neuro_trigger.constants import ID_COLUMNS


@dataclass
class Tracks:
    ids: np.ndarray  # (N, 9) int64: Experiment Run Subrun Event Track nTracks Expert iNodes oNodes
    inputs: np.ndarray  # (N, 27) float32, scaled to [-1, 1]
    reco: np.ndarray  # (N, 2) float64: RecoZ, RecoTheta (scaled targets)
    old: np.ndarray  # (N, 2) float64: ScaleZ, ScaleTheta (the hardware network's output, scaled)
    old_raw: np.ndarray  # (N, 2) int64: RawZ, RawTheta (the same as hardware integers)
    row: np.ndarray  # (N,) int64: position of the row in the loaded split (all files concatenated)

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

    def subset(self, selection: np.ndarray) -> "Tracks":
        """The rows picked by a boolean mask or an index array, as a new contiguous `Tracks`."""
        return Tracks(**{f.name: np.ascontiguousarray(getattr(self, f.name)[selection]) for f in fields(self)})

    @staticmethod
    def concatenate(parts: list["Tracks"]) -> "Tracks":
        """Join several files' rows in order; `row` is renumbered to run over the joined split."""
        joined = {f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Tracks)}
        joined["row"] = np.arange(sum(len(p) for p in parts), dtype=np.int64)
        return Tracks(**joined)

    def arrays(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
