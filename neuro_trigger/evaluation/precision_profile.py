"""The precision profile of a deployable network, like hls4ml's: per layer, the range of its weights and of its
pre-activations on a split against what the hardware word holds, the values that word saturates, wraps or rounds
to zero, and how far each layer's fixed-point output is from float; plus a scan of the fixed-point figures over
the weight and input precision.

A network is its layers in the hardware's form (float32 (weight (out, in), bias (out,)) pairs: the classic family's
tanh(x/2) weights as basf2 reads them, the 3DH network's own tanh weights). The fixed-point pass is the family's
own arithmetic (`hardware/fixed_point.py`, `hardware/fixed_point_3dh.py`), layer by layer, so the profile's last
layer at the hardware's precision is the run's fixed-point twin, bit for bit. All rows are done at once (numpy).
"""
from dataclasses import asdict, dataclass

import numpy as np

from neuro_trigger.hardware import fixed_point as classic, fixed_point_3dh as three_dh

Layers = list[tuple[np.ndarray, np.ndarray]]
QUANTILES = (0.0, 1.0, 25.0, 50.0, 75.0, 99.0, 100.0)  # of |value|: whiskers at 1% and 99%, min and max beyond


@dataclass(frozen=True)
class Word:
    """What a hardware word holds: values from `lsb` (its resolution; a weight below lsb / 2 rounds to 0) up to
    `limit` in magnitude (None: no limit known), and the pre-activations its activation saturates (`saturates_at`,
    the table gives its last value from there on) and wraps (`wraps_at`, None: never)."""
    input_lsb: float
    input_limit: float
    weight_lsb: float
    weight_limit: float | None
    preactivation_lsb: float
    saturates_at: float
    wraps_at: float | None


class ClassicArithmetic:
    """basf2's `NeuroTrigger::runMLPFix` (SPEC 10) at a 6-entry precision: tanh(x/2), inputs and nodes with
    precision[3] fraction bits, weights with precision[4], the table addressed with precision[5]."""
    activation_name = "tanh(x/2)"

    def __init__(self, precision=classic.DEFAULT_PRECISION):
        self.precision = tuple(precision)
        p = classic.Precision.of(precision)
        self.p = p
        # inputs and node values are in [-1, 1] (scaled inputs, table values); basf2's sums are 64-bit integers
        self.word = Word(input_lsb=2.0 ** -p.nodes, input_limit=1.0, weight_lsb=2.0 ** -p.weights, weight_limit=None,
                         preactivation_lsb=2.0 ** -p.lut, saturates_at=classic.x_max(p) / 2.0 ** p.lut, wraps_at=None)

    @staticmethod
    def activate_float(x: np.ndarray) -> np.ndarray:
        return np.tanh(x / 2.0)

    def integer_layers(self, layers: Layers) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(classic.quantize_weights(w, self.precision), classic.quantize_weights(b, self.precision))
                for w, b in layers]

    def input_nodes(self, inputs: np.ndarray) -> np.ndarray:
        return classic.quantize_inputs(inputs, self.precision)

    @staticmethod
    def weights_and_bias(integer_layer) -> tuple[np.ndarray, np.ndarray]:
        return integer_layer

    def layer(self, nodes: np.ndarray, integer_layer) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(pre-activation (float), saturated, wrapped (masks), output node values) of one fixed-point layer."""
        sums = classic.layer_sums(nodes, *integer_layer, self.precision)
        saturated = (np.abs(sums) >> self.p.dp) >= classic.x_max(self.p)
        return (sums / 2.0 ** (self.p.nodes + self.p.weights), saturated, np.zeros_like(saturated),
                classic.activate(sums, self.precision))

    @property
    def one(self) -> float:
        return float(self.p.one)

    def at(self, weight_bits: int, input_bits: int) -> "ClassicArithmetic":
        """The arithmetic with precision[4] = `weight_bits` and precision[3] (inputs and nodes) = `input_bits`; the
        table keeps its precision[5] where it can (at most p_nodes + p_weights)."""
        p = list(self.precision)
        p[3], p[4] = input_bits, weight_bits
        p[5] = min(p[5], p[3] + p[4])
        return ClassicArithmetic(p)

    @property
    def bits(self) -> tuple[int, int]:
        """(weight, input) fraction bits."""
        return self.p.weights, self.p.nodes


class ThreeDHArithmetic:
    """basf2's `runMLPFixedPrecision` (SPEC-3DH 4.3): tanh, one weight fraction-bit count per network from a
    17-bit word, inputs rounded to 12 fraction bits, an 18-bit window that wraps at |x| >= 32, a table that
    saturates at 4. `weight_bits` / `input_bits` below the hardware's are for the bit-width scan."""
    activation_name = "tanh(x)"

    def __init__(self, weight_bits: int = three_dh.WEIGHT_BITS, input_bits: int = three_dh.INPUT_FRACTION_BITS):
        if not 1 <= input_bits <= three_dh.INPUT_FRACTION_BITS:
            raise ValueError(f"input bits {input_bits}: 1 .. {three_dh.INPUT_FRACTION_BITS} (the nodes' 12 bits)")
        self.weight_bits, self.input_bits = weight_bits, input_bits
        self.fraction_bits = None  # set by integer_layers (the word depends on the network's largest weight)

    @property
    def word(self) -> Word:
        fwb = self.fraction_bits
        window = 2.0 ** (three_dh.WINDOW_BITS - 1) / three_dh.ONE  # 32
        return Word(input_lsb=2.0 ** -self.input_bits, input_limit=2.0,  # a 13-bit input: beyond +-2 (SPEC-3DH O6)
                    weight_lsb=2.0 ** -fwb, weight_limit=2.0 ** (self.weight_bits - fwb),
                    preactivation_lsb=1.0 / three_dh.ONE, saturates_at=three_dh.SATURATION / three_dh.ONE,
                    wraps_at=window)

    @staticmethod
    def activate_float(x: np.ndarray) -> np.ndarray:
        return np.tanh(x)

    def integer_layers(self, layers: Layers) -> list[np.ndarray]:
        network = three_dh.FixedPointNetwork3DH.of(layers, self.weight_bits)
        self.fraction_bits = network.fraction_bits
        return list(network.layers)

    def input_nodes(self, inputs: np.ndarray) -> np.ndarray:
        quantised = three_dh.round_half_away(np.asarray(inputs, np.float32).astype(np.float64) * 2.0 ** self.input_bits)
        return quantised << (three_dh.INPUT_FRACTION_BITS - self.input_bits)

    @staticmethod
    def weights_and_bias(integer_layer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return integer_layer[:, :-1], integer_layer[:, -1]

    def layer(self, nodes: np.ndarray, integer_layer) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        shifted, out = three_dh.layer(nodes, integer_layer, self.fraction_bits)
        half = 1 << (three_dh.WINDOW_BITS - 1)
        return (shifted / three_dh.ONE, np.abs(shifted) >= three_dh.SATURATION, (shifted >= half) | (shifted < -half),
                out)

    @property
    def one(self) -> float:
        return float(three_dh.ONE)

    def at(self, weight_bits: int, input_bits: int) -> "ThreeDHArithmetic":
        return ThreeDHArithmetic(weight_bits, input_bits)

    @property
    def bits(self) -> tuple[int, int]:
        return self.weight_bits, self.input_bits


def _stats(values: np.ndarray) -> dict:
    """The signed range and quantiles of |value| over the non-zero values (what a log axis can show)."""
    values = np.asarray(values, np.float64).ravel()
    magnitude = np.abs(values[values != 0])
    quantiles = np.percentile(magnitude, QUANTILES).tolist() if len(magnitude) else [float("nan")] * len(QUANTILES)
    return {"min": float(values.min(initial=np.inf)) if len(values) else None,
            "max": float(values.max(initial=-np.inf)) if len(values) else None,
            "abs_quantiles": quantiles, "count": int(values.size)}


def forward(arithmetic, layers: Layers, inputs: np.ndarray) -> tuple[list[dict], np.ndarray, np.ndarray]:
    """Float and fixed-point pass of one network over `inputs` (N, in): (per layer its profile, the float outputs,
    the fixed-point output nodes (N, out) int64, bit for bit the family's twin at the hardware's precision)."""
    integer = arithmetic.integer_layers(layers)
    word = arithmetic.word
    inputs = np.asarray(inputs, np.float32)
    floats, nodes = inputs.astype(np.float64), arithmetic.input_nodes(inputs)
    profiles = []
    for k, ((w, b), integer_layer) in enumerate(zip(layers, integer)):
        pre_float = floats @ np.asarray(w, np.float64).T + np.asarray(b, np.float64)
        layer_inputs = {**_stats(floats), "beyond_word": int((np.abs(floats) > word.input_limit).sum())} \
            if k == 0 else None  # hidden layers read node values, in [-1, 1] by construction
        pre_fixed, saturated, wrapped, nodes = arithmetic.layer(nodes, integer_layer)
        floats = arithmetic.activate_float(pre_float)
        weights = np.concatenate([np.asarray(w, np.float32).ravel(), np.asarray(b, np.float32).ravel()])
        integers = np.concatenate([a.ravel() for a in arithmetic.weights_and_bias(integer_layer)])
        beyond = 0 if word.weight_limit is None else int(
            ((integers > 2 ** arithmetic.weight_bits - 1) | (integers < -2 ** arithmetic.weight_bits)).sum())
        difference = np.abs(floats - nodes / arithmetic.one)
        profiles.append({
            "name": "output" if k == len(layers) - 1 else f"hidden {k + 1}" if len(layers) > 2 else "hidden",
            "shape": list(np.shape(w)),
            "weights": {**_stats(weights), "rounded_to_zero": int(((integers == 0) & (weights != 0)).sum()),
                        "beyond_word": beyond},
            "inputs": layer_inputs,
            "preactivation": {**_stats(pre_float), "saturated": int(saturated.sum()), "wrapped": int(wrapped.sum()),
                              "fixed_min": float(pre_fixed.min(initial=np.inf)) if pre_fixed.size else None,
                              "fixed_max": float(pre_fixed.max(initial=-np.inf)) if pre_fixed.size else None},
            "output_difference": {"max": float(difference.max(initial=0)),
                                  "rms": float(np.sqrt(np.mean(difference ** 2))) if difference.size else 0.0,
                                  "lsb": 1.0 / arithmetic.one},
        })
    return profiles, floats, nodes


def word_of(arithmetic) -> dict:
    """The hardware word as the profile's JSON and figures read it."""
    return {**asdict(arithmetic.word), "activation": arithmetic.activation_name,
            "weight_bits": arithmetic.bits[0], "input_bits": arithmetic.bits[1]}


def profile(arithmetic_of: dict, layers_of: dict[str, Layers], inputs_of: dict[str, np.ndarray],
            recorded_of: dict[str, np.ndarray] | None = None) -> dict:
    """The precision profile of every network (name -> its arithmetic, layers and rows of the split): per layer
    the ranges and counts of `forward`, with the network's hardware word. `recorded_of`: the fixed-point output
    nodes the run recorded for the same rows (its twin's); the rows that differ from this pass are counted
    (`twin_mismatches`, 0 when the profile computes what the run's twin computed)."""
    networks = {}
    for name, layers in layers_of.items():
        layer_profiles, _, nodes = forward(arithmetic_of[name], layers, inputs_of[name])
        networks[name] = {"rows": int(len(inputs_of[name])), "word": word_of(arithmetic_of[name]),
                          "layers": layer_profiles}
        recorded = (recorded_of or {}).get(name)
        if recorded is not None:
            networks[name]["twin_mismatches"] = int((~np.all(nodes == recorded, axis=1)).sum())
    return {"networks": networks}


def float_outputs(arithmetic, layers: Layers, inputs: np.ndarray) -> np.ndarray:
    """The float network's outputs (N, out), float64 from the single-precision weights the hardware gets."""
    values = np.asarray(inputs, np.float32).astype(np.float64)
    for w, b in layers:
        values = arithmetic.activate_float(values @ np.asarray(w, np.float64).T + np.asarray(b, np.float64))
    return values


def fixed_outputs(arithmetic_of: dict, layers_of: dict[str, Layers], inputs_of: dict[str, np.ndarray]) -> dict:
    """Each network's fixed-point outputs (N, out) in [-1, 1] (node values / 1.0), without the profile's
    statistics: what the bit-width scan needs at every point."""
    out = {}
    for name, layers in layers_of.items():
        arithmetic = arithmetic_of[name]
        nodes = arithmetic.input_nodes(inputs_of[name])
        for integer_layer in arithmetic.integer_layers(layers):
            nodes = arithmetic.layer(nodes, integer_layer)[3]
        out[name] = nodes / arithmetic.one
    return out
