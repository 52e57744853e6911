"""The verdict of a NeuroTrigger3DH run, per output (z, theta, NNT, STT): better, worse or not significant.

3DH training files carry no hardware prediction. With a `compare_to` baseline (an earlier 3DH run, or the deployed
network in hardware, run in its fixed-point arithmetic) each output is judged against that baseline on the same
tracks (`_old` figures; the error is that of the difference: paired bootstrap for the resolutions, the two areas'
errors combined for the ROC areas). Without one, against the trivial predictor of the same tracks (constant z and
theta at the median target: its trimmed std; the class prior: ROC area 0.5). Float and fixed point side by side; a
difference within two standard errors is "not significant".
"""
import numpy as np

from neuro_trigger.evaluation.metric_table import format_pm
from neuro_trigger.evaluation.metrics_3dh import CLASSES

OUTPUTS = (("z", "trimmed std", "cm"), ("theta", "trimmed std", "deg"), ("nnt", "ROC area", ""), ("stt", "ROC area", ""))


def is_3dh(summary: dict) -> bool:
    return summary.get("config", {}).get("family") == "3dh"


def significance(value: float, error: float, reference: float, higher_is_better: bool) -> str:
    """better / worse / not significant: a difference beyond two standard errors (unknown without an error)."""
    if not (np.isfinite(value) and np.isfinite(error) and np.isfinite(reference)):
        return "unknown"
    if abs(value - reference) <= 2 * error:
        return "not significant"
    return "better" if (value > reference) == higher_is_better else "worse"


def has_baseline(metrics: dict) -> bool:
    """Whether the figures were taken against a `compare_to` baseline (else the trivial predictor)."""
    return "z_diff_std_trimmed_old" in metrics


def _base(output: str) -> str:
    return f"{output}_diff_std_trimmed" if output in ("z", "theta") else f"{output}_auc"


def _figure(metrics: dict, output: str, fixed: str) -> tuple[float, float, float, float, bool]:
    """(value, its error, the reference, the error of value - reference, higher is better) of an output's judged
    figure: the reference is the baseline's figure where there is one, else the trivial predictor's."""
    key, higher = _base(output) + fixed, output not in ("z", "theta")
    value, error = metrics.get(key, np.nan), metrics.get(f"{key}_err", np.nan)
    if has_baseline(metrics):
        return value, error, metrics.get(f"{_base(output)}_old", np.nan), metrics.get(f"{key}_minus_old_err",
                                                                                       np.nan), higher
    trivial = metrics.get(f"trivial_{key.removesuffix(fixed)}", np.nan) if not higher else 0.5
    return value, error, trivial, error, higher


def rows(metrics: dict) -> list[dict]:
    """Per output: its figure, float and fixed point with errors, the reference (baseline or trivial) and both
    verdicts, the efficiency and purity at the cut."""
    table = []
    for output, figure, unit in OUTPUTS:
        row = {"output": output, "figure": figure, "unit": unit}
        for fixed in ("", "_fixed"):
            value, error, reference, difference_error, higher = _figure(metrics, output, fixed)
            row[f"value{fixed}"], row[f"error{fixed}"], row["trivial"] = value, error, reference
            row[f"verdict{fixed}"] = significance(value, difference_error, reference, higher)
        if output in dict(CLASSES):
            for fixed in ("", "_fixed"):
                row[f"efficiency{fixed}"] = metrics.get(f"{output}_efficiency{fixed}", np.nan)
                row[f"purity{fixed}"] = metrics.get(f"{output}_purity{fixed}", np.nan)
        table.append(row)
    return table


def fraction_text(value) -> str:
    """A fraction to 3 decimals; "n/a" where it is undefined (a purity with no track passing the cut: null in
    summary.json), which crashed the verdict of a barely trained 3DH network."""
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.3f}"


def lines(summary: dict, split: str = "test") -> list[str]:
    """The verdict in plain lines: one per output, then deployability and the wrap count."""
    metrics = summary.get("metrics", {}).get(split, {})
    baseline = has_baseline(metrics)
    against = (f"the compare_to baseline {summary.get('config', {}).get('compare_to')}" if baseline
               else "the trivial predictor")
    out = [f"3DH verdict, {split} split, against {against} (difference beyond 2 standard errors):"]
    for row in rows(metrics):
        unit = f" {row['unit']}" if row["unit"] else ""
        text = (f"  {row['output']:>5} {row['figure']}: float {format_pm(row['value'], row['error'])}{unit} "
                f"({row['verdict']}), fixed point {format_pm(row['value_fixed'], row['error_fixed'])}{unit} "
                f"({row['verdict_fixed']}), {'baseline' if baseline else 'trivial'} {row['trivial']:.4g}{unit}")
        if "efficiency" in row:
            text += (f"; at the cut efficiency {fraction_text(row['efficiency'])} "
                     f"(fixed {fraction_text(row['efficiency_fixed'])}), "
                     f"purity {fraction_text(row['purity'])} (fixed {fraction_text(row['purity_fixed'])})")
        out.append(text)
    if "wrap_tracks" in metrics:
        out.append(f"  wrap: {metrics['wrap_tracks']} tracks reach |pre-activation| >= "
                   f"{metrics['wrap_at'] - metrics['wrap_margin']:g} (largest {metrics['max_preactivation']:.2f})")
    for expert, entry in summary.get("deployable", {}).items():
        out.append(f"  deployable: {'yes' if entry['deployable'] else 'no, ' + str(entry['reason'])}")
    return out
