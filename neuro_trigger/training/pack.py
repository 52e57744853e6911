"""The K >= 1 networks of one expert that one training steps together, and how they are held.

A plain run is a pack of one. Plain MLPs packed K > 1 are held as stacked weights (`StackedNetworks`: one
batched matrix product per layer for all copies, nearly the cost of one network at small batches); everything
else, a lone network, batch normalisation (each copy keeps its own statistics), quantisation-aware training
(the straight-through fixed-point pass per copy) and `compile`, as a list of the networks themselves
(`NetworkList`). Both give the engine (`engine.py`) the same calls.
"""
from dataclasses import dataclass, field
from typing import Callable, Iterator

import torch
from torch import nn

from neuro_trigger import models
from neuro_trigger.config import PACKABLE_KEYS
from neuro_trigger.errors import UserError
from neuro_trigger.hardware.quantization_aware import FixedPointForward
from neuro_trigger.training.compiled import CompiledForward


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


def layer_plan(network: nn.Module) -> list[tuple[nn.Linear, bool]] | None:
    """The linear layers of a plain MLP in order, each with whether the activation follows it (None for any
    other network, which cannot be stacked)."""
    if type(network) is models.BaselineModel:
        return [(network.hidden, True), (network.output, True)]
    if type(network) is models.DeepModel:
        return [(layer, True) for layer in network.layers] + [(network.output, False)]
    if type(network) is models.NeuroTrigger3DHModel:
        return [(layer, True) for layer in network.model if isinstance(layer, nn.Linear)]
    return None


def forward_with_preactivations(network: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(the plain MLP's output, each linear layer's output before its activation): what the network's forward
    computes, layer by layer, for the pre-activation penalty."""
    preactivations = []
    for layer, act in layer_plan(network):
        x = layer(x)
        preactivations.append(x)
        x = network.act(x) if act else x
    return x, preactivations


def make_pack(copies: Copies) -> "NetworkList | StackedNetworks":
    """Stacked weights where they pay (K > 1 plain MLPs, no fixed-point or compiled pass), else the list."""
    config = copies.configs[0]
    stackable = (len(copies.networks) > 1 and not config.get("quantization_aware") and not config.get("compile")
                 and all(layer_plan(n) is not None for n in copies.networks))
    return StackedNetworks(copies) if stackable else NetworkList(copies)


@torch.no_grad()
def load_copy(state: dict[str, torch.Tensor], k: int, network: nn.Module) -> None:
    """Put copy k of a pack's checkpointed state dict (`last.ckpt`, either way of holding the copies) into
    `network`."""
    prefix = f"pack.networks.{k}."
    if any(key.startswith(prefix) for key in state):
        network.load_state_dict({key.removeprefix(prefix): v for key, v in state.items() if key.startswith(prefix)})
        return
    layers = range(len(layer_plan(network)))
    unstack(network, [state[f"pack.weights.{i}"] for i in layers], [state[f"pack.biases.{i}"] for i in layers], k)


@torch.no_grad()
def unstack(network: nn.Module, weights: list[torch.Tensor], biases: list[torch.Tensor], k: int) -> None:
    """Copy k of stacked layer weights (K, out, in) and biases (K, out) into a plain MLP."""
    for (layer, _), weight, bias in zip(layer_plan(network), weights, biases):
        layer.weight.copy_(weight[k])
        layer.bias.copy_(bias[k])


class NetworkList(nn.Module):
    """The copies as the networks themselves; batches are lists, one (B, in) tensor per copy."""

    def __init__(self, copies: Copies):
        super().__init__()
        self.networks = nn.ModuleList(copies.networks)
        self.configs = copies.configs
        config = copies.configs[0]
        self.loss_fn = models.build_loss(config)
        self.penalty = models.build_penalty(config)
        # plain lists, not attributes: an nn.Module attribute would register the compiled wrappers as submodules
        self.compiled = ([CompiledForward(n, label) for n, label in zip(copies.networks, copies.labels)]
                         if config.get("compile") else [])
        qat = config.get("quantization_aware")
        self.fixed_point = [FixedPointForward(config["precision"])] if qat else []
        # each step's forwards, made once: the networks, and their fixed-point passes for quantisation-aware epochs
        self.eager = list(copies.networks)
        self.fixed_point_forwards = [lambda x, n=n: self.fixed_point[0](n, x) for n in self.eager] if qat else []

    def batches(self, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> Iterator[tuple[list, list, int]]:
        """A chunk (K, C, ...) as per-copy batches of `batch_size` rows (the last may be shorter)."""
        xs, ys = x.unbind(0), y.unbind(0)
        for start in range(0, x.shape[1], batch_size):
            yield ([xk[start:start + batch_size] for xk in xs], [yk[start:start + batch_size] for yk in ys],
                   min(batch_size, x.shape[1] - start))

    def train_losses(self, x: list, y: list, full_batch: bool, fixed_point: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """(sum of the copies' losses to step on, each copy's loss detached: a scalar for one copy, else (K,))."""
        if self.penalty is None:
            losses = [self.loss_fn(forward(xk), yk) for forward, xk, yk in zip(self._forwards(full_batch, fixed_point),
                                                                                x, y)]
        else:  # config checks keep the penalty to plain MLPs, eager, in float
            losses = []
            for network, xk, yk in zip(self.eager, x, y):
                out, preactivations = forward_with_preactivations(network, xk)
                losses.append(self.loss_fn(out, yk) + self.penalty(preactivations))
        if len(losses) == 1:
            return losses[0], losses[0].detach()
        return torch.stack(losses).sum(), torch.stack([loss.detach() for loss in losses])

    def _forwards(self, full_batch: bool, fixed_point: bool) -> list[Callable[[torch.Tensor], torch.Tensor]]:
        if fixed_point and self.fixed_point_forwards:
            return self.fixed_point_forwards
        return self.compiled if self.compiled and full_batch else self.eager

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in) -> (K, N, out), through the fixed-point pass when training is quantisation-aware."""
        return torch.stack([forward(x) for forward in self._forwards(False, True)])

    def optimizer(self) -> torch.optim.Optimizer:
        """One optimizer, a parameter group per copy with its own learning rate and weight decay."""
        groups = [{"params": list(n.parameters()), "lr": c["learning_rate"],
                   **({"weight_decay": c["weight_decay"]} if c["optim"] != "Rprop" else {})}
                  for n, c in zip(self.networks, self.configs)]
        return models.build_optimizer(self.configs[0], groups)

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        optimizer.step()

    def copy_state(self, k: int) -> dict[str, torch.Tensor]:
        """Copy k's state dict (batch-norm statistics included), cloned."""
        return {name: value.detach().clone() for name, value in self.networks[k].state_dict().items()}

    def write_copy(self, k: int, network: nn.Module, state: dict | None) -> None:
        """Put copy k's `state` (or its current weights) into `network`."""
        if state is not None:
            network.load_state_dict(state)
        elif network is not self.networks[k]:
            network.load_state_dict(self.networks[k].state_dict())


LOOP_FROM_BATCH = 2048  # rows per copy from which one matrix product per copy beats the batched one
COUPLED_DECAY = ("Adam", "SGD")  # weight decay added to the gradient; AdamW decays the weights


class StackedNetworks(nn.Module):
    """K plain MLPs of one architecture: layer i holds `weight` (K, out, in) and `bias` (K, out), stepped with
    batched matrix products. Copy k sees its own rows (`x[k]`), so its gradient is exactly that of the network
    alone. Below `LOOP_FROM_BATCH` rows per copy each layer is one `baddbmm` for all copies; above it, CPU
    batched products are slower than separate ones (8 copies at batch 2048, one thread: 18 ms batched
    against 11 ms one by one), so each copy gets its own `linear`, still from the stacked weights.

    Adam, AdamW and SGD are elementwise, so copies with different learning rates or weight decays share one
    optimizer stepped with rate 1 and no decay; the decay is added and the step scaled per copy around it.
    """

    def __init__(self, copies: Copies):
        super().__init__()
        plans = [layer_plan(n) for n in copies.networks]
        self.plain = list(copies.networks)  # a list, not submodules: they receive the weights at the end
        self.configs, self.copies = copies.configs, len(plans)
        self.act = copies.networks[0].act
        self.act_after = [act for _, act in plans[0]]
        # tanh(x / 2) as tanh of a product that baddbmm already scales by 1/2: one elementwise pass (and its
        # backward) fewer per layer, the same values (a power of two scales exactly)
        self.scale, self.act_of_scaled = (0.5, torch.tanh) if type(self.act) is models.HalfTanh else (1.0, self.act)
        self.weights = nn.ParameterList(nn.Parameter(torch.stack([p[i][0].weight.detach() for p in plans]))
                                        for i in range(len(plans[0])))
        self.biases = nn.ParameterList(nn.Parameter(torch.stack([p[i][0].bias.detach() for p in plans]))
                                       for i in range(len(plans[0])))
        self.loss_fn = models.build_loss(self.configs[0], reduction="none")
        self.penalty = models.build_penalty(self.configs[0])
        rates = [c["learning_rate"] for c in self.configs]
        decays = [c["weight_decay"] for c in self.configs]
        self.per_copy = len(set(rates)) > 1 or (len(set(decays)) > 1 and self.configs[0]["optim"] != "Rprop")
        self.rates, self.decays = torch.tensor(rates), torch.tensor(decays)

    def forward(self, x: torch.Tensor, preactivations: list | None = None) -> torch.Tensor:
        """(K, B, in) -> (K, B, out); an (N, in) input is given to every copy. Each layer's (K, B, out) output
        before its activation is appended to `preactivations` where given (scaled by the activation's 1/2 for
        tanh/2, so the values are those of the linear layer)."""
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.copies, -1, -1)
        if x.shape[1] >= LOOP_FROM_BATCH:
            outputs = [self._copy_forward(k, x[k], preactivations) for k in range(self.copies)]
            if preactivations is not None:
                layers = len(self.act_after)
                preactivations[:] = [torch.stack(preactivations[i::layers]) for i in range(layers)]
            return torch.stack(outputs)
        for weight, bias, act in zip(self.weights, self.biases, self.act_after):
            scale = self.scale if act else 1.0
            x = torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2), beta=scale, alpha=scale)
            if preactivations is not None:
                preactivations.append(x / scale)
            if act:
                x = self.act_of_scaled(x)
        return x

    def _copy_forward(self, k: int, x: torch.Tensor, preactivations: list | None = None) -> torch.Tensor:
        for weight, bias, act in zip(self.weights, self.biases, self.act_after):
            x = nn.functional.linear(x, weight[k], bias[k])
            if preactivations is not None:
                preactivations.append(x)
            if act:
                x = self.act(x)
        return x

    def batches(self, x: torch.Tensor, y: torch.Tensor, batch_size: int
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor, int]]:
        for start in range(0, x.shape[1], batch_size):
            yield x[:, start:start + batch_size], y[:, start:start + batch_size], min(batch_size, x.shape[1] - start)

    def train_losses(self, x: torch.Tensor, y: torch.Tensor, full_batch: bool, fixed_point: bool
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        preactivations = None if self.penalty is None else []
        losses = self.loss_fn(self(x, preactivations), y).mean(dim=(1, 2))
        if preactivations is not None:
            losses = losses + self.penalty(preactivations)
        return losses.sum(), losses.detach()

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self(x)

    def optimizer(self) -> torch.optim.Optimizer:
        config = self.configs[0]
        if self.per_copy:
            config = {**config, "learning_rate": 1.0, "weight_decay": 0.0}
        return models.build_optimizer(config, self.parameters())

    @torch.no_grad()
    def step(self, optimizer: torch.optim.Optimizer) -> None:
        """The optimizer's step; with per-copy rates, taken with rate 1 and no decay, then copy k's decay and
        rate applied to it."""
        if not self.per_copy:
            optimizer.step()
            return
        optim = self.configs[0]["optim"]
        params = list(self.parameters())
        shaped = [(self.rates.view(-1, *[1] * (p.dim() - 1)), self.decays.view(-1, *[1] * (p.dim() - 1)))
                  for p in params]
        if optim in COUPLED_DECAY:
            for p, (_, decay) in zip(params, shaped):
                p.grad.add_(p * decay)
        before = [p.detach().clone() for p in params]
        optimizer.step()
        for p, old, (rate, decay) in zip(params, before, shaped):
            decayed = old * (1 - rate * decay) if optim == "AdamW" else old
            p.copy_(decayed + rate * (p - old))

    def copy_state(self, k: int) -> dict[str, torch.Tensor]:
        self.write_copy(k, self.plain[k], None)
        return {name: value.detach().clone() for name, value in self.plain[k].state_dict().items()}

    @torch.no_grad()
    def write_copy(self, k: int, network: nn.Module, state: dict | None) -> None:
        if state is not None:
            network.load_state_dict(state)
            return
        unstack(network, list(self.weights), list(self.biases), k)
