"""Training throughput of one expert (BaselineModel 27-81-2, tanh/2, Adam) in samples per second:

raw         a plain PyTorch loop over pre-made tensors (plain Adam): the practical limit;
K1          the one engine as a plain run trains: a pack of one network (PackModule on PackBatches chunks, the
            Trainer of training/fit.py);
K1_reweighted  the same with the z-reweighting BucketSampler;
K8          8 copies of the expert trained together (`--seeds 8`): samples/s of all eight, so K8/K1 is how many
            times the throughput of one network packing gives.

With `--before REF`, the same tree at git REF (checked out in a worktree) adds its own `lean` and
`packed_K8` columns (that release's functions of this file, `lean(x, y, sampler, batch, steps)` and
`packed(x, y, batch, steps)`), so the engine is compared with an earlier one in one run.

Every figure is measured in a process of its own (imports, data and warm-up included, none of it timed):
WARMUP steps, then STEPS[batch] timed steps; epoch ends (checkpoints, logs) are not timed. The variants take
turns, REPEATS rounds, and the best round counts (the machine is shared: a slow round is someone else's load).
Environment: BENCH_TRAIN_ROWS (rows, default 200000), BENCH_REPEATS (default 3), BENCH_THREADS (torch threads).
"""
import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch

from common import report
from neuro_trigger.configs import configs
from neuro_trigger.data import synthetic
from neuro_trigger.data.sampler import BucketSampler
from neuro_trigger.models import BaselineModel, HalfTanh
from neuro_trigger.training import fit
from neuro_trigger.training.batches import PackBatches, PackSamplers, PermutationSampler, steps_per_chunk
from neuro_trigger.training.engine import PackModule
from neuro_trigger.training.pack import Copies

warnings.filterwarnings("ignore")
logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
ROWS = int(os.environ.get("BENCH_TRAIN_ROWS", 200_000))
REPEATS = int(os.environ.get("BENCH_REPEATS", 3))
if "BENCH_THREADS" in os.environ:
    torch.set_num_threads(int(os.environ["BENCH_THREADS"]))
STEPS = {16: 3000, 128: 1500, 512: 600, 2048: 300}
WARMUP = 20
PACK = 8
DIST = {"n_buckets": 11, "inf_bounds": True, "norm": {"mean": 0.0, "std": 0.4}}
HERE = Path(__file__).resolve().parent


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


class Enough(Exception):
    """Raised by StepTimer once the timed steps are done."""


class StepTimer(pl.Callback):
    """Times the rows of every copy trained after `warmup_rows`, leaving out the time between epochs."""

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
        rows = batch[0].shape[0] * batch[0].shape[1]  # (K, C, in): every copy's rows
        self.rows += rows
        if self.start is not None:
            self.timed += rows
            if self.timed >= self.timed_rows:
                self.seconds += time.perf_counter() - self.start
                raise Enough

    def on_train_epoch_end(self, trainer, module) -> None:
        self.paused_at = time.perf_counter()


def pack(x, y, samplers: list, batch: int, steps: int) -> float:
    """Samples/s of all copies (one per sampler) in the Trainer of training/fit.py."""
    config = expert_config(batch)
    copies = Copies([{**config, "seed": k} for k in range(len(samplers))], [network() for _ in samplers])
    batches = PackBatches((x, y), batch, PackSamplers(samplers), steps_per_chunk(batch))
    timer = StepTimer(WARMUP * batch * len(samplers), steps * batch * len(samplers))
    with tempfile.TemporaryDirectory() as folder:
        trainer = fit._trainer(config, Path(folder), len(batches), [timer])
        try:
            trainer.fit(PackModule(copies), batches)
        except Enough:
            pass
    return timer.timed / timer.seconds


def measure(tree: Path, call: str, batch: int, steps: int) -> float:
    """Samples/s of `call` (an expression over this file's names in `tree`, with x, y, tracks, B and N) in a
    fresh process."""
    code = (f"import sys; sys.path[:0] = [{str(tree)!r}, {str(tree / 'bench')!r}]\n"
            "import numpy as np, torch\nimport training as t\n"
            "tracks = t.synthetic.generate(t.ROWS, seed=8)\n"
            "x, y = torch.from_numpy(tracks.inputs), torch.from_numpy(tracks.reco.astype(np.float32))\n"
            f"B, N = {batch}, {steps}\nprint(float({call}))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tree, check=True)
    return float(done.stdout.strip().splitlines()[-1])


VARIANTS = {
    "raw": "t.raw_loop(x, y, B, N)",
    "K1": "t.pack(x, y, [t.PermutationSampler(len(x))], B, N)",
    "K1_reweighted": "t.pack(x, y, [t.BucketSampler(tracks.z_reco, t.DIST)], B, N)",
    f"K{PACK}": f"t.pack(x, y, [t.PermutationSampler(len(x), k) for k in range({PACK})], B, N)",
}
BEFORE = {"lean": "t.lean(x, y, t.PermutationSampler(len(x)), B, N)", "packed_K8": "t.packed(x, y, B, N)"}


def worktree(ref: str) -> Path:
    """A checkout of `ref` beside the benchmarks' scratch folder, made once."""
    path = Path(os.environ.get("NEURO_TRIGGER_BENCH_DIR", "/tmp/nt_bench")) / f"tree_{ref}"
    if not path.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(path), ref], cwd=HERE.parent, check=True,
                       capture_output=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", metavar="GIT_REF", help="also measure the engine of this commit")
    args = parser.parse_args()
    variants = {name: (HERE.parent, call) for name, call in VARIANTS.items()}
    if args.before:
        tree = worktree(args.before)
        variants.update({f"{name}@{args.before}": (tree, call) for name, call in BEFORE.items()})
    rows = []
    for batch, steps in STEPS.items():
        best = dict.fromkeys(variants, 0.0)
        for _ in range(REPEATS):
            for name, (tree, call) in variants.items():
                best[name] = max(best[name], measure(tree, call, batch, steps))
        row = {"batch": batch, **best, "K1/raw": best["K1"] / best["raw"], f"K{PACK}/K1": best[f"K{PACK}"] / best["K1"]}
        if args.before:
            lean, packed = best[f"lean@{args.before}"], best[f"packed_K8@{args.before}"]
            row.update({"K1/lean_before": best["K1"] / lean, "packed_K8/lean_before": packed / lean})
        rows.append(row)
    report("training", rows, f"samples/s, best of {REPEATS} rounds, each in its own process, {ROWS} rows, torch "
                             f"threads {torch.get_num_threads()}, load {os.getloadavg()[0]:.1f}, {WARMUP} warm-up "
                             f"steps then {STEPS}")


if __name__ == "__main__":
    main()
