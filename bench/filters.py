"""DuplicateEvents and Max2Events on 1,000,000 rows: a straightforward per-row Python loop vs the project's."""
import os

import numpy as np

from common import median_time, report
from neuro_trigger.data import synthetic
from neuro_trigger.data.filters import DuplicateEventsFilter, Max2EventsFilter

ROWS = int(os.environ.get("BENCH_FILTER_ROWS", 1_000_000))


def duplicates_per_row(tracks) -> np.ndarray:
    seen, keep = set(), np.zeros(len(tracks), dtype=bool)
    for i in range(len(tracks)):
        key = (*tracks.event_key[i].tolist(), float(tracks.reco[i, 0]), float(tracks.reco[i, 1]))
        if key not in seen:
            seen.add(key)
            keep[i] = True
    return keep


def max2_per_row(tracks) -> np.ndarray:
    reco_tracks: dict[tuple, set] = {}
    for i in range(len(tracks)):
        reco_tracks.setdefault(tuple(tracks.event_key[i].tolist()), set()).add(
            (float(tracks.reco[i, 0]), float(tracks.reco[i, 1])))
    return np.array([len(reco_tracks[tuple(tracks.event_key[i].tolist())]) <= 2 for i in range(len(tracks))])


def main() -> None:
    tracks = synthetic.generate(ROWS, seed=3)
    rows = []
    for name, per_row, project in (("DuplicateEventsFilter", duplicates_per_row, DuplicateEventsFilter()),
                                   ("Max2EventsFilter", max2_per_row, Max2EventsFilter())):
        assert np.array_equal(per_row(tracks.subset(slice(0, 20000))),
                              project.mask(tracks.subset(slice(0, 20000))))
        slow = median_time(lambda: per_row(tracks), repeats=1)
        fast = median_time(lambda: project.mask(tracks), repeats=5, warmup=1)
        rows.append({"filter": name, "per_row_s": slow, "project_s": fast, "speedup": slow / fast})
    report("filters", rows, f"{ROWS} rows of the synthetic detector")


if __name__ == "__main__":
    main()
