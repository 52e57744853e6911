"""The network families the trainer knows, as properties the rest of the code reads (never a branch per family).

`classic` is basf2's `NeuroTrigger`: five expert MLPs 27 -> 81 -> 2 with tanh(x/2), fed by "neuroresults" files
(SPEC sections 3 and 10). `3dh` is `NeuroTrigger3DH` (SPEC-3DH): one MLP 27|126 -> nHidden... -> 4 with plain tanh
after every layer, fed by the gzip TSV of `CDCTrigger3DHNeuroData` (SPEC-3DH 2.1), whose outputs are z, theta and
two track classifications (NNT, STT). A data file's family is told by its header (`detect`).
"""
import math
from dataclasses import dataclass

from neuro_trigger.constants import EXPERTS, N_SUPERLAYERS
from neuro_trigger.errors import UserError, short_repr

HIT_PATTERN_BITS = 11  # SPEC-3DH 1.2: bits 0..10 of the track segment's hit pattern, in the 126-input layout
THREE_DH_TARGETS = ("RecoZ", "RecoTheta", "RecoNNTClassification", "RecoSTTClassification")
TRACK_TYPE = "TrackType"
# SPEC-3DH 2.3: CDCTrigger3DHNeuroData's TrackType values
TRACK_TYPES = {0: "Real", 1: "Background", 2: "Fake", 3: "UnrelatedFake", 4: "Unknown"}


def three_dh_input_columns(n_inputs: int) -> list[str]:
    """The input column names of a 3DH file of `n_inputs` (27 or 126) inputs, superlayer major (SPEC-3DH 2.1)."""
    extra = n_inputs // N_SUPERLAYERS - 3
    return [name for sl in range(N_SUPERLAYERS)
            for name in (f"SL{sl}-relID", f"SL{sl}-driftT", f"SL{sl}-alpha",
                         *(f"SL{sl}-extra_input{i}" for i in range(extra)))]


@dataclass(frozen=True)
class Family:
    """What a network family is made of, as the data reader, the networks, the engine, the fixed-point twin and
    the export read it."""
    name: str
    input_sizes: tuple[int, ...]  # the inputs its networks may have
    output_sizes: tuple[int, ...]  # the outputs its networks may have
    output_names: tuple[str, ...]  # the physics of each output, in order
    targets: tuple[str, ...]  # the data files' target columns (scaled to [-1, 1]), one per output
    classification_outputs: tuple[int, ...]  # which outputs are track classifications (+1 / -1 targets)
    activation: str  # the hardware's activation, a name of `names.ACTIVATIONS`
    experts: tuple[int, ...]  # the expert numbers of its networks (-1: one network for all rows)
    fixed_point: str  # the hardware arithmetic of its twin: "classic" (SPEC 10) or "3dh" (SPEC-3DH 4.3)
    export_format: str  # weights.json layout: "experts" (expert_N.weights.model.net.*) or "model" (model.{2k}.*)
    needs_output_scale: bool  # targets come scaled with the data's outputScale, which the config must carry
    layouts: str  # its data files' layouts, in words, for messages
    sweep_metric: str  # a sweep's default metric (SPLIT/NAME of summary.json): one every run of the family writes
    old_network_in_files: bool  # its data files carry the hardware's own prediction (the `_old` metrics' baseline)


CLASSIC = Family(name="classic", input_sizes=(27,), output_sizes=(1, 2), output_names=("z", "theta"),
                 targets=("RecoZ", "RecoTheta"),
                 classification_outputs=(), activation="tanh/2", experts=(-1, *EXPERTS), fixed_point="classic",
                 export_format="experts", needs_output_scale=False, layouts="neuroresults (42, 45 or 46 columns)",
                 sweep_metric="val/loss_vs_old", old_network_in_files=True)
THREE_DH = Family(name="3dh", input_sizes=(27, 126), output_sizes=(4,), output_names=("z", "theta", "nnt", "stt"),
                  targets=THREE_DH_TARGETS,
                  classification_outputs=(2, 3), activation="tanh", experts=(-1,), fixed_point="3dh",
                  export_format="model", needs_output_scale=True,
                  layouts="3DH with 27 inputs (32 columns) or 126 inputs (131 columns)",
                  sweep_metric="val/loss", old_network_in_files=False)  # no loss_vs_old without compare_to
FAMILIES = {family.name: family for family in (CLASSIC, THREE_DH)}


def three_dh_header(n_inputs: int) -> list[str]:
    """The column names of a 3DH file, in order: inputs, the four scaled targets, TrackType (SPEC-3DH 2.1)."""
    return three_dh_input_columns(n_inputs) + list(THREE_DH_TARGETS) + [TRACK_TYPE]


def detect(names: list[str]) -> tuple[Family, int] | None:
    """(family, inputs) of a 3DH header, which must be exactly one of its two layouts; None for anything else
    (the classic reader then judges it)."""
    for n_inputs in THREE_DH.input_sizes:
        if names == three_dh_header(n_inputs):
            return THREE_DH, n_inputs
    return None


def looks_three_dh(names: list[str]) -> bool:
    """Whether a header claims to be a 3DH file (it names a 3DH target or TrackType) without being one."""
    return any(name in THREE_DH_TARGETS[2:] or name == TRACK_TYPE for name in names)


OUTPUT_SCALE_MEANING = ("outputScale of the data (SPEC-3DH 2.2): [z_min, z_max] in cm, [theta_min, theta_max] in "
                        "degrees, [NNT min, max], [STT min, max]; required for the 3dh family, whose targets come "
                        "scaled with it, and written into the deployed network config.")
MAX_HIDDEN = 4096


def _numbers(value, count: int | None) -> bool:
    ok = isinstance(value, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                         and math.isfinite(v) for v in value)
    return ok and (count is None or len(value) == count)


def check_config(config: dict, where: str) -> None:
    """Refuse, in one line naming the key, a config whose network does not fit its family: inputs, outputs,
    experts, outputScale, hidden sizes and loss weights."""
    family = FAMILIES[config["family"]]
    for key, allowed in (("in_size", family.input_sizes), ("out_size", family.output_sizes)):
        if config[key] not in allowed:
            choices = f"one of {', '.join(map(str, allowed))}" if len(allowed) > 1 else str(allowed[0])
            raise UserError(f"{where}: {key!r} must be {choices}, got {config[key]!r} for the {family.name} family")
    if not set(config["experts"]) <= set(family.experts):
        raise UserError(f"{where}: 'experts' must be {list(family.experts)} for the {family.name} family "
                        f"(one network), got {config['experts']!r}")
    scale = config["output_scale"]
    if scale is None and family.needs_output_scale:
        raise UserError(f"{where}: 'output_scale' is required for the {family.name} family: the 8 numbers of the "
                        f"data's outputScale, e.g. [-100, 100, 10, 170, -1, 1, -1, 1]")
    if scale is not None and not (_numbers(scale, 8) and all(lo < hi for lo, hi in zip(scale[0::2], scale[1::2]))):
        raise UserError(f"{where}: 'output_scale' must be 8 finite numbers, 4 pairs [min, max] with min < max "
                        f"(z cm, theta degrees, NNT, STT), got {short_repr(scale)}")
    hidden = config["hidden_sizes"]
    if (hidden is None) != (config["model"] != "NeuroTrigger3DH"):
        raise UserError(f"{where}: 'hidden_sizes' is a list of layer sizes for the NeuroTrigger3DH model and null "
                        f"for the others, got {short_repr(hidden)} with model {config['model']!r}")
    if hidden is not None and not (hidden and all(type(h) is int and 1 <= h <= MAX_HIDDEN for h in hidden)):
        raise UserError(f"{where}: 'hidden_sizes' must be a non-empty list of integers 1..{MAX_HIDDEN}, got "
                        f"{short_repr(hidden)}")
    weights = config["loss_weights"]
    if weights is not None and not (_numbers(weights, config["out_size"]) and min(weights) >= 0 < max(weights)):
        raise UserError(f"{where}: 'loss_weights' must be {config['out_size']} numbers >= 0 (one per output), not "
                        f"all 0, got {short_repr(weights)}")
    if config["quantization_aware"] and family.fixed_point != CLASSIC.fixed_point:
        raise UserError(f"{where}: 'quantization_aware' trains through the classic FPGA arithmetic only, not the "
                        f"{family.name} family's")


def check_data(config: dict, data: dict, files: dict) -> None:
    """Refuse data files of another family, or another number of inputs, than the config's network, naming the
    first such file (before any run folder exists)."""
    family = FAMILIES[config["family"]]
    for split, tracks in data.items():
        if (tracks.family, tracks.inputs.shape[1]) != (family.name, config["in_size"]):
            raise UserError(f"{files[split][0]}: a {tracks.family} file with {tracks.inputs.shape[1]} inputs, but "
                            f"the config trains a {family.name} network with in_size {config['in_size']} "
                            f"(expected {family.layouts})")
