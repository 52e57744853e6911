"""The one training engine: a Lightning module that trains the K >= 1 copies of an expert (`pack.py`) together.

Each copy keeps what a network of its own would have: its seed's initialisation and row order, its learning
rate and weight decay, its early-stopping count, its best weights (lowest val loss, strictly lower, as
Lightning's ModelCheckpoint picks them) and its fate when its loss diverges (the copy stops; the expert
fails once every copy has). A plain run is K = 1.

The step is as short as a plain PyTorch loop: Lightning hands over a chunk of batches (`batches.py`) and
`training_step` steps through them itself, calling the torch optimizer directly. Lightning's hooks and
progress tracking thus run once per chunk; Lightning pays for the epoch loop, checkpoints, loggers and
callbacks, but its step counter has to be advanced by hand (`_count_optimizer_steps`). An epoch's metrics
(`epoch_metrics`) reach the loggers in one call each and the callbacks as an attribute, not through
`self.log`, whose bookkeeping per value cost more than the validation figures themselves.

With `quantization_aware: {"epochs": N}` the last N epochs train through the FPGA fixed-point arithmetic
(straight-through gradient), and every validation runs in fixed point, so the best weights are the best
network as the FPGAs compute it.
"""
import concurrent.futures
import threading
import time

import numpy as np
import pytorch_lightning as pl
import torch

from neuro_trigger.training.pack import Copies, NetworkList, StackedNetworks, make_pack
from neuro_trigger.training.stop import TrainingStopped
from neuro_trigger.training.validation import ValidationFigures

PARALLEL_FROM_ROWS = 4096  # validation splits from this size are predicted in two halves at once
_validation_helper: concurrent.futures.ThreadPoolExecutor | None = None  # one thread, shared by the experts
_helper_lock = threading.Lock()
LOGGERS_SAVE_EVERY_S = 2.0  # TensorBoard flushes and metrics.csv rows reach the disk this often while training


class PackModule(pl.LightningModule):
    """Trains the copies of one expert on chunks `(x (K, C, in), y (K, C, >= out))`; validation on
    `(x, y, reference)` of the whole split keeps each copy's best weights and stops each on its own patience
    (a stopped copy still steps, but nothing of it is kept any more)."""

    def __init__(self, copies: Copies, stop: threading.Event | None = None):
        super().__init__()
        self.automatic_optimization = False  # training_step steps the optimizer itself
        self.pack = make_pack(copies)
        self.stop = stop
        config = copies.configs[0]
        self.config, self.seeds, self.labels = config, copies.seeds, copies.labels
        self.out_size, self.batch_size = config["out_size"], config["batch_size"]
        self.patience = config["early_stopping_patience"]
        qat = config.get("quantization_aware")
        self.fixed_point_from_epoch = max(0, config["epochs"] - qat["epochs"]) if qat else None
        k = len(copies.networks)
        self.best_val = torch.full((k,), float("inf"))
        self.best_epoch = torch.full((k,), -1, dtype=torch.long)
        self.wait = torch.zeros(k, dtype=torch.long)
        self.stopped_epoch = torch.full((k,), -1, dtype=torch.long)
        self.failed = torch.zeros(k, dtype=torch.bool)
        self.best_weights: list[dict | None] = [None] * k
        self.epoch_loss = {"sum": torch.zeros(k, dtype=torch.float64), "rows": 0}
        self.last_val_pred = None  # (N, out) of the copy shown, for the plot callback
        self.validation_figures: ValidationFigures | None = None  # made at the first validation, from its split
        # this epoch's train and validation metrics: the loggers and the callbacks (progress, mean expert) read them
        self.epoch_metrics: dict[str, float] = {}
        self.loggers_saved = float("-inf")

    @property
    def active(self) -> torch.Tensor:
        return (self.stopped_epoch < 0) & ~self.failed

    def on_train_epoch_start(self) -> None:
        self.epoch_loss.update(sum=torch.zeros_like(self.epoch_loss["sum"]), rows=0)
        self.epoch_metrics = {}

    def training_step(self, chunk: tuple[torch.Tensor, ...], chunk_idx: int) -> None:
        """Step through the batches of one chunk, then account for their losses at once (per step, a loss
        sum or a finiteness check would cost a few ops each)."""
        if self.stop is not None and self.stop.is_set():
            raise TrainingStopped(f"stopped by request in epoch {self.current_epoch}, step {self.global_step}")
        x, y = chunk[0], chunk[1][..., :self.out_size]
        optimizer = self.optimizers().optimizer  # the torch optimizer: Lightning's wrapper adds hooks to every step
        fixed_point = self.fixed_point_from_epoch is not None and self.current_epoch >= self.fixed_point_from_epoch
        losses, rows = [], []
        for xb, yb, n in self.pack.batches(x, y, self.batch_size):
            optimizer.zero_grad(set_to_none=True)
            total, per_copy = self.pack.train_losses(xb, yb, n == self.batch_size, fixed_point)
            total.backward()
            self.pack.step(optimizer)
            losses.append(per_copy)
            rows.append(n)
        first_step = self.global_step
        _count_optimizer_steps(self.trainer, len(losses))
        losses = torch.stack(losses).reshape(len(rows), -1).double()  # (steps, K)
        self._diverged(losses, first_step)
        self.epoch_loss["sum"] += torch.tensor(rows, dtype=torch.float64) @ losses
        self.epoch_loss["rows"] += sum(rows)
        if chunk_idx == self.trainer.num_training_batches - 1:
            self.epoch_metrics.update(self._train_losses(self.epoch_loss["sum"] / self.epoch_loss["rows"]))

    def _diverged(self, losses: torch.Tensor, first_step: int) -> None:
        """Mark the copies whose loss stopped being finite; the expert fails once all have."""
        finite = torch.isfinite(losses)
        diverged = ~finite.all(dim=0) & ~self.failed
        if not diverged.any():
            return
        self.failed |= diverged
        if self.failed.all():
            step, copy = (int(i) for i in torch.nonzero(~finite)[0])
            where = f" in every copy (seeds {self.seeds})" if len(self.seeds) > 1 else ""
            raise FloatingPointError(f"loss is {losses[step, copy].item()} at epoch {self.current_epoch}, "
                                     f"step {first_step + step}{where}")

    def _train_losses(self, mean: torch.Tensor) -> dict[str, float]:
        """The epoch's mean train loss of the active copies (`train_loss`), and of each copy where K > 1."""
        mean = mean.float()
        per_copy = ({f"train_loss_{label}": float(mean[k]) for k, label in enumerate(self.labels)}
                    if len(self.labels) > 1 else {})
        active = self.active
        return {**per_copy, "train_loss": float(mean[active].mean() if active.any() else mean.nanmean())}

    @torch.no_grad()
    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        x, y, reference = batch
        pred = predict_in_halves(self.pack, x)  # (K, N, out)
        target = y[:, :self.out_size]
        losses = torch.stack([self.pack.loss_fn(p, target).mean() for p in pred])
        logged = losses.float()  # the values Lightning logs; ModelCheckpoint compared these
        active = self.active
        improved = active & (logged < self.best_val)  # strictly lower, never NaN
        for k in torch.nonzero(improved).flatten().tolist():
            self.best_weights[k] = self.pack.copy_state(k)
        self.best_val = torch.where(improved, logged, self.best_val)
        self.best_epoch[improved] = self.current_epoch
        self.wait = torch.where(improved, 0, self.wait + active.long())
        ended = ~torch.isfinite(logged)  # as Lightning's EarlyStopping: a non-finite val loss ends the copy
        if self.patience is not None:
            ended |= (self.wait >= self.patience) & ~improved
        self.stopped_epoch[active & ended] = self.current_epoch
        if not self.active.any():
            self.trainer.should_stop = True
        shown = torch.where(active | improved, logged, float("inf"))
        best = int(torch.argmin(shown)) if torch.isfinite(shown).any() else int(torch.argmin(self.best_val))
        if self.validation_figures is None:
            self.validation_figures = ValidationFigures(y.double().numpy(), reference.double().numpy(),
                                                       self.config["z_cut_cm"])
        self.last_val_pred = pred[best].numpy()
        figures = self.validation_figures.figures(pred[best].double().numpy())
        per_copy = ({f"val_loss_{label}": float(losses[k]) for k, label in enumerate(self.labels)}
                    if len(self.labels) > 1 else {})
        # float32, as Lightning's own logging stored them
        self.epoch_metrics.update({"val_loss": float(losses[best]), **per_copy,
                                   **{f"val_{name}": float(np.float32(value)) for name, value in figures.items()}})

    def on_train_epoch_end(self) -> None:
        """The epoch's metrics to every logger, in one call each (`self.log` cost some 0.4 ms a value per
        epoch); the loggers write their files at most every LOGGERS_SAVE_EVERY_S and when training ends."""
        for logger in self.loggers:  # at the index of the epoch's last optimizer step, as Lightning logged them
            logger.log_metrics({**self.epoch_metrics, "epoch": self.current_epoch}, step=self.global_step - 1)
        if time.monotonic() - self.loggers_saved >= LOGGERS_SAVE_EVERY_S:
            for logger in self.loggers:
                logger.save()
            self.loggers_saved = time.monotonic()

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["copies"] = {"best_val": self.best_val, "best_epoch": self.best_epoch, "wait": self.wait,
                                "stopped_epoch": self.stopped_epoch, "failed": self.failed,
                                "best_weights": self.best_weights}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoint["copies"]
        self.best_val, self.best_epoch, self.wait = state["best_val"], state["best_epoch"], state["wait"]
        self.stopped_epoch, self.failed = state["stopped_epoch"], state["failed"]
        self.best_weights = state["best_weights"]

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.pack.optimizer()

    @torch.no_grad()
    def restore_best(self, copies: Copies) -> int:
        """Each copy's best weights (its last ones if it never validated) into its network; returns the index
        of the copy with the lowest best val loss."""
        for k, network in enumerate(copies.networks):
            self.pack.write_copy(k, network, self.best_weights[k])
        return int(torch.argmin(self.best_val))

    def copy_summaries(self, epochs: int) -> list[dict]:
        """Per copy: seed, rates, epochs it trained (of the `epochs` the pack ran), best val loss and epoch,
        and why it ended."""
        rows = []
        for k, config in enumerate(self.pack.configs):
            stopped = int(self.stopped_epoch[k])
            rows.append({
                "seed": config["seed"], "learning_rate": float(np.float32(config["learning_rate"])),
                "weight_decay": float(np.float32(config["weight_decay"])),
                "epochs": stopped + 1 if stopped >= 0 else epochs,
                "best_val_loss": float(self.best_val[k]) if torch.isfinite(self.best_val[k]) else None,
                "best_epoch": int(self.best_epoch[k]) if self.best_epoch[k] >= 0 else None,
                "stopped_early_at_epoch": stopped if stopped >= 0 else None,
                "diverged": bool(self.failed[k])})
        return rows


def predict_in_halves(pack: NetworkList | StackedNetworks, x: torch.Tensor) -> torch.Tensor:
    """(N, in) -> (K, N, out): the second half of the rows in a helper thread while this thread does the first.
    Each row's output is its own, so the halves give what one pass gives; a lone expert's second core (its
    torch thread count is 1) thus takes half of every validation, some 6 ms of a 90 ms epoch at batch 2048."""
    if len(x) < PARALLEL_FROM_ROWS:
        return pack.predict(x)
    half = len(x) // 2
    other = _helper().submit(_predict_without_grad, pack, x[half:])
    return torch.cat([pack.predict(x[:half]), other.result()], dim=1)


def _predict_without_grad(pack: NetworkList | StackedNetworks, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():  # grad mode is per thread
        return pack.predict(x)


def _helper() -> concurrent.futures.ThreadPoolExecutor:
    global _validation_helper
    with _helper_lock:
        if _validation_helper is None:
            _validation_helper = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="validation")
    return _validation_helper


def _count_optimizer_steps(trainer: pl.Trainer, steps: int) -> None:
    """Count a chunk's `steps` optimizer steps where Lightning counts them one by one (private counters, pinned
    by tests): its optimizer wrapper's `global_step` (checkpointing reads it), and the loggers' step, which
    Lightning itself advances by 1 after each chunk."""
    loop = trainer.fit_loop.epoch_loop
    loop.manual_optimization.optim_step_progress.increment_by(steps)
    loop._batches_that_stepped += steps - 1
