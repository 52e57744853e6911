"""K copies of one expert network as stacked weights, stepped together with batched matrix products.

At small batches a step costs per-call overhead, not arithmetic, so K networks in one `baddbmm`
per layer train at nearly the cost of one. Copy k sees its own batch (`x[k]`), so its gradient
is exactly that of the network alone; the copies only share the Python loop.
"""
from typing import Iterator

import numpy as np
import torch
from torch import nn

from neuro_trigger.errors import UserError
from neuro_trigger.models import BaselineModel, DeepModel


def layer_plan(network: nn.Module) -> list[tuple[nn.Linear, bool]]:
    """The network's linear layers in order, each with whether the activation follows it."""
    if type(network) is BaselineModel:
        return [(network.hidden, True), (network.output, True)]
    if type(network) is DeepModel:
        return [(layer, True) for layer in network.layers] + [(network.output, False)]
    raise UserError(f"pack: {type(network).__name__} cannot be packed (BaselineModel and DeepModel can: "
                    "batch normalisation mixes the rows of a batch)")


LOOP_FROM_BATCH = 2048  # rows per copy from which one matrix product per copy beats the batched one


class PackedNetwork(nn.Module):
    """K networks of one architecture: layer i holds `weight` (K, out, in) and `bias` (K, out).

    Below `LOOP_FROM_BATCH` rows per copy, each layer is one `baddbmm` for all copies; above it, CPU
    batched products are slower than separate ones (forward and backward of 8 copies at batch 2048, one
    thread: 18 ms batched against 11 ms one by one; at 1024 5.6 ms against 6.0 ms), so each copy gets its
    own `linear`, still from the stacked weights.
    """

    def __init__(self, networks: list[nn.Module]):
        super().__init__()
        plans = [layer_plan(n) for n in networks]
        self.copies = len(networks)
        self.act = networks[0].act
        self.act_after = [act for _, act in plans[0]]
        self.weights = nn.ParameterList(
            nn.Parameter(torch.stack([plan[i][0].weight.detach() for plan in plans]).contiguous())
            for i in range(len(plans[0])))
        self.biases = nn.ParameterList(
            nn.Parameter(torch.stack([plan[i][0].bias.detach() for plan in plans]).contiguous())
            for i in range(len(plans[0])))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(K, B, in) -> (K, B, out); an (N, in) input is given to every copy."""
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.copies, -1, -1)
        if x.shape[1] >= LOOP_FROM_BATCH:
            return torch.stack([self._copy_forward(k, x[k]) for k in range(self.copies)])
        for weight, bias, act in zip(self.weights, self.biases, self.act_after):
            x = torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))
            if act:
                x = self.act(x)
        return x

    def _copy_forward(self, k: int, x: torch.Tensor) -> torch.Tensor:
        for weight, bias, act in zip(self.weights, self.biases, self.act_after):
            x = nn.functional.linear(x, weight[k], bias[k])
            if act:
                x = self.act(x)
        return x

    def state_of_copy(self, k: int) -> list[torch.Tensor]:
        """Copy k's tensors in `parameters()` order (every weight, then every bias), detached clones."""
        return [p[k].detach().clone() for p in self.parameters()]

    @torch.no_grad()
    def write_copy(self, k: int, network: nn.Module, state: list[torch.Tensor] | None = None) -> nn.Module:
        """Put copy k (or a saved `state_of_copy`) into a plain network of the same architecture."""
        state = state if state is not None else self.state_of_copy(k)
        layers = layer_plan(network)
        for i, (layer, _) in enumerate(layers):
            layer.weight.copy_(state[i])
            layer.bias.copy_(state[len(layers) + i])
        return network


class PackedSamplers:
    """One row-order stream per copy; Lightning's `set_epoch` reaches all of them."""

    def __init__(self, samplers: list):
        lengths = {len(s) for s in samplers}
        if len(lengths) != 1:
            raise ValueError(f"packed samplers draw different numbers of rows: {sorted(lengths)}")
        self.samplers, self.epoch = samplers, 0

    def __len__(self) -> int:
        return len(self.samplers[0])

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        for sampler in self.samplers:
            sampler.set_epoch(epoch)

    def draw(self, epoch: int) -> np.ndarray:
        """(K, rows) row orders of this epoch."""
        return np.stack([s.draw(epoch) for s in self.samplers])


class PackedBatches:
    """One item per epoch: the epoch's batches `(x (K, B, in), y (K, B, out))`, to be stepped through inside a
    single Lightning step (Lightning's own per-step work costs more than a packed step at small batches).
    At each step copy k gets the next rows of its own order, the rows a single-network run with that copy's
    sampler would get."""

    def __init__(self, tensors: tuple[torch.Tensor, torch.Tensor], batch_size: int, sampler: PackedSamplers):
        self.tensors, self.batch_size, self.sampler = tensors, batch_size, sampler
        self.batch_sampler = None  # Lightning inspects it; batching happens here, by gathering
        self.num_samples = len(sampler)

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[Iterator[tuple[torch.Tensor, torch.Tensor]]]:
        yield self.epoch()

    def epoch(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.from_numpy(self.sampler.draw(self.sampler.epoch))
        x, y = self.tensors
        copies = len(order)
        for start in range(0, self.num_samples, self.batch_size):
            rows = order[:, start:start + self.batch_size].reshape(-1)
            yield (x.index_select(0, rows).view(copies, -1, x.shape[1]),
                   y.index_select(0, rows).view(copies, -1, y.shape[1]))
