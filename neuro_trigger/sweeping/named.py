"""Checking the named sweeps of `neuro_trigger/sweeps.py` like configs: unknown keys get suggestions."""
import difflib

from neuro_trigger.errors import UserError
from neuro_trigger.sweeping.space import Range, Space

KEYS = {"description": (str,), "config": (str,), "grid": (dict,), "ranges": (dict,), "overrides": (dict,),
        "seeds": (int,), "method": (str,), "trials": (int,), "metric": (str,), "direction": (str,)}


def did_you_mean(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check(name: str, entry: dict) -> dict:
    """The entry of sweep `name`, its keys and types checked."""
    where = f"sweeps.py: sweep {name!r}"
    if not isinstance(entry, dict):
        raise UserError(f"{where}: expected a dict of keys, got {type(entry).__name__}")
    for key, value in entry.items():
        if key not in KEYS:
            raise UserError(f"{where}: unknown key {key!r}{did_you_mean(key, KEYS)}; known: {', '.join(KEYS)}")
        if not isinstance(value, KEYS[key]) or isinstance(value, bool):
            raise UserError(f"{where}: key {key!r} must be {KEYS[key][0].__name__}, got {value!r}")
    if "config" not in entry:
        raise UserError(f"{where}: missing key 'config' (a name in configs.py)")
    for key, values in entry.get("grid", {}).items():
        if not isinstance(values, list) or not values:
            raise UserError(f"{where}: grid {key!r} must be a non-empty list of values, got {values!r}")
    for key, text in entry.get("ranges", {}).items():
        if not isinstance(text, str):
            raise UserError(f"{where}: ranges {key!r} must be a string like 'log(1e-4,1e-1)', got {text!r}")
    return entry


def lookup(name: str, named: dict) -> dict | None:
    """The checked entry of a named sweep, or None when `name` is not one (then it names a config)."""
    from neuro_trigger.configs import configs

    if name in named and name in configs:
        raise UserError(f"sweeps.py: sweep {name!r} has the name of a config; rename it")
    return check(name, named[name]) if name in named else None


def space_of(name: str, entry: dict) -> Space:
    where = f"sweeps.py: sweep {name!r}"
    try:
        return Space(overrides=dict(entry.get("overrides", {})),
                     axes={k: list(v) for k, v in entry.get("grid", {}).items()},
                     ranges={k: Range.parse(k, v) for k, v in entry.get("ranges", {}).items()})
    except UserError as e:
        raise UserError(f"{where}: {e}") from None
