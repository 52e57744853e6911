"""Validation of the hardware config keys `precision`, `quantization_aware` and `preactivation_penalty` (called by
config validation)."""
import math

from neuro_trigger.errors import UserError, short_repr
from neuro_trigger.hardware.fixed_point import check_precision

PRECISION_MEANING = ("Fractional bits of the FPGA fixed-point arithmetic, basf2's 6-entry list; [3] nodes, "
                     "[4] weights, [5] tanh table input are used by the network (SPEC 10).")
QUANTIZATION_AWARE_MEANING = ("null, or {'epochs': N}: the last N epochs train through the fixed-point "
                              "arithmetic (straight-through gradient), and validation (the best checkpoint) is "
                              "judged in fixed point; needs a deployable network and early_stopping_patience null.")
PREACTIVATION_PENALTY_MEANING = (
    "null, or {'limit': L, 'weight': w}: adds to the training loss w times the mean over rows of the sum over "
    "layers and nodes of (|x| - L)^2 for every pre-activation x beyond L, to keep each layer inside the hardware's "
    "fixed-point window (3DH: it wraps at |x| >= 32); plain MLPs in float only (no BatchNorm, compile or "
    "quantization_aware). 3dh configs: {'limit': 20, 'weight': 0.01} (docs/deploying.md).")
PLAIN_MLPS = ("BaselineModel", "DeepModel", "NeuroTrigger3DH")  # the models whose layers the penalty can see


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_preactivation_penalty(config: dict, where: str) -> None:
    """Refuse a bad `preactivation_penalty` section, or one with a network or training it cannot see into."""
    penalty = config.get("preactivation_penalty")
    if penalty is None:
        return
    if not (isinstance(penalty, dict) and set(penalty) == {"limit", "weight"} and _number(penalty["limit"])
            and _number(penalty["weight"]) and penalty["limit"] > 0 and penalty["weight"] >= 0):
        raise UserError(f"{where}: 'preactivation_penalty' must be null or {{\"limit\": L, \"weight\": w}} with "
                        f"L > 0 and w >= 0, got {short_repr(penalty)}")
    if config["model"] not in PLAIN_MLPS:
        raise UserError(f"{where}: 'preactivation_penalty' needs a plain MLP ({', '.join(PLAIN_MLPS)}), not "
                        f"{config['model']!r}")
    for key in ("quantization_aware", "compile"):
        if config[key]:
            raise UserError(f"{where}: 'preactivation_penalty' trains in float, eager: set it to null, or {key!r} "
                            f"to its default")


def check_hardware_keys(config: dict, where: str) -> None:
    """Refuse a bad `precision` list, `quantization_aware` or `preactivation_penalty` section with one line naming
    the key."""
    reason = check_precision(config["precision"])
    if reason:
        raise UserError(f"{where}: 'precision': {reason}")
    check_preactivation_penalty(config, where)
    qat = config["quantization_aware"]
    if qat is None:
        return
    epochs = qat.get("epochs")
    if set(qat) != {"epochs"} or not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
        raise UserError(f"{where}: 'quantization_aware' must be null or {{\"epochs\": N}} with N >= 1, got {qat!r}")
    if config["early_stopping_patience"] is not None:
        raise UserError(f"{where}: 'quantization_aware' needs 'early_stopping_patience': null (early stopping "
                        f"could end training before the fixed-point epochs)")
    from neuro_trigger.hardware.deploy import not_deployable_reason  # torch, only for configs that ask for QAT
    from neuro_trigger.models import build_network

    not_deployable = not_deployable_reason(build_network(config))
    if not_deployable:
        raise UserError(f"{where}: 'quantization_aware' needs a deployable network, not {not_deployable}")
