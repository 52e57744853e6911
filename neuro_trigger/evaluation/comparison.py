"""Comparing finished runs: which is better than the hardware network, and why they differ.

Runs that differ only in their seed form one group (mean ± std); the hyperparameters that
differ between the groups are shown; runs on different data files are flagged.
"""
import json
import math
import string
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neuro_trigger.evaluation import metric_table
from neuro_trigger.evaluation.verdict import standard_error

KEY_METRICS = list(metric_table.COMPARE_METRICS)  # fixed-point ones for deployable runs (absent: "-")
NOT_HYPERPARAMETERS = {"description", "seed", "data", "save_train_predictions", "plot_every",  # not of the network
                       "tracking_uri"}


@dataclass
class Run:
    path: Path
    summary: dict = field(default_factory=dict)

    @property
    def status(self) -> str:
        return self.summary.get("status", "no summary.json")

    @property
    def data_key(self) -> str:
        return self.data_key_by({})

    def data_key_by(self, content_of: dict[str, str]) -> str:
        """The data's fingerprint: the content hash (a re-gzipped file is the same data). Summaries from before
        it have only the byte hash, taken as the content hash `content_of` knows for the same bytes."""
        def key(entry: dict):
            digest = entry.get("sha256")
            known = content_of.get(digest, digest) if isinstance(digest, str) else digest
            return entry.get("content_sha256") or known

        return json.dumps({s: [key(f) for f in files] for s, files in self.summary.get("data", {}).items()},
                          sort_keys=True, default=str)

    @property
    def fingerprinted_by_bytes(self) -> bool:
        """Recorded by a release before content fingerprints (only the bytes' sha256 of some data file)."""
        return any(not f.get("content_sha256") for files in self.summary.get("data", {}).values() for f in files)

    def hyperparameters(self) -> dict[str, str]:
        """Config flattened to dotted keys, values as JSON text."""
        flat: dict[str, str] = {}

        def walk(prefix: str, value) -> None:
            if isinstance(value, dict) and value:
                for k, v in value.items():
                    walk(f"{prefix}.{k}" if prefix else k, v)
            else:
                flat[prefix] = json.dumps(value, sort_keys=True)

        walk("", {k: v for k, v in self.summary.get("config", {}).items() if k not in NOT_HYPERPARAMETERS})
        return flat


def _mean_error(errors: list[float]) -> float:
    """The statistical error of a mean over seeds: each run's error added in quadrature, divided by n."""
    finite = [e for e in errors if e is not None and math.isfinite(e)]
    return float(np.sqrt(np.sum(np.square(finite))) / len(finite)) if finite and len(finite) == len(errors) \
        else float("nan")


def _scopes(runs: list[Run], split: str, experts: bool) -> list[tuple[str, object]]:
    """("overall", metrics getter) and, with `experts`, one per expert."""
    scopes = [("overall", lambda r: r.summary.get("metrics", {}).get(split) or {})]
    if experts:
        names = sorted({n for r in runs for n in r.summary.get("experts", {})})
        scopes += [(n, lambda r, n=n: r.summary["experts"].get(n, {}).get("metrics", {}).get(split) or {})
                   for n in names]
    return scopes


def compare(runs: list[Run], split: str = "test", metric: str = "loss_vs_old", experts: bool = False) -> dict:
    """Every run (`runs`, each with its group and metrics) and the seed groups (`rows`: one per group and
    scope, mean ± std over the seeds and the statistical error of the mean), the differing
    hyperparameters and the data flags. The layout is documented in docs/compare.md."""
    finished = [r for r in runs if r.status == "finished"]
    by_bytes = [r for r in finished if r.fingerprinted_by_bytes]
    content_of = {f["sha256"]: f["content_sha256"] for r in finished for files in r.summary.get("data", {}).values()
                  for f in files if isinstance(f.get("sha256"), str) and f.get("content_sha256")}  # same bytes
    data_keys = {id(r): r.data_key_by(content_of) for r in runs}
    data_letters: dict[str, str] = {}
    for run in finished:
        data_letters.setdefault(data_keys[id(run)], string.ascii_uppercase[len(data_letters) % 26])
    hyper = {id(r): r.hyperparameters() for r in finished}
    keys = sorted({k for h in hyper.values() for k in h})
    differing = [k for k in keys if len({hyper[id(r)].get(k) for r in finished}) > 1]
    groups: dict[tuple, list[Run]] = {}
    for run in finished:
        key = (run.summary.get("config_name"), json.dumps(hyper[id(run)], sort_keys=True), data_keys[id(run)])
        groups.setdefault(key, []).append(run)
    scopes = _scopes(finished, split, experts)
    group_of = {id(r): number for number, members in enumerate(groups.values()) for r in members}
    rows = []
    for number, members in enumerate(groups.values()):
        for scope, metrics_of in scopes:
            row = {"group": number, "runs": [str(r.path) for r in members], "count": len(members),
                   "config": members[0].summary.get("config_name"),
                   "descriptions": [r.summary.get("description") for r in members],
                   "description": members[0].summary.get("description"),
                   "status": "finished", "scope": scope, "data": data_letters[data_keys[id(members[0])]],
                   "seeds": [r.summary.get("seed") for r in members],
                   "hyperparameters": {k: json.loads(hyper[id(members[0])].get(k, "null")) for k in differing}}
            for name in KEY_METRICS:
                row[name], std, _ = metric_table.seed_spread([metrics_of(r).get(name) for r in members])
                row[f"{name}_std"] = float("nan") if std is None else std  # ddof 1, as summary.json `seeds`
                row[f"{name}_err"] = _mean_error([standard_error(metrics_of(r), name) for r in members])
            rows.append(row)
    descending = metric_table.higher_is_better(metric)
    rows.sort(key=lambda r: (r["scope"] != "overall", _sort_value(r.get(metric), descending)))
    order = {number: i for i, number in enumerate(dict.fromkeys(r["group"] for r in rows))}
    listed = []
    for run in sorted(runs, key=lambda r: (order.get(group_of.get(id(r)), len(order)), str(r.path))):
        entry = {"run": str(run.path), "config": run.summary.get("config_name"),
                 "description": run.summary.get("description"), "status": run.status,
                 "seed": run.summary.get("seed"), "group": group_of.get(id(run)),
                 "data": data_letters.get(data_keys[id(run)]) if run.status == "finished" else None,
                 "hyperparameters": ({k: json.loads(hyper[id(run)].get(k, "null")) for k in differing}
                                     if run.status == "finished" else {}),
                 "metrics": {}}
        seeds = run.summary.get("seeds") if run.status == "finished" else None
        if seeds:  # packed seeds: the spread of the whole network over them
            spread = seeds.get("metrics", {}).get(split, {})
            entry["packed_seeds"] = {"seeds": seeds.get("seeds"),
                                     "metrics": {name: spread[name] for name in KEY_METRICS if name in spread}}
        if run.status == "finished":
            for scope, metrics_of in scopes:
                metrics = metrics_of(run)
                entry["metrics"][scope] = {**{name: metrics.get(name) for name in KEY_METRICS},
                                           **{f"{name}_err": standard_error(metrics, name) for name in KEY_METRICS}}
        listed.append(entry)
    unfinished = [{"runs": [str(r.path)], "status": r.status, "config": r.summary.get("config_name"),
                   "description": r.summary.get("description")} for r in runs if r.status != "finished"]
    return {"split": split, "metric": metric, "runs": listed, "rows": rows, "unfinished": unfinished,
            "differing_hyperparameters": differing, "data_sets": len(data_letters),
            "data_mismatch": len(data_letters) > 1,
            "fingerprinted_by_bytes": [str(r.path) for r in by_bytes] if len(by_bytes) < len(finished) else []}


def _sort_value(value, descending: bool) -> float:
    if value is None or not math.isfinite(value):
        return math.inf
    return -value if descending else value
