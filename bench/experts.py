"""Five experts trained in threads (the project's way) vs the same experts one after another."""
import os
import tempfile
import threading
import time
from pathlib import Path

from common import report
from neuro_trigger import config as config_lib
from neuro_trigger.data import synthetic
from neuro_trigger.data.splits import SPLITS
from neuro_trigger.run import _build_networks
from neuro_trigger.training import expert_data
from neuro_trigger.training.experts import train_experts

EPOCHS = int(os.environ.get("BENCH_EXPERT_EPOCHS", 10))
ROWS = {"train": 200_000, "val": 50_000, "test": 50_000}


def wall_time(workers: int, data: dict) -> float:
    config = config_lib.resolve("baseline_v2", {"epochs": EPOCHS, "early_stopping_patience": None,
                                                "plot_every": 1000})
    references = {split: data[split].old for split in SPLITS}
    prepared = expert_data.select(config, config["experts"], data, references)
    networks = _build_networks(config)
    with tempfile.TemporaryDirectory() as run_dir:
        start = time.perf_counter()
        train_experts(prepared, networks, Path(run_dir), workers, threading.Event())
        return time.perf_counter() - start


def main() -> None:
    data = {split: synthetic.generate(ROWS[split], seed=2, run=i) for i, split in enumerate(SPLITS, 1)}
    sequential = wall_time(1, data)
    rows = [{"variant": "one after another (workers=1)", "seconds": sequential}]
    for workers in (2, 5):
        threaded = wall_time(workers, data)
        rows.append({"variant": f"threads, at most {workers} at once (workers={workers})", "seconds": threaded,
                     "ratio": threaded / sequential})
    report("experts", rows,
           f"baseline_v2, {EPOCHS} epochs, {ROWS['train']} training rows, training + evaluation + plots")


if __name__ == "__main__":
    main()
