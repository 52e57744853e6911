"""What a sweep varies: `-m` items become plain overrides, grid axes (comma lists) or ranges.

`KEY=V1,V2` is a grid axis (Hydra multirun style), `KEY=log(1e-4,1e-1)`, `float(a,b)`, `int(a,b)`
and `choice(a,b,...)` are ranges for random/TPE search, anything else a plain override. Values are
literals parsed by `config.parse_value`, never evaluated.
"""
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any

from neuro_trigger.config import parse_value
from neuro_trigger.errors import UserError

RANGE = re.compile(r"^(log|float|int|choice)\((.*)\)$", re.DOTALL)
SCALAR = (bool, int, float, str, type(None))  # what Optuna accepts as a categorical choice


def split_top_level(text: str) -> list[str]:
    """Split at commas outside brackets and quotes: 'a,[1,2],"x,y"' -> ['a', '[1,2]', '"x,y"']."""
    parts, depth, quote, start = [], 0, None, 0
    for i, char in enumerate(text):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


@dataclass(frozen=True)
class Range:
    """A random/TPE search range of one key: kind log|float|int|choice and its literal arguments."""
    kind: str
    args: tuple

    @classmethod
    def parse(cls, key: str, text: str) -> "Range":
        match = RANGE.match(text.strip())
        if not match:
            raise UserError(f"-m {key}={text}: expected log(LOW,HIGH), float(LOW,HIGH), int(LOW,HIGH) or "
                            f"choice(A,B,...)")
        kind, inner = match.groups()
        args = tuple(parse_value(p) for p in split_top_level(inner) if p)
        if kind == "choice":
            if not args:
                raise UserError(f"-m {key}={text}: choice() needs at least one value")
            return cls(kind, args)
        numeric = all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args)
        if len(args) != 2 or not numeric or not args[0] < args[1]:
            raise UserError(f"-m {key}={text}: {kind}(LOW,HIGH) needs two numbers with LOW < HIGH")
        if kind == "log" and args[0] <= 0:
            raise UserError(f"-m {key}={text}: log(LOW,HIGH) needs LOW > 0")
        if kind == "int" and not all(isinstance(a, int) for a in args):
            raise UserError(f"-m {key}={text}: int(LOW,HIGH) needs two integers")
        return cls(kind, args)

    def examples(self) -> list:
        """Values that validation resolves the config with: the bounds or every choice."""
        return list(self.args)

    def suggest(self, trial, key: str) -> Any:
        """The value of `key` for an Optuna trial (the sampler draws it, or an enqueued trial fixes it)."""
        if self.kind == "choice":
            return decode(trial.suggest_categorical(key, [encode(a) for a in self.args]))
        if self.kind == "int":
            return trial.suggest_int(key, *self.args)
        return trial.suggest_float(key, float(self.args[0]), float(self.args[1]), log=self.kind == "log")

    def to_json(self) -> str:
        return f"{self.kind}({','.join(json.dumps(a) for a in self.args)})"


def encode(value: Any) -> Any:
    """A value as an Optuna categorical choice: scalars as they are, lists and dicts as JSON text."""
    return value if isinstance(value, SCALAR) else "json:" + json.dumps(value, sort_keys=True)


def decode(choice: Any) -> Any:
    return json.loads(choice[5:]) if isinstance(choice, str) and choice.startswith("json:") else choice


@dataclass
class Space:
    """Plain overrides (same in every trial), grid axes and ranges, each keyed by dotted config key."""
    overrides: dict[str, Any] = field(default_factory=dict)
    axes: dict[str, list] = field(default_factory=dict)
    ranges: dict[str, Range] = field(default_factory=dict)

    @classmethod
    def parse(cls, items: list[str]) -> "Space":
        space = cls()
        for item in items:
            key, sep, text = item.partition("=")
            key, text = key.strip(), text.strip()
            if not sep or not key:
                raise UserError(f"-m {item!r}: expected KEY=VALUE, KEY=V1,V2,... or KEY=log(LOW,HIGH)")
            if key in space.overrides or key in space.axes or key in space.ranges:
                raise UserError(f"-m {key}: given twice")
            if RANGE.match(text):
                space.ranges[key] = Range.parse(key, text)
                continue
            values = split_top_level(text)
            if len(values) > 1:
                if any(v == "" for v in values):
                    raise UserError(f"-m {item!r}: empty value in the comma list")
                space.axes[key] = [parse_value(v) for v in values]
            else:
                space.overrides[key] = parse_value(text)
        return space

    def grid_points(self) -> list[dict[str, Any]]:
        """Every combination of the grid axes, in the order given (the last axis varies fastest)."""
        keys = list(self.axes)
        return [dict(zip(keys, combo)) for combo in itertools.product(*(self.axes[k] for k in keys))]

    def example_points(self) -> list[dict[str, Any]]:
        """Points that between them use every grid value and range bound or choice (for validation)."""
        points = self.grid_points() if self.axes else [{}]
        for key, rng in self.ranges.items():
            points += [{**points[0], key: value} for value in rng.examples()]
        return points

    def to_json(self) -> dict:
        return {"overrides": self.overrides, "axes": self.axes,
                "ranges": {k: r.to_json() for k, r in self.ranges.items()}}

    @classmethod
    def from_json(cls, data: dict) -> "Space":
        return cls(dict(data["overrides"]), {k: list(v) for k, v in data["axes"].items()},
                   {k: Range.parse(k, v) for k, v in data["ranges"].items()})


def nested(flat: dict[str, Any]) -> dict:
    """{'expert_2.batch_size': 16} -> {'expert_2': {'batch_size': 16}}, as `config.resolve` takes overrides."""
    changes: dict = {}
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        node = changes
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise UserError(f"-m {key}: {part!r} is set to a value and used as a section")
        node[leaf] = value
    return changes
