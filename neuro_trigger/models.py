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


MODELS: dict[str, type[nn.Module]] = {"BaselineModel": BaselineModel, "BaselineModelBN": BaselineModelBN,
                                      "DeepModel": DeepModel}


def build_network(config: dict) -> nn.Module:
    """The network named by a resolved (and validated) expert config."""
    act = ACTIVATIONS[config["act"]]()
    return MODELS[config["model"]](config["in_size"], config["out_size"], act)


def build_loss(config: dict) -> nn.Module:
    return LOSSES[config["loss"]]()


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
