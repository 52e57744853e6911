"""Bit-exact emulation of the NeuroTrigger FPGA arithmetic (SPEC section 10), over all rows at once.

Follows basf2's `NeuroTrigger::runMLPFix`: inputs truncated to p_nodes fractional bits, weights
rounded (halves away from zero) to p_weights bits, integer layer sums, and the tanh(x/2) look-up
table addressed by |sum| >> dp with saturation at x_max. Node values are integers in units of
2^-p_nodes. Weights are taken as single-precision floats, as basf2 stores them.
"""
from dataclasses import dataclass, fields
from functools import lru_cache

import numpy as np

DEFAULT_PRECISION = (12, 8, 8, 12, 10, 10)
MAX_BITS = 16  # beyond this the look-up table grows past a million entries and sums leave exact float64
CHUNK = 1 << 16  # rows per pass
EXACT_FLOAT64 = 2 ** 53  # integer sums below this are exact in a float64 matrix product


@dataclass(frozen=True)
class Precision:
    """The three fractional-bit counts of the network arithmetic, from basf2's 6-entry precision list."""
    nodes: int
    weights: int
    lut: int

    @classmethod
    def of(cls, precision) -> "Precision":
        precision = tuple(precision)
        return cls(nodes=precision[3], weights=precision[4], lut=precision[5])

    @property
    def dp(self) -> int:
        """Bits dropped from a layer sum to address the table."""
        return self.nodes + self.weights - self.lut

    @property
    def one(self) -> int:
        """1.0 as a node value."""
        return 1 << self.nodes


def check_precision(precision) -> str | None:
    """Why `precision` cannot be used (None when it can): six ints 1..16 with p_nodes + p_weights >= p_lut."""
    if not isinstance(precision, (list, tuple)) or len(precision) != 6:
        return f"expected a list of six fractional-bit counts like {list(DEFAULT_PRECISION)}, got {precision!r}"
    if not all(isinstance(p, int) and not isinstance(p, bool) and 1 <= p <= MAX_BITS for p in precision):
        return f"every entry must be an integer from 1 to {MAX_BITS}, got {precision!r}"
    if Precision.of(precision).dp < 0:
        return f"precision[3] + precision[4] must be >= precision[5] (the table input), got {precision!r}"
    return None


def x_max(p: Precision) -> int:
    """First table bin whose value is saturated at 1.0 (2^p_nodes)."""
    return int(np.ceil(np.arctanh(1.0 - 2.0 ** -(p.nodes + 1)) * 2.0 ** (p.lut + 1)))


def round_half_away(values: np.ndarray) -> np.ndarray:
    """Nearest integer, halves away from zero (C's round), as int64."""
    values = np.asarray(values, dtype=np.float64)
    return (np.sign(values) * np.floor(np.abs(values) + 0.5)).astype(np.int64)


@lru_cache(maxsize=16)
def _table(p: Precision) -> np.ndarray:
    bins = np.arange(x_max(p), dtype=np.float64)
    # the bin centre, corrected for symmetric rounding errors, as a single-precision float (as in basf2)
    xf = ((bins + 0.5 - 2.0 ** -(p.dp + 1)) / 2.0 ** p.lut).astype(np.float32).astype(np.float64)
    table = round_half_away(np.tanh(xf / 2.0) * p.one)
    table.setflags(write=False)
    return table


def tanh_table(precision=DEFAULT_PRECISION) -> np.ndarray:
    """The tanh(x/2) look-up table: entry b for |sum| >> dp == b < x_max, node units (read-only int64)."""
    return _table(Precision.of(precision))


def quantize_inputs(inputs: np.ndarray, precision=DEFAULT_PRECISION) -> np.ndarray:
    """Float inputs times 2^p_nodes, truncated towards zero (single-precision product, as in basf2)."""
    p = Precision.of(precision)
    return np.trunc(np.asarray(inputs, dtype=np.float32) * np.float32(p.one)).astype(np.int64)


def quantize_weights(weights: np.ndarray, precision=DEFAULT_PRECISION) -> np.ndarray:
    """Weights or biases (single precision) times 2^p_weights, rounded with halves away from zero."""
    p = Precision.of(precision)
    return round_half_away(np.asarray(weights, dtype=np.float32).astype(np.float64) * 2.0 ** p.weights)


def activate(sums: np.ndarray, precision=DEFAULT_PRECISION) -> np.ndarray:
    """Node values of integer layer sums: the table entry at |sum| >> dp (1.0 from x_max on), with the sum's sign."""
    p = Precision.of(precision)
    table = _saturating_table(p)
    bins = np.abs(sums)
    np.right_shift(bins, p.dp, out=bins)
    np.minimum(bins, len(table) - 1, out=bins)  # the last entry is the saturated 1.0
    values = table[bins]
    np.negative(values, out=values, where=sums < 0)
    return values


@lru_cache(maxsize=16)
def _saturating_table(p: Precision) -> np.ndarray:
    """The table with 1.0 (2^p_nodes) appended for every bin from x_max on: one look-up per node, in place."""
    table = np.append(_table(p), p.one)
    table.setflags(write=False)
    return table


def layer_sums(nodes: np.ndarray, weights: np.ndarray, bias: np.ndarray, precision=DEFAULT_PRECISION) -> np.ndarray:
    """(N, out) integer sums of node values x integer weights, plus 2^p_nodes x integer bias.

    Computed as a float64 matrix product, exact because every partial sum stays below 2^53
    (checked), and far faster than an int64 product.
    """
    p = Precision.of(precision)
    bound = (np.abs(nodes).max(initial=0) * np.abs(weights).sum(axis=1).max(initial=0)
             + p.one * np.abs(bias).max(initial=0))
    if bound >= EXACT_FLOAT64:
        return nodes @ weights.T + p.one * bias
    return np.rint(nodes.astype(np.float64) @ weights.T.astype(np.float64)).astype(np.int64) + p.one * bias


@dataclass(frozen=True)
class FixedPointNetwork:
    """A 27 -> 81 -> 2 tanh(x/2) network with integer weights, evaluated as the FPGAs do."""
    hidden_weight: np.ndarray  # (hidden, in) int64, units 2^-p_weights
    hidden_bias: np.ndarray  # (hidden,)
    output_weight: np.ndarray  # (out, hidden)
    output_bias: np.ndarray  # (out,)
    precision: tuple = DEFAULT_PRECISION

    @classmethod
    def from_float(cls, weights: dict[str, np.ndarray], precision=DEFAULT_PRECISION) -> "FixedPointNetwork":
        """From float tanh(x/2)-form weights keyed like basf2 (`model.net.0.weight`, ...)."""
        q = [quantize_weights(weights[f"model.net.{layer}.{kind}"], precision)
             for layer in (0, 2) for kind in ("weight", "bias")]
        return cls(*q, precision=tuple(precision))

    def nodes(self, inputs: np.ndarray) -> np.ndarray:
        """(N, out) int64 output node values (units 2^-p_nodes, in [-2^p_nodes, 2^p_nodes]) of float inputs."""
        out = np.empty((len(inputs), len(self.output_bias)), dtype=np.int64)
        for start in range(0, len(inputs), CHUNK):  # bounds the (rows, hidden) int64 temporaries
            x = quantize_inputs(inputs[start:start + CHUNK], self.precision)
            hidden = activate(layer_sums(x, self.hidden_weight, self.hidden_bias, self.precision), self.precision)
            out[start:start + CHUNK] = activate(layer_sums(hidden, self.output_weight, self.output_bias,
                                                           self.precision), self.precision)
        return out

    def same_as(self, other: "FixedPointNetwork | None") -> bool:
        """Whether `other` computes exactly as this network does (same integer weights and precision)."""
        arrays = [f.name for f in fields(self) if f.name != "precision"]  # the integer weights and biases
        return other is not None and tuple(self.precision) == tuple(other.precision) and all(
            np.array_equal(getattr(self, name), getattr(other, name)) for name in arrays)

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        """(N, out) float outputs in [-1, 1], scaled like the targets."""
        return self.nodes(inputs) / float(Precision.of(self.precision).one)
