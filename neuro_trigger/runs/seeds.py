"""Packed seeds in a run (`pack: {"seeds": K}`): the copies' configs, and their sub-results in the run folder.

Copy k of every expert has seed `seed + k`, so it starts and is fed exactly as a single-network run with
that seed would be. The run keeps one sub-result per seed: `weights_seed<s>.json` and the seed's metrics
in summary.json `seeds`, with the mean and std over the seeds of every metric. `weights.json` and the
predictions files hold, per expert, the copy with the lowest val loss.
"""
import logging
from pathlib import Path

from neuro_trigger.data.splits import SPLITS
from neuro_trigger.evaluation.metric_table import seed_spread
from neuro_trigger.evaluation.fixed_twins import point_figures
from neuro_trigger.evaluation.verdict import format_pm
from neuro_trigger.runs import export
from neuro_trigger.runs.combined import combine_experts
from neuro_trigger.training.pack import Copies

log = logging.getLogger("neuro_trigger.seeds")


def copy_configs(expert_config: dict) -> list[dict]:
    """The configs of an expert's packed copies (none without `pack`)."""
    pack = expert_config.get("pack")
    if not pack:
        return []
    return [{**expert_config, "seed": expert_config["seed"] + k} for k in range(pack["seeds"])]


def weights_file(seed: int) -> str:
    return f"weights_seed{seed}.json"


def spread(per_seed: list[dict]) -> dict:
    """{metric: {'mean', 'std', 'n'}} over the seeds, for every finite numeric metric (std with ddof 1)."""
    names = sorted({k for m in per_seed for k, v in m.items() if isinstance(v, (int, float))})
    spreads = {name: seed_spread([m.get(name) for m in per_seed]) for name in names}
    return {name: {"mean": mean, "std": std, "n": n} for name, (mean, std, n) in spreads.items() if n}


def export_seeds(run_dir: Path, data: dict, prepared: dict, copies: dict[int, Copies], results: dict,
                 summary: dict, config: dict) -> None:
    """weights_seed<s>.json per seed, and summary.json `seeds`: each seed's metrics per split and their spread,
    overall and per expert."""
    trained = [x for x, r in results.items() if r.copy_predictions]
    if not trained:
        return
    seeds = copies[trained[0]].seeds
    per_seed = []
    for k, seed in enumerate(seeds):
        export.write_weights(run_dir, {x: copies[x].networks[k] for x in trained}, weights_file(seed))
        metrics = {}
        for split in SPLITS:
            combined = combine_experts(data, prepared, {x: results[x].copy_predictions[k] for x in trained}, split)
            if combined is not None:
                tracks, pred, reference, _ = combined
                metrics[split] = point_figures(pred, tracks.reco, reference, config)
        per_seed.append({"seed": seed, "weights": weights_file(seed), "metrics": metrics})
    summary["seeds"] = {
        "seeds": seeds,
        "best_seed": {export.expert_key(x): results[x].best_seed for x in trained},
        "per_seed": per_seed,
        "metrics": {split: spread([s["metrics"][split] for s in per_seed if split in s["metrics"]])
                    for split in SPLITS},
        "experts": {export.expert_key(x): _expert_spread(prepared[x], results[x].copy_predictions, config)
                    for x in trained},
    }
    test = summary["seeds"]["metrics"].get("test", {}).get("z_diff_std")
    if test:
        log.info("%d seeds: test z_diff_std %s (std over seeds)", len(seeds),
                 format_pm(test["mean"], test["std"] if test["std"] is not None else float("nan"), "cm"))


def _expert_spread(data, copy_predictions: list[dict], config: dict) -> dict:
    """One expert's metrics per split, as mean and std over its copies."""
    return {split: spread([point_figures(p[split], data.splits[split].reco, data.reference[split], config)
                           for p in copy_predictions])
            for split in SPLITS}
