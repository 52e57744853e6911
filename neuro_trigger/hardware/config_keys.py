"""Validation of the hardware config keys `precision` and `quantization_aware` (called by config validation)."""
from neuro_trigger.errors import UserError
from neuro_trigger.hardware.fixed_point import check_precision

PRECISION_MEANING = ("Fractional bits of the FPGA fixed-point arithmetic, basf2's 6-entry list; [3] nodes, "
                     "[4] weights, [5] tanh table input are used by the network (SPEC 10).")
QUANTIZATION_AWARE_MEANING = ("null, or {'epochs': N}: the last N epochs train through the fixed-point "
                              "arithmetic (straight-through gradient), and validation (the best checkpoint) is "
                              "judged in fixed point; needs a deployable network and early_stopping_patience null.")


def check_hardware_keys(config: dict, where: str) -> None:
    """Refuse a bad `precision` list or `quantization_aware` section with one line naming the key."""
    reason = check_precision(config["precision"])
    if reason:
        raise UserError(f"{where}: 'precision': {reason}")
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
