"""The lean training step of the one engine: a pack of one network (or of several) fed chunks of batches,
stepped in a plain loop, trains exactly like a plain PyTorch loop, counts every optimizer step, and a failing
torch.compile falls back to eager training."""
import logging
import math

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from neuro_trigger.configs import configs
from neuro_trigger.data import synthetic
from neuro_trigger.hardware.quantization_aware import FixedPointForward
from neuro_trigger.models import build_network, build_optimizer
from neuro_trigger.training.batches import PackBatches, PackSamplers, PermutationSampler, steps_per_chunk
from neuro_trigger.training.engine import PackModule
from neuro_trigger.training.pack import Copies
from neuro_trigger_tests.conftest import run_module

ROWS, BATCH, EPOCHS = 2500, 16, 2  # 2500 rows: chunks of 1024, 1024, 452 rows; the epoch's last batch has 4


def expert_config(**changes) -> dict:
    return {**configs["base"], "act": "tanh/2", "batch_size": BATCH, "epochs": EPOCHS, **changes}


def data() -> tuple[torch.Tensor, torch.Tensor]:
    tracks = synthetic.generate(ROWS, seed=3)
    return torch.from_numpy(tracks.inputs), torch.from_numpy(tracks.reco.astype(np.float32))


def train_with_lightning(config: dict) -> tuple[torch.nn.Module, pl.Trainer]:
    x, y = data()
    torch.manual_seed(0)
    network = build_network(config)
    batches = PackBatches((x, y), BATCH, PackSamplers([PermutationSampler(ROWS, seed=1)]), steps_per_chunk(BATCH))
    trainer = pl.Trainer(max_epochs=EPOCHS, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(PackModule(Copies([config], [network], labels=["network"])), batches)
    return network, trainer


def train_plainly(config: dict) -> tuple[torch.nn.Module, float]:
    """The reference: one network trained alone in a plain loop, one optimizer step per batch (the config's
    optimizer), through the fixed-point pass in the quantisation-aware epochs; returns the last epoch's mean
    loss."""
    x, y = data()
    torch.manual_seed(0)
    network = build_network(config)
    optimizer = build_optimizer(config, network.parameters())
    sampler = PermutationSampler(ROWS, seed=1)
    qat = config["quantization_aware"]
    fixed_point = FixedPointForward(config["precision"])
    for epoch in range(EPOCHS):
        order = torch.from_numpy(sampler.draw(epoch))
        forward = (lambda x: fixed_point(network, x)) if qat and epoch >= EPOCHS - qat["epochs"] else network
        loss_sum = 0.0
        for start in range(0, ROWS, BATCH):
            rows = order[start:start + BATCH]
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(forward(x[rows]), y[rows])
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(rows)
    return network, loss_sum / ROWS


@pytest.mark.parametrize("changes", [{}, {"model": "BaselineModelBN"}, {"quantization_aware": {"epochs": 1}}],
                         ids=["baseline_v2", "batch_norm", "quantization_aware"])
def test_a_pack_of_one_trains_like_a_plain_loop_and_counts_every_step(changes):
    config = expert_config(**changes)
    lean, trainer = train_with_lightning(config)
    plain, last_epoch_loss = train_plainly(config)
    for a, b in zip(lean.state_dict().values(), plain.state_dict().values()):  # batch-norm statistics included
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert trainer.global_step == EPOCHS * math.ceil(ROWS / BATCH)
    assert trainer.lightning_module.epoch_metrics["train_loss"] == pytest.approx(last_epoch_loss, rel=1e-5)


def test_failing_compile_warns_and_trains_eagerly(monkeypatch, caplog):
    def compile_without_a_compiler(network, **kwargs):
        def forward(x):
            raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found")
        return forward

    monkeypatch.setattr(torch, "compile", compile_without_a_compiler)
    with caplog.at_level(logging.WARNING, logger="neuro_trigger.training"):
        compiled, _ = train_with_lightning(expert_config(compile=True))
    warnings = [r.getMessage() for r in caplog.records if "torch.compile failed" in r.getMessage()]
    assert warnings == ["network: torch.compile failed (RuntimeError: InvalidCxxCompiler: No working C++ compiler "
                        "found); training eagerly"]
    eager, _ = train_with_lightning(expert_config())
    for a, b in zip(compiled.parameters(), eager.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def train_pack(config: dict, copies: int) -> list[torch.nn.Module]:
    """`copies` networks of `config` trained as one pack, copy k with seed k (initialisation and row order)."""
    x, y = data()
    configs = [{**config, "seed": k} for k in range(copies)]
    networks = []
    for k in range(copies):
        torch.manual_seed(k)
        networks.append(build_network(config))
    samplers = PackSamplers([PermutationSampler(ROWS, seed=k) for k in range(copies)])
    trainer = pl.Trainer(max_epochs=EPOCHS, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    module = PackModule(Copies(configs, networks))
    trainer.fit(module, PackBatches((x, y), BATCH, samplers, steps_per_chunk(BATCH)))
    module.restore_best(Copies(configs, networks))  # stacked weights: written back into the networks here
    return networks


def test_a_compiled_pack_steps_every_full_batch_of_each_copy_through_its_compiled_forward(monkeypatch):
    calls = []

    def compile_that_counts(network, **kwargs):
        def forward(x):
            calls.append(len(x))
            return network(x)
        return forward

    monkeypatch.setattr(torch, "compile", compile_that_counts)
    compiled = train_pack(expert_config(compile=True), copies=2)
    assert calls == [BATCH] * (2 * EPOCHS * (ROWS // BATCH))  # the short last batch of an epoch runs eagerly
    stacked = train_pack(expert_config(), copies=2)  # plain MLPs without compile: stacked weights
    for a, b in zip(compiled, stacked):
        for p, q in zip(a.parameters(), b.parameters()):
            torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("value", ["1", "yes", "null"])
def test_compile_must_be_a_boolean(tmp_path, small_data_args, value):
    result = run_module("neuro_trigger/main.py", "baseline_v2", "-p", "-d", "", "--log-root", str(tmp_path),
                        *small_data_args, "-m", f"compile={value}")
    assert result.returncode == 2 and "key 'compile' must be bool" in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not any(tmp_path.iterdir())


def test_chunks_are_short_enough_for_a_quick_stop():
    """A stop request is answered between chunks: a chunk is at most 64 steps and at most 65536 rows (or one batch)."""
    assert [steps_per_chunk(b) for b in (1, 16, 1024, 2048, 32768, 65536, 10 ** 6)] == [64, 64, 64, 32, 2, 1, 1]
