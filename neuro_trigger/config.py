"""Resolve a named config into a validated dict: extends chain, the config, expert_x, overrides.

`SCHEMA` is the single list of known keys (type, default, meaning); validation, the unknown-key
suggestions and the generated docs all read it.
"""
import ast
import copy
import difflib
import json
from typing import Any, NamedTuple

from neuro_trigger import models
from neuro_trigger.configs import configs as NAMED_CONFIGS
from neuro_trigger.constants import ALL_EXPERTS, EXPERTS
from neuro_trigger.data.filters import FILTERS, parse_filter
from neuro_trigger.data.sampler import bucket_probabilities
from neuro_trigger.errors import UserError
from neuro_trigger.hardware import config_keys as hardware_keys

EXPERT_KEYS = [f"expert_{x}" for x in EXPERTS]
NUMBER = (int, float)

class Key(NamedTuple):
    types: tuple[type, ...]  # accepted Python types of the value
    meaning: str
    example: str  # as one would write it after -m


SCHEMA: dict[str, Key] = {
    "version": Key(NUMBER, "Version number of the config, bumped when its meaning changes.", "2"),
    "description": Key((str,), "One line saying what this config tries.", '"tanh/2 with reweighting"'),
    "extends": Key((str, type(None)), "Name of the parent config whose keys this one changes (configs.py only).",
                   '"baseline_v2"'),
    "data": Key((str, dict), "'synthetic' (the embedded data set) or {'train': [files], 'val': [...], 'test': [...]}.",
                '{"train": ["random1.gz"], "val": ["random2.gz"], "test": ["random3.gz"]}'),
    "learning_rate": Key(NUMBER, "Optimizer learning rate.", "0.001"),
    "batch_size": Key((int,), "Training rows per step.", "512"),
    "weight_decay": Key(NUMBER, "L2 weight decay (not used by Rprop).", "1e-5"),
    "in_size": Key((int,), "Network inputs: 27 (3 per superlayer).", "27"),
    "out_size": Key((int,), "Network outputs: 1 trains on z only, 2 on z and theta.", "1"),
    "workers": Key((int,), "How many experts train at the same time (one thread each).", "2"),
    "epochs": Key((int,), "Maximum training epochs per expert.", "200"),
    "model": Key((str,), "Network class: " + ", ".join(models.MODELS) + ".", '"BaselineModelBN"'),
    "loss": Key((str,), "Loss: " + ", ".join(models.LOSSES) + ".", '"SmoothL1Loss"'),
    "optim": Key((str,), "Optimizer: " + ", ".join(models.OPTIMIZERS) + ".", '"Rprop"'),
    "act": Key((str,), "Activation: " + ", ".join(models.ACTIVATIONS) + ".", '"softsign"'),
    "experts": Key((list,), "Experts to train: any of 0..4, or [-1] for one network on all rows.", "[0,1]"),
    "compare_to": Key((str, type(None)), "Earlier run (relative to the log root) whose predictions replace the "
                                         "old-network columns as the reference.", '"baseline_v2/version_4"'),
    "load_pre_trained_weights": Key((str, type(None)), "weights.json (or a run folder holding one) to start from.",
                                    '"log/baseline_v2/version_4/weights.json"'),
    "filter": Key((str,), "Dataset filter expression (filters: " + ", ".join(sorted(FILTERS)) + ").",
                  '"ConCatFilter([Max2EventsFilter(), DuplicateEventsFilter()])"'),
    "dist": Key((dict, type(None)), "z reweighting: {'n_buckets': n, 'inf_bounds': b, 'norm': {'mean': m, 'std': s}} "
                                    "or {'n_buckets': n, 'uniform': {'lower': a, 'upper': b}}; null trains unweighted.",
                '{"n_buckets": 11, "inf_bounds": true, "norm": {"mean": 0, "std": 0.4}}'),
    "seed": Key((int,), "Random seed of initialisation, shuffling and sampling.", "7"),
    "early_stopping_patience": Key((int, type(None)), "Epochs without a better val_loss before an expert stops; "
                                                      "null: never.", "null"),
    "plot_every": Key((int,), "Plot to TensorBoard every this many epochs (and at the end).", "10"),
    "z_cut_cm": Key(NUMBER, "|z| cut in cm for the trigger efficiency and background rejection figures.", "20"),
    "precision": Key((list,), hardware_keys.PRECISION_MEANING, "[12,8,8,10,7,8]"),
    "quantization_aware": Key((dict, type(None)), hardware_keys.QUANTIZATION_AWARE_MEANING, '{"epochs": 10}'),
    **{key: Key((dict,), f"Overrides for expert {key[-1]} only (any key above but extends).",
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
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        pass
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_overrides(items: list[str]) -> dict:
    """['expert_2.batch_size=16', 'act=softsign'] -> nested dict of changes."""
    changes: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"-m {item!r}: expected KEY=VALUE, e.g. batch_size=512 or dist.n_buckets=21")
        *parents, leaf = key.strip().split(".")
        node = changes
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise UserError(f"-m {item!r}: {part!r} is set to a value and used as a section")
        node[leaf] = parse_value(value.strip())
    return changes


def _check_keys(section: dict, where: str, allow_experts: bool) -> None:
    known = SCHEMA if allow_experts else {k: v for k, v in SCHEMA.items() if k not in EXPERT_KEYS}
    for key in section:
        if key == "extends" and allow_experts:
            continue
        if key not in known:
            raise UserError(f"{where}: unknown key {key!r}{_suggest(key, known)}")


def _check_types(config: dict, where: str) -> None:
    for key, value in config.items():
        types = SCHEMA[key].types
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            names = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise UserError(f"{where}: key {key!r} must be {names}, got {value!r}")


def _check_values(config: dict, where: str) -> None:
    for key, registry in (("model", models.MODELS), ("act", models.ACTIVATIONS), ("loss", models.LOSSES),
                          ("optim", models.OPTIMIZERS)):
        if config[key] not in registry:
            raise UserError(f"{where}: unknown {key} {config[key]!r}{_suggest(config[key], registry)}; "
                            f"expected one of {', '.join(registry)}")
    experts = config["experts"]
    valid = experts == [ALL_EXPERTS] or (experts and all(isinstance(x, int) and x in EXPERTS for x in experts)
                                         and len(set(experts)) == len(experts))
    if not valid:
        raise UserError(f"{where}: 'experts' must be distinct numbers of 0..4, or [-1], got {experts!r}")
    for key, low in (("batch_size", 1), ("epochs", 1), ("workers", 1), ("in_size", 1), ("plot_every", 1)):
        if config[key] < low:
            raise UserError(f"{where}: {key!r} must be >= {low}, got {config[key]!r}")
    if config["out_size"] not in (1, 2):
        raise UserError(f"{where}: 'out_size' must be 1 (z) or 2 (z and theta), got {config['out_size']!r}")
    if not config["learning_rate"] > 0:
        raise UserError(f"{where}: 'learning_rate' must be positive, got {config['learning_rate']!r}")
    try:
        parse_filter(config["filter"])
        if config["dist"] is not None:
            bucket_probabilities(config["dist"])
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
    for expert in [ALL_EXPERTS] + [x for x in EXPERTS if config.get(f"expert_{x}")]:
        resolved = for_expert(config, expert)
        at = where if expert == ALL_EXPERTS else f"{where} expert_{expert}"
        _check_types(resolved, at)
        _check_values(resolved, at)
        hardware_keys.check_hardware_keys(resolved, at)
    return config


def for_expert(config: dict, expert: int) -> dict:
    """Hyperparameters of one expert: config, then its expert_x section, then command-line overrides."""
    flat = {k: v for k, v in config.items() if k not in EXPERT_KEYS and not k.startswith("_")}
    section = config.get(f"expert_{expert}", {}) if expert != ALL_EXPERTS else {}
    if not isinstance(section, dict):
        raise UserError(f"key 'expert_{expert}' must be a dict of overrides, got {section!r}")
    top_level_overrides = {k: v for k, v in config.get("_overrides", {}).items() if k not in EXPERT_KEYS}
    return merge(merge(flat, section), top_level_overrides)


def public(config: dict) -> dict:
    """The config as recorded in summary.json (internal bookkeeping removed, overrides kept apart)."""
    return {k: v for k, v in config.items() if not k.startswith("_")}
