"""`nt.dataset`: the rows one expert of a config trains on, after its filters, with the sampler's weights."""
from pathlib import Path

from neuro_trigger.api.training import nested_overrides
from neuro_trigger.constants import ALL_EXPERTS, ID_COLUMNS, INPUT_COLUMNS, SPLITS, TAIL_COLUMNS
from neuro_trigger.errors import UserError


def dataset(config: str, split: str = "train", expert: int = ALL_EXPERTS, overrides: dict | list[str] | None = None,
            data: dict | None = None):
    """The rows of `split` that `expert` of the named config uses (the config's filter and the expert's routing
    applied, as training selects them), one row per track with the input columns, and `sampler_weight`: the
    relative chance that the expert's sampler draws the row in an epoch (1 for every row without `dist`)."""
    import numpy as np
    import pandas as pd

    from neuro_trigger import config as config_lib
    from neuro_trigger.data import io
    from neuro_trigger.data.sampler import bucket_of
    from neuro_trigger.data.splits import resolve_files
    from neuro_trigger.training import expert_data
    from neuro_trigger.training.expert_evaluation import make_sampler

    if split not in SPLITS:
        raise UserError(f"split {split!r}: expected one of {', '.join(SPLITS)}")
    changes = nested_overrides(overrides)
    resolved = config_lib.resolve(config, changes if data is None else {**changes, "data": data})
    files = resolve_files(resolved["data"])
    for path in (p for paths in files.values() for p in paths):
        if not Path(path).exists():
            raise UserError(f"{path}: data file not found")
    tracks = {s: io.read_files(files[s]) for s in SPLITS}
    prepared = expert_data.select(resolved, [expert], tracks, {s: tracks[s].old for s in SPLITS})[expert]
    rows = prepared.splits[split]
    columns = {name: rows.ids[:, i] for i, name in enumerate(ID_COLUMNS)}
    columns.update({name: rows.inputs[:, i] for i, name in enumerate(INPUT_COLUMNS)})
    columns.update({name: rows.reco[:, i] for i, name in enumerate(TAIL_COLUMNS[:2])})
    columns.update({"OldZ": rows.old[:, 0], "OldTheta": rows.old[:, 1], "row": rows.row})
    weight = np.ones(len(rows))
    if split == "train" and prepared.config["dist"]:
        sampler = make_sampler(prepared)  # the z-bucket sampler: a row's chance is its bucket's share over its rows
        bucket = bucket_of(rows.z_reco, sampler.n_buckets)
        per_row = sampler.probabilities[bucket] / np.maximum(sampler.counts[bucket], 1)
        weight = per_row * len(rows)  # 1 on average, as without reweighting
    columns["sampler_weight"] = weight
    return pd.DataFrame(columns)
