"""What a pack of K > 1 copies adds to an expert's result: each copy's TensorBoard losses, summary and
predictions, and (for packed sweep trials) each copy's own result as its own run would have it."""
import dataclasses
from pathlib import Path

import pytorch_lightning as pl
from torch.utils.tensorboard import SummaryWriter

from neuro_trigger.atomic import write_json
from neuro_trigger.data.splits import SPLITS
from neuro_trigger.training.engine import PackModule
from neuro_trigger.training.expert_data import ExpertData
from neuro_trigger.training.expert_evaluation import evaluate_expert, predict_all, write_expert_plots
from neuro_trigger.training.pack import Copies
from neuro_trigger.training.result import ExpertResult


def copy_data(data: ExpertData, config: dict) -> ExpertData:
    """The expert's rows as seen by one copy (its own config: seed, rates)."""
    return dataclasses.replace(data, config=config)


class CopyTensorBoard(pl.Callback):
    """Each copy's train_loss and val_loss per epoch, under those names, in its own TensorBoard folder."""

    def __init__(self, copies: Copies):
        self.labels, self.dirs = copies.labels, copies.tensorboard_dirs
        self.writers: list[SummaryWriter] = []

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.writers = self.writers or [SummaryWriter(str(d)) for d in self.dirs]
        for label, writer in zip(self.labels, self.writers):
            for name in ("train_loss", "val_loss"):
                value = module.epoch_metrics.get(f"{name}_{label}")
                if value is not None:
                    writer.add_scalar(name, float(value), global_step=trainer.current_epoch)
            writer.flush()

    def on_train_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.close()

    def on_exception(self, trainer: pl.Trainer, module: pl.LightningModule, exception: BaseException) -> None:
        self.close()

    def close(self) -> None:
        for writer in self.writers:
            writer.close()


def record_copies(module: PackModule, copies: Copies, best: int, data: ExpertData, result: ExpertResult) -> None:
    """The pack's copies in the expert's result: which seed won, each copy's summary and its predictions."""
    result.best_seed = copies.seeds[best]
    result.copies = module.copy_summaries(result.epochs)
    inputs = {split: data.tensors(split)[0] for split in SPLITS}
    result.copy_predictions = [{split: predict_all(copy, inputs[split], data.config["out_size"]) for split in SPLITS}
                               for copy in copies.networks]


def copy_result(packed: ExpertResult, k: int, copies: Copies, data: ExpertData, expert_dir: Path,
                figures: bool = True) -> ExpertResult:
    """Copy k's own result, as an unpacked run of its config would have it: its metrics on every split,
    result.json and (with `figures`) plots in `expert_dir` (its run folder's expert folder)."""
    if not packed.copy_predictions:  # the pack failed before any copy was evaluated
        return dataclasses.replace(packed, predictions={}, metrics={}, best_seed=None, copies=[])
    summary = packed.copies[k]
    result = dataclasses.replace(
        packed, epochs=summary["epochs"], best_val_loss=summary["best_val_loss"], best_seed=None, copies=[],
        copy_predictions=[], samples_per_s=round(packed.samples_per_s / len(copies.networks), 1))
    own = copy_data(data, copies.configs[k])
    result.predictions, result.metrics = evaluate_expert(copies.networks[k], own)
    if figures:
        write_expert_plots(expert_dir, own, result.predictions, result.metrics)
    write_json(expert_dir / "result.json", result.summary())
    return result
