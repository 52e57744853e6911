"""Resolve a named config into a validated dict: extends chain, the config, expert_x, overrides.

`SCHEMA` is the single list of known keys (type, allowed values, default, meaning); validation,
the unknown-key suggestions and the generated docs all read it. Nothing here imports torch, so a
mistake is answered before the heavy imports of a run.
"""
import ast
import copy
import difflib
import json
import math
from typing import Any, NamedTuple

from neuro_trigger import names
from neuro_trigger.configs import configs as NAMED_CONFIGS
from neuro_trigger.constants import ALL_EXPERTS, EXPERTS
from neuro_trigger.data import families
from neuro_trigger.data.filters import FILTERS, parse_filter
from neuro_trigger.errors import UserError, short_repr
from neuro_trigger.hardware import config_keys as hardware_keys

EXPERT_KEYS = [f"expert_{x}" for x in EXPERTS]
NUMBER = (int, float)
MAX_NESTING = 32  # levels of lists/dicts in one -m value
MAX_BUCKETS = 10_000  # dist.n_buckets: more buckets than this only costs memory
MAX_PACK = 64  # pack.seeds: beyond this a packed step is as slow as the networks one by one
PACKABLE_KEYS = ("seed", "learning_rate", "weight_decay")  # what networks trained in one pack may differ in


def _number_text(x: float) -> str:
    """2**63 rather than 9223372036854775808 in messages and docs."""
    if isinstance(x, int) and x >= 2 ** 20:
        for offset, suffix in ((0, ""), (1, " - 1")):
            if (x + offset) & (x + offset - 1) == 0:
                return f"2**{(x + offset).bit_length() - 1}{suffix}"
    return repr(x)


class Range(NamedTuple):
    """Allowed numbers: low <= x <= high (< with `low_open` / `high_open`); None leaves a side open."""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, x: Any) -> bool:
        if isinstance(x, float) and math.isnan(x):
            return False
        if self.low is not None and (x <= self.low if self.low_open else x < self.low):
            return False
        return self.high is None or (x < self.high if self.high_open else x <= self.high)

    def __str__(self) -> str:
        if self.low is not None and self.low == self.high:
            return _number_text(self.low)
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {_number_text(self.low)}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {_number_text(self.high)}")
        return " and ".join(parts)


class Key(NamedTuple):
    types: tuple[type, ...]  # accepted Python types of the value (bool only where listed)
    meaning: str
    example: str  # as one would write it after -m
    allowed: Range | tuple | None = None  # numbers: a Range; names or codes: the tuple of choices


SCHEMA: dict[str, Key] = {
    "version": Key(NUMBER, "Version number of the config, bumped when its meaning changes.", "2", Range(0)),
    "description": Key((str,), "One line saying what this config tries.", '"tanh/2 with reweighting"'),
    "extends": Key((str, type(None)), "Name of the parent config whose keys this one changes (configs.py only).",
                   '"baseline_v2"'),
    "data": Key((str, dict), "'synthetic' (the embedded data set; 'synthetic_3dh_27' and 'synthetic_3dh_126' for the "
                             "3dh family) or {'train': [files], 'val': [...], 'test': [...]}.",
                '{"train": ["random1.gz"], "val": ["random2.gz"], "test": ["random3.gz"]}'),
    "family": Key((str,), "Network family: 'classic' (NeuroTrigger, 5 experts 27-81-2, tanh(x/2)) or '3dh' "
                          "(NeuroTrigger3DH: one network, 27 or 126 inputs, outputs z, theta, NNT, STT).", '"3dh"',
                  tuple(families.FAMILIES)),
    "learning_rate": Key(NUMBER, "Optimizer learning rate.", "0.001", Range(0, 10, low_open=True)),
    "batch_size": Key((int,), "Training rows per step.", "512", Range(1, 2 ** 31 - 1)),
    "weight_decay": Key(NUMBER, "L2 weight decay (not used by Rprop).", "1e-5", Range(0, 1)),
    "in_size": Key((int,), "Network inputs: 27 (3 per superlayer); 3dh: 27 or 126 (with 11 hit-pattern bits).", "27"),
    "out_size": Key((int,), "Network outputs: 1 trains on z only, 2 on z and theta; 3dh: 4 (z, theta, NNT, STT).",
                    "1"),
    "hidden_sizes": Key((list, type(None)), "Hidden layer sizes (nHidden) of the NeuroTrigger3DH model; null for "
                                            "the others.", "[64, 32]"),
    "output_scale": Key((list, type(None)), families.OUTPUT_SCALE_MEANING, "[-100, 100, 10, 170, -1, 1, -1, 1]"),
    "loss_weights": Key((list, type(None)), "Weight of each output's term in the loss (one per output); null: all "
                                            "1 (docs/metrics.md says why).", "[1, 1, 0.5, 0.5]"),
    "classification_cut": Key(NUMBER, "3dh: cut on the unscaled NNT and STT outputs (basf2's classificationCutNNT/"
                                      "STT): a track is classified positive when its output is strictly above it.",
                              "0.2", Range(-1, 1)),
    "workers": Key((int,), "How many experts train at the same time (one thread each).", "2", Range(1, 1024)),
    "epochs": Key((int,), "Maximum training epochs per expert.", "200", Range(1, 10 ** 6)),
    "model": Key((str,), "Network class.", '"BaselineModelBN"', names.MODELS),
    "loss": Key((str,), "Loss.", '"SmoothL1Loss"', names.LOSSES),
    "optim": Key((str,), "Optimizer.", '"Rprop"', names.OPTIMIZERS),
    "act": Key((str,), "Activation.", '"softsign"', names.ACTIVATIONS),
    "experts": Key((list,), "Experts to train: distinct numbers of 0..4, or [-1] for one network on all rows.",
                   "[0,1]"),
    "compare_to": Key((str, type(None)), "Earlier run (relative to the log root) of the same family whose "
                                         "predictions replace the old-network columns as the reference; 3dh also: "
                                         "a deployed weights.json (network.conf beside it) or its folder, whose "
                                         "fixed-point outputs are the reference.", '"baseline_v2/version_4"'),
    "load_pre_trained_weights": Key((str, type(None)), "weights.json (or a run folder holding one) to start from.",
                                    '"log/baseline_v2/version_4/weights.json"'),
    "filter": Key((str,), "Dataset filter expression (filters: " + ", ".join(sorted(FILTERS)) + ").",
                  '"ConCatFilter([Max2EventsFilter(), DuplicateEventsFilter()])"'),
    "dist": Key((dict, type(None)), "z reweighting: {'n_buckets': n, 'inf_bounds': b, 'norm': {'mean': m, 'std': s}} "
                                    "or {'n_buckets': n, 'uniform': {'lower': a, 'upper': b}}, n <= "
                                    f"{MAX_BUCKETS}; null trains unweighted.",
                '{"n_buckets": 11, "inf_bounds": true, "norm": {"mean": 0, "std": 0.4}}'),
    "seed": Key((int,), "Random seed of initialisation, shuffling and sampling.", "7", Range(0, 2 ** 63, high_open=True)),
    "early_stopping_patience": Key((int, type(None)), "Epochs without a better val_loss before an expert stops; "
                                                      "null: never.", "null", Range(0)),
    "compile": Key((bool,), "Train through torch.compile of the network (falls back to eager, with a warning, "
                            "when compiling fails). On CPU it pays only at large batches (>= 512) and costs "
                            "seconds to a minute of compiling per expert.", "true"),
    "plot_every": Key((int,), "Plot to TensorBoard every this many epochs (and at the end); a plot is skipped while "
                      "plotting has taken over 5% of the training time.", "10", Range(1)),
    "z_cut_cm": Key(NUMBER, "|z| cut in cm for the trigger efficiency and background rejection figures.", "20",
                    Range(0, 100, low_open=True)),
    "save_train_predictions": Key((bool,), "Also write predictions_train.csv.gz (the train split is the largest; "
                                           "its predictions_train.pt is always written).", "true"),
    "precision": Key((list,), hardware_keys.PRECISION_MEANING, "[12,8,8,10,7,8]"),
    "quantization_aware": Key((dict, type(None)), hardware_keys.QUANTIZATION_AWARE_MEANING, '{"epochs": 10}'),
    "preactivation_penalty": Key((dict, type(None)), hardware_keys.PREACTIVATION_PENALTY_MEANING,
                                 '{"limit": 16, "weight": 0.01}'),
    "tracking_uri": Key((str, type(None)), "MLflow tracking server every run of this config is sent to as it "
                                           "happens (else --tracking-uri or MLFLOW_TRACKING_URI; null: none); "
                                           "see docs/tracking.md.", '"http://127.0.0.1:5000"'),
    "pack": Key((dict, type(None)), "null, or {'seeds': K}: train K copies of every expert together in one "
                                    "vectorised module, with seeds seed .. seed+K-1 (K <= " + str(MAX_PACK) + "); "
                                    "weights.json holds each expert's copy with the best val loss, "
                                    "weights_seed<s>.json every seed's, summary.json the mean and std over seeds.",
                '{"seeds": 8}'),
    **{key: Key((dict,), "Overrides for one expert only: expert_x for expert x (any key above but extends).",
                '{"batch_size": 128}') for key in EXPERT_KEYS},
}

DEBUG_EPOCHS = 5


def _suggest(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def merge(base: dict, changes: dict) -> dict:
    """A copy of `base` with `changes` applied; nested dicts merge key by key."""
    merged = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """A nested config as dotted keys (`dist.n_buckets`), as `-m` names them; lists stay values."""
    if not isinstance(value, dict) or not value:
        return {prefix: value}
    flat: dict[str, Any] = {}
    for key, item in value.items():
        flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def _chain(name: str, named: dict) -> dict:
    """The config with its whole `extends` chain merged in, root first."""
    seen = []
    while name is not None:
        if name in seen:
            raise UserError(f"configs.py: 'extends' cycle: {' -> '.join(seen + [name])}")
        if name not in named:
            where = f"config {seen[-1]!r}: extends " if seen else "unknown config "
            raise UserError(f"{where}{name!r}{_suggest(name, named)}; available: {', '.join(named)}")
        seen.append(name)
        name = named[name].get("extends")
    resolved: dict = {}
    for parent in reversed(seen):
        resolved = merge(resolved, named[parent])
    resolved.pop("extends", None)
    return resolved


def parse_value(text: str) -> Any:
    """A `-m` value: a Python or JSON literal, else the plain string (never evaluated)."""
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        pass
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


def _shape(value: Any) -> tuple[int, bool]:
    """(levels of lists, tuples and dicts, whether every string is valid Unicode) of a value, without recursion;
    an escape such as '\\ud800' makes a lone surrogate, which no file, log or parser downstream can encode."""
    deepest, valid, stack = 0, True, [(value, 0)]
    while stack and deepest <= MAX_NESTING:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, str):
            valid = valid and not any("\ud800" <= c <= "\udfff" for c in item)  # no surrogate code point
        elif isinstance(item, dict):
            stack.extend((v, depth + 1) for v in [*item.keys(), *item.values()])
        elif isinstance(item, (list, tuple, set)):
            stack.extend((v, depth + 1) for v in item)
    return deepest, valid


def parse_overrides(items: list[str]) -> dict:
    """['expert_2.batch_size=16', 'act=softsign'] -> nested dict of changes."""
    changes: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        *parents, leaf = key.strip().split(".")
        if not sep or not all(part.strip() for part in [*parents, leaf]):
            raise UserError(f"-m {short_repr(item)}: expected KEY=VALUE, e.g. batch_size=512 or dist.n_buckets=21")
        node = changes
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise UserError(f"-m {short_repr(item)}: {part!r} is set to a value and used as a section")
        parsed = parse_value(value.strip())
        depth, valid = _shape(parsed)
        if depth > MAX_NESTING:
            raise UserError(f"-m {short_repr(key.strip())}: value nested more than {MAX_NESTING} levels deep")
        if not valid:
            raise UserError(f"-m {short_repr(key.strip())}: the value holds text that is not valid Unicode")
        node[leaf] = parsed
    return changes


def _check_keys(section: dict, where: str, allow_experts: bool) -> None:
    known = SCHEMA if allow_experts else {k: v for k, v in SCHEMA.items() if k not in EXPERT_KEYS}
    for key in section:
        if key == "extends" and allow_experts:
            continue
        if key not in known:
            raise UserError(f"{where}: unknown key {short_repr(key)}{_suggest(str(key), known)}")


def _type_names(types: tuple[type, ...]) -> str:
    return " or ".join("null" if t is type(None) else t.__name__ for t in types)


def _check_types(config: dict, where: str) -> None:
    for key, value in config.items():
        types = SCHEMA[key].types
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            raise UserError(f"{where}: key {key!r} must be {_type_names(types)}, got {short_repr(value)}")


def _check_allowed(key: str, value: Any, where: str) -> None:
    """The value against SCHEMA's allowed range or choices."""
    allowed = SCHEMA[key].allowed
    if allowed is None or value is None:
        return
    if isinstance(allowed, Range):
        if value not in allowed:
            raise UserError(f"{where}: {key!r} must be {allowed}, got {short_repr(value)}")
    elif value not in allowed:
        if all(isinstance(choice, str) for choice in allowed):
            raise UserError(f"{where}: unknown {key} {short_repr(value)}{_suggest(value, allowed)}; "
                            f"expected one of {', '.join(allowed)}")
        raise UserError(f"{where}: {key!r} must be one of {', '.join(map(str, allowed))}, got {short_repr(value)}")


def _finite_number(value: Any) -> bool:
    return isinstance(value, NUMBER) and not isinstance(value, bool) and math.isfinite(value)


def _check_dist(dist: dict, where: str) -> None:
    """The shape of a `dist` entry here; what its numbers mean is checked by the sampler itself."""
    unknown = sorted(map(str, set(dist) - {"n_buckets", "inf_bounds", "norm", "uniform"}))
    if unknown:
        raise UserError(f"{where}: dist: unknown key {short_repr(unknown[0])}; expected n_buckets, inf_bounds, "
                        "and norm or uniform")
    n = dist.get("n_buckets")
    if type(n) is not int or not 1 <= n <= MAX_BUCKETS:
        raise UserError(f"{where}: dist.n_buckets: expected an integer >= 1 and <= {MAX_BUCKETS}, got {short_repr(n)}")
    if not isinstance(dist.get("inf_bounds", False), bool):
        raise UserError(f"{where}: dist.inf_bounds: expected true or false, got {short_repr(dist['inf_bounds'])}")
    if "norm" in dist and "uniform" in dist:
        raise UserError(f"{where}: dist: give either 'norm' or 'uniform', not both")
    for part, numbers in (("norm", ("mean", "std")), ("uniform", ("lower", "upper"))):
        if part not in dist:
            continue
        section = dist[part]
        if not isinstance(section, dict) or not set(section) <= set(numbers):
            raise UserError(f"{where}: dist.{part}: expected {{{', '.join(map(repr, numbers))}}}, "
                            f"got {short_repr(section)}")
        for name, value in section.items():
            if not _finite_number(value):
                raise UserError(f"{where}: dist.{part}.{name}: expected a finite number, got {short_repr(value)}")
    from neuro_trigger.data.sampler import bucket_probabilities  # scipy: only when a dist is configured

    bucket_probabilities(dist)


def _check_pack(pack: dict) -> None:
    if set(pack) != {"seeds"}:
        raise UserError(f"pack: expected {{'seeds': K}}, got {short_repr(pack)}")
    seeds = pack["seeds"]
    if type(seeds) is not int or not 1 <= seeds <= MAX_PACK:
        raise UserError(f"pack.seeds: expected an integer >= 1 and <= {MAX_PACK}, got {short_repr(seeds)}")


def _check_values(config: dict, where: str) -> None:
    for key in config:
        _check_allowed(key, config[key], where)
    experts = config["experts"]
    valid = experts == [ALL_EXPERTS] or (experts and all(type(x) is int and x in EXPERTS for x in experts)
                                         and len(set(experts)) == len(experts))
    if not valid:
        raise UserError(f"{where}: 'experts' must be distinct numbers of 0..4, or [-1], got {short_repr(experts)}")
    families.check_config(config, where)  # after the generic checks: a family narrows what they allow
    try:
        try:
            parse_filter(config["filter"])
        except (RecursionError, MemoryError):
            raise UserError(f"filter: expression nested too deeply ({len(config['filter'])} characters)") from None
        if config["dist"] is not None:
            _check_dist(config["dist"], where)
        if config["pack"] is not None:
            _check_pack(config["pack"])
    except UserError as e:
        raise UserError(f"{where}: {e}") from None


def resolve(name: str, overrides: dict | None = None, named: dict | None = None) -> dict:
    """The validated config `name` with command-line `overrides` applied (expert_x sections kept)."""
    named = NAMED_CONFIGS if named is None else named
    for config_name, section in named.items():
        _check_keys(section, f"configs.py: config {config_name!r}", allow_experts=True)
        for key in EXPERT_KEYS:
            if isinstance(section.get(key), dict):
                _check_keys(section[key], f"configs.py: config {config_name!r} {key}", allow_experts=False)
    config = _chain(name, named)
    overrides = overrides or {}
    if "extends" in overrides:
        raise UserError("-m extends: the parent of a config is set in configs.py, not on the command line")
    _check_keys(overrides, "-m", allow_experts=True)
    for key in EXPERT_KEYS:
        if isinstance(overrides.get(key), dict):
            _check_keys(overrides[key], f"-m {key}", allow_experts=False)
    config = merge(config, overrides)
    missing = [k for k in SCHEMA if k not in config and k not in EXPERT_KEYS and k != "extends"]
    if missing:
        raise UserError(f"config {name!r}: missing keys {', '.join(missing)} (does it extend 'base'?)")
    config["_overrides"] = overrides
    where = f"config {name!r}"
    for key in EXPERT_KEYS:
        if key in config and not isinstance(config[key], dict):
            raise UserError(f"{where}: key {key!r} must be a dict of overrides, got {short_repr(config[key])}")
    for expert in [ALL_EXPERTS] + [x for x in EXPERTS if config.get(f"expert_{x}")]:
        resolved = for_expert(config, expert)
        at = where if expert == ALL_EXPERTS else f"{where} expert_{expert}"
        _check_types(resolved, at)
        _check_values(resolved, at)
        hardware_keys.check_hardware_keys(resolved, at)
        if resolved["pack"] != config["pack"]:
            raise UserError(f"{at}: 'pack' is set for the whole run, not per expert")
    return config


def for_expert(config: dict, expert: int) -> dict:
    """Hyperparameters of one expert: config, then its expert_x section, then command-line overrides."""
    flat = {k: v for k, v in config.items() if k not in EXPERT_KEYS and not k.startswith("_")}
    section = config.get(f"expert_{expert}", {}) if expert != ALL_EXPERTS else {}
    if not isinstance(section, dict):
        raise UserError(f"key 'expert_{expert}' must be a dict of overrides, got {short_repr(section)}")
    top_level_overrides = {k: v for k, v in config.get("_overrides", {}).items() if k not in EXPERT_KEYS}
    return merge(merge(flat, section), top_level_overrides)


def public(config: dict) -> dict:
    """The config as recorded in summary.json (internal bookkeeping removed, overrides kept apart)."""
    return {k: v for k, v in config.items() if not k.startswith("_")}
