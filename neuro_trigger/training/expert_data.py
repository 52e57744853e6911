"""The rows each expert trains and is evaluated on, and the reference it is compared with.

Prepared once in the main thread: per distinct filter expression the keep-mask of every split
is computed once and shared by the experts that use it.
"""
from dataclasses import dataclass

import numpy as np
import torch

from neuro_trigger.config import for_expert
from neuro_trigger.data.filters import ExpertFilter, parse_filter
from neuro_trigger.data.splits import SPLITS
from neuro_trigger.data.tracks import Tracks
from neuro_trigger.errors import UserError


@dataclass
class ExpertData:
    expert: int
    config: dict  # this expert's resolved hyperparameters
    splits: dict[str, Tracks]  # its rows of each split
    reference: dict[str, np.ndarray]  # (N, 2) scaled reference (old network or compare_to run) per split

    def tensors(self, split: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(inputs (N, 27), targets (N, 2), reference (N, 2)) as float32 tensors."""
        tracks = self.splits[split]
        return (torch.from_numpy(tracks.inputs), torch.from_numpy(tracks.reco.astype(np.float32)),
                torch.from_numpy(self.reference[split].astype(np.float32)))


def select(config: dict, experts: list[int], data: dict[str, Tracks],
           references: dict[str, np.ndarray]) -> dict[int, ExpertData | UserError]:
    """Each expert's data; an expert left without training rows gets a `UserError` naming its filter."""
    masks: dict[str, dict[str, np.ndarray]] = {}
    prepared: dict[int, ExpertData | UserError] = {}
    for expert in experts:
        expert_config = for_expert(config, expert)
        expression = expert_config["filter"]
        if expression not in masks:
            data_filter = parse_filter(expression)
            masks[expression] = {split: data_filter.mask(data[split]) for split in SPLITS}
        splits, reference = {}, {}
        for split in SPLITS:
            keep = masks[expression][split] & ExpertFilter(expert).mask(data[split])
            splits[split] = data[split].subset(keep)
            reference[split] = references[split][keep]
        if len(splits["train"]) == 0:
            prepared[expert] = UserError(f"expert {expert}: no training rows left after filter {expression!r}")
        elif len(splits["val"]) == 0:
            prepared[expert] = UserError(f"expert {expert}: no validation rows left after filter {expression!r}")
        else:
            prepared[expert] = ExpertData(expert, expert_config, splits, reference)
    return prepared
