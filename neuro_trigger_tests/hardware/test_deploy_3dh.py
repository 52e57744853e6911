"""A NeuroTrigger3DH network in basf2's deployed form (SPEC-3DH 3): the weights JSON, the network config, reading
both back, the weight count, and the fixed-point twin of a torch network."""
import json

import numpy as np
import pytest
import torch
from torch import nn

from neuro_trigger import models
from neuro_trigger.errors import UserError
from neuro_trigger.hardware import deploy_3dh
from neuro_trigger.hardware.fixed_point_3dh import FixedPointNetwork3DH, flat_weights

SCALE = [-100.0, 100.0, 10.0, 170.0, -1.0, 1.0, -1.0, 1.0]


def network(in_size=27, hidden=(16, 8)):
    torch.manual_seed(1)
    return models.NeuroTrigger3DHModel(in_size, 4, nn.Tanh(), hidden)


def test_json_has_the_converters_keys_in_out_by_in_order(tmp_path):
    net = network(126, (16, 8))
    deploy_3dh.write_network(tmp_path, net, SCALE)
    weights = json.loads((tmp_path / "weights.json").read_text())
    assert list(weights) == ["model.0.weight", "model.0.bias", "model.2.weight", "model.2.bias",
                             "model.4.weight", "model.4.bias"]
    assert np.array(weights["model.0.weight"]).shape == (16, 126) and np.array(weights["model.4.bias"]).shape == (4,)
    assert weights["model.2.weight"][3][5] == float(net.model[2].weight[3, 5].detach())
    # the float32 values survive JSON exactly, as the converter converts every number to float
    assert np.array_equal(np.float32(weights["model.0.weight"]), net.model[0].weight.detach().numpy())


def test_config_is_what_load_config_from_file_parses(tmp_path):
    deploy_3dh.write_network(tmp_path, network(27, (16, 8)), SCALE)
    text = (tmp_path / "network.conf").read_text()
    assert "nInput = 27\nnOutput = 4\nnHidden = [16, 8]\noutputScale = [-100.0, 100.0, 10.0, 170.0, -1.0, 1.0, " in text
    parsed = deploy_3dh.parse_network_config(text, tmp_path / "network.conf")
    assert parsed == {"nInput": 27, "nOutput": 4, "nHidden": [16, 8], "outputScale": SCALE}


def test_config_parser_follows_basf2s_rules(tmp_path):
    text = ("# a comment\nnInput=126 # trailing comment\n  nOutput   =  4\nx\nnHidden = [ 64 ]\nfoo = 3\n"
            "outputScale = [-50, 50, 17, 150, -1, 1, -1, 1]\n")
    parsed = deploy_3dh.parse_network_config(text, tmp_path / "c.conf")
    assert parsed == {"nInput": 126, "nOutput": 4, "nHidden": [64], "outputScale": [-50, 50, 17, 150, -1, 1, -1, 1]}
    with pytest.raises(UserError, match=r"c.conf: no outputScale in the network config"):
        deploy_3dh.parse_network_config("nInput = 27\nnOutput = 4\nnHidden = [8]\n", tmp_path / "c.conf")
    with pytest.raises(UserError, match=r"c.conf: nInput 27, nOutput 4 and 6 outputScale numbers"):
        deploy_3dh.parse_network_config("nInput = 27\nnOutput = 4\nnHidden = [8]\noutputScale = [1,2,3,4,5,6]\n",
                                        tmp_path / "c.conf")


def test_weight_count_is_checked_when_read_back(tmp_path):
    deploy_3dh.write_network(tmp_path, network(27, (16, 8)), SCALE)
    tensors, config = deploy_3dh.read_deployed(tmp_path / "weights.json")
    assert config["nHidden"] == [16, 8] and deploy_3dh.weight_count([27, 16, 8, 4]) == 28 * 16 + 17 * 8 + 9 * 4
    assert set(tensors) == set(network(27, (16, 8)).state_dict())
    (tmp_path / "network.conf").write_text(deploy_3dh.network_config_text([27, 16, 9, 4], SCALE))
    with pytest.raises(UserError, match=r"weights.json: 620 weights, but .*network.conf describes 27-16-9-4 with 641"):
        deploy_3dh.read_deployed(tmp_path / "weights.json")
    (tmp_path / "weights.json").write_text(json.dumps({"expert_0": {}}))
    with pytest.raises(UserError, match="expected the NeuroTrigger3DH keys model.0.weight"):
        deploy_3dh.read_deployed(tmp_path / "weights.json")


def test_only_a_tanh_3dh_network_is_deployable():
    assert deploy_3dh.not_deployable_reason(network()) is None
    assert "tanh(x) after every layer" in deploy_3dh.not_deployable_reason(
        models.NeuroTrigger3DHModel(27, 4, nn.ReLU(), (8,)))
    assert "only the NeuroTrigger3DH model" in deploy_3dh.not_deployable_reason(
        models.BaselineModel(27, 2, models.HalfTanh()))
    broken = network()
    with torch.no_grad():
        broken.model[0].weight[0, 0] = float("nan")
    assert "not finite" in deploy_3dh.not_deployable_reason(broken)
    assert deploy_3dh.fixed_point_network(broken) is None


def test_fixed_point_twin_follows_the_float_network():
    net = network(27, (32,))
    twin = deploy_3dh.fixed_point_network(net)
    layers = deploy_3dh.layers_of(net)
    again = FixedPointNetwork3DH.of(layers)
    assert twin.fraction_bits == again.fraction_bits
    assert all(np.array_equal(a, b) for a, b in zip(twin.layers, again.layers))
    assert len(flat_weights(layers)) == deploy_3dh.weight_count([27, 32, 4])
    x = torch.rand(2000, 27) * 2 - 1
    with torch.no_grad():
        float_out = net(x).numpy()
    fixed_out = twin.nodes(x.numpy()) / 4096
    assert np.abs(float_out - fixed_out).max() < 0.01  # the table's steps (1/1024 in x) and 12 bits
