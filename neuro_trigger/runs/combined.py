"""All experts' rows of one split put back together, in file order, with their predictions."""
import numpy as np

from neuro_trigger.data.tracks import Tracks


def combine_experts(data: dict[str, Tracks], prepared: dict, predictions: dict[int, dict], split: str):
    """(tracks, predictions, reference, expert per row) of a split, or None when no expert has predictions.

    `predictions` maps expert -> split -> (N, out) array; experts without predictions (failed) are left out.
    """
    parts = [(prepared[x], x, p[split]) for x, p in predictions.items() if p]
    if not parts:
        return None
    rows = np.concatenate([d.splits[split].row for d, _, _ in parts])
    order = np.argsort(rows, kind="stable")
    tracks = Tracks.concatenate([d.splits[split] for d, _, _ in parts]).subset(order)
    tracks.row = rows[order]
    pred = np.concatenate([p for _, _, p in parts])[order]
    reference = np.concatenate([d.reference[split] for d, _, _ in parts])[order]
    expert = np.concatenate([np.full(len(d.splits[split]), x) for d, x, _ in parts])[order]
    return tracks, pred, reference, expert
