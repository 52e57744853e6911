"""The tables of `report.html`: the verdict against the old network, the spread over packed seeds, the data
and config fingerprints. Every number is shown with its uncertainty, rounded to it (`metric_table.format_pm`).
"""
import hashlib
import html
import json
import math
from pathlib import Path

from neuro_trigger.evaluation import metric_table, verdict as verdict_lib, verdict_3dh
from neuro_trigger.evaluation.metric_table import format_pm


def _cell(j: verdict_lib.Judgement | None) -> str:
    if j is None:
        return "<td>-</td>"
    *values, comparison = verdict_lib.cell_lines(j)
    lines = [html.escape(line) for line in values]
    lines.append(f"<small>{html.escape(comparison)}: {j.verdict}</small>")  # the class in words, not colour alone
    title = f"{j.verdict} at {verdict_lib.CONFIDENCE}" + ("" if j.paired else " (unpaired errors)")
    return f'<td class="{j.verdict}" title="{html.escape(title)}">{"<br>".join(lines)}</td>'


def _deviation(summary: dict, metrics: dict) -> str:
    """The largest float-vs-fixed-point z difference of a scope, where the summary has it."""
    value = metrics.get("z_float_vs_fixed_max_cm", summary.get("z_float_vs_fixed_max_cm"))
    return "-" if value is None else f"{float(value):.3g}"


def verdict_table(summary: dict, split: str = "test", scopes: set[str] | None = None) -> str:
    """value ± error of the network (float and fixed point where known) and of the old network, per figure
    and scope (all, or those named in `scopes`: "expert 4", "overall"), coloured by the class of the figure
    (better green, worse red, indistinguishable plain)."""
    verdicts = [v for v in verdict_lib.run_verdicts(summary, split) if scopes is None or v.scope in scopes]
    figures = [f for f in verdict_lib.FIGURES if any(j.figure == f for v in verdicts for j in v.judgements)]
    fixed = any(v.fixed_point for v in verdicts)
    head = "".join(f"<th>{html.escape(verdict_lib.header(f))}</th>" for f in figures)
    if fixed:
        head += "<th>max |z float - z fixed| [cm]</th>"
    metrics_of = {verdict_lib.scope_name(name): expert.get("metrics", {}).get(split, {})
                  for name, expert in summary.get("experts", {}).items()}
    metrics_of["overall"] = summary.get("metrics", {}).get(split, {})
    rows = []
    for verdict in verdicts:
        found = {j.figure.key: j for j in verdict.judgements}
        cells = "".join(_cell(found.get(f.key)) for f in figures)
        if fixed:
            cells += f"<td>{_deviation(summary, metrics_of.get(verdict.scope, {}))}</td>"
        scope = html.escape(verdict.scope) + (" <small>(fixed point)</small>" if verdict.fixed_point else "")
        rows.append(f"<tr><td>{scope}</td>{cells}</tr>")
    missing = [name for name, e in summary.get("experts", {}).items() if not e.get("metrics", {}).get(split)
               and (scopes is None or verdict_lib.scope_name(name) in scopes)]
    rows += [f"<tr><td>{html.escape(verdict_lib.scope_name(name))}</td>"
             f"<td colspan={len(figures) + fixed}>no result</td></tr>" for name in missing]
    return f"<table><tr><th>{split}</th>{head}</tr>{''.join(rows)}</table>"


def verdict_sentences(summary: dict, split: str = "test") -> str:
    items = "".join(f"<li>{html.escape(s)}</li>" for s in verdict_lib.summary_sentences(summary, split))
    return f"<ul class='verdict'>{items}</ul>" if items else "<p>no finished expert to judge</p>"


SEED_FIGURES = metric_table.names(metric_table.SEEDS)


def _seed_header(name: str) -> str:
    metric = metric_table.BY_NAME[name]
    unit = metric.shown_unit or ("" if metric.unit in ("ratio", "loss") else metric.unit)
    return (metric.label or name.replace("_", " ")) + (f" [{unit}]" if unit else "")


def _decimals(err: float | None) -> int | None:
    """The decimals `format_pm` rounds a value with error `err` to (None without a usable error)."""
    if err is None or not (math.isfinite(err) and err > 0):
        return None
    text = format_pm(1.0, err)
    return len(text.split(" ± ")[0].partition(".")[2])


def seeds_section(summary: dict, split: str = "test") -> str:
    """Packed seeds: each seed's figures, then their mean ± std over the seeds (empty for a single seed). The
    mean is rounded to the std; each seed's value to the run's statistical error or the std, whichever is smaller
    (every seed is measured on the same tracks, so their differences can be smaller than the spread)."""
    seeds = summary.get("seeds")
    if not seeds:
        return ""
    e = html.escape
    head = "".join(f"<th>{e(_seed_header(name))}</th>" for name in SEED_FIGURES)
    best = ", ".join(f"{e(x)}: {s}" for x, s in seeds.get("best_seed", {}).items())
    spread = seeds["metrics"].get(split, {})
    statistical = summary.get("metrics", {}).get(split, {})
    rounding = {}
    for name in SEED_FIGURES:
        scale = metric_table.BY_NAME[name].scale
        errors = [spread.get(name, {}).get("std"), verdict_lib.standard_error(statistical, name)]
        places = [d for d in (_decimals(None if x is None else x * scale) for x in errors) if d is not None]
        rounding[name] = (scale, max(places) if places else None)

    def shown(value, name):
        scale, places = rounding[name]
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return "-"
        return f"{value * scale:.4g}" if places is None else f"{value * scale:.{places}f}"

    rows = []
    for entry in seeds["per_seed"]:
        metrics = entry["metrics"].get(split, {})
        cells = "".join(f"<td>{shown(metrics.get(name), name)}</td>" for name in SEED_FIGURES)
        rows.append(f"<tr><td>seed {entry['seed']} <small>{e(entry['weights'])}</small></td>{cells}</tr>")
    def mean_std(name):  # the mean rounded to the spread, as `format_pm` writes any value ± its error
        scale, mean, std = metric_table.BY_NAME[name].scale, *(spread.get(name, {}).get(k) for k in ("mean", "std"))
        if not isinstance(mean, (int, float)):
            return "-"
        return format_pm(mean * scale, float("nan") if std is None else std * scale)

    cells = "".join(f"<td>{mean_std(name)}</td>" for name in SEED_FIGURES)
    rows.append(f"<tr><th>mean ± std</th>{cells}</tr>")
    return (f"<h3>{len(seeds['per_seed'])} seeds, trained packed</h3><p>{split} split. weights.json holds each "
            f"expert's copy with the lowest val loss ({best}); the spread over seeds is the training's own "
            f"variation, apart from the statistical errors above.</p><table><tr><th>{split}</th>{head}</tr>"
            + "".join(rows) + "</table>")


def fingerprints(summary: dict) -> str:
    """What the run is made of, to tell two runs apart: each data file's content hash, the resolved config's
    hash (sha256 of its canonical JSON), the code's git id and the seed."""
    e = html.escape
    rows = []
    for split, files in summary.get("data", {}).items():
        for f in files:
            digest = f.get("content_sha256") or f.get("sha256") or ""
            rows.append(f"<tr><td>data: {e(split)}</td><td><code>{e(str(digest)[:16])}</code></td>"
                        f"<td class='path'>{e(str(f.get('path', '')))}</td></tr>")
    # without the data files (fingerprinted by content above) and the description: the same network definition
    # trained on the same data has the same fingerprint wherever the files lie
    config = json.dumps({k: v for k, v in summary.get("config", {}).items() if k not in ("data", "description")},
                        sort_keys=True, default=str)
    rows.append(f"<tr><td>config</td><td><code>{hashlib.sha256(config.encode()).hexdigest()[:16]}</code></td>"
                f"<td>{e(str(summary.get('config_name', '')))}, seed {e(str(summary.get('seed', '')))}</td></tr>")
    rows.append(f"<tr><td>code</td><td><code>{e(str(summary.get('git_id', ''))[:16])}</code></td>"
                f"<td>git id (git_diff.txt: uncommitted changes)</td></tr>")
    return ("<table class='fingerprints'><tr><th>what</th><th>sha256 (first 16)</th><th>of</th></tr>"
            + "".join(rows) + "</table>")


LINKED = ("summary.json", "weights.json", "weights_seed*.json", "predictions_*.csv*", "app.log", "git_diff.txt",
          "expert_*/result.json")


def links(run_dir: Path) -> str:
    """Links (relative to the report) to the run's files that exist."""
    found = [p for pattern in LINKED for p in sorted(run_dir.glob(pattern))]
    items = "".join(f"<li><a href='{html.escape(p.relative_to(run_dir).as_posix())}'>"
                    f"{html.escape(p.relative_to(run_dir).as_posix())}</a></li>" for p in found)
    return f"<ul class='links'>{items}</ul>" if items else "<p>no files yet</p>"


def output_cells(row: dict) -> str:
    """A 3DH output's float and fixed-point cells (`verdict_3dh.rows`), value ± error rounded to the error, and
    the reference's value (the compare_to baseline's or the trivial predictor's)."""
    unit = f" {row['unit']}" if row["unit"] else ""
    cells = "".join(f"<td class='{html.escape(row['verdict' + fixed].split()[0])}'>"
                    f"{html.escape(format_pm(row['value' + fixed], row['error' + fixed]) + unit)}<br>"
                    f"<small>{html.escape(row['verdict' + fixed])}</small></td>" for fixed in ("", "_fixed"))
    return cells + f"<td>{row['trivial']:.4g}{html.escape(unit)}</td>"


def reference_3dh(metrics: dict) -> tuple[str, str]:
    """What a 3DH run is judged against: its column heading and its name in a sentence."""
    if verdict_3dh.has_baseline(metrics):
        return "compare_to baseline", "the compare_to baseline"
    return "trivial", "the trivial predictor"


def verdict_table_3dh(summary: dict, split: str = "test") -> str:
    """A 3DH run's verdict: per output its figure, float and fixed point, against the compare_to baseline or the
    trivial predictor, and the fixed-point pre-activations' distance from wrapping."""
    metrics = summary.get("metrics", {}).get(split, {})
    heading, reference = reference_3dh(metrics)
    rows = "".join(f"<tr><td>{html.escape(r['output'])} {html.escape(r['figure'])}</td>{output_cells(r)}</tr>"
                   for r in verdict_3dh.rows(metrics))
    wrap = ""
    if "wrap_tracks" in metrics:
        wrap = (f"<p>wrap: {metrics['wrap_tracks']} tracks reach |pre-activation| &gt;= "
                f"{metrics['wrap_at'] - metrics['wrap_margin']:g} (largest {metrics['max_preactivation']:.2f})</p>")
    return (f"<h3>Verdict per output against {reference} ({split} split)</h3><p>Better or worse: a "
            "difference beyond two standard errors; ± is one standard error.</p><table><tr><th>output</th>"
            f"<th>float</th><th>fixed point</th><th>{heading}</th></tr>{rows}</table>{wrap}")
