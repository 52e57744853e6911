"""`report.html`: one self-contained page per run that opens with the verdict against the hardware network.

Images are embedded as base64 PNG, styles are inline; no external asset, no JavaScript.
"""
import base64
import html
import json
from pathlib import Path

VERDICT_COLUMNS = [
    ("loss_vs_old", "loss / old", "{:.3f}"),
    ("z_diff_std", "z std [cm]", "{:.2f}"), ("z_diff_std_old", "old", "{:.2f}"),
    ("z_diff_std_trimmed", "z trimmed std [cm]", "{:.2f}"), ("z_diff_std_trimmed_old", "old", "{:.2f}"),
    ("efficiency", "efficiency", "{:.3f}"), ("efficiency_old", "old", "{:.3f}"),
    ("rejection", "rejection", "{:.3f}"), ("rejection_old", "old", "{:.3f}"),
]
STYLE = """body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #bbb;padding:4px 8px;text-align:right}th{background:#eee}td:first-child{text-align:left}
.better{background:#d9f2d9}.worse{background:#f9dcdc}img{max-width:560px;margin:4px}pre{background:#f6f6f6;
padding:1em;overflow:auto;font-size:12px}"""


def _cell(metrics: dict, key: str, fmt: str) -> str:
    value = metrics.get(key)
    if value is None:
        return "<td>-</td>"
    css = ""
    if key == "loss_vs_old":
        css = "better" if value < 1 else "worse"
    elif not key.endswith("_old") and metrics.get(key + "_old") is not None:
        lower_is_better = key.startswith("z_diff")
        better = value < metrics[key + "_old"] if lower_is_better else value > metrics[key + "_old"]
        css = "better" if better else "worse"
    return f'<td class="{css}">{fmt.format(value)}</td>'


def verdict_table(summary: dict, split: str = "test") -> str:
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label, _ in VERDICT_COLUMNS)
    rows = []
    entries = [(name, e.get("metrics", {}).get(split)) for name, e in summary.get("experts", {}).items()]
    entries.append(("overall", summary.get("metrics", {}).get(split)))
    for name, metrics in entries:
        if not metrics:
            rows.append(f"<tr><td>{html.escape(name)}</td><td colspan={len(VERDICT_COLUMNS)}>no result</td></tr>")
            continue
        cells = "".join(_cell(metrics, key, fmt) for key, _, fmt in VERDICT_COLUMNS)
        rows.append(f"<tr><td>{html.escape(name)}</td>{cells}</tr>")
    return f"<table><tr><th>{split}</th>{head}</tr>{''.join(rows)}</table>"


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(path.stem)}" title="{html.escape(str(path.parent.name))}/{html.escape(path.stem)}" ' \
           f'src="data:image/png;base64,{data}">'


def render(summary: dict, images: list[Path]) -> str:
    """The report page of a run summary and its PNG plots."""
    e = html.escape
    timing = {**{k: summary.get(k) for k in ("start_time", "end_time", "wall_time_s")}, **summary.get("timing", {})}
    per_expert_time = {name: {k: x.get(k) for k in ("epochs", "train_time_s", "samples_per_s")}
                       for name, x in summary.get("experts", {}).items()}
    data_files = "".join(f"<li>{e(split)}: {e(f['path'])} <small>sha256 {e(f['sha256'][:16])}…</small></li>"
                         for split, files in summary.get("data", {}).items() for f in files)
    sections = [
        f"<h1>NeuroTrigger run {e(summary.get('config_name', ''))}: {e(Path(summary.get('run_dir', '')).name)}</h1>",
        f"<p>status: <b>{e(summary.get('status', ''))}</b></p>",
        "<h2>Verdict against the old (hardware) network</h2>",
        "<p>loss / old &lt; 1 and smaller z resolution mean better than the network in hardware; "
        f"trigger figures at |z| &lt; {e(str(summary.get('metrics', {}).get('test', {}).get('z_cut_cm', '')))} cm: "
        "efficiency for |z_reco| &lt; 1 cm tracks, rejection of |z_reco| &gt; 25 cm tracks.</p>",
        verdict_table(summary, "test"), verdict_table(summary, "val"),
        f"<h2>Description</h2><p>{e(summary.get('description') or '(none)')}</p>",
        f"<h2>Data</h2><ul>{data_files}</ul>",
        f"<h2>Reproduce</h2><p>git id: <code>{e(str(summary.get('git_id', '')))}</code>, seed "
        f"{e(str(summary.get('seed', '')))}</p>",
        f"<h2>Timing</h2><pre>{e(json.dumps({**timing, 'experts': per_expert_time}, indent=1))}</pre>",
        f"<h2>Config</h2><pre>{e(json.dumps(summary.get('config', {}), indent=1))}</pre>",
        "<h2>Plots</h2>" + "".join(_image(p) for p in images),
    ]
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>NeuroTrigger "
            f"{e(summary.get('config_name', ''))}</title><style>{STYLE}</style></head><body>"
            + "\n".join(sections) + "</body></html>\n")
