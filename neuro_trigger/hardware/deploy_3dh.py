"""A NeuroTrigger3DH network in the form basf2 deploys (SPEC-3DH 3): the weights JSON `trgcdc_3dhjsontoroot`
reads, the plain-text network config `loadConfigFromFile` parses, both read back, and the fixed-point twin.

The JSON has only the top-level keys `model.{2k}.weight` ([out][in]) and `model.{2k}.bias` ([out]), k = 0 ..
len(nHidden); the converter takes the architecture from the config alone and checks nothing (O13), so the weight
count is checked here, against sum((n_in + 1) * n_out), before anything is written.
"""
import json
import math
import re
from pathlib import Path

import numpy as np
import torch
from torch import nn

from neuro_trigger import models
from neuro_trigger.atomic import write_json, write_text
from neuro_trigger.data.families import THREE_DH
from neuro_trigger.errors import UserError, describe
from neuro_trigger.hardware.fixed_point_3dh import FixedPointNetwork3DH

CONFIG_KEYS = ("nInput", "nOutput", "nHidden", "outputScale")
LAYER_KEY = re.compile(r"model\.\d+\.(weight|bias)")


def layers_of(network: nn.Module) -> list[tuple[np.ndarray, np.ndarray]]:
    """(weight (out, in), bias (out,)) of each linear layer, as float32 arrays."""
    return [(layer.weight.detach().float().numpy().copy(), layer.bias.detach().float().numpy().copy())
            for layer in network.model if isinstance(layer, nn.Linear)]


def nodes_of(layers: list[tuple[np.ndarray, np.ndarray]]) -> list[int]:
    """basf2's `m_nodes`: [nInput, nHidden..., nOutput]."""
    return [layers[0][0].shape[1]] + [w.shape[0] for w, _ in layers]


def weight_count(nodes: list[int]) -> int:
    """`getNumberOfWeights`: sum over layers of (n_in + 1) * n_out, the +1 for the bias (SPEC-3DH 1.1)."""
    return sum((a + 1) * b for a, b in zip(nodes[:-1], nodes[1:]))


def not_deployable_reason(network: nn.Module) -> str | None:
    """Why basf2's NeuroTrigger3DH cannot run `network` (None when it can)."""
    if type(network) is not models.NeuroTrigger3DHModel:
        return f"{type(network).__name__}: only the NeuroTrigger3DH model runs as basf2's NeuroTrigger3DH"
    if type(network.act) is not nn.Tanh:
        return f"activation {type(network.act).__name__}: NeuroTrigger3DH applies tanh(x) after every layer"
    nodes = nodes_of(layers_of(network))
    if nodes[0] not in THREE_DH.input_sizes or nodes[-1] not in THREE_DH.output_sizes:
        return f"shape {'-'.join(map(str, nodes))}: NeuroTrigger3DH has 27 or 126 inputs and 4 outputs"
    if not all(np.isfinite(a).all() for layer in layers_of(network) for a in layer):
        return "weights or biases that are not finite numbers in single precision (NaN, infinity, beyond 3.4e38)"
    return None


def basf2_weights(network: nn.Module) -> dict[str, list]:
    """The weights JSON of `trgcdc_3dhjsontoroot`, checked to hold exactly the config's number of weights."""
    layers = layers_of(network)
    weights = {}
    for k, (w, b) in enumerate(layers):
        weights[f"model.{2 * k}.weight"] = w.tolist()
        weights[f"model.{2 * k}.bias"] = b.tolist()
    found = sum(len(v) * (len(v[0]) if isinstance(v[0], list) else 1) for v in weights.values())
    if found != weight_count(nodes_of(layers)):
        raise ValueError(f"{found} weights for nodes {nodes_of(layers)}, expected {weight_count(nodes_of(layers))}")
    return weights


def _number(x: float) -> str:
    return repr(float(x))


def network_config_text(nodes: list[int], output_scale: list[float]) -> str:
    """The plain-text config `CDCTriggerHoughMLP::loadConfigFromFile` parses (SPEC-3DH 1.1)."""
    return (f"# NeuroTrigger3DH network, for trgcdc_3dhjsontoroot weights.json <this file> out.root\n"
            f"nInput = {nodes[0]}\nnOutput = {nodes[-1]}\n"
            f"nHidden = [{', '.join(map(str, nodes[1:-1]))}]\n"
            f"outputScale = [{', '.join(map(_number, output_scale))}]\n")


def parse_network_config(text: str, path: Path) -> dict:
    """A network config as `loadConfigFromFile` reads it: `key = value` lines, `#` comments, spaces (not tabs)
    removed, arrays with their first and last character stripped and split on ','; the four keys are required
    here (basf2 leaves a missing one uninitialised, O12)."""
    found = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        if len(line) < 3 or "=" not in line:
            continue
        key, _, value = line.replace(" ", "").partition("=")
        if key not in CONFIG_KEYS:
            continue  # basf2 warns and goes on
        try:
            if key in ("nInput", "nOutput"):
                found[key] = int(value)
            else:
                found[key] = [float(v) for v in value[1:-1].split(",") if v] if len(value) > 2 else []
        except ValueError:
            kind = "an integer" if key in ("nInput", "nOutput") else "a list of numbers"
            raise UserError(f"{path}: {key} = {value!r} is not {kind}") from None
    missing = [key for key in CONFIG_KEYS if key not in found]
    if missing:
        raise UserError(f"{path}: no {missing[0]} in the network config (expected {', '.join(CONFIG_KEYS)})")
    if found["nOutput"] != 4 or len(found["outputScale"]) != 8 or found["nInput"] not in THREE_DH.input_sizes:
        raise UserError(f"{path}: nInput {found['nInput']}, nOutput {found['nOutput']} and {len(found['outputScale'])} "
                        f"outputScale numbers; NeuroTrigger3DH needs nInput 27 or 126, nOutput 4 and 8 numbers")
    found["nHidden"] = [int(h) for h in found["nHidden"]]
    return found


def write_network(folder: Path, network: nn.Module, output_scale: list[float]) -> None:
    """weights.json and network.conf of a deployable 3DH network, each written atomically."""
    write_json(folder / "weights.json", basf2_weights(network))
    write_text(folder / "network.conf", network_config_text(nodes_of(layers_of(network)), output_scale))


def read_weights_file(path: Path, data: dict) -> dict[str, torch.Tensor]:
    """The tensors of a 3DH weights JSON (`model.{2k}.*` keys), refused in one line unless it is one."""
    if not data or not all(LAYER_KEY.fullmatch(str(k)) for k in data):
        raise UserError(f"{path}: expected the NeuroTrigger3DH keys model.0.weight, model.0.bias, ...")
    tensors = {}
    for key in sorted(data, key=lambda k: (int(k.split(".")[1]), k)):
        try:
            tensors[key] = torch.tensor(data[key], dtype=torch.float32)
        except (TypeError, ValueError) as e:
            raise UserError(f"{path}: {key} is not a numeric array ({e})") from None
        if not torch.isfinite(tensors[key]).all():
            raise UserError(f"{path}: {key} holds values that are not finite numbers in single precision")
    return tensors


def read_deployed(weights_path: Path) -> tuple[dict[str, torch.Tensor], dict | None]:
    """(tensors, parsed network.conf beside it or None) of a deployed 3DH network; the weight count is checked
    against the config when there is one."""
    try:
        data = json.loads(Path(weights_path).read_text())
    except (OSError, ValueError, RecursionError) as e:
        raise UserError(f"{weights_path}: cannot read weights ({describe(e)})") from None
    tensors = read_weights_file(weights_path, data if isinstance(data, dict) else {})
    config_path = Path(weights_path).with_name("network.conf")
    if not config_path.is_file():
        return tensors, None
    config = parse_network_config(config_path.read_text(), config_path)
    nodes = [config["nInput"], *config["nHidden"], config["nOutput"]]
    count = sum(math.prod(t.shape) for t in tensors.values())
    if count != weight_count(nodes):
        raise UserError(f"{weights_path}: {count} weights, but {config_path} describes {'-'.join(map(str, nodes))} "
                        f"with {weight_count(nodes)}")
    return tensors, config


def fixed_point_network(network: nn.Module) -> FixedPointNetwork3DH | None:
    """The network in basf2's fixed-point arithmetic (None when it is not deployable)."""
    if not_deployable_reason(network) is not None:
        return None
    return FixedPointNetwork3DH.of(layers_of(network))
