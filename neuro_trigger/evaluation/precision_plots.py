"""Figures and tables of the precision profile and the bit-width scan (`precision_profile`, `precision_scan`),
and the report's section on them, read from the run folder's `precision/` where the profile was made
(`python -m neuro_trigger.predict RUN_DIR --precision-profile`).

The profile figure is hls4ml's: per layer a box of |value| on a log2 axis (box 25-75%, whiskers 1-99%, dots at
the extremes), for the weights and for the pre-activations on the split, over the range the hardware word holds
(grey: from its resolution to its limit), with the activation's saturation and the window's wrap marked.
"""
import base64
import html
import json
from pathlib import Path

import numpy as np

from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from neuro_trigger.evaluation.plots import Figure

FOLDER = "precision"  # in the run folder
PROFILE_JSON, SCAN_JSON = "precision_profile.json", "bit_scan.json"
PROFILE_PNG, SCAN_PNG = "precision_profile.png", "bit_scan.png"
# w: weights and biases, x: pre-activations; counts are "values of values"; Δ: max |float - fixed| layer output
TABLE_COLUMNS = ("network", "layer", "max |w|", "w LSB", "w to 0", "w over", "inputs over", "max |x|",
                 "x saturates", "x saturated", "x wrapped", "max Δ out")


def _box(quantiles: list[float]) -> dict:
    low, p1, q1, median, q3, p99, high = quantiles
    return {"whislo": p1, "q1": q1, "med": median, "q3": q3, "whishi": p99, "fliers": [low, high]}


def _rows(profile: dict) -> list[tuple[str, str, dict, dict]]:
    """(network, layer, its profile, the network's word), top to bottom."""
    return [(name, layer["name"], layer, network["word"]) for name, network in profile["networks"].items()
            for layer in network["layers"]]


def profile_figure(profile: dict, title: str) -> Figure:
    """Weights and pre-activations of every layer of every network against the hardware word (module doc)."""
    rows = _rows(profile)
    height = 1.4 + 0.42 * len(rows)  # inches: a fixed margin for the title, legend and axis labels
    fig = Figure(figsize=(11, height), dpi=80)
    fig.subplots_adjust(left=0.14, right=0.98, bottom=0.6 / height, top=1 - 0.55 / height, wspace=0.06)
    axes = fig.subplots(1, 2, sharey=True)
    labels = [f"{network.replace('_', ' ')} {layer}" for network, layer, _, _ in rows]
    positions = np.arange(len(rows))[::-1]
    for ax, key, what in ((axes[0], "weights", "|weight| and |bias|"),
                          (axes[1], "preactivation", "|pre-activation| on the test split")):
        boxes = [_box(layer[key]["abs_quantiles"]) for _, _, layer, _ in rows]
        ax.set_xscale("log", base=2)
        for y, (_, _, layer, word) in zip(positions, rows):
            lsb = word["weight_lsb"] if key == "weights" else word["preactivation_lsb"]
            limit = word["weight_limit"] if key == "weights" else word["wraps_at"] or word["saturates_at"]
            ax.fill_betweenx([y - 0.45, y + 0.45], lsb, limit if limit else 2.0 ** 12, color="0.88", zorder=0,
                             label="hardware word" if y == positions[0] else None)
            if key == "preactivation":
                ax.plot([word["saturates_at"]] * 2, [y - 0.45, y + 0.45], color="tab:orange", lw=2,
                        label="activation saturates" if y == positions[0] else None)
                if word["wraps_at"]:
                    ax.plot([word["wraps_at"]] * 2, [y - 0.45, y + 0.45], color="tab:red", lw=2,
                            label="window wraps" if y == positions[0] else None)
        drawn = [(p, b) for p, b in zip(positions, boxes) if np.isfinite(b["med"])]
        if drawn:
            ax.bxp([b for _, b in drawn], positions=[p for p, _ in drawn], vert=False, widths=0.5,
                   flierprops={"marker": ".", "markersize": 4}, manage_ticks=False)
        ax.set_xlim(2.0 ** -18, 2.0 ** 7)
        ax.xaxis.set_major_locator(FixedLocator(2.0 ** np.arange(-18, 7, 3)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"2^{round(np.log2(v))}"))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel(what)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(positions, labels)
    axes[0].set_ylim(-0.7, len(rows) - 0.3)
    handles = {h.get_label(): h for ax in axes for h in ax.get_legend_handles_labels()[0]}
    fig.legend(list(handles.values()), list(handles), loc="upper right", ncol=len(handles), frameon=False,
               bbox_to_anchor=(0.98, 1.0))
    fig.suptitle(title, x=0.02, ha="left", y=0.985, fontsize=11)
    return fig


def scan_figure(scan: dict, title: str) -> Figure:
    """z resolution and the fraction of tracks changed by more than the tolerance against the weight and the
    input fraction bits, the hardware's bits marked."""
    fig = Figure(figsize=(11, 4.4), dpi=80)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.13, top=0.88, wspace=0.25)
    resolution, changed = fig.subplots(1, 2)
    colours = {"weights": "tab:blue", "inputs": "tab:green"}
    for axis, colour in colours.items():
        rows = scan[axis]
        bits = np.array([r["bits"] for r in rows])
        value = np.array([r["z_resolution_cm"] for r in rows], float)
        error = np.array([r["z_resolution_err_cm"] for r in rows], float)
        resolution.errorbar(bits, value, yerr=np.nan_to_num(error), fmt="o-", ms=3, capsize=2, color=colour,
                            label=f"{axis} bits")
        fraction = np.array([r["changed_fraction"] for r in rows], float)
        ci = np.array([r["changed_ci"] for r in rows], float)
        changed.errorbar(bits, fraction, yerr=[fraction - ci[:, 0], ci[:, 1] - fraction], fmt="o-", ms=3, capsize=2,
                         color=colour, label=f"{axis} bits")
        for ax in (resolution, changed):
            ax.axvline(scan["hardware_bits"][axis], color=colour, ls="--", lw=1,
                       label=f"hardware: {scan['hardware_bits'][axis]} {axis} bits")
    float_value, float_error = scan["float"]["z_resolution_cm"], scan["float"]["z_resolution_err_cm"]
    resolution.axhspan(float_value - np.nan_to_num(float_error), float_value + np.nan_to_num(float_error),
                       color="0.8", label=f"float: {float_value:.3g} cm")
    resolution.set_ylabel("z resolution (5% trimmed std) [cm]")
    changed.set_yscale("symlog", linthresh=1.0 / max(scan["rows"], 1))
    changed.set_ylim(0, 1.05)
    changed.set_ylabel(f"tracks with |z fixed - z float| > {scan['tolerance_cm']:g} cm")
    for ax in (resolution, changed):
        ax.set_xlabel("fraction bits (the other at the hardware's)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")
    fig.suptitle(title, x=0.02, ha="left", fontsize=11)
    return fig


def _number(value) -> str:
    return "-" if value is None or (isinstance(value, float) and not np.isfinite(value)) else f"{value:.3g}"


def table_rows(profile: dict) -> list[list[str]]:
    """The saturation table, one row per layer (TABLE_COLUMNS), as text."""
    out = []
    for network, name, layer, word in _rows(profile):
        w, x, inputs = layer["weights"], layer["preactivation"], layer["inputs"]
        count = x["count"]
        out.append([network.replace("_", " "), name, _number(max(abs(w["min"]), abs(w["max"]))),
                    f"2^{round(np.log2(word['weight_lsb']))}", f"{w['rounded_to_zero']}/{w['count']}",
                    "-" if word["weight_limit"] is None else str(w["beyond_word"]),
                    "-" if inputs is None else f"{inputs['beyond_word']}/{inputs['count']}",
                    _number(max(abs(x["min"]), abs(x["max"]))) if count else "-", f"{word['saturates_at']:.3g}",
                    f"{x['saturated']}/{count}", "-" if word["wraps_at"] is None else str(x["wrapped"]),
                    _number(layer["output_difference"]["max"])])
    return out


def write(folder: Path, profile: dict, scan: dict | None, title: str) -> list[Path]:
    """The profile (and scan) as JSON and PNG in `folder`; returns the PNGs."""
    from neuro_trigger.atomic import write_json
    from neuro_trigger.evaluation.plots import write_figures

    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / PROFILE_JSON, profile)
    figures = {Path(PROFILE_PNG).stem: profile_figure(profile, f"precision profile: {title}")}
    if scan is not None:
        write_json(folder / SCAN_JSON, scan)
        figures[Path(SCAN_PNG).stem] = scan_figure(scan, f"bit-width scan: {title}")
    return write_figures(folder, figures)


def report_blocks(run_dir: str | Path | None) -> list[str]:
    """The report's precision section (HTML blocks) where `predict --precision-profile` wrote one; none otherwise."""
    if not run_dir:
        return []
    folder = Path(run_dir) / FOLDER
    try:
        profile = json.loads((folder / PROFILE_JSON).read_text())
    except (OSError, ValueError):
        return []
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in TABLE_COLUMNS)
    rows = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in table_rows(profile))
    images = "".join(f'<img alt="{e(Path(name).stem)}" style="max-width:100%" src="data:image/png;base64,'
                     f'{base64.b64encode((folder / name).read_bytes()).decode()}">'
                     for name in (PROFILE_PNG, SCAN_PNG) if (folder / name).is_file())
    return [f"<p>{e(profile.get('description', ''))}</p>", f"<table><tr>{head}</tr>{rows}</table>", images]
