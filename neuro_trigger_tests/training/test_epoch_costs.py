"""What an epoch costs beyond its steps (issue 24): `last.ckpt` on a time cadence with the best weights inside
it, and experts training with one torch thread each."""
import threading
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from neuro_trigger.configs import configs
from neuro_trigger.data import synthetic
from neuro_trigger.models import build_network
from neuro_trigger.training import threads
from neuro_trigger.training.batches import PackBatches, PackSamplers, PermutationSampler, WholeSplit, steps_per_chunk
from neuro_trigger.training.checkpoints import LatestEpochCheckpoint
from neuro_trigger.training.engine import PackModule
from neuro_trigger.training.pack import Copies
from neuro_trigger_tests.conftest import run_module

ROWS, BATCH = 1200, 64


def expert_config(**changes) -> dict:
    return {**configs["base"], "act": "tanh/2", "batch_size": BATCH, "epochs": 5, "early_stopping_patience": None,
            **changes}


def pack_of_one(config: dict) -> PackModule:
    return PackModule(Copies([config], [build_network(config)]))


def batches() -> tuple[PackBatches, WholeSplit]:
    tracks = synthetic.generate(ROWS, seed=4)
    x, y = torch.from_numpy(tracks.inputs), torch.from_numpy(tracks.reco.astype(np.float32))
    reference = torch.from_numpy(tracks.old.astype(np.float32))
    return (PackBatches((x, y), BATCH, PackSamplers([PermutationSampler(ROWS, seed=1)]), steps_per_chunk(BATCH)),
            WholeSplit((x[:400], y[:400], reference[:400])))


class CheckpointEpochs(pl.Callback):
    """The epoch stored in last.ckpt at the start of every epoch and at the end of training."""

    def __init__(self, path: Path):
        self.path, self.seen = path, []

    def _look(self) -> None:
        self.seen.append(torch.load(self.path, weights_only=True)["epoch"] if self.path.is_file() else None)

    def on_train_epoch_start(self, trainer, module) -> None:
        self._look()

    def on_train_end(self, trainer, module) -> None:
        self._look()


def train(folder: Path, config: dict, every_s: float, stop: threading.Event | None = None,
          resume_from: Path | None = None) -> tuple[PackModule, CheckpointEpochs]:
    torch.manual_seed(0)
    module = pack_of_one(config)
    seen = CheckpointEpochs(folder / "last.ckpt")
    trainer = pl.Trainer(max_epochs=config["epochs"], accelerator="cpu", devices=1, logger=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[seen, LatestEpochCheckpoint(folder, stop, every_s=every_s)])
    train_batches, val_batches = batches()
    trainer.fit(module, train_batches, val_batches, ckpt_path=resume_from, weights_only=True)
    return module, seen


def test_last_checkpoint_is_written_after_the_first_and_the_final_epoch_only_within_its_interval(tmp_path):
    _, seen = train(tmp_path, expert_config(), every_s=3600)
    assert seen.seen == [None, 0, 0, 0, 0, 4]


def test_last_checkpoint_is_written_every_epoch_once_the_interval_has_passed(tmp_path):
    _, seen = train(tmp_path, expert_config(), every_s=0)
    assert seen.seen == [None, 0, 1, 2, 3, 4]


def test_a_stop_request_writes_the_epoch_that_just_ended(tmp_path):
    stop = threading.Event()

    class StopAfterEpoch1(pl.Callback):
        def on_train_epoch_end(self, trainer, module) -> None:
            if trainer.current_epoch == 1:
                stop.set()
                trainer.should_stop = True

    module = pack_of_one(expert_config())
    trainer = pl.Trainer(max_epochs=5, accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                         enable_model_summary=False,
                         callbacks=[StopAfterEpoch1(), LatestEpochCheckpoint(tmp_path, stop, every_s=3600)])
    trainer.fit(module, *batches())
    assert torch.load(tmp_path / "last.ckpt", weights_only=True)["epoch"] == 1


def test_best_weights_travel_in_last_checkpoint_and_resume_ends_like_an_uninterrupted_run(tmp_path):
    uninterrupted, _ = train(tmp_path / "full", expert_config(), every_s=3600)
    first, _ = train(tmp_path / "cut", expert_config(epochs=2), every_s=3600)
    stored = torch.load(tmp_path / "cut" / "last.ckpt", weights_only=True)["copies"]
    assert stored["best_epoch"][0] == first.best_epoch[0] and stored["best_val"][0] == first.best_val[0]
    assert all(torch.equal(stored["best_weights"][0][k], v) for k, v in first.best_weights[0].items())
    resumed, _ = train(tmp_path / "cut", expert_config(), every_s=3600, resume_from=tmp_path / "cut" / "last.ckpt")
    assert resumed.best_epoch[0] == uninterrupted.best_epoch[0]
    assert abs(float(resumed.best_val[0] - uninterrupted.best_val[0])) < 1e-6
    for name, value in uninterrupted.best_weights[0].items():
        assert torch.allclose(resumed.best_weights[0][name], value, atol=1e-6)


def test_resume_of_an_unfinished_run_of_the_previous_release_is_refused_in_one_line(tmp_path, small_data_args):
    """The previous release had a second engine whose checkpoints hold no per-copy state: such a run cannot
    continue exactly, so --resume says so before touching the folder."""
    import json

    result = run_module("neuro_trigger/main.py", "baseline_v2", "-p", "-d", "old", "--log-root", str(tmp_path),
                        *small_data_args, "-m", "epochs=1", "experts=[0]")
    assert result.returncode == 0, result.stderr[-2000:]
    run_dir = tmp_path / "baseline_v2" / "version_0"
    last = run_dir / "expert_0" / "ckpts" / "last.ckpt"
    checkpoint = torch.load(last, weights_only=True)
    checkpoint.pop("copies")
    torch.save(checkpoint, last)
    summary = json.loads((run_dir / "summary.json").read_text())
    (run_dir / "summary.json").write_text(json.dumps({**summary, "status": "interrupted"}))
    before = sorted(p.name for p in run_dir.iterdir())
    resumed = run_module("neuro_trigger/main.py", "--resume", str(run_dir))
    assert resumed.returncode == 2 and "Traceback" not in resumed.stderr
    assert resumed.stderr.count("\n") == 1 and "earlier release" in resumed.stderr and str(last) in resumed.stderr
    assert sorted(p.name for p in run_dir.iterdir()) == before


def test_experts_train_with_one_torch_thread_and_the_main_thread_gets_its_own_back():
    before = torch.get_num_threads()
    seen = []
    with threads.expert_torch_threads():
        worker = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
        worker.start()
        worker.join()
    assert seen == [threads.TORCH_THREADS_PER_EXPERT] == [1]
    assert torch.get_num_threads() == before
    assert threads.experts_at_once(workers=8, experts=5) == min(5, len(threads.usable_cores()))
    assert threads.experts_at_once(workers=2, experts=1) == 1


def test_validation_figures_are_those_of_the_full_evaluation():
    from neuro_trigger.evaluation.metrics import evaluate
    from neuro_trigger.training.validation import LOGGED, ValidationFigures

    tracks = synthetic.generate(3000, seed=9)
    rng = np.random.default_rng(1)
    figures = ValidationFigures(tracks.reco, tracks.old, 20.0)
    assert {"theta_diff_std", "efficiency", "rejection"} <= set(LOGGED)
    for out_size in (1, 2):
        pred = tracks.reco[:, :out_size] + rng.normal(0, 0.05, (3000, out_size))
        full = evaluate(pred, tracks.reco, tracks.old, 20.0, binned=False, uncertainties=False)
        cheap = figures.figures(pred)
        assert sorted(cheap) == sorted(name for name in LOGGED if out_size == 2 or not name.startswith("theta"))
        assert all(cheap[name] == full[name] for name in cheap)


def tensorboard_plot_epochs(folder: Path, monkeypatch, share: float) -> list[int]:
    from pytorch_lightning.loggers import TensorBoardLogger
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from neuro_trigger.training import plot_callback

    monkeypatch.setattr(plot_callback, "PLOT_SHARE", share)
    tracks = synthetic.generate(ROWS, seed=4)
    plotter = plot_callback.PlotCallback(tracks.reco[:400], tracks.old[:400], every=1, expert=0)
    module = pack_of_one(expert_config())
    trainer = pl.Trainer(max_epochs=4, accelerator="cpu", devices=1, logger=TensorBoardLogger(folder, "tb", ""),
                         enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
                         num_sanity_val_steps=0,
                         callbacks=[plotter])
    trainer.fit(module, *batches())
    events = EventAccumulator(str(folder / "tb"), size_guidance={"images": 0})
    events.Reload()
    return [e.step for e in events.Images("val/z_reco_vs_pred")]


def test_tensorboard_plots_follow_plot_every_within_their_share_of_the_training_time(tmp_path, monkeypatch):
    assert tensorboard_plot_epochs(tmp_path / "all", monkeypatch, share=1e9) == [0, 1, 2, 3]
    assert tensorboard_plot_epochs(tmp_path / "first_and_last", monkeypatch, share=0.0) == [0, 3]


class CountedSaves(pl.loggers.CSVLogger):
    """Lightning's CSV logger, counting what reaches it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls, self.saves = 0, 0

    def log_metrics(self, metrics, step=None) -> None:
        self.calls += 1
        super().log_metrics(metrics, step)

    def save(self) -> None:
        self.saves += 1
        super().save()


def test_an_epochs_metrics_reach_each_logger_in_one_call_and_its_files_on_a_cadence(tmp_path, monkeypatch):
    """Issue 24: `self.log` per value cost more than the validation figures; the epoch's metrics now go to each
    logger at once (one metrics.csv row per epoch, train and validation together), and the loggers write their
    files every LOGGERS_SAVE_EVERY_S and at the end."""
    import csv

    from pytorch_lightning.loggers import TensorBoardLogger
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from neuro_trigger.training import engine
    from neuro_trigger.training.epoch_axis import EpochAxisTensorBoardLogger

    class SavesWhileTraining(pl.Callback):
        def on_train_end(self, trainer, module) -> None:
            self.saves = counted.saves

    monkeypatch.setattr(engine, "LOGGERS_SAVE_EVERY_S", 3600)
    counted, seen = CountedSaves(tmp_path, name="csv", version=""), SavesWhileTraining()
    module = pack_of_one(expert_config())
    trainer = pl.Trainer(max_epochs=5, accelerator="cpu", devices=1, enable_progress_bar=False,
                         enable_model_summary=False, enable_checkpointing=False, num_sanity_val_steps=0,
                         logger=[counted, EpochAxisTensorBoardLogger(tmp_path, name="tb", version="")],
                         callbacks=[seen])
    trainer.fit(module, *batches())
    assert isinstance(trainer.loggers[1], TensorBoardLogger)
    assert counted.calls == 5 and seen.saves == 2  # Lightning's with the hyperparameters, ours after epoch 0
    with open(tmp_path / "csv" / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2, 3, 4]
    assert [int(r["step"]) + 1 for r in rows] == [trainer.global_step // 5 * (e + 1) for e in range(5)]
    assert all(float(r["train_loss"]) > 0 and float(r["val_loss"]) > 0 and float(r["val_z_diff_std"]) > 0
               for r in rows)
    assert float(rows[-1]["val_loss"]) == module.epoch_metrics["val_loss"]
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    assert [e.step for e in events.Scalars("val_z_diff_std")] == [0, 1, 2, 3, 4]
    assert [e.step for e in events.Scalars("train_loss")] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("changes, copies", [({}, 1), ({}, 4), ({"model": "BaselineModelBN"}, 2),
                                             ({"quantization_aware": {"epochs": 1}}, 1)],
                         ids=["one", "stacked", "batch_norm", "fixed_point"])
def test_validation_in_two_halves_at_once_gives_exactly_one_pass(changes, copies):
    """Issue 24: a lone expert's idle core predicts half of every validation split."""
    from neuro_trigger.training.engine import PARALLEL_FROM_ROWS, predict_in_halves
    from neuro_trigger.training.pack import make_pack

    config = expert_config(**changes)
    pack = make_pack(Copies([{**config, "seed": s} for s in range(copies)],
                            [build_network(config) for _ in range(copies)])).eval()
    x = torch.from_numpy(synthetic.generate(PARALLEL_FROM_ROWS + 1, seed=3).inputs)
    with torch.no_grad():
        halves = predict_in_halves(pack, x)
        assert halves.shape == (copies, len(x), config["out_size"])
        assert torch.equal(halves, pack.predict(x))
