"""A differentiable stand-in for the FPGA arithmetic, for quantisation-aware training.

The forward pass gives exactly the fixed-point network's outputs (`fixed_point.FixedPointNetwork`);
the backward pass is the straight-through estimate: rounding and truncation pass the gradient
unchanged, and the look-up table passes the gradient of tanh(x/2) at the exact layer sum.
"""
import torch
from torch import nn

from neuro_trigger.hardware.deploy import effective_parameters
from neuro_trigger.hardware.fixed_point import Precision, tanh_table


def _straight_through(value: torch.Tensor, quantized: torch.Tensor) -> torch.Tensor:
    """`quantized` forward, the identity's gradient backward."""
    return value + (quantized - value).detach()


def _round_half_away(values: torch.Tensor) -> torch.Tensor:
    return torch.sign(values) * torch.floor(values.abs() + 0.5)


class FixedPointForward:
    """Calls a deployable network as the FPGAs compute it at `precision`, with straight-through gradients."""

    def __init__(self, precision):
        self.p = Precision.of(precision)
        self.table = torch.from_numpy(tanh_table(precision).copy())

    def __call__(self, network: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """(batch, 27) float inputs -> (batch, 2) outputs in [-1, 1], multiples of 2^-p_nodes, float32."""
        one = float(self.p.one)
        nodes = _straight_through(x.double(), torch.trunc(x.float() * one).double() / one)
        w1, b1, w2, b2 = effective_parameters(network)
        nodes = self._layer(nodes, w1, b1)
        return self._layer(nodes, w2, b2).float()

    def _weights(self, w: torch.Tensor) -> torch.Tensor:
        scale = float(2 ** self.p.weights)  # single-precision weights, as basf2 stores them
        return _straight_through(w.double(), _round_half_away(w.float().double() * scale) / scale)

    def _layer(self, nodes: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        # exact in float64: node values x weights are integers times 2^-(p_nodes + p_weights), far below 2^53
        sums = nodes @ self._weights(w).T + self._weights(b)
        integer = torch.round(sums.detach() * float(2 ** (self.p.nodes + self.p.weights))).long()
        bins = integer.abs() >> self.p.dp
        table = self.table.to(integer.device)
        values = torch.where(bins >= len(table), self.p.one, table[bins.clamp(max=len(table) - 1)])
        values = torch.where(integer < 0, -values, values).double() / float(self.p.one)
        return _straight_through(torch.tanh(sums / 2), values)
