"""Training throughput of one expert (BaselineModel 27-81-2, tanh/2, Adam) in samples per second:

raw       a plain PyTorch loop over pre-made tensors (plain Adam): the practical limit;
previous  the step before the lean one (a copy of that ExpertModule below: automatic optimization, one
          Lightning batch per step, a finiteness check per step, plain Adam), with today's Trainer flags;
lean      the project's trainer as it is (ExpertModule on TensorBatches chunks, the Trainer of training/fit.py);
lean_compiled  lean with `compile: true`;
*_reweighted   the same with the z-reweighting BucketSampler;
packed_K8 K=8 copies of the expert trained together (PackedExpertModule, bench/packed_step.py): samples/s of
          all eight, so packed_K8/lean is how many times the throughput of one network packing gives.

Each variant runs WARMUP steps, then STEPS[batch] timed steps; epoch ends (checkpoints, logs) are not timed.
The variants take turns, REPEATS rounds, and the best round counts (the machine is shared: a slow round is
someone else's load). To add a variant, add a function to VARIANTS (and a ratio to RATIOS).
Environment: BENCH_TRAIN_ROWS (rows, default 200000), BENCH_REPEATS (default 3), BENCH_THREADS (torch threads).
"""
import logging
import os
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import pytorch_lightning as pl
import torch

from common import report
from packed_step import PACK, packed_samples_per_s
from neuro_trigger.configs import configs
from neuro_trigger.data import synthetic
from neuro_trigger.data.sampler import BucketSampler
from neuro_trigger.models import BaselineModel, HalfTanh, build_loss
from neuro_trigger.training import fit
from neuro_trigger.training.batches import PermutationSampler, TensorBatches, steps_per_chunk
from neuro_trigger.training.module import ExpertModule

warnings.filterwarnings("ignore")
logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
ROWS = int(os.environ.get("BENCH_TRAIN_ROWS", 200_000))
REPEATS = int(os.environ.get("BENCH_REPEATS", 3))
if "BENCH_THREADS" in os.environ:
    torch.set_num_threads(int(os.environ["BENCH_THREADS"]))
STEPS = {16: 3000, 128: 1500, 512: 600, 2048: 300}
WARMUP = 20
DIST = {"n_buckets": 11, "inf_bounds": True, "norm": {"mean": 0.0, "std": 0.4}}


def network() -> torch.nn.Module:
    torch.manual_seed(0)
    return BaselineModel(27, 2, HalfTanh())


def expert_config(batch: int, **changes) -> dict:
    return {**configs["base"], "act": "tanh/2", "batch_size": batch, "epochs": 10 ** 6, "early_stopping_patience": None,
            "learning_rate": 1e-3, **changes}


def raw_loop(x, y, batch: int, steps: int) -> float:
    net, loss_fn = network(), torch.nn.MSELoss()
    optimizer = torch.optim.Adam(net.parameters(), 1e-3)
    order = torch.randperm(len(x))
    xs, ys = x[order], y[order]
    start = None
    for step in range(WARMUP + steps):
        if step == WARMUP:
            start = time.perf_counter()
        i = (step * batch) % (len(x) - batch)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(net(xs[i:i + batch]), ys[i:i + batch])
        loss.backward()
        optimizer.step()
    return steps * batch / (time.perf_counter() - start)


class PreviousModule(pl.LightningModule):
    """ExpertModule's training step before the lean step (commit 90c4d8d): one Lightning batch per optimizer
    step through the automatic-optimization closure, a finiteness check (a sync) per step, plain Adam."""

    def __init__(self, net: torch.nn.Module, config: dict):
        super().__init__()
        self.network, self.config = net, config
        self.loss_fn = build_loss(config)
        self.epoch_loss = {"sum": torch.zeros(()), "rows": 0}

    def on_train_epoch_start(self) -> None:
        self.epoch_loss.update(sum=torch.zeros(()), rows=0)

    def training_step(self, batch, batch_idx):
        x, y = batch[0], batch[1]
        loss = self.loss_fn(self.network(x), y[:, :2])
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss is {loss.item()} at epoch {self.current_epoch}, step {self.global_step}")
        self.epoch_loss["sum"] += loss.detach() * len(x)
        self.epoch_loss["rows"] += len(x)
        if batch_idx == self.trainer.num_training_batches - 1:
            self.log("train_loss", self.epoch_loss["sum"] / self.epoch_loss["rows"], on_step=False, on_epoch=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.network.parameters(), lr=self.config["learning_rate"])


class Enough(Exception):
    """Raised by StepTimer once the timed steps are done."""


class StepTimer(pl.Callback):
    """Times the rows trained after `warmup_rows`, leaving out the time between epochs."""

    def __init__(self, warmup_rows: int, timed_rows: int):
        self.warmup_rows, self.timed_rows = warmup_rows, timed_rows
        self.rows = self.timed = 0
        self.start = self.paused_at = None
        self.seconds = 0.0

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        if self.start is None and self.rows >= self.warmup_rows:
            self.start = time.perf_counter()
        elif self.paused_at is not None:
            self.seconds -= time.perf_counter() - self.paused_at
        self.paused_at = None

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.rows += len(batch[0])
        if self.start is not None:
            self.timed += len(batch[0])
            if self.timed >= self.timed_rows:
                self.seconds += time.perf_counter() - self.start
                raise Enough

    def on_train_epoch_end(self, trainer, module) -> None:
        self.paused_at = time.perf_counter()


def trained(module: pl.LightningModule, batches: TensorBatches, config: dict, steps: int) -> float:
    """Samples/s of `module` in the Trainer of training/fit.py (its loggers, last-epoch checkpoint, StopOnRequest;
    no validation, so no best-checkpoint callback)."""
    timer = StepTimer(WARMUP * config["batch_size"], steps * config["batch_size"])
    with tempfile.TemporaryDirectory() as folder:
        trainer = fit._trainer(config, Path(folder), len(batches), [fit.StopOnRequest(threading.Event()), timer])
        try:
            trainer.fit(module, batches)
        except Enough:
            pass
    return timer.timed / timer.seconds


def previous(x, y, sampler, batch: int, steps: int) -> float:
    config = expert_config(batch)
    return trained(PreviousModule(network(), config), TensorBatches((x, y), batch, sampler), config, steps)


def lean(x, y, sampler, batch: int, steps: int, **changes) -> float:
    config = expert_config(batch, **changes)
    batches = TensorBatches((x, y), batch, sampler, steps_per_chunk(batch))
    return trained(ExpertModule(network(), config), batches, config, steps)


def packed(x, y, batch: int, steps: int) -> float:
    """PACK copies, each on its own row order, over epochs of `steps` steps."""
    rows = min(len(x), steps * batch)
    return packed_samples_per_s(network, expert_config(batch), [PermutationSampler(rows, k) for k in range(PACK)],
                                x[:rows], y[:rows])


def main() -> None:
    tracks = synthetic.generate(ROWS, seed=8)
    x, y = torch.from_numpy(tracks.inputs), torch.from_numpy(tracks.reco.astype(np.float32))

    def uniform():
        return PermutationSampler(len(x))

    def reweighted():
        return BucketSampler(tracks.z_reco, DIST)

    variants: dict[str, Callable[[int, int], float]] = {
        "raw": lambda b, n: raw_loop(x, y, b, n),
        "previous": lambda b, n: previous(x, y, uniform(), b, n),
        "lean": lambda b, n: lean(x, y, uniform(), b, n),
        "lean_compiled": lambda b, n: lean(x, y, uniform(), b, n, compile=True),
        "previous_reweighted": lambda b, n: previous(x, y, reweighted(), b, n),
        "lean_reweighted": lambda b, n: lean(x, y, reweighted(), b, n),
        f"packed_K{PACK}": lambda b, n: packed(x, y, b, n),
    }
    ratios = [("lean", "raw"), ("lean", "previous"), ("lean_compiled", "lean"),
              ("lean_reweighted", "previous_reweighted"), (f"packed_K{PACK}", "lean"), (f"packed_K{PACK}", "raw")]
    rows = []
    for batch, steps in STEPS.items():
        best = dict.fromkeys(variants, 0.0)
        for _ in range(REPEATS):
            for name, run in variants.items():
                best[name] = max(best[name], run(batch, steps))
        rows.append({"batch": batch, **best, **{f"{a}/{b}": best[a] / best[b] for a, b in ratios}})
    report("training", rows, f"samples/s, best of {REPEATS} rounds, {ROWS} rows, torch threads "
                             f"{torch.get_num_threads()}, load {os.getloadavg()[0]:.1f}, {WARMUP} warm-up steps "
                             f"then {STEPS}")


if __name__ == "__main__":
    main()
