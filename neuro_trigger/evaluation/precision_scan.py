"""The bit-width scan: the fixed-point figures of a run's networks on a split against the weight precision and the
input precision, one changed at a time, the other at the hardware's.

At each point every network runs in its family's arithmetic at that precision (`precision_profile`), all rows at
once. The figures: z resolution (5%-trimmed std of z - z_reco, cm) with its bootstrap error (one bootstrap for all
points, paired: the same resampled tracks), and the fraction of tracks whose fixed-point z differs from the float
network's by more than `tolerance_cm`, with its 95% Wilson interval.
"""
from typing import Callable

import numpy as np

from neuro_trigger.evaluation import precision_profile, uncertainty
from neuro_trigger.evaluation.metrics import TRIM, trimmed_std

Z_TOLERANCE_CM = 1.0  # a fixed-point z this far from the float network's counts as changed by the precision
# the scanned fraction bits per family: (weights, inputs)
SCAN_BITS = {"classic": (range(4, 17), range(4, 17)), "3dh": (range(6, 25), range(2, 13))}
AXES = ("weights", "inputs")


def _point_arithmetic(arithmetic_of: dict, axis: str, bits: int) -> dict:
    out = {}
    for name, arithmetic in arithmetic_of.items():
        weight_bits, input_bits = arithmetic.bits
        out[name] = arithmetic.at(bits, input_bits) if axis == "weights" else arithmetic.at(weight_bits, bits)
    return out


def bit_scan(family: str, arithmetic_of: dict, layers_of: dict, inputs_of: dict, z_reco_cm: np.ndarray,
             z_cm: Callable[[np.ndarray], np.ndarray], tolerance_cm: float = Z_TOLERANCE_CM) -> dict:
    """The scan's figures per axis and bit count, the float network's and the hardware's bits.

    `inputs_of`: each network's rows (their order is the order of `z_reco_cm`, networks concatenated in the
    order of `layers_of`); `z_cm`: the networks' outputs (N, out) in [-1, 1] to z in cm."""
    names = list(layers_of)
    z_float = np.concatenate([z_cm(precision_profile.float_outputs(arithmetic_of[name], layers_of[name],
                                                                   inputs_of[name])) for name in names])
    points = [(axis, bits) for axis, scanned in zip(AXES, SCAN_BITS[family]) for bits in scanned]
    z_fixed = {}
    for axis, bits in points:
        outputs = precision_profile.fixed_outputs(_point_arithmetic(arithmetic_of, axis, bits), layers_of, inputs_of)
        z_fixed[(axis, bits)] = np.concatenate([z_cm(outputs[name]) for name in names])
    n = len(z_reco_cm)
    figures = {f"{axis}:{bits}": uncertainty.trimmed_std_of(z - z_reco_cm, TRIM) for (axis, bits), z in z_fixed.items()}
    figures["float"] = uncertainty.trimmed_std_of(z_float - z_reco_cm, TRIM)
    replicas = uncertainty.bootstrap(n, figures) if n >= 10 else {}
    result = {"tolerance_cm": tolerance_cm, "rows": n, "hardware_bits": dict(zip(AXES, _hardware_bits(arithmetic_of))),
              "float": {"z_resolution_cm": trimmed_std(z_float - z_reco_cm),
                        "z_resolution_err_cm": _error(replicas.get("float"))}}
    for axis in AXES:
        rows = []
        for bits in SCAN_BITS[family][AXES.index(axis)]:
            z = z_fixed[(axis, bits)]
            changed = int((np.abs(z - z_float) > tolerance_cm).sum())
            rows.append({"bits": bits, "z_resolution_cm": trimmed_std(z - z_reco_cm),
                         "z_resolution_err_cm": _error(replicas.get(f"{axis}:{bits}")),
                         "changed": changed, "changed_fraction": changed / n if n else float("nan"),
                         "changed_ci": uncertainty.wilson_interval(changed, n) if n else [float("nan")] * 2})
        result[axis] = rows
    return result


def _hardware_bits(arithmetic_of: dict) -> tuple[int, int]:
    """(weight, input) bits of the networks (the same for all; the first network's where a study differs)."""
    return next(iter(arithmetic_of.values())).bits


def _error(replicas: np.ndarray | None) -> float:
    return float("nan") if replicas is None else uncertainty.standard_error(replicas)
