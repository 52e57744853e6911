"""The rows each expert trains and is evaluated on, and the reference it is compared with.

Prepared once in the main thread: per distinct filter expression the keep-mask of every split
is computed once and shared by the experts that use it.
"""
from dataclasses import dataclass

import numpy as np
import torch

from neuro_trigger.config import for_expert
from neuro_trigger.data.filters import ExpertFilter, parse_filter
from neuro_trigger.data.sampler import BucketSampler
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
           references: dict[str, np.ndarray]) -> dict[int, ExpertData]:
    """Each expert's data, with its filter and sampler applied; refuses (before any run folder exists)
    when an expert is left without training or validation rows, naming the expert and its filter."""
    masks: dict[str, dict[str, np.ndarray]] = {}
    prepared: dict[int, ExpertData] = {}
    problems = []
    for expert in experts:
        expert_config = for_expert(config, expert)
        expression = expert_config["filter"]
        if expression not in masks:
            data_filter = parse_filter(expression)
            masks[expression] = {split: data_filter.mask(data[split]) for split in SPLITS}
        splits, reference = {}, {}
        for split in SPLITS:
            of_expert = ExpertFilter(expert).mask(data[split])
            keep = masks[expression][split] & of_expert
            splits[split] = data[split].subset(keep)
            reference[split] = references[split][keep]
            if split != "test" and not keep.any():
                name = "training" if split == "train" else "validation"
                problems.append(f"expert {expert}: no {name} rows left after filter {expression!r} "
                                f"({int(of_expert.sum())} rows of this expert before it)")
                break
        else:
            prepared[expert] = ExpertData(expert, expert_config, splits, reference)
            if expert_config["dist"]:  # the sampler's check against the rows it will draw from
                try:
                    BucketSampler(splits["train"].z_reco, expert_config["dist"], seed=0)
                except UserError as e:
                    problems.append(f"expert {expert}: {e}")
    if problems:
        raise UserError("; ".join(problems))
    return prepared
