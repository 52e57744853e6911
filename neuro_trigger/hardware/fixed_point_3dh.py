"""Bit-exact emulation of the NeuroTrigger3DH fixed-point pass (SPEC-3DH 4), over all rows at once.

basf2's `createIntWeights` and `runMLPFixedPrecision`: one fraction-bit count for the whole network,
`17 - ceil(log2f(max|w|))`, weights rounded half away from zero; inputs rounded half away from zero to 12
fraction bits; every layer sums in 64-bit integers with the bias input 1 << 12, shifts the sum down by the weight
fraction bits (an arithmetic shift: floor), keeps an 18-bit window (which wraps for |pre-activation| >= 32),
takes its magnitude and reads a 4096-entry left-edge tanh table (>= 4.0 saturates at 4095), the sign from the
full sum. Outputs are integers in units of 2^-12.
"""
from dataclasses import dataclass

import numpy as np

INPUT_FRACTION_BITS = 12  # m_precisionInputs 13 - 1 (SPEC-3DH 4.1)
WEIGHT_BITS = 17  # m_precisionWeights
ONE = 1 << INPUT_FRACTION_BITS  # 1.0 as a node value, and the bias input
WINDOW_BITS = 18  # high = shift + 12 + 2 + 3, low = shift: 18 bits with sign, real range [-32, 32)
SATURATION = 1 << 14  # 4.0 with 12 fraction bits: the table's end
SATURATED = 4095
WRAP_AT = 32.0  # |pre-activation| from which the window wraps (SPEC-3DH 4.3 b, O8)
WRAP_MARGIN = 4.0  # a track whose |pre-activation| reaches WRAP_AT - WRAP_MARGIN in any layer counts as wrapping
CHUNK = 1 << 15  # rows per pass
# [H]:148-160: table[i] = min(round(tanh(4 i / 4096) * 4096), 4095), the left edge of bin i (no half-bin centring)
TANH_TABLE = np.minimum(np.floor(np.tanh(4.0 * np.arange(4096) / 4096.0) * 4096.0 + 0.5), 4095).astype(np.int64)


def round_half_away(values) -> np.ndarray:
    """C++ std::round / roundf (not numpy's half-to-even), in float64 so that |v| + 0.5 is exact, as int64."""
    values = np.asarray(values, dtype=np.float64)
    return (np.sign(values) * np.floor(np.abs(values) + 0.5)).astype(np.int64)


def flat_weights(layers: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """The float32 weights in basf2's order (`m_floatWeights`, SPEC-3DH 3): per layer, per output node its
    weights then its bias."""
    return np.concatenate([np.column_stack([np.asarray(w, np.float32), np.asarray(b, np.float32)]).reshape(-1)
                           for w, b in layers]) if layers else np.zeros(0, np.float32)


def weight_fraction_bits(max_abs: float, weight_bits: int = WEIGHT_BITS) -> int:
    """`17 - ceil(log2f(max|w|))`: log2 rounded to single precision first, as `std::log2(float)` does, which
    makes a maximum a few ulps above 2^k give k (SPEC-3DH 4.3 g, O16). `weight_bits`: another word than the
    hardware's 17 bits, for precision studies."""
    log2 = np.float32(np.log2(np.float64(np.float32(max_abs))))
    return weight_bits - int(np.ceil(log2))


def int_weights(flat: np.ndarray, weight_bits: int = WEIGHT_BITS) -> tuple[np.ndarray, int]:
    """(`createIntWeights`'s integer weights, their fraction-bit count) of float weights in basf2's order."""
    w = np.asarray(flat, np.float32)
    fraction_bits = weight_fraction_bits(max(abs(float(w.min())), abs(float(w.max()))), weight_bits)
    return round_half_away(w.astype(np.float64) * 2.0 ** fraction_bits), fraction_bits


@dataclass(frozen=True)
class FixedPointNetwork3DH:
    """A 3DH network as `runMLPFixedPrecision` computes it: integer weights per layer, (out, in + 1), bias last."""
    layers: tuple[np.ndarray, ...]
    fraction_bits: int

    @classmethod
    def of(cls, layers: list[tuple[np.ndarray, np.ndarray]], weight_bits: int = WEIGHT_BITS) -> "FixedPointNetwork3DH":
        """From float (weight (out, in), bias (out,)) pairs, taken as single-precision floats like basf2."""
        flat, fraction_bits = int_weights(flat_weights(layers), weight_bits)
        integer, start = [], 0
        for w, _ in layers:
            size = w.shape[0] * (w.shape[1] + 1)
            integer.append(flat[start:start + size].reshape(w.shape[0], w.shape[1] + 1))
            start += size
        return cls(tuple(integer), fraction_bits)

    def run(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(output nodes (N, out) int64 in units of 2^-12, the largest |pre-activation| of each row over all
        layers, float64) for float inputs (N, nInput)."""
        inputs = np.asarray(inputs, np.float32)
        nodes = np.zeros((len(inputs), self.layers[-1].shape[0]), np.int64)
        largest = np.zeros(len(inputs))
        for start in range(0, len(inputs), CHUNK):
            rows = slice(start, start + CHUNK)
            nodes[rows], largest[rows] = self._run_chunk(inputs[rows])
        return nodes, largest

    def nodes(self, inputs: np.ndarray) -> np.ndarray:
        return self.run(inputs)[0]

    def _run_chunk(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = round_half_away(inputs.astype(np.float64) * ONE)
        largest = np.zeros(len(a), np.int64)
        for weights in self.layers:
            shifted, a = layer(a, weights, self.fraction_bits)
            largest = np.maximum(largest, np.abs(shifted).max(axis=1, initial=0))
        return a, largest / ONE


def layer(a: np.ndarray, weights: np.ndarray, fraction_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """One layer of `runMLPFixedPrecision`: (the sum shifted down by the weight fraction bits, i.e. the
    pre-activation in units of 2^-12 before the window, the layer's output nodes) of input nodes `a` (N, in)."""
    acc = a @ weights[:, :-1].T + ONE * weights[:, -1]  # the bias input 1 << 12, every layer
    shifted = acc >> fraction_bits  # arithmetic shift: floor, before any abs (SPEC-3DH 4.3 a)
    window = shifted & ((1 << WINDOW_BITS) - 1)
    window = np.where(window >= 1 << (WINDOW_BITS - 1), window - (1 << WINDOW_BITS), window)  # wraps
    magnitude = np.abs(window)
    value = np.where(magnitude >= SATURATION, SATURATED, TANH_TABLE[np.minimum(magnitude >> 2, len(TANH_TABLE) - 1)])
    return shifted, np.where(acc < 0, -value, value)  # the sign of the full sum, not of the window

def decode(nodes: np.ndarray, output_scale) -> np.ndarray:
    """Integer outputs to physics as basf2 does in float32 (`unscaleTarget`, SPEC-3DH 1.4): z cm, theta rad,
    NNT, STT."""
    scaled = nodes.astype(np.float32) / np.float32(ONE)
    return unscale(scaled, output_scale)


def unscale(scaled: np.ndarray, output_scale) -> np.ndarray:
    """Outputs in [-1, 1] to physics, float32 like basf2: `(t + 1) (max - min) / 2 + min`, theta limits given in
    degrees and returned in radians."""
    scaled = np.asarray(scaled, np.float32)
    out = np.empty(scaled.shape, np.float32)
    for i in range(scaled.shape[1]):
        lo, hi = np.float32(output_scale[2 * i]), np.float32(output_scale[2 * i + 1])
        if i == 1:
            lo, hi = np.float32(np.float64(lo) * (np.pi / 180)), np.float32(np.float64(hi) * (np.pi / 180))
        out[:, i] = (scaled[:, i] + np.float32(1)) * (hi - lo) * np.float32(0.5) + lo
    return out


def wrapping_rows(largest: np.ndarray, margin: float = WRAP_MARGIN) -> np.ndarray:
    """Rows whose largest |pre-activation| comes within `margin` of the wrap at 32 (True: not to be trusted)."""
    return largest >= WRAP_AT - margin
