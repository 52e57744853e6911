"""A sweep's definition: config, search space, seeds, method, metric; checked before any trial starts.

It is written to `<log_root>/sweeps/<name>/sweep.json`; rerunning the same command finds it there and
continues, a different definition under the same name is refused.
"""
import difflib
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from neuro_trigger.atomic import write_json
from neuro_trigger.config import PACKABLE_KEYS
from neuro_trigger.data.families import FAMILIES
from neuro_trigger.data.splits import SPLITS, resolve_files
from neuro_trigger.errors import UserError, describe
from neuro_trigger.evaluation.metric_table import SWEEP_METRICS, higher_is_better
from neuro_trigger.runs.request import RunRequest, resolve_request
from neuro_trigger.sweeping.space import Space, encode, nested

METHODS = ("grid", "random", "tpe")
BASE_METRICS = set(SWEEP_METRICS)  # overall metrics of summary.json; each `_fixed` variant is accepted too
METRIC = re.compile(r"^([a-z]+)/([a-z_]+)$")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def check_metric(metric: str) -> tuple[str, str]:
    """('val', 'loss_vs_old') of 'val/loss_vs_old'; a name that no run writes is a user error."""
    match = METRIC.match(metric)
    if not match or match.group(1) not in SPLITS:
        raise UserError(f"--metric {metric!r}: expected SPLIT/NAME with SPLIT one of {', '.join(SPLITS)}, "
                        f"e.g. val/loss_vs_old")
    split, name = match.groups()
    if name.replace("_fixed", "") not in BASE_METRICS:
        close = difflib.get_close_matches(name, sorted(BASE_METRICS), n=1)
        hint = f" (did you mean {split}/{close[0]}?)" if close else ""
        raise UserError(f"--metric {metric!r}: unknown metric{hint}; known: {', '.join(sorted(BASE_METRICS))} "
                        f"(and their _fixed versions)")
    return split, name


def check_metric_of_family(metric: str, base: dict, config: str) -> None:
    """A metric that no run of the config's family writes (another family's output, or the old network where
    its files carry none and no compare_to stands in) is a user error: every trial would fail on it."""
    family, words = FAMILIES[base["family"]], metric.split("/", 1)[1].split("_")
    outputs = {name for other in FAMILIES.values() for name in other.output_names}
    if words[0] in outputs and words[0] not in family.output_names:
        raise UserError(f"--metric {metric!r}: {config} runs ({family.name} family) have no {words[0]} output "
                        f"(theirs: {', '.join(family.output_names)}); use e.g. {family.sweep_metric}")
    if "old" in words and not family.old_network_in_files and not base.get("compare_to"):
        raise UserError(f"--metric {metric!r}: {config} runs ({family.name} family) have no old network: "
                        f"their files carry no hardware prediction and the config sets no compare_to; "
                        f"use {family.sweep_metric} or set compare_to")


def default_direction(metric: str) -> str:
    return "maximize" if higher_is_better(metric.split("/", 1)[1]) else "minimize"


@dataclass
class Definition:
    name: str
    config: str
    space: Space
    seeds: int = 1
    method: str = "grid"
    trials: int | None = None  # random/TPE: finished trials to stop at
    metric: str = "val/loss_vs_old"
    direction: str = "minimize"
    data_files: dict[str, list[str]] | None = None
    base_seed: int = 42
    description: str = ""
    extra: dict = field(default_factory=dict)  # not part of the identity (storage shown, workers, ...)

    def identity(self) -> dict:
        """What must match for a rerun to continue this sweep."""
        data = asdict(self)
        data["space"] = self.space.to_json()
        data.pop("extra")
        data.pop("description")
        return data

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.identity(), sort_keys=True, default=str).encode()).hexdigest()[:8]

    def seed_values(self) -> list[int]:
        return [self.base_seed + i for i in range(self.seeds)]

    def grid_trials(self) -> list[dict]:
        """Every grid point x seed as Optuna `params` (encoded) and the seed, in a fixed order."""
        return [{"params": {k: encode(v) for k, v in point.items()}, "seed": seed}
                for point in self.space.grid_points() for seed in self.seed_values()]

    def overrides(self, params: dict[str, Any], seed: int) -> dict:
        """The nested `-m` overrides of one trial: plain overrides, its parameters, its seed."""
        return nested({**self.space.overrides, **params, "seed": seed})

    def to_json(self) -> dict:
        return {**self.identity(), "description": self.description, "extra": self.extra}

    @classmethod
    def from_json(cls, data: dict) -> "Definition":
        data = dict(data)
        data["space"] = Space.from_json(data["space"])
        return cls(**data)


def packable(overrides: dict, other: dict) -> bool:
    """Whether two trials' overrides differ only in seed, learning rate or weight decay (top level)."""
    def rest(o: dict) -> dict:
        return {k: v for k, v in o.items() if k not in PACKABLE_KEYS}
    return rest(overrides) == rest(other)


def validate(definition: Definition) -> None:
    """Resolve the config at every grid value, range bound and choice; check metric, method, data files."""
    if not NAME.match(definition.name):
        raise UserError(f"--name {definition.name!r}: use letters, digits, '_', '-' and '.'")
    if definition.method not in METHODS:
        raise UserError(f"--method {definition.method!r}: expected one of {', '.join(METHODS)}")
    if definition.method == "grid" and definition.space.ranges:
        key = next(iter(definition.space.ranges))
        raise UserError(f"-m {key}: ranges need --method random or tpe (grid takes comma lists)")
    if definition.method != "grid" and (definition.trials is None or definition.trials < 1):
        raise UserError(f"--method {definition.method}: give the number of trials with --trials N (N >= 1)")
    if definition.seeds < 1:
        raise UserError(f"--seeds {definition.seeds}: expected a number >= 1")
    if "seed" in definition.space.axes or "seed" in definition.space.ranges:
        raise UserError("-m seed: use --seeds N to repeat every point with seeds seed, seed+1, ...")
    check_metric(definition.metric)
    if definition.direction not in ("minimize", "maximize"):
        raise UserError(f"--direction {definition.direction!r}: expected minimize or maximize")
    for point in definition.space.example_points():
        request = RunRequest(definition.config, definition.overrides(point, definition.base_seed), production=True,
                             data_files=definition.data_files)
        config = resolve_request(request)
    if config["data"] != "synthetic":
        for split, paths in resolve_files(config["data"]).items():
            for path in paths:
                if not path.is_file():
                    raise UserError(f"--data {split}: no such file {path}")


def load(sweep_dir: Path) -> Definition:
    try:
        return Definition.from_json(json.loads((sweep_dir / "sweep.json").read_text()))
    except (OSError, ValueError, TypeError, KeyError, RecursionError) as e:
        raise UserError(f"{sweep_dir}: not a sweep folder (no readable sweep.json: {describe(e)})") from None


def save(sweep_dir: Path, definition: Definition) -> None:
    """Write sweep.json; an existing one with a different definition is refused."""
    path = sweep_dir / "sweep.json"
    if path.is_file():
        existing = load(sweep_dir)
        if existing.identity() != definition.identity():
            raise UserError(f"sweep {definition.name!r} already exists in {sweep_dir} with a different definition; "
                            f"continue it with --resume {definition.name} or choose another --name")
        return
    sweep_dir.mkdir(parents=True, exist_ok=True)
    write_json(path, definition.to_json())


def set_pack(sweep_dir: Path, pack: int) -> None:
    """Record `--pack K` in sweep.json for the workers (outside the identity: packing changes speed only)."""
    set_extra(sweep_dir, "pack", pack)


def set_extra(sweep_dir: Path, key: str, value: Any) -> None:
    """Record how the workers run trials (`pack`, `tracking`) in sweep.json, outside the sweep's identity."""
    data = json.loads((sweep_dir / "sweep.json").read_text())
    data.setdefault("extra", {})[key] = value
    write_json(sweep_dir / "sweep.json", data)
