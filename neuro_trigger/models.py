"""Plain torch networks of the NeuroTrigger experts and the name registries configs refer to.

No Lightning here: a network is built from a resolved config by `build_network`, and the
Lightning module receives it ready-made.
"""
import torch
from torch import nn


class HalfTanh(nn.Module):
    """tanh(x / 2): the activation of the FPGA network."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x / 2)


ACTIVATIONS: dict[str, type[nn.Module]] = {
    "tanh": nn.Tanh, "tanh/2": HalfTanh, "softsign": nn.Softsign, "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid, "leaky_relu": nn.LeakyReLU, "selu": nn.SELU,
}
LOSSES: dict[str, type[nn.Module]] = {
    "MSELoss": nn.MSELoss, "L1Loss": nn.L1Loss, "SmoothL1Loss": nn.SmoothL1Loss, "HuberLoss": nn.HuberLoss,
}
OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW, "Rprop": torch.optim.Rprop, "SGD": torch.optim.SGD,
}


class BaselineModel(nn.Module):
    """The hardware network: in -> 81 -> out, activation after both layers (outputs in [-1, 1] for tanh/2)."""

    def __init__(self, in_size: int, out_size: int, act: nn.Module, hidden: int = 81):
        super().__init__()
        self.hidden = nn.Linear(in_size, hidden)
        self.act = act
        self.output = nn.Linear(hidden, out_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, 27) -> (batch, out)
        return self.act(self.output(self.act(self.hidden(x))))


class BaselineModelBN(BaselineModel):
    """BaselineModel with batch normalisation of the hidden layer (not deployable as is: fold it first)."""

    def __init__(self, in_size: int, out_size: int, act: nn.Module, hidden: int = 81):
        super().__init__(in_size, out_size, act, hidden)
        self.norm = nn.BatchNorm1d(hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.output(self.act(self.norm(self.hidden(x)))))


class DeepModel(nn.Module):
    """A deeper study network: in -> 81 -> 81 -> 81 -> out."""

    def __init__(self, in_size: int, out_size: int, act: nn.Module, hidden: int = 81, depth: int = 3):
        super().__init__()
        sizes = [in_size] + [hidden] * depth
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.act = act
        self.output = nn.Linear(hidden, out_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = self.act(layer(x))
        return self.output(x)


class NeuroTrigger3DHModel(nn.Module):
    """basf2's NeuroTrigger3DH network (SPEC-3DH 1): in -> hidden_sizes... -> out, the activation after every
    layer, the output included. `model` is an `nn.Sequential` with the linear layers at even indices, so the
    state-dict keys are the keys of basf2's weights JSON (`model.{2k}.weight`, `model.{2k}.bias`)."""

    def __init__(self, in_size: int, out_size: int, act: nn.Module, hidden_sizes: tuple[int, ...] = (64,)):
        super().__init__()
        sizes = [in_size, *hidden_sizes, out_size]
        self.act = act
        self.model = nn.Sequential(*[module for a, b in zip(sizes[:-1], sizes[1:]) for module in (nn.Linear(a, b), act)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, in) -> (batch, out), every value in (-1, 1)
        return self.model(x)


MODELS: dict[str, type[nn.Module]] = {"BaselineModel": BaselineModel, "BaselineModelBN": BaselineModelBN,
                                      "DeepModel": DeepModel, "NeuroTrigger3DH": NeuroTrigger3DHModel}


def build_network(config: dict) -> nn.Module:
    """The network named by a resolved (and validated) expert config."""
    act = ACTIVATIONS[config["act"]]()
    hidden = {} if config.get("hidden_sizes") is None else {"hidden_sizes": tuple(config["hidden_sizes"])}
    return MODELS[config["model"]](config["in_size"], config["out_size"], act, **hidden)


class OutputWeightedLoss(nn.Module):
    """A loss whose per-output terms are weighted (`loss_weights`): the mean over rows and outputs of
    weight * loss, which is the plain loss when every weight is 1."""

    def __init__(self, loss: nn.Module, weights: list[float], reduction: str = "mean"):
        super().__init__()
        self.loss, self.reduction = loss, reduction
        self.register_buffer("weights", torch.tensor(weights, dtype=torch.float32))

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        weighted = self.loss(pred, target) * self.weights
        return weighted.mean() if self.reduction == "mean" else weighted


def build_loss(config: dict, reduction: str = "mean") -> nn.Module:
    """The config's loss, its outputs weighted by `loss_weights` where given; `reduction="none"` keeps every
    row's and output's term."""
    weights = config.get("loss_weights")
    if weights is None:
        return LOSSES[config["loss"]](reduction=reduction)
    return OutputWeightedLoss(LOSSES[config["loss"]](reduction="none"), weights, reduction)


class PreactivationPenalty(nn.Module):
    """`weight` * the mean over rows of sum over layers and nodes of (|x| - limit)^2 where a pre-activation x
    (a linear layer's output, before the activation) lies beyond `limit`: it keeps every layer inside the
    hardware's fixed-point window (the 3DH window wraps at |x| >= 32, SPEC-3DH O8), and is 0 inside `limit`."""

    def __init__(self, limit: float, weight: float):
        super().__init__()
        self.limit, self.weight = float(limit), float(weight)

    def forward(self, preactivations: list[torch.Tensor]) -> torch.Tensor:
        """A scalar for layers of (batch, out), one value per copy (K,) for stacked layers of (K, batch, out)."""
        excess = [torch.relu(z.abs() - self.limit).square().sum(dim=-1).mean(dim=-1) for z in preactivations]
        return self.weight * torch.stack(excess).sum(dim=0)


def build_penalty(config: dict) -> PreactivationPenalty | None:
    """The config's `preactivation_penalty` (None when it has none)."""
    penalty = config.get("preactivation_penalty")
    return None if penalty is None else PreactivationPenalty(penalty["limit"], penalty["weight"])


# Adam(W) fused into one kernel per parameter: ~20% of a batch-16 step on CPU, equal to the plain one up to
# float rounding; the foreach variants, and SGD's fused one, are slower than plain here (4 small parameters)
FUSED = {"Adam", "AdamW"}


def build_optimizer(config: dict, parameters) -> torch.optim.Optimizer:
    kwargs = {"lr": config["learning_rate"]}
    if config["optim"] != "Rprop":
        kwargs["weight_decay"] = config["weight_decay"]
    if config["optim"] in FUSED:
        kwargs["fused"] = True
    return OPTIMIZERS[config["optim"]](parameters, **kwargs)
