"""What an epoch costs beyond its steps (issue 24): `last.ckpt` on a time cadence with the best weights inside
it, best.ckpt once at the end, and experts training with one torch thread each."""
import threading
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch

from neuro_trigger.configs import configs
from neuro_trigger.data import synthetic
from neuro_trigger.models import build_network
from neuro_trigger.training import threads
from neuro_trigger.training.batches import PermutationSampler, TensorBatches, steps_per_chunk
from neuro_trigger.training.checkpoints import LatestEpochCheckpoint, write_best
from neuro_trigger.training.module import ExpertModule

ROWS, BATCH = 1200, 64


def expert_config(**changes) -> dict:
    return {**configs["base"], "act": "tanh/2", "batch_size": BATCH, "epochs": 5, "early_stopping_patience": None,
            **changes}


def batches() -> tuple[TensorBatches, TensorBatches]:
    tracks = synthetic.generate(ROWS, seed=4)
    x, y = torch.from_numpy(tracks.inputs), torch.from_numpy(tracks.reco.astype(np.float32))
    reference = torch.from_numpy(tracks.old.astype(np.float32))
    return (TensorBatches((x, y), BATCH, PermutationSampler(ROWS, seed=1), steps_per_chunk(BATCH)),
            TensorBatches((x[:400], y[:400], reference[:400]), 400))


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
          resume_from: Path | None = None) -> tuple[ExpertModule, CheckpointEpochs]:
    torch.manual_seed(0)
    module = ExpertModule(build_network(config), config)
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

    module = ExpertModule(build_network(expert_config()), expert_config())
    trainer = pl.Trainer(max_epochs=5, accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                         enable_model_summary=False,
                         callbacks=[StopAfterEpoch1(), LatestEpochCheckpoint(tmp_path, stop, every_s=3600)])
    trainer.fit(module, *batches())
    assert torch.load(tmp_path / "last.ckpt", weights_only=True)["epoch"] == 1


def test_best_weights_travel_in_last_checkpoint_and_resume_ends_like_an_uninterrupted_run(tmp_path):
    uninterrupted, _ = train(tmp_path / "full", expert_config(), every_s=3600)
    first, _ = train(tmp_path / "cut", expert_config(epochs=2), every_s=3600)
    stored = torch.load(tmp_path / "cut" / "last.ckpt", weights_only=True)["best"]
    assert stored["epoch"] == first.best_epoch and stored["val_loss"] == first.best_val_loss
    assert all(torch.equal(stored["weights"][k], v) for k, v in first.best_weights.items())
    resumed, _ = train(tmp_path / "cut", expert_config(), every_s=3600, resume_from=tmp_path / "cut" / "last.ckpt")
    assert resumed.best_epoch == uninterrupted.best_epoch
    assert abs(resumed.best_val_loss - uninterrupted.best_val_loss) < 1e-6
    for name, value in uninterrupted.best_weights.items():
        assert torch.allclose(resumed.best_weights[name], value, atol=1e-6)


def test_resume_of_a_run_of_the_previous_release_takes_its_best_weights_from_best_ckpt(tmp_path):
    """The previous release kept the best weights only in best.ckpt, written by a ModelCheckpoint on val_loss."""
    network = build_network(expert_config())
    write_best(tmp_path / "best.ckpt", network.state_dict(), 3, 0.25)
    module = ExpertModule(build_network(expert_config()), expert_config())
    module.on_load_checkpoint({"callbacks": {"ModelCheckpoint{'monitor': 'val_loss'}": {
        "monitor": "val_loss", "best_model_path": str(tmp_path / "best.ckpt"), "best_model_score": torch.tensor(0.25)}}})
    assert module.best_val_loss == 0.25
    assert all(torch.equal(module.best_weights[k], v) for k, v in network.state_dict().items())


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
    figures = ValidationFigures(tracks.reco, tracks.old)
    for out_size in (1, 2):
        pred = tracks.reco[:, :out_size] + rng.normal(0, 0.05, (3000, out_size))
        full = evaluate(pred, tracks.reco, tracks.old, 20.0, binned=False, uncertainties=False)
        cheap = figures.figures(pred)
        assert sorted(cheap) == sorted(LOGGED)
        assert all(cheap[name] == full[name] for name in LOGGED)


def tensorboard_plot_epochs(folder: Path, monkeypatch, share: float) -> list[int]:
    from pytorch_lightning.loggers import TensorBoardLogger
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from neuro_trigger.training import plot_callback

    monkeypatch.setattr(plot_callback, "PLOT_SHARE", share)
    tracks = synthetic.generate(ROWS, seed=4)
    plotter = plot_callback.PlotCallback(tracks.reco[:400], tracks.old[:400], every=1, expert=0)
    module = ExpertModule(build_network(expert_config()), expert_config())
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
