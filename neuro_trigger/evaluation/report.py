"""`report.html`: one self-contained page per run that opens with the verdict against the hardware network.

Images are embedded as base64 PNG, styles are inline; no external asset, no JavaScript.
"""
import base64
import html
import json
from pathlib import Path

from neuro_trigger.data.splits import shared_data_warning
from neuro_trigger.evaluation import metric_table, verdict as verdict_lib, verdict_3dh

# the splits whose verdict tables the page shows, and the figures of each split that get bootstrap errors in a
# run (metrics.ERRORS): what the verdict tables and the plots (test split) show, nothing of the train split
FIGURES_PENDING = "pending"  # summary.json's "figures" of a run made without plots (sweep trials), until drawn
SHOWN_SPLITS = ("test", "val")
ERRORS_OF_SPLIT = {"test": "verdict_and_plots", "val": "verdict", "train": "none"}
STYLE = """body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #bbb;padding:4px 8px;text-align:right}th{background:#eee}td:first-child{text-align:left}
.better{background:#d9f2d9}.worse{background:#f9dcdc}.unknown{color:#888}ul.verdict li{margin:4px 0}
img{max-width:560px;margin:4px}pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px}"""


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


def verdict_table(summary: dict, split: str = "test") -> str:
    """value ± error of the network (float and fixed point where known) and of the old network, per figure
    and scope, coloured by the class of the figure (better green, worse red, indistinguishable plain)."""
    verdicts = verdict_lib.run_verdicts(summary, split)
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
    missing = [name for name, e in summary.get("experts", {}).items() if not e.get("metrics", {}).get(split)]
    rows += [f"<tr><td>{html.escape(verdict_lib.scope_name(name))}</td>"
             f"<td colspan={len(figures) + fixed}>no result</td></tr>" for name in missing]
    return f"<table><tr><th>{split}</th>{head}</tr>{''.join(rows)}</table>"


def verdict_sentences(summary: dict, split: str = "test") -> str:
    items = "".join(f"<li>{html.escape(s)}</li>" for s in verdict_lib.summary_sentences(summary, split))
    return f"<ul class='verdict'>{items}</ul>" if items else "<p>no finished expert to judge</p>"


SEED_FIGURES = metric_table.names(metric_table.SEEDS)


def seeds_section(summary: dict, split: str = "test") -> str:
    """Packed seeds: each seed's figures, then their mean ± std over the seeds (empty for a single seed)."""
    seeds = summary.get("seeds")
    if not seeds:
        return ""
    e = html.escape
    head = "".join(f"<th>{e(name)}</th>" for name in SEED_FIGURES)
    best = ", ".join(f"{e(x)}: {s}" for x, s in seeds.get("best_seed", {}).items())
    rows = []
    for entry in seeds["per_seed"]:
        metrics = entry["metrics"].get(split, {})
        cells = "".join(f"<td>{_number(metrics.get(name))}</td>" for name in SEED_FIGURES)
        rows.append(f"<tr><td>seed {entry['seed']} <small>{e(entry['weights'])}</small></td>{cells}</tr>")
    spread = seeds["metrics"].get(split, {})
    cells = "".join(f"<td>{_number(spread.get(name, {}).get('mean'))} ± {_number(spread.get(name, {}).get('std'))}"
                    "</td>" for name in SEED_FIGURES)
    rows.append(f"<tr><th>mean ± std</th>{cells}</tr>")
    return (f"<h2>{len(seeds['per_seed'])} seeds, trained packed</h2><p>{split} split. weights.json holds each "
            f"expert's copy with the lowest val loss ({best}); the spread over seeds is the training's own "
            f"variation, apart from the statistical errors above.</p><table><tr><th>{split}</th>{head}</tr>"
            + "".join(rows) + "</table>")


def _number(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" title="{html.escape(str(path.parent.name))}/{html.escape(path.stem)}" ' \
           f'src="data:image/png;base64,{data}">'


def images_of(run_dir: Path, summary: dict) -> list[Path]:
    """The PNGs of a run folder that its page embeds: none while its figures are pending."""
    if summary.get("figures") == FIGURES_PENDING:
        return []
    return sorted(run_dir.glob("plots/*.png")) + sorted(run_dir.glob("expert_*/plots/*.png"))


def render(summary: dict, images: list[Path]) -> str:
    """The report page of a run summary and its PNG plots."""
    e = html.escape
    timing = {**{k: summary.get(k) for k in ("start_time", "end_time", "wall_time_s")}, **summary.get("timing", {})}
    per_expert_time = {name: {k: x.get(k) for k in ("epochs", "train_time_s", "samples_per_s")}
                       for name, x in summary.get("experts", {}).items()}
    data_files = "".join(f"<li>{e(split)}: {e(f['path'])} <small>sha256 {e(f['sha256'][:16])}…</small></li>"
                         for split, files in summary.get("data", {}).items() for f in files)
    classic_verdict = [
        "<h2>Verdict against the old (hardware) network</h2>",
        verdict_sentences(summary, "test"),
        f"<p>Test split; each figure is better, worse or indistinguishable at {verdict_lib.CONFIDENCE} confidence, "
        "paired (the same tracks for the network and the old network); ± is one standard error "
        "(docs/metrics.md). Where fixed-point figures exist, the verdict is that of the fixed-point network. "
        f"Trigger figures at |z| &lt; {e(str(summary.get('metrics', {}).get('test', {}).get('z_cut_cm', '')))} cm: "
        "efficiency for |z_reco| &lt; 1 cm tracks, rejection of |z_reco| &gt; 25 cm tracks.</p>",
        verdict_table(summary, SHOWN_SPLITS[0]), "<h3>Validation split</h3>", verdict_table(summary, SHOWN_SPLITS[1])]
    sections = [
        f"<h1>NeuroTrigger run {e(summary.get('config_name', ''))}: {e(Path(summary.get('run_dir', '')).name)}</h1>",
        f"<p>status: <b>{e(summary.get('status', ''))}</b></p>",
        *[f"<p class='warning'><b>warning:</b> {e(w)}</p>" for w in [shared_data_warning(summary.get("data", {}))]
          if w],
        *([verdict_3dh.html_section(summary)] if verdict_3dh.is_3dh(summary) else classic_verdict),
        seeds_section(summary, "test"),
        f"<h2>Description</h2><p>{e(summary.get('description') or '(none)')}</p>",
        f"<h2>Data</h2><ul>{data_files}</ul>",
        f"<h2>Reproduce</h2><p>git id: <code>{e(str(summary.get('git_id', '')))}</code>, seed "
        f"{e(str(summary.get('seed', '')))}</p>",
        f"<h2>Timing</h2><pre>{e(json.dumps({**timing, 'experts': per_expert_time}, indent=1))}</pre>",
        f"<h2>Config</h2><pre>{e(json.dumps(summary.get('config', {}), indent=1))}</pre>",
        "<h2>Plots</h2>" + ("".join(_image(p) for p in images) if summary.get("figures") != FIGURES_PENDING else
                            f"<p>not drawn yet (a sweep trial): <code>python neuro_trigger/main.py --draw "
                            f"{e(summary.get('run_dir', 'RUN_DIR'))}</code> draws them into this page</p>"),
    ]
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>NeuroTrigger "
            f"{e(summary.get('config_name', ''))}</title><style>{STYLE}</style></head><body>"
            + "\n".join(sections) + "</body></html>\n")
