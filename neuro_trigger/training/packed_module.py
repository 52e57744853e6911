"""The Lightning module of K packed copies of one expert: one vectorised step for all of them.

Each copy keeps what a network of its own would have: its seed's initialisation and row order
(`PackedBatches`), its learning rate and weight decay, its early-stopping count and its best
weights (kept in buffers, so `last.ckpt` carries them for `--resume`). Adam, AdamW and SGD are
elementwise, so copies with different learning rates or weight decays share one torch optimizer
stepped with rate 1 and no decay; the decay is added and the step scaled per copy around it.
"""
import threading
from dataclasses import dataclass, field
from typing import Iterator

import pytorch_lightning as pl
import torch
from torch import nn

from neuro_trigger import models
from neuro_trigger.config import PACKABLE_KEYS
from neuro_trigger.errors import UserError
from neuro_trigger.training.packed import PackedNetwork
from neuro_trigger.training.stop import TrainingStopped
from neuro_trigger.training.validation import ValidationFigures

COUPLED_DECAY = ("Adam", "SGD")  # weight decay added to the gradient; AdamW decays the weights


@dataclass
class Copies:
    """The K copies of one expert: each one's resolved config and its network (the best weights end up there).

    `labels` name the copies in logged metrics (`val_loss_<label>`): `seed<s>` for packed seeds, the run
    folder's name for packed sweep trials (which may share a seed). With `tensorboard_dirs`, each copy's
    losses are also written to its own TensorBoard folder (a packed trial's own `expert_<x>/tb`).
    """
    configs: list[dict]
    networks: list[nn.Module]
    labels: list[str] = field(default_factory=list)
    tensorboard_dirs: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.labels = self.labels or [f"seed{s}" for s in self.seeds]

    @property
    def seeds(self) -> list[int]:
        return [c["seed"] for c in self.configs]


def check_packable(configs: list[dict], where: str) -> None:
    """Copies must share everything but seed, learning rate and weight decay (and Rprop the rate too)."""
    first = {k: v for k, v in configs[0].items() if k not in PACKABLE_KEYS}
    for config in configs[1:]:
        differ = sorted(k for k in set(first) | set(config)
                        if k not in PACKABLE_KEYS and config.get(k) != first.get(k))
        if differ:
            raise UserError(f"{where}: packed copies differ in {', '.join(differ)}; "
                            f"they may differ only in {', '.join(PACKABLE_KEYS)}")
    if configs[0]["optim"] == "Rprop" and len({c["learning_rate"] for c in configs}) > 1:
        raise UserError(f"{where}: Rprop copies with different learning rates cannot be packed")
    if configs[0].get("quantization_aware"):
        raise UserError(f"{where}: quantization_aware training cannot be packed yet; drop 'pack' or it")


class PackedExpertModule(pl.LightningModule):
    """Trains K copies of one expert as stacked weights; validation keeps each copy's best weights and stops
    each copy on its own patience (a stopped copy still steps, but nothing of it is kept any more)."""

    def __init__(self, copies: Copies, stop: threading.Event | None = None):
        super().__init__()
        self.stop = stop
        config = copies.configs[0]
        self.automatic_optimization = False  # one backward and one optimizer step per batch, nothing else
        self.network = PackedNetwork(copies.networks)
        self.config, self.seeds, self.labels, self.out_size = config, copies.seeds, copies.labels, config["out_size"]
        self.loss_fn = models.LOSSES[config["loss"]](reduction="none")
        k = len(copies.networks)
        rates = [c["learning_rate"] for c in copies.configs]
        decays = [c["weight_decay"] for c in copies.configs]
        self.per_copy = len(set(rates)) > 1 or (len(set(decays)) > 1 and config["optim"] != "Rprop")
        self.rates = torch.tensor(rates, dtype=torch.float32)
        self.decays = torch.tensor(decays, dtype=torch.float32)
        self.patience = config["early_stopping_patience"]
        self.register_buffer("best_val", torch.full((k,), float("inf")))
        self.register_buffer("best_epoch", torch.full((k,), -1, dtype=torch.long))
        self.register_buffer("wait", torch.zeros(k, dtype=torch.long))
        self.register_buffer("stopped_epoch", torch.full((k,), -1, dtype=torch.long))
        self.register_buffer("failed", torch.zeros(k, dtype=torch.bool))
        for i, p in enumerate(self.network.parameters()):
            self.register_buffer(f"best_{i}", p.detach().clone())
        self.last_val_pred = None
        self.validation_figures: ValidationFigures | None = None  # made at the first validation, from its split

    @property
    def active(self) -> torch.Tensor:
        return (self.stopped_epoch < 0) & ~self.failed

    def best_state(self, k: int) -> list[torch.Tensor]:
        """Copy k's weights at its best validation epoch (its current ones if it never validated)."""
        if self.best_epoch[k] < 0:
            return self.network.state_of_copy(k)
        return [getattr(self, f"best_{i}")[k].clone() for i in range(len(list(self.network.parameters())))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)

    def training_step(self, epoch: Iterator[tuple[torch.Tensor, torch.Tensor]], batch_idx: int) -> None:
        """A whole epoch: one backward and one optimizer step per batch, and nothing else per batch. The
        last step goes through Lightning's optimizer, so that its step count (one per epoch) moves on."""
        optimizer = self.optimizers()
        total, rows, batch = torch.zeros(len(self.seeds)), 0, next(epoch, None)
        while batch is not None:
            if self.stop is not None and self.stop.is_set():
                raise TrainingStopped(f"stopped by request in epoch {self.current_epoch}")
            x, y = batch
            losses = self.loss_fn(self.network(x), y[..., :self.out_size]).mean(dim=(1, 2))
            optimizer.optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()
            batch = next(epoch, None)
            step = optimizer if batch is None else optimizer.optimizer
            if self.per_copy:
                self._per_copy_step(step)
            else:
                step.step()
            total += losses.detach() * x.shape[1]
            rows += x.shape[1]
        self._end_of_epoch_losses(total / max(rows, 1))

    @torch.no_grad()
    def _per_copy_step(self, optimizer) -> None:
        """The optimizer's step with rate 1 and no decay, then copy k's decay and rate applied to it."""
        params = list(self.network.parameters())
        shaped = [(self.rates.view(-1, *[1] * (p.dim() - 1)), self.decays.view(-1, *[1] * (p.dim() - 1)))
                  for p in params]
        if self.config["optim"] in COUPLED_DECAY:
            for p, (_, decay) in zip(params, shaped):
                p.grad.add_(p * decay)
        before = [p.detach().clone() for p in params]
        optimizer.step()
        for p, old, (rate, decay) in zip(params, before, shaped):
            decayed = old * (1 - rate * decay) if self.config["optim"] == "AdamW" else old
            p.copy_(decayed + rate * (p - old))

    def _end_of_epoch_losses(self, mean: torch.Tensor) -> None:
        diverged = ~torch.isfinite(mean) & self.active
        if diverged.any():
            self.failed |= diverged
            if self.failed.all():
                raise FloatingPointError(f"loss is not finite at epoch {self.current_epoch} in every packed copy "
                                         f"(seeds {self.seeds})")
        for k, label in enumerate(self.labels):
            self.log(f"train_loss_{label}", mean[k], on_step=False, on_epoch=True, batch_size=1)
        self.log("train_loss", mean[self.active].mean() if self.active.any() else mean.nanmean(),
                 on_step=False, on_epoch=True, batch_size=1)

    @torch.no_grad()
    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        x, y, reference = batch
        pred = self.network(x)
        losses = self.loss_fn(pred, y[None, :, :self.out_size].expand(len(self.seeds), -1, -1)).mean(dim=(1, 2))
        active = self.active
        improved = active & (losses < self.best_val)
        self.best_val = torch.where(improved, losses, self.best_val)
        self.best_epoch[improved] = self.current_epoch
        self.wait = torch.where(improved, 0, self.wait + active.long())
        for i, p in enumerate(self.network.parameters()):
            getattr(self, f"best_{i}")[improved] = p.detach()[improved]
        if self.patience is not None:
            self.stopped_epoch[active & (self.wait >= self.patience) & ~improved] = self.current_epoch
        if not self.active.any():
            self.trainer.should_stop = True
        shown = torch.where(active | improved, losses, float("inf"))
        best = int(torch.argmin(shown)) if torch.isfinite(shown).any() else int(torch.argmin(self.best_val))
        if self.validation_figures is None:
            self.validation_figures = ValidationFigures(y.double().numpy(), reference.double().numpy())
        figures = self.validation_figures.figures(pred[best].double().numpy())
        self.last_val_pred = pred[best].numpy()  # (N, out) for the plot callback
        self.log_dict({"val_loss": float(losses[best]),
                       **{f"val_loss_{label}": float(losses[k]) for k, label in enumerate(self.labels)},
                       **{f"val_{name}": value for name, value in figures.items()}}, batch_size=x.shape[0])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        if self.per_copy:
            return models.build_optimizer({**self.config, "learning_rate": 1.0, "weight_decay": 0.0},
                                          self.network.parameters())
        return models.build_optimizer(self.config, self.network.parameters())

    def copy_summaries(self, epochs: int) -> list[dict]:
        """Per copy: seed, rates, epochs it trained (of the `epochs` the pack ran), best val loss and epoch,
        and why it ended."""
        rows = []
        for k in range(len(self.seeds)):
            stopped = int(self.stopped_epoch[k])
            rows.append({
                "seed": self.seeds[k], "learning_rate": float(self.rates[k]), "weight_decay": float(self.decays[k]),
                "epochs": stopped + 1 if stopped >= 0 else epochs,
                "best_val_loss": float(self.best_val[k]) if torch.isfinite(self.best_val[k]) else None,
                "best_epoch": int(self.best_epoch[k]) if self.best_epoch[k] >= 0 else None,
                "stopped_early_at_epoch": stopped if stopped >= 0 else None,
                "diverged": bool(self.failed[k])})
        return rows
