"""A network's forward through `torch.compile`, falling back to eager when compiling fails.

Compiling happens at the first call (and again for a new input shape), so a missing or broken C++
compiler shows only then: the call that fails is repeated eagerly, a warning says so once, and
every later call is eager.
"""
import logging

import torch
from torch import nn

log = logging.getLogger("neuro_trigger.training")


class CompiledForward:
    """Callable like `network`, running it compiled while compiling works."""

    def __init__(self, network: nn.Module, label: str):
        self.network = network
        self.label = label
        try:
            self.compiled = torch.compile(network, dynamic=False)
        except Exception as e:  # noqa: BLE001 - any compiler trouble only costs speed
            self._fall_back(e)

    def _fall_back(self, error: Exception) -> None:
        self.compiled = None
        first_line = (str(error).strip().splitlines() or [""])[0][:200]
        log.warning("%s: torch.compile failed (%s: %s); training eagerly", self.label, type(error).__name__,
                    first_line)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.compiled is None:
            return self.network(x)
        try:
            return self.compiled(x)
        except Exception as e:  # noqa: BLE001 - an error of the network itself is raised again by the eager call
            self._fall_back(e)
            return self.network(x)
