"""`report.html`: one self-contained page per run. A summary page first (the verdict against the hardware
network with uncertainties, deployability, fingerprints, links), then a table of contents and one section per
expert (per output for a 3DH network) with its figures, float and fixed point overlaid (report_sections.py).

Images are embedded as base64 PNG, styles are inline; no external asset, no JavaScript.
"""
import html
import json
from pathlib import Path

from neuro_trigger.data.splits import shared_data_warning
from neuro_trigger.evaluation import verdict as verdict_lib, verdict_3dh
from neuro_trigger.evaluation.report_sections import SECTION_BUILDERS, Section, figure_groups, toc
from neuro_trigger.evaluation.report_tables import (fingerprints, links, seeds_section, verdict_sentences,
                                                    verdict_table, verdict_table_3dh)

__all__ = ["ERRORS_OF_SPLIT", "SHOWN_SPLITS", "render", "seeds_section", "verdict_table"]

# the splits whose verdict tables the page shows, and the figures of each split that get bootstrap errors in a
# run (metrics.ERRORS): what the verdict tables and the plots (test split) show, nothing of the train split
FIGURES_PENDING = "pending"  # summary.json's "figures" of a run made without plots (sweep trials), until drawn
SHOWN_SPLITS = ("test", "val")
ERRORS_OF_SPLIT = {"test": "verdict_and_plots", "val": "verdict", "train": "none"}
STYLE = """body{font-family:sans-serif;margin:2em auto;max-width:1320px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:4px 8px;text-align:right}
th{background:#eee}td:first-child{text-align:left}td.path{word-break:break-all}.fingerprints td{text-align:left}
.better{background:#d9f2d9}.worse{background:#f9dcdc}.unknown{color:#888}ul.verdict li{margin:4px 0}
.scroll{overflow-x:auto;max-width:100%}section{border-top:2px solid #ccc;margin-top:2em}
.figures{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0;width:640px;max-width:100%}
figure img{width:100%;height:auto}figcaption{font-size:12px;color:#555}
.tag{background:#e3ecf7;border-radius:3px;padding:0 4px}.deployability{font-size:1.1em}
.deployability.yes b{color:#1a7f1a}.deployability.no b{color:#b00}nav#toc ol{columns:2}
pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px}details{margin:1em 0}"""


def _scroll(table: str) -> str:
    """A wide table scrolls inside its box instead of running off the page."""
    return f"<div class='scroll'>{table}</div>"


def deployability(summary: dict) -> str:
    """One line for the whole run: deployable on the FPGAs or not, with every expert's reason."""
    entries = summary.get("deployable") or {}
    if not entries:
        return "<p class='deployability'>deployable: unknown (no weights exported)</p>"
    refused = {name: entry.get("reason") for name, entry in entries.items() if not entry.get("deployable")}
    if not refused:
        return (f"<p class='deployability yes'>deployable: <b>yes</b>, every network "
                f"({html.escape(', '.join(verdict_lib.scope_name(n) for n in entries))}) in the FPGA's form "
                "(weights.json)</p>")
    reasons = "; ".join(f"{verdict_lib.scope_name(n)}: {r}" for n, r in refused.items())
    return f"<p class='deployability no'>deployable: <b>no</b>, {html.escape(reasons)}</p>"


def _verdict_blocks(summary: dict) -> list[str]:
    if verdict_3dh.is_3dh(summary):
        return [verdict_table_3dh(summary)]
    e = html.escape
    z_cut = e(str(summary.get("metrics", {}).get("test", {}).get("z_cut_cm", "")))
    return [
        "<h3>Verdict against the old (hardware) network</h3>", verdict_sentences(summary, "test"),
        f"<p>Test split; each figure is better, worse or indistinguishable at {verdict_lib.CONFIDENCE} confidence, "
        "paired (the same tracks for the network and the old network); ± is one standard error "
        "(docs/metrics.md). Where fixed-point figures exist, the verdict is that of the fixed-point network. "
        f"Trigger figures at |z| &lt; {z_cut} cm: efficiency for |z_reco| &lt; 1 cm tracks, rejection of "
        "|z_reco| &gt; 25 cm tracks.</p>",
        _scroll(verdict_table(summary, SHOWN_SPLITS[0])),
        "<p>The validation split's table is under <a href='#details'>Run details</a>.</p>"]


def summary_page(summary: dict) -> Section:
    """What a meeting needs first: the verdict, deployability, the spread over seeds, what the run is made of."""
    e = html.escape
    warning = shared_data_warning(summary.get("data", {}))
    run_dir = Path(summary.get("run_dir", ""))
    blocks = [f"<p>status: <b>{e(summary.get('status', ''))}</b>; {e(summary.get('description') or '(no description)')}"
              "</p>", *([f"<p class='warning'><b>warning:</b> {e(warning)}</p>"] if warning else []),
              deployability(summary), *_verdict_blocks(summary)]
    if summary.get("figures") == FIGURES_PENDING:
        blocks.append(f"<p>Figures not drawn yet (a sweep trial): <code>python neuro_trigger/main.py --draw "
                      f"{e(summary.get('run_dir', 'RUN_DIR'))}</code> draws them into this page.</p>")
    seeds = seeds_section(summary, "test")
    if seeds:
        blocks.append(_scroll(seeds))
    blocks += ["<h3>Fingerprints</h3>", _scroll(fingerprints(summary)), "<h3>Files</h3>", links(run_dir)]
    return Section("Summary", "summary", blocks)


def details_section(summary: dict) -> Section:
    """How the run was made: timing, the resolved config."""
    e = html.escape
    timing = {**{k: summary.get(k) for k in ("start_time", "end_time", "wall_time_s")}, **summary.get("timing", {})}
    per_expert = {name: {k: (x or {}).get(k) for k in ("epochs", "train_time_s", "samples_per_s")}
                  for name, x in summary.get("experts", {}).items()}
    validation = [] if verdict_3dh.is_3dh(summary) else [
        "<h3>Validation split</h3>", _scroll(verdict_table(summary, SHOWN_SPLITS[1]))]
    return Section("Run details", "details", [
        *validation, f"<h3>Description</h3><p>{e(summary.get('description') or '(none)')}</p>",
        f"<h3>Reproduce</h3><p>git id: <code>{e(str(summary.get('git_id', '')))}</code>, seed "
        f"{e(str(summary.get('seed', '')))}</p>",
        f"<h3>Timing</h3><pre>{e(json.dumps({**timing, 'experts': per_expert}, indent=1))}</pre>",
        f"<details><summary>Config</summary><pre>{e(json.dumps(summary.get('config', {}), indent=1))}</pre>"
        "</details>"])


def sections(summary: dict, images: list[Path]) -> list[Section]:
    """The page's sections in order: the summary, each builder's (SECTION_BUILDERS), the run's details."""
    figures = figure_groups(images)
    built = [section for build in SECTION_BUILDERS for section in build(summary, figures)]
    return [summary_page(summary), *built, details_section(summary)]


def images_of(run_dir: Path, summary: dict) -> list[Path]:
    """The PNGs of a run folder that its page embeds: none while its figures are pending."""
    if summary.get("figures") == FIGURES_PENDING:
        return []
    return sorted(run_dir.glob("plots/*.png")) + sorted(run_dir.glob("expert_*/plots/*.png"))


def render(summary: dict, images: list[Path]) -> str:
    """The report page of a run summary and its PNG plots."""
    e = html.escape
    parts = sections(summary, images)
    title = f"NeuroTrigger run {summary.get('config_name', '')}: {Path(summary.get('run_dir', '')).name}"
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>NeuroTrigger "
            f"{e(summary.get('config_name', ''))}</title><style>{STYLE}</style></head><body><h1>{e(title)}</h1>"
            + parts[0].html() + toc(parts[1:]) + "\n".join(p.html() for p in parts[1:]) + "</body></html>\n")
