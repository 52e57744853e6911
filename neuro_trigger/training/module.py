"""The Lightning module of one expert: the network plus the train/validation step logic.

With `quantization_aware: {"epochs": N}` the last N epochs train through the FPGA fixed-point
arithmetic (straight-through gradient), and every validation runs in fixed point, so the best
checkpoint is the best network as the FPGAs compute it.
"""
import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn

from neuro_trigger import models
from neuro_trigger.evaluation.metrics import evaluate
from neuro_trigger.hardware.quantization_aware import FixedPointForward

VAL_LOGGED = ("loss_old", "loss_vs_old", "z_diff_std", "z_diff_std_old", "z_diff_std_vs_old",
              "z_diff_std_trimmed", "z_diff_std_trimmed_vs_old")


class ExpertModule(pl.LightningModule):
    """Trains one expert network on (inputs, targets) batches; validation compares it with the reference."""

    def __init__(self, network: nn.Module, config: dict):
        super().__init__()
        self.network = network
        self.config = config
        self.out_size = config["out_size"]
        self.loss_fn = models.build_loss(config)
        self.last_val_pred = None
        self.epoch_loss = {"sum": torch.zeros(()), "rows": 0}
        qat = config.get("quantization_aware")
        self.fixed_point = FixedPointForward(config["precision"]) if qat else None
        self.fixed_point_from_epoch = max(0, config["epochs"] - qat["epochs"]) if qat else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)

    def _training_forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fixed_point is not None and self.current_epoch >= self.fixed_point_from_epoch:
            return self.fixed_point(self.network, x)
        return self.network(x)

    def on_train_epoch_start(self) -> None:
        self.epoch_loss.update(sum=torch.zeros(()), rows=0)

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        x, y = batch[0], batch[1]
        loss = self.loss_fn(self._training_forward(x), y[:, :self.out_size])
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss is {loss.item()} at epoch {self.current_epoch}, step {self.global_step}")
        # the epoch mean is summed here and logged once: a self.log per step costs more than the step itself
        # (a plain dict, since every attribute assignment on an nn.Module goes through its slow __setattr__)
        self.epoch_loss["sum"] += loss.detach() * len(x)
        self.epoch_loss["rows"] += len(x)
        if batch_idx == self.trainer.num_training_batches - 1:
            self.log("train_loss", self.epoch_loss["sum"] / self.epoch_loss["rows"], on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        x, y, reference = batch
        pred = self.network(x) if self.fixed_point is None else self.fixed_point(self.network, x)
        metrics = evaluate(pred.double().numpy(), y.double().numpy(), reference.double().numpy(),
                           self.config["z_cut_cm"], binned=False, uncertainties=False)
        metrics["loss"] = float(self.loss_fn(pred, y[:, :self.out_size]))
        self.last_val_pred = pred.detach().numpy()  # (N, out) for the plot callback
        self.log("val_loss", metrics["loss"], batch_size=len(x))
        for name in VAL_LOGGED:
            if np.isfinite(metrics.get(name, np.nan)):
                self.log(f"val_{name}", metrics[name], batch_size=len(x))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return models.build_optimizer(self.config, self.network.parameters())
