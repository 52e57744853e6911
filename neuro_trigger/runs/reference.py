"""The reference a run is compared with: the old-network columns, or an earlier run (`compare_to`)."""
from pathlib import Path

import numpy as np

from neuro_trigger.data.cache import same_data
from neuro_trigger.data.splits import SPLITS
from neuro_trigger.data.tracks import Tracks
from neuro_trigger.errors import UserError
from neuro_trigger.runs import record
from neuro_trigger.runs.export import read_predictions


def compare_to_reference(log_root: Path, compare_to: str, data: dict[str, Tracks],
                         hashes: dict[str, list[dict]]) -> dict[str, np.ndarray]:
    """Per split an (N, 2) reference aligned with `data`: the earlier run's predictions where it
    has them, the old-network columns elsewhere. Refuses a run that used other data files."""
    run_dir = Path(log_root) / compare_to
    if not (run_dir / record.FILE).is_file():
        raise UserError(f"compare_to {compare_to!r}: no run at {run_dir} (no {record.FILE})")
    summary = record.read_summary(run_dir, ("data",), f"compare_to {compare_to!r}")
    theirs = {s: summary["data"].get(s, []) for s in SPLITS}
    if any(len(theirs[s]) != len(hashes[s]) or not all(map(same_data, theirs[s], hashes[s])) for s in SPLITS):
        raise UserError(f"compare_to {compare_to!r}: that run used different data files (content hashes differ)")
    references = {}
    for split in SPLITS:
        earlier = read_predictions(run_dir, split)
        reference = data[split].old.copy()
        pred = earlier["pred"].astype(np.float64)
        reference[earlier["row"], :pred.shape[1]] = pred
        references[split] = reference
    return references
