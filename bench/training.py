"""Training throughput of one expert (BaselineModel, Adam) in samples per second, after warm-up:

(a) a raw PyTorch loop over pre-made tensors (the practical limit),
(b) a per-item Dataset + DataLoader + plain LightningModule (how the previous trainer worked),
(c) (b) with a per-item reweighting sampler,
(d) the project's trainer (ExpertModule on TensorBatches, the Trainer flags of training/fit.py), plain and reweighted.
"""
import logging
import os
import time
import warnings

import numpy as np
import pytorch_lightning as pl
import torch

from common import report
from neuro_trigger.data import synthetic
from neuro_trigger.data.sampler import BucketSampler, bucket_of
from neuro_trigger.models import BaselineModel, HalfTanh
from neuro_trigger.training.batches import PermutationSampler, TensorBatches
from neuro_trigger.training.module import ExpertModule

warnings.filterwarnings("ignore")
logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
ROWS = int(os.environ.get("BENCH_TRAIN_ROWS", 200_000))
STEPS = {2048: 200, 128: 600, 16: 2000}
WARMUP = 20
DIST = {"n_buckets": 11, "inf_bounds": True, "norm": {"mean": 0.0, "std": 0.4}}
CONFIG = {"out_size": 2, "loss": "MSELoss", "optim": "Adam", "learning_rate": 1e-3, "weight_decay": 0.0,
          "z_cut_cm": 15.0}


def network() -> torch.nn.Module:
    torch.manual_seed(0)
    return BaselineModel(27, 2, HalfTanh())


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


class RowDataset(torch.utils.data.Dataset):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


class PerItemReweightingSampler(torch.utils.data.Sampler):
    """One np.random.choice(p=...) per item, as a Dataset-level reweighting does it."""

    def __init__(self, z):
        self.p = BucketSampler(z, DIST).probabilities
        bucket = bucket_of(z, DIST["n_buckets"])
        self.rows = [np.flatnonzero(bucket == b) for b in range(DIST["n_buckets"])]
        self.n = len(z)

    def __len__(self):
        return self.n

    def __iter__(self):
        for _ in range(self.n):
            b = np.random.choice(DIST["n_buckets"], p=self.p)
            yield int(self.rows[b][np.random.randint(len(self.rows[b]))])


class PlainModule(pl.LightningModule):
    """The straightforward LightningModule: log the loss every step."""

    def __init__(self):
        super().__init__()
        self.net, self.loss_fn = network(), torch.nn.MSELoss()

    def training_step(self, batch, batch_idx):
        loss = self.loss_fn(self.net(batch[0]), batch[1])
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), 1e-3)


class StepTimer(pl.Callback):
    def __init__(self):
        self.start = None

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if trainer.global_step == WARMUP and self.start is None:
            self.start = time.perf_counter()


def lightning(module, loader, steps: int, batch: int) -> float:
    timer = StepTimer()
    trainer = pl.Trainer(max_steps=WARMUP + steps, accelerator="cpu", devices=1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         limit_val_batches=0, num_sanity_val_steps=0, callbacks=[timer])
    trainer.fit(module, loader)
    return steps * batch / (time.perf_counter() - timer.start)


def main() -> None:
    tracks = synthetic.generate(ROWS, seed=8)
    x, y = torch.from_numpy(tracks.inputs), torch.from_numpy(tracks.reco.astype(np.float32))
    z = tracks.z_reco
    rows = []
    for batch, steps in STEPS.items():
        a = raw_loop(x, y, batch, steps)
        b = lightning(PlainModule(), torch.utils.data.DataLoader(RowDataset(x, y), batch_size=batch, shuffle=True),
                      steps, batch)
        c = lightning(PlainModule(), torch.utils.data.DataLoader(RowDataset(x, y), batch_size=batch,
                                                                 sampler=PerItemReweightingSampler(z)), steps, batch)
        d = lightning(ExpertModule(network(), CONFIG), TensorBatches((x, y), batch, PermutationSampler(len(x))),
                      steps, batch)
        d_rw = lightning(ExpertModule(network(), CONFIG), TensorBatches((x, y), batch, BucketSampler(z, DIST)),
                         steps, batch)
        rows.append({"batch": batch, "a_raw_loop": a, "b_per_item": b, "c_per_item_reweighted": c,
                     "d_project": d, "d_project_reweighted": d_rw, "d/a": d / a, "d/b": d / b, "d_rw/c": d_rw / c})
    report("training", rows, f"samples/s, {ROWS} rows, torch threads {torch.get_num_threads()}, "
                             f"{WARMUP} warm-up steps then {STEPS}")


if __name__ == "__main__":
    main()
