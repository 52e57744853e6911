"""What `fit_expert` does differently for K packed copies: how they are fed, and which copy wins."""
import dataclasses

import torch
from torch import nn

from neuro_trigger.data.splits import SPLITS
from neuro_trigger.training.expert_data import ExpertData
from neuro_trigger.training.expert_evaluation import make_sampler, predict_all
from neuro_trigger.training.packed import PackedBatches, PackedSamplers
from neuro_trigger.training.packed_module import Copies, PackedExpertModule


def copy_data(data: ExpertData, config: dict) -> ExpertData:
    """The expert's rows as seen by one copy (its own config: seed, rates)."""
    return dataclasses.replace(data, config=config)


def packed_training(data: ExpertData, copies: Copies) -> tuple[PackedExpertModule, PackedBatches]:
    """The packed module and its batches: copy k draws rows with the sampler its own seed makes."""
    x, y, _ = data.tensors("train")
    samplers = PackedSamplers([make_sampler(copy_data(data, c)) for c in copies.configs])
    return PackedExpertModule(copies), PackedBatches((x, y), data.config["batch_size"], samplers)


@torch.no_grad()
def restore_best_copies(module: PackedExpertModule, copies: Copies, network: nn.Module, data: ExpertData,
                        result) -> None:
    """Each copy's best weights into its network, the copy with the lowest best val loss into `network`,
    and every copy's predictions and summary into the result."""
    for k, copy in enumerate(copies.networks):
        module.network.write_copy(k, copy, module.best_state(k))
    best = int(torch.argmin(module.best_val))
    network.load_state_dict(copies.networks[best].state_dict())
    result.best_seed = copies.seeds[best]
    result.copies = module.copy_summaries(result.epochs)
    best_val = module.best_val[best]
    result.best_val_loss = float(best_val) if torch.isfinite(best_val) else None
    inputs = {split: data.tensors(split)[0] for split in SPLITS}
    result.copy_predictions = [{split: predict_all(copy, inputs[split], data.config["out_size"]) for split in SPLITS}
                               for copy in copies.networks]
