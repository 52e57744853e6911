"""The NeuroTrigger3DH fixed-point pass (SPEC-3DH 4.3) against cases worked out by hand from the spec's rules, and
against the spec's own reference code (checked there bit for bit against basf2's C++) on random networks."""
import math

import numpy as np
import pytest

from neuro_trigger.hardware.fixed_point_3dh import (TANH_TABLE, FixedPointNetwork3DH, decode, flat_weights,
                                                     int_weights, round_half_away, unscale, weight_fraction_bits,
                                                     wrapping_rows)


def one_layer(weights, bias=0.0):
    """A network without hidden layers: len(weights) inputs -> 1 output."""
    return FixedPointNetwork3DH.of([(np.array([weights], np.float32), np.array([bias], np.float32))])


def out(network, *inputs):
    return int(network.nodes(np.array([inputs], np.float32))[0, 0])


def test_table_left_edges_by_hand():
    assert TANH_TABLE[0] == 0
    assert TANH_TABLE[1] == 4  # tanh(1/1024) * 4096 = 3.99999
    assert TANH_TABLE[1024] == 3119  # tanh(1) * 4096 = 3119.49
    assert TANH_TABLE[4095] == 4093  # tanh(4095/1024) * 4096 = 4093.25: the largest entry, below the saturation 4095
    assert len(TANH_TABLE) == 4096 and TANH_TABLE.max() == 4093


@pytest.mark.parametrize("max_abs, fraction_bits", [
    (1.0, 17),  # log2 = 0 exactly
    (0.75, 17), (2.0, 16), (3.0, 15), (0.5, 18), (0.3, 18), (100.0, 10),
    (np.float32(16 * (1 + 2 ** -23)), 13),  # 1 ulp above 2^4: log2f rounds to exactly 4, so 17 - 4 (O16)
    (np.float32(16 * (1 + 2 * 2 ** -23)), 12),  # 2 ulps: log2f = 4 + 2^-21, half an ulp of 4 is 2^-22: ceil 5
    (np.float32(2 ** 16 * (1 + 5 * 2 ** -23)), 1),  # at 2^16 the ulp of log2 (2^-19) hides 5 ulps of the weight
    (np.float32(2 ** -5 * (1 + 2 ** -23)), 22),  # 1 ulp above 2^-5: log2f gives -5
    (np.float32(1 + 2 ** -23), 16),  # between 2^-4 and 16 the ulp shows: ceil(log2) = 1
])
def test_one_fraction_bit_count_from_the_largest_weight(max_abs, fraction_bits):
    assert weight_fraction_bits(max_abs) == fraction_bits


def test_a_weight_just_above_a_power_of_two_quantises_to_2_to_the_17():
    weights, fraction_bits = int_weights(np.array([np.float32(16 * (1 + 2 ** -23)), -1.0], np.float32))
    assert fraction_bits == 13 and weights.tolist() == [2 ** 17, -(2 ** 13)]


def test_weights_round_half_away_from_zero_with_one_count_for_all_layers():
    half = 2.0 ** -17
    weights, fraction_bits = int_weights(np.array([1.0, 2.5 * half, -2.5 * half, 0.5 * half, -0.5 * half]))
    assert fraction_bits == 17 and weights.tolist() == [2 ** 17, 3, -3, 1, -1]  # numpy's round would give 2, -2, 0
    network = FixedPointNetwork3DH.of([(np.full((2, 3), 0.1, np.float32), np.zeros(2, np.float32)),
                                       (np.full((1, 2), 3.0, np.float32), np.zeros(1, np.float32))])
    assert network.fraction_bits == 15  # ceil(log2 3) = 2, from the last layer, for every layer
    assert network.layers[0][0, 0] == round(0.1 * 2 ** 15) and network.layers[1][0, 0] == 3 * 2 ** 15


def test_flat_order_is_each_nodes_weights_then_its_bias():
    flat = flat_weights([(np.array([[1, 2], [3, 4]]), np.array([5, 6])), (np.array([[7, 8]]), np.array([9]))])
    assert flat.tolist() == [1, 2, 5, 3, 4, 6, 7, 8, 9] and flat.dtype == np.float32


def test_a_plain_input_reads_the_table_at_its_left_edge():
    network = one_layer([1.0])  # fraction bits 17: the shifted sum is the input in units of 2^-12
    assert out(network, 0.5) == 1893  # a = 2048, index 512: round(tanh(0.5) * 4096) = round(1892.83)
    assert out(network, -0.5) == -1893
    assert out(network, 1.0) == 3119
    assert out(network, 1.0 + 3 / 4096) == 3119  # a = 4099, index 1024 again: the bin's left edge


def test_inputs_half_way_between_quanta_round_away_from_zero():
    network = one_layer([4.0])  # fraction bits 15, integer weight 2^17: shifted sum 4 a, index a
    assert out(network, 2.5 / 4096) == 12  # a = 3 (not 2): index 3, round(tanh(12/4096) * 4096) = 12
    assert out(network, -2.5 / 4096) == -12
    assert out(network, 1.5 / 4096) == 8  # a = 2 both ways


def test_floor_shift_comes_before_abs():
    network = one_layer([1.0, 2.0 ** -17])  # integer weights 2^17 and 1
    # sum = -3 * 2^17 - 1: floor-shifted -4, magnitude 4, index 1 -> 4; |sum| >> 17 would give 3, index 0 -> 0
    assert out(network, -3 / 4096, -1 / 4096) == -4
    assert out(network, 3 / 4096, 1 / 4096) == 0  # the positive twin: floor(3 + 2^-17) = 3, index 0


def test_saturation_at_four():
    network = one_layer([1.0])
    assert out(network, 4.0 - 1 / 4096) == 4093  # index 4095, the last table entry
    assert out(network, 4.0) == 4095  # >= 4.0: saturated
    assert out(network, -4.0) == -4095
    assert out(network, 31.9) == 4095


@pytest.mark.parametrize("x, expected", [
    (40.0, 4095),  # window wraps to -24: still |.| >= 4, saturated, sign from the full sum
    (62.0, 3949),  # 62 - 64 = -2: index 2048, round(tanh(2) * 4096) = round(3948.66)
    (64.0, 0),  # wraps to exactly 0
    (-62.0, -3949),
])
def test_the_window_wraps_beyond_32(x, expected):
    network = one_layer([1.0])
    nodes, largest = network.run(np.array([[x]], np.float32))
    assert int(nodes[0, 0]) == expected
    assert largest[0] == abs(x) and wrapping_rows(largest)[0]


def test_bias_input_and_hidden_layers():
    network = FixedPointNetwork3DH.of([(np.array([[1.0]], np.float32), np.array([0.0], np.float32)),
                                       (np.array([[1.0]], np.float32), np.array([0.5], np.float32))])
    # hidden: 1893 (above); output sum 1893 * 2^17 + 4096 * 2^16 -> shifted 1893 + 2048 = 3941, index 985
    assert out(network, 0.5) == round(math.tanh(985 / 1024) * 4096)
    nodes, largest = network.run(np.array([[0.5], [0.0]], np.float32))
    assert largest.tolist() == [3941 / 4096, 2048 / 4096] and not wrapping_rows(largest).any()


def test_decode_unscales_in_float32_with_theta_in_degrees():
    scale = [-100, 100, 10, 170, -1, 1, -1, 1]
    physics = decode(np.array([[4095, 0, -4095, 2048]]), scale)
    assert physics.dtype == np.float32
    assert physics[0, 0] == np.float32(99.9755859375)  # (4095/4096 + 1) * 200 / 2 - 100, exact in float32
    assert physics[0, 1] == pytest.approx(math.radians(90), rel=1e-6)
    assert physics[0, 2] == np.float32(-4095 / 4096) and physics[0, 3] == np.float32(0.5)
    np.testing.assert_array_equal(unscale(np.array([[-1.0, 1.0, 0.0, 0.0]]), scale)[0, :2],
                                  np.float32([-100, np.float32(np.float64(170) * (np.pi / 180))]))


def spec_run_fixed(x, nodes, wi, fwb):
    """SPEC-3DH 4.3's reference code, transcribed line by line (row by row is not needed: it is vectorised)."""
    a = (np.sign(x.astype(np.float64) * 4096.0) * np.floor(np.abs(x.astype(np.float64) * 4096.0) + 0.5)).astype(np.int64)
    k = 0
    for n_out in nodes[1:]:
        n_in = a.shape[1]
        w = wi[k:k + n_out * (n_in + 1)].reshape(n_out, n_in + 1)
        k += n_out * (n_in + 1)
        a1 = np.concatenate([a, np.full((a.shape[0], 1), 4096, np.int64)], 1)
        acc = a1 @ w.T
        s = acc >> fwb
        win = s & ((1 << 18) - 1)
        win = np.where(win >= (1 << 17), win - (1 << 18), win)
        mag = np.abs(win)
        val = np.where(mag >= (1 << 14), 4095, TANH_TABLE[np.minimum(mag >> 2, 4095)])
        a = np.where(acc < 0, -val, val)
    return a


@pytest.mark.parametrize("sizes, spread", [((27, 40, 4), 1.0), ((126, 64, 32, 4), 0.6), ((27, 8, 8, 8, 4), 6.0)])
def test_random_networks_agree_with_the_spec_reference_code(sizes, spread):
    rng = np.random.default_rng(sum(sizes))
    layers = [(rng.normal(0, spread, (b, a)).astype(np.float32), rng.normal(0, spread, b).astype(np.float32))
              for a, b in zip(sizes[:-1], sizes[1:])]
    x = rng.normal(0, 0.7, (3000, sizes[0])).astype(np.float32)
    x[:100] = np.round(x[:100] * 8192) / 8192  # half-way between quanta
    network = FixedPointNetwork3DH.of(layers)
    wi, fwb = int_weights(flat_weights(layers))
    np.testing.assert_array_equal(network.nodes(x), spec_run_fixed(x, list(sizes), wi, fwb))


def test_round_half_away_is_not_numpys_round():
    assert round_half_away([0.5, 1.5, 2.5, -0.5, -2.5]).tolist() == [1, 2, 3, -1, -3]
