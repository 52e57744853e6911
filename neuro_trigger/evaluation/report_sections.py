"""The sections of `report.html` as data: a title, an anchor, HTML blocks (paragraphs, tables) and figures.

The page is the summary first, then one section per builder in `SECTION_BUILDERS` order, each listed in the
table of contents. A new kind of figure set gets its section by adding one builder, a function
`(summary, figures) -> list[Section]` that takes the figures it shows out of `figures` (a dict of the PNGs by
their folder, `figure_groups`); whatever no builder took is shown at the end, so no figure is ever lost.
"""
import base64
import html
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from neuro_trigger.evaluation import precision_plots, verdict as verdict_lib, verdict_3dh
from neuro_trigger.evaluation.plot_style import CURVES_KEY
from neuro_trigger.evaluation.report_tables import output_cells, reference_3dh, verdict_table

RUN_FOLDER = "run"  # the key of the run's own plots/ in `figure_groups` (the combined network of all experts)
# the order figures are shown in, as a talk would go: z first, then the trigger, theta, the sampler; others after
FIGURE_ORDER = ("z_reco_vs_pred", "z_diff_hist", "z_resolution_vs_z", "z_pred_hist", "efficiency_vs_z",
                "trigger_vs_cut", "z_resolution_vs_theta", "z_resolution_vs_pt", "theta_reco_vs_pred",
                "theta_diff_hist", "z_buckets", "roc", "efficiency_vs_theta")


@dataclass
class Section:
    title: str
    anchor: str  # the id the table of contents links to
    blocks: list[str] = field(default_factory=list)  # HTML fragments in order: paragraphs, tables
    figures: list[Path] = field(default_factory=list)

    def html(self) -> str:
        figures = "".join(figure_html(path) for path in self.figures)
        return (f"<section id='{html.escape(self.anchor)}'><h2>{html.escape(self.title)}</h2>" + "".join(self.blocks)
                + (f"<div class='figures'>{figures}</div>" if figures else "") + "</section>")


Builder = Callable[[dict, dict], list[Section]]


def figure_groups(images: list[Path]) -> dict[str, list[Path]]:
    """The PNGs by the folder that holds their plots/ folder: `RUN_FOLDER` for the run's, `expert_4`, ..."""
    groups: dict[str, list[Path]] = {}
    for path in images:
        owner = path.parent.parent.name if path.parent.name == "plots" else path.parent.name
        key = RUN_FOLDER if path.parent.name == "plots" and not owner.startswith("expert_") else owner
        groups.setdefault(key, []).append(path)
    rank = {name: i for i, name in enumerate(FIGURE_ORDER)}
    return {key: sorted(paths, key=lambda p: (rank.get(p.stem, len(rank)), p.stem)) for key, paths in groups.items()}


def png_curves(data: bytes) -> list[str]:
    """The labels of the curves a PNG of ours draws (its `CURVES_KEY` text chunk; empty where it has none)."""
    position = 8  # after the signature
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        if kind in (b"tEXt", b"zTXt", b"iTXt"):
            key, _, text = body.partition(b"\0")
            if key.decode("latin-1") == CURVES_KEY:
                if kind == b"zTXt":
                    text = zlib.decompress(text[1:])
                elif kind == b"iTXt":  # flag, method, language\0, translated keyword\0, text
                    compressed, rest = text[0], text[2:]
                    text = rest.split(b"\0", 2)[2]
                    text = zlib.decompress(text) if compressed else text
                return [line for line in text.decode("utf-8", "replace").split("\n") if line]
        if kind == b"IDAT":  # matplotlib writes its text chunks before the image data
            break
        position += 12 + length
    return []


def figure_html(path: Path) -> str:
    """An embedded PNG with its name and the curves it overlays as the caption."""
    data = path.read_bytes()
    curves = png_curves(data)
    e = html.escape
    fixed = any("fixed point" in c for c in curves)
    caption = e(path.stem) + (" <span class='tag'>float and fixed point</span>" if fixed else "")
    return (f'<figure><img alt="{e(path.stem)}" title="{e(path.parent.parent.name)}/{e(path.stem)}" '
            f'data-curves="{e(" | ".join(curves))}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'
            f"<figcaption>{caption}</figcaption></figure>")


def toc(sections: list[Section]) -> str:
    items = "".join(f"<li><a href='#{html.escape(s.anchor)}'>{html.escape(s.title)}</a></li>" for s in sections)
    return f"<nav id='toc'><h2>Contents</h2><ol>{items}</ol></nav>"


def _expert_number(name: str) -> int:
    return int(name.removeprefix("expert_"))


def _facts_table(expert: dict) -> str:
    """An expert's training at a glance, rounded to what the numbers carry."""
    rows = [("epochs", expert.get("epochs")), ("best val loss", _g(expert.get("best_val_loss"), 4)),
            ("training time [s]", _g(expert.get("train_time_s"), 3)),
            ("samples per s", _g(expert.get("samples_per_s"), 3, whole=True)), ("best seed", expert.get("best_seed")),
            ("status", expert.get("status")), ("error", expert.get("error"))]
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows
                   if v is not None)
    return f"<table class='facts'>{body}</table>"


def _g(value, digits: int, whole: bool = False):
    """`value` to `digits` significant digits; `whole`: written out as an integer (44200, not 4.42e+04)."""
    if not isinstance(value, (int, float)):
        return None
    return f"{float(f'{value:.{digits}g}'):.0f}" if whole else f"{value:.{digits}g}"


def deployability_line(entry: dict | None) -> str:
    if not entry:
        return "<p class='deployability'>deployable: unknown (no weights exported)</p>"
    if entry.get("deployable"):
        return "<p class='deployability yes'>deployable: <b>yes</b></p>"
    return f"<p class='deployability no'>deployable: <b>no</b>, {html.escape(str(entry.get('reason')))}</p>"


def expert_sections(summary: dict, figures: dict) -> list[Section]:
    """One section per classic expert: its verdict sentence and rows (test and val), its deployability, its
    training facts and its test-split figures."""
    if verdict_3dh.is_3dh(summary):
        return []
    sections = []
    for name in sorted(summary.get("experts", {}), key=_expert_number):
        expert = summary["experts"][name] or {}
        scope = verdict_lib.scope_name(name)
        metrics = expert.get("metrics", {}).get("test")
        blocks = [f"<p class='sentence'>{html.escape(verdict_lib.verdict_of(metrics, scope).sentence)}</p>"
                  if metrics else "<p>no result on the test split</p>",
                  deployability_line(summary.get("deployable", {}).get(name))]
        if metrics:
            blocks += [verdict_table(summary, "test", scopes={scope}), verdict_table(summary, "val", scopes={scope})]
        blocks.append(_facts_table(expert))
        sections.append(Section(scope.capitalize(), name.replace("_", "-"), blocks, figures.pop(name, [])))
    return sections


def overall_section(summary: dict, figures: dict) -> list[Section]:
    """The combined network of all experts: its verdict row and the run's own plots."""
    metrics = summary.get("metrics", {}).get("test")
    if verdict_3dh.is_3dh(summary) or (not metrics and RUN_FOLDER not in figures):
        return []
    blocks = ["<p>Every expert's tracks together, each predicted by its own expert.</p>"]
    if metrics:
        blocks += [f"<p class='sentence'>{html.escape(verdict_lib.verdict_of(metrics, 'overall').sentence)}</p>",
                   verdict_table(summary, "test", scopes={"overall"})]
    return [Section("All experts together", "overall", blocks, figures.pop(RUN_FOLDER, []))]


OUTPUT_TITLES = {"z": "Output z", "theta": "Output theta", "nnt": "Output NNT", "stt": "Output STT"}
CLASSIFICATION_FIGURES = ("roc", "efficiency_vs_z", "efficiency_vs_theta")  # NNT and STT in each


def output_sections(summary: dict, figures: dict) -> list[Section]:
    """A multi-output (3DH) network (none for a classic run): one section per output with its float and
    fixed-point figure against the compare_to baseline or the trivial predictor; the classification figures (NNT and STT drawn together)
    in the NNT section."""
    if not verdict_3dh.is_3dh(summary):
        return []
    metrics = summary.get("metrics", {}).get("test", {})
    shared = [p for name in list(figures) for p in figures[name] if p.stem in CLASSIFICATION_FIGURES]
    for name in list(figures):
        figures[name] = [p for p in figures[name] if p not in shared]
        if not figures[name]:
            del figures[name]
    sections = []
    heading = reference_3dh(metrics)[0]
    for row in verdict_3dh.rows(metrics):
        table = (f"<table><tr><th>test</th><th>float</th><th>fixed point</th><th>{heading}</th></tr><tr><td>"
                 f"{html.escape(row['figure'])}</td>{output_cells(row)}</tr>")
        if "efficiency" in row:
            table += "".join(f"<tr><td>{k} at the cut</td><td>{verdict_3dh.fraction_text(row[k])}</td>"
                             f"<td>{verdict_3dh.fraction_text(row[k + '_fixed'])}</td>"
                             f"<td>-</td></tr>" for k in ("efficiency", "purity"))
        blocks = [table + "</table>"]
        own = shared if row["output"] == "nnt" else []
        if row["output"] == "stt":
            blocks.append("<p>STT's figures are drawn with NNT's: see <a href='#output-nnt'>Output NNT</a>.</p>")
        sections.append(Section(OUTPUT_TITLES[row["output"]], f"output-{row['output']}", blocks, own))
    return sections


def remaining_section(summary: dict, figures: dict) -> list[Section]:
    """Figures no builder showed, by folder, so that a new figure set is on the page before it has a section."""
    left = [p for paths in figures.values() for p in paths]
    return [Section("Other figures", "other-figures", [], left)] if left else []


# the sections after the summary page, in order; each takes its figures out of the dict it is given
def precision_section(summary: dict, figures: dict) -> list[Section]:
    """The precision profile against the hardware word, where `predict --precision-profile` made one."""
    blocks = precision_plots.report_blocks(summary.get("run_dir"))
    return [Section("Precision profile", "precision", blocks)] if blocks else []


SECTION_BUILDERS: list[Builder] = [overall_section, expert_sections, output_sections, precision_section,
                                   remaining_section]
