"""The FPGA arithmetic (SPEC 10) worked by hand on a tiny network, and the look-up table."""
import math

import numpy as np
import pytest
import torch

from neuro_trigger import models
from neuro_trigger.hardware import deploy, fixed_point as fp
from neuro_trigger.hardware.quantization_aware import FixedPointForward

# p_nodes 4 (1.0 = 16), p_weights 3 (1.0 = 8), p_lut 4: dp = 3, x_max = ceil(atanh(1 - 2^-5) * 2^5) = 67
TINY = (12, 8, 8, 4, 3, 4)


def tiny_weights() -> dict[str, np.ndarray]:
    """2 inputs -> 3 hidden -> 2 outputs; every value a multiple of 1/16, so the products below are exact."""
    return {
        "model.net.0.weight": np.array([[0.0625, -0.0625],  # x 8: 0.5 -> 1, -0.5 -> -1 (halves away from 0)
                                        [0.1875, 0.0],  # 1.5 -> 2
                                        [0.0, 0.0]]),
        "model.net.0.bias": np.array([0.0625, 0.0625, -5.0]),  # 1, 1, -40
        "model.net.2.weight": np.array([[0.5, -0.25, -0.0625],  # 4, -2, -1
                                        [-0.1875, 0.0, 0.125]]),  # -2, 0, 1
        "model.net.2.bias": np.array([0.0, 0.0]),
    }


def test_inputs_truncate_towards_zero():
    # 0.30 x 16 = 4.8 -> 4 and -0.20 x 16 = -3.2 -> -3 (not -4: truncation, not floor)
    assert fp.quantize_inputs(np.array([[0.30, -0.20, 0.999, -1.0]]), TINY).tolist() == [[4, -3, 15, -16]]


def test_weights_round_half_away_from_zero():
    values = np.array([0.0625, -0.0625, 0.1875, -0.1875, 0.3125, 0.05, -0.07])  # x 8: .5 -.5 1.5 -1.5 2.5 .4 -.56
    assert fp.quantize_weights(values, TINY).tolist() == [1, -1, 2, -2, 3, 0, -1]


def test_tiny_network_by_hand():
    net = fp.FixedPointNetwork.from_float(tiny_weights(), TINY)
    assert net.hidden_weight.tolist() == [[1, -1], [2, 0], [0, 0]]
    assert net.hidden_bias.tolist() == [1, 1, -40]
    # inputs (4, -3); hidden sums with the bias input 16:
    #   a: 4*1 + (-3)*(-1) + 16*1 = 23 -> bin 23 >> 3 = 2: round(16 tanh((2 + 0.5 - 1/16) / 16 / 2)) = round(1.216) = 1
    #   b: 4*2 + 16*1 = 24 -> bin 3 (the other side of the bin edge): round(1.712) = 2
    #   c: 16*(-40) = -640 -> bin 80 >= x_max 67: saturated, with the sign of the sum: -16
    sums = fp.layer_sums(fp.quantize_inputs(np.array([[0.30, -0.20]]), TINY), net.hidden_weight, net.hidden_bias, TINY)
    assert sums.tolist() == [[23, 24, -640]]
    hidden = fp.activate(sums, TINY)
    assert hidden.tolist() == [[1, 2, -16]]
    # outputs: 1*4 + 2*(-2) + (-16)*(-1) = 16 -> bin 2 -> 1;  1*(-2) + (-16)*1 = -18 -> bin 2 -> -1
    assert net.nodes(np.array([[0.30, -0.20]])).tolist() == [[1, -1]]
    assert net.predict(np.array([[0.30, -0.20]])).tolist() == [[1 / 16, -1 / 16]]


def test_sums_on_both_sides_of_a_table_bin_and_saturation():
    sums = np.array([[0, 7, 8, 23, 24, -23, -24, 527, 535, 536, -536, 10 ** 9]])
    # bins 0, 0, 1, 2, 3, 2, 3, 65, 66, 67 (= x_max: saturated), 67, huge; 16 tanh(x/2) at the bin centres:
    # 0.22 -> 0, 0.72 -> 1, 1.22 -> 1, 1.71 -> 2, bin 65: 15.47 -> 15, bin 66: 15.50 -> 16
    assert fp.activate(sums, TINY).tolist() == [[0, 0, 1, 1, 2, -1, -2, 15, 16, 16, -16, 16]]
    assert fp.x_max(fp.Precision.of(TINY)) == 67


def reference_table(p_nodes: int, p_lut: int, dp: int) -> list[int]:
    """SPEC 10 in plain Python: xf as a single-precision float, halves rounded away from zero."""
    x_max = math.ceil(math.atanh(1 - 2.0 ** -(p_nodes + 1)) * 2.0 ** (p_lut + 1))
    table = []
    for b in range(x_max):
        xf = float(np.float32((b + 0.5 - 2.0 ** -(dp + 1)) / 2.0 ** p_lut))
        v = math.tanh(xf / 2) * 2 ** p_nodes
        table.append(int(math.floor(v + 0.5)))
    return table


@pytest.mark.parametrize("precision, x_max", [(fp.DEFAULT_PRECISION, 9937), ((12, 8, 8, 10, 7, 8), 2130), (TINY, 67)])
def test_table_at_several_precisions(precision, x_max):
    p = fp.Precision.of(precision)
    table = fp.tanh_table(precision)
    assert len(table) == x_max
    assert table.tolist() == reference_table(p.nodes, p.lut, p.dp)
    assert table[0] in (0, 1) and table[-1] <= p.one and np.all(np.diff(table) >= 0)


def test_default_table_ends():
    table = fp.tanh_table()
    # bin 0: 4096 tanh(((0.5 - 2^-11) / 1024) / 2) = 0.9990 -> 1
    assert table[0] == 1
    # dp = 12 + 10 - 10 = 12: the first saturated sum is x_max << 12
    assert fp.activate(np.array([9937 << 12, (9937 << 12) - 1]), fp.DEFAULT_PRECISION).tolist() == [4096, table[-1]]


def test_bad_precision_lists_are_refused():
    assert fp.check_precision([12, 8, 8, 12, 10, 10]) is None
    for bad in ([12, 8, 8], [12, 8, 8, 12, 10, 0], [12, 8, 8, 12.0, 10, 10], [12, 8, 8, 4, 2, 10], "12", None,
                [12, 8, 8, 40, 10, 10]):
        assert fp.check_precision(bad), bad


@pytest.mark.parametrize("precision", [fp.DEFAULT_PRECISION, (12, 8, 8, 10, 7, 8)])
def test_quantization_aware_forward_is_the_fixed_point_network_with_gradients(precision):
    torch.manual_seed(3)
    network = models.BaselineModelBN(27, 2, torch.nn.Tanh())
    network.norm.running_var.uniform_(0.5, 2.0)
    x = torch.rand(2000, 27) * 2 - 1
    out = FixedPointForward(precision)(network, x)
    expected = deploy.fixed_point_network(network, precision).predict(x.numpy())
    np.testing.assert_array_equal(out.detach().numpy(), expected.astype(np.float32))
    out.square().sum().backward()
    assert network.hidden.weight.grad.abs().sum() > 0 and network.norm.weight.grad.abs().sum() > 0


def test_the_combined_network_reuses_each_experts_fixed_point_nodes_of_the_same_network():
    """Issue 24: the run computed every expert's fixed-point output twice (at its evaluation and at export).
    Nodes computed before are used where the network is the same, and computed again where it is not."""
    torch.manual_seed(0)
    networks = {x: models.BaselineModel(27, 2, models.HalfTanh()) for x in (0, 1)}
    precision = {0: fp.DEFAULT_PRECISION, 1: fp.DEFAULT_PRECISION}
    inputs = np.random.default_rng(0).uniform(-1, 1, (40, 27)).astype(np.float32)
    expert = np.array([0, 1] * 20)
    fresh_nodes, fresh_pred = deploy.fixed_point_predictions(networks, inputs, expert, precision)
    marked = np.full((20, 2), 7)  # not what the network computes: seen only if reused
    same = deploy.fixed_point_network(networks[0], precision[0])
    other = deploy.fixed_point_network(networks[1], precision[1])
    nodes, pred = deploy.fixed_point_predictions(networks, inputs, expert, precision,
                                                 known={0: (same, marked), 1: (same, marked)})
    np.testing.assert_array_equal(nodes[expert == 0], marked)  # expert 0's own nodes, routed to its rows
    np.testing.assert_array_equal(nodes[expert == 1], fresh_nodes[expert == 1])  # another network's: recomputed
    np.testing.assert_array_equal(pred[expert == 1], fresh_pred[expert == 1])
    assert not other.same_as(same) and same.same_as(deploy.fixed_point_network(networks[0], precision[0]))
