"""Which networks the FPGAs can run, and their weights in the form basf2 reads (SPEC 10).

basf2's converter reads, per expert, `model.net.0.weight` (81 x 27), `model.net.0.bias`,
`model.net.2.weight` (2 x 81) and `model.net.2.bias`, and evaluates tanh(x/2) after both layers.
A tanh network is written with all weights doubled; a batch-normalised hidden layer is folded
into the layer before it with its eval-mode statistics.
"""
import numpy as np
import torch
from torch import nn

from neuro_trigger import models
from neuro_trigger.data.filters import rows_of
from neuro_trigger.hardware.fixed_point import FixedPointNetwork, Precision

IN_SIZE, HIDDEN, OUT_SIZE = 27, 81, 2
BASF2_SHAPES = {"model.net.0.weight": [HIDDEN, IN_SIZE], "model.net.0.bias": [HIDDEN],
                "model.net.2.weight": [OUT_SIZE, HIDDEN], "model.net.2.bias": [OUT_SIZE]}
ACTIVATION_SCALE = {models.HalfTanh: 1.0, nn.Tanh: 2.0}  # tanh(x) = tanh(2x / 2)


def not_deployable_reason(network: nn.Module) -> str | None:
    """Why today's firmware cannot run `network` (None when it can, as 27 -> 81 -> 2 tanh(x/2))."""
    if type(network) not in (models.BaselineModel, models.BaselineModelBN):
        return f"{type(network).__name__}: only the 27-81-2 BaselineModel (or BaselineModelBN) runs on the FPGAs"
    if type(network.act) not in ACTIVATION_SCALE:
        return f"activation {type(network.act).__name__}: only tanh(x/2) (or tanh, rescaled) runs on the FPGAs"
    shape = (network.hidden.in_features, network.hidden.out_features, network.output.out_features)
    if shape != (IN_SIZE, HIDDEN, OUT_SIZE):
        return (f"shape {'-'.join(map(str, shape))} (out_size {shape[2]}): the FPGAs run "
                f"{IN_SIZE}-{HIDDEN}-{OUT_SIZE} networks")
    with torch.no_grad():
        if not all(torch.isfinite(p.float()).all() for p in effective_parameters(network)):
            return "weights or biases that are not finite numbers in single precision (NaN, infinity, beyond 3.4e38)"
    return None


def effective_parameters(network: nn.Module) -> tuple[torch.Tensor, ...]:
    """(hidden weight, hidden bias, output weight, output bias) of the tanh(x/2) network equal to
    `network`, differentiable in its parameters (batch norm folded with its running statistics)."""
    scale = ACTIVATION_SCALE[type(network.act)]
    w1, b1 = network.hidden.weight, network.hidden.bias
    norm = getattr(network, "norm", None)
    if norm is not None:
        factor = norm.weight / torch.sqrt(norm.running_var + norm.eps)
        w1 = w1 * factor[:, None]
        b1 = (b1 - norm.running_mean) * factor + norm.bias
    return w1 * scale, b1 * scale, network.output.weight * scale, network.output.bias * scale


@torch.no_grad()
def basf2_weights(network: nn.Module) -> dict[str, np.ndarray]:
    """The deployable network's weights keyed as basf2 reads them, as single-precision floats
    (what basf2 stores, so the fixed-point emulation and the FPGAs see the same numbers)."""
    reason = not_deployable_reason(network)
    if reason:
        raise ValueError(f"not deployable: {reason}")
    params = [p.detach().double() for p in effective_parameters(network)]
    return {name: p.float().numpy() for name, p in zip(BASF2_SHAPES, params)}


@torch.no_grad()
def load_basf2_weights(network: nn.Module, weights: dict[str, torch.Tensor]) -> None:
    """Set a BaselineModel(BN) from basf2-form tanh(x/2) weights: halved for tanh, batch norm made the identity."""
    scale = ACTIVATION_SCALE.get(type(network.act), 1.0)  # other activations get the values as they are
    for name, parameter in basf2_targets(network).items():
        parameter.copy_(weights[name] / scale)
    norm = getattr(network, "norm", None)
    if norm is not None:  # (x - 0) / sqrt(1 + eps) * sqrt(1 + eps) + 0
        norm.running_mean.zero_()
        norm.running_var.fill_(1.0)
        norm.weight.fill_(float(np.sqrt(1.0 + norm.eps)))
        norm.bias.zero_()


def basf2_targets(network: nn.Module) -> dict[str, torch.Tensor]:
    """The parameters of a BaselineModel(BN) that basf2's names stand for."""
    return dict(zip(BASF2_SHAPES, (network.hidden.weight, network.hidden.bias, network.output.weight,
                                   network.output.bias)))


def is_basf2_form(tensors: dict) -> bool:
    """Whether a weights entry uses basf2's names (ours since deployable export, or the original trainer's)."""
    return all(name in tensors for name in BASF2_SHAPES)


def fixed_point_network(network: nn.Module, precision) -> FixedPointNetwork | None:
    """The network as the FPGAs compute it at `precision`, or None when it is not deployable."""
    if not_deployable_reason(network) is not None:
        return None
    return FixedPointNetwork.from_float(basf2_weights(network), precision)


def fixed_point_predictions(networks: dict[int, nn.Module], inputs: np.ndarray, expert_of_row: np.ndarray,
                            precision_of: dict[int, tuple], known: dict[int, tuple] | None = None
                            ) -> tuple[np.ndarray, np.ndarray] | None:
    """(output node values (N, 2), predictions node / 2^p_nodes (N, 2)) in fixed point, each row by its
    expert's network (-1: one network for all rows), NaN for rows of no network; None when any of the
    networks is not deployable.

    `known`: expert -> (FixedPointNetwork, node values of its rows, in the order they appear here) computed
    before, e.g. when the expert was evaluated; used instead of computing them again where the network is
    the same (the fixed-point network is only a few hundred integers, so that check costs nothing)."""
    fixed = {x: fixed_point_network(n, precision_of[x]) for x, n in networks.items()}
    if any(f is None for f in fixed.values()):
        return None
    known = known or {}
    nodes = np.full((len(inputs), OUT_SIZE), np.nan)
    pred = np.full((len(inputs), OUT_SIZE), np.nan)
    for expert, net in fixed.items():
        rows = rows_of(expert, expert_of_row)
        if not rows.any():
            continue
        earlier, earlier_nodes = known.get(expert, (None, None))
        if net.same_as(earlier) and earlier_nodes is not None and len(earlier_nodes) == rows.sum():
            nodes[rows] = earlier_nodes
        else:
            nodes[rows] = net.nodes(inputs[rows])
        pred[rows] = nodes[rows] / float(Precision.of(net.precision).one)
    return nodes, pred
