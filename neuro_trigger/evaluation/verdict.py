"""The verdict against the old (hardware) network: each compared figure classed better, worse or
indistinguishable at 95% confidence, paired (the ratio's bootstrap interval, or the paired difference of
efficiencies and rejections), and one sentence per expert and overall (docs/metrics.md).

Works on the metrics dicts of summary.json. Where a deployable network has fixed-point figures
(`X_fixed`, `X_fixed_err`, `X_fixed_vs_old`, `X_fixed_ci`), the verdict is that of the fixed-point network,
which is what would run on the FPGAs.
"""
import math
from dataclasses import dataclass

from neuro_trigger.evaluation import verdict_3dh
from neuro_trigger.evaluation.metric_table import Metric, format_pm, verdict_figures
from neuro_trigger.evaluation.uncertainty import Z95

BETTER, WORSE, SAME, UNKNOWN = "better", "worse", "indistinguishable", "unknown"
CONFIDENCE = "95%"


Figure = Metric  # a figure the verdict judges: a row of the metric table
FIGURES = verdict_figures()


@dataclass
class Judgement:
    figure: Figure
    value: float  # the network's figure (fixed point where present)
    err: float  # one standard error
    old: float
    old_err: float
    comparison: float  # value / old for resolutions and loss, value - old for fractions
    comparison_err: float  # paired where the summary has it
    paired: bool
    verdict: str
    comparison_ci: list[float] | None = None  # the paired bootstrap's 95% interval of a ratio, where stored
    float_twin: "Judgement | None" = None  # the float network's judgement when this one is the fixed point's


@dataclass
class Verdict:
    scope: str  # "expert 4", "overall"
    fixed_point: bool
    judgements: list[Judgement]
    partial: str = ""  # why the overall figures are partial ("experts 0, 1 of 5"), empty when they are whole

    @property
    def title(self) -> str:
        """The scope as tables and sentences name it: `overall (partial: experts 0, 1 of 5)`."""
        return f"{self.scope} (partial: {self.partial})" if self.partial else self.scope

    @property
    def sentence(self) -> str:
        return sentence(self)


def _number(metrics: dict, key: str) -> float:
    value = metrics.get(key)
    return float(value) if isinstance(value, (int, float)) and value is not None else float("nan")


def standard_error(metrics: dict, key: str) -> float:
    """One standard error of a figure: `X_err`, or (efficiency, rejection) its 95% interval's half width / 1.96."""
    if metrics.get(f"{key}_err") is not None:
        return _number(metrics, f"{key}_err")
    ci = _interval(metrics, f"{key}_ci")
    return float("nan") if ci is None else (ci[1] - ci[0]) / (2 * Z95)


def _keys(figure: Figure, fixed: bool) -> tuple[str, str, str | None]:
    """Where the network's value, its comparison with the old network and the comparison's 95% interval live."""
    mine = f"{figure.key}_fixed" if fixed else figure.key
    comparison = f"{mine}_minus_old" if figure.higher_is_better else f"{mine}_vs_old"
    return mine, comparison, None if figure.higher_is_better else f"{comparison}_ci"


def _interval(metrics: dict, key: str) -> list[float] | None:
    ci = metrics.get(key)
    if isinstance(ci, (list, tuple)) and len(ci) == 2 and all(isinstance(v, (int, float)) for v in ci) \
            and all(math.isfinite(v) for v in ci):
        return [float(ci[0]), float(ci[1])]
    return None


def classify_ratio_interval(ci: list[float]) -> str:
    """better / worse / indistinguishable from a 95% interval of new / old (lower is better)."""
    if ci[1] < 1.0:
        return BETTER
    if ci[0] > 1.0:
        return WORSE
    return SAME


def classify(comparison: float, err: float, fraction: bool) -> str:
    """better / worse / indistinguishable at 95%: the comparison differs from 'equal' by more than 1.96 errors."""
    if not (math.isfinite(comparison) and math.isfinite(err)):
        return UNKNOWN
    improvement = comparison if fraction else 1.0 - comparison  # > 0 means better than the old network
    if improvement - Z95 * err > 0:
        return BETTER
    if improvement + Z95 * err < 0:
        return WORSE
    return SAME


def judge(metrics: dict, figure: Figure, fixed: bool) -> Judgement | None:
    """The judgement of one figure, or None where the summary does not have it (e.g. theta of a z-only net)."""
    value_key, comparison_key, ci_key = _keys(figure, fixed)
    if value_key not in metrics:
        return None
    value, old = _number(metrics, value_key), _number(metrics, f"{figure.key}_old")
    err, old_err = standard_error(metrics, value_key), standard_error(metrics, f"{figure.key}_old")
    comparison, comparison_err = _number(metrics, comparison_key), _number(metrics, f"{comparison_key}_err")
    paired = math.isfinite(comparison_err)
    if not math.isfinite(comparison):
        comparison = value - old if figure.higher_is_better else (value / old if old else float("nan"))
    if not paired:  # independent errors: a conservative stand-in where the paired one is missing
        if figure.higher_is_better:
            comparison_err = math.hypot(err, old_err)
        elif value and old:
            comparison_err = abs(comparison) * math.hypot(err / value, old_err / old)
    ci = None if ci_key is None else _interval(metrics, ci_key)
    verdict = classify_ratio_interval(ci) if ci else classify(comparison, comparison_err, figure.higher_is_better)
    return Judgement(figure, value, err, old, old_err, comparison, comparison_err, paired, verdict,
                     ci, judge(metrics, figure, False) if fixed else None)


def uses_fixed_point(metrics: dict) -> bool:
    """Whether the summary carries fixed-point figures for this network (a deployable network)."""
    return any(f"{figure.key}_fixed" in metrics for figure in FIGURES)


def verdict_of(metrics: dict, scope: str) -> Verdict:
    fixed = uses_fixed_point(metrics)
    judgements = [j for j in (judge(metrics, f, fixed) for f in FIGURES) if j is not None]
    return Verdict(scope, fixed, judgements)


def scope_name(key: str) -> str:
    """`expert_4` -> `expert 4`."""
    return key.replace("_", " ")


def run_verdicts(summary: dict, split: str = "test") -> list[Verdict]:
    """One verdict per expert with metrics on the split, then the overall one."""
    verdicts = []
    for name, expert in summary.get("experts", {}).items():
        metrics = (expert or {}).get("metrics", {}).get(split)
        if metrics:
            verdicts.append(verdict_of(metrics, scope_name(name)))
    overall = summary.get("metrics", {}).get(split)
    if overall:
        verdicts.append(verdict_of(overall, "overall"))
        verdicts[-1].partial = partial_overall(summary, split)
    return verdicts


def partial_overall(summary: dict, split: str = "test") -> str:
    """Why the overall figures of an unfinished run are partial (`experts 0, 1 of 5; expert 1 interrupted`): they
    cover fewer experts than the run trains, or an expert stopped early; empty when they are whole."""
    if summary.get("status", "finished") == "finished":
        return ""
    experts = {name: expert or {} for name, expert in summary.get("experts", {}).items()}
    planned = list(summary.get("experts_config") or experts)
    covered = [name for name, expert in experts.items() if expert.get("metrics", {}).get(split)]
    early = [f"{scope_name(name)} {experts[name].get('status')}" for name in covered
             if experts[name].get("status") not in (None, "finished")]
    parts = []
    if len(covered) < len(planned):
        numbers = ", ".join(name.removeprefix("expert_") for name in covered)
        parts.append(f"expert{'s' if len(covered) > 1 else ''} {numbers} of {len(planned)}")
    parts += early
    return "; ".join(parts)


def shown(j: Judgement, which: str = "value", unit: bool = False) -> str:
    """A judgement's value (`value`, `old` or `comparison`) ± its error as displayed: scaled, PDG-rounded."""
    value, err = getattr(j, which), getattr(j, "err" if which == "value" else f"{which}_err")
    if which == "comparison":
        if not j.figure.higher_is_better:
            return format_pm(value, err)  # a ratio: no unit, no scale
        text = format_pm(value * j.figure.scale, err * j.figure.scale, "points" if unit else "")
        return ("+" if value >= 0 else "") + text
    return format_pm(value * j.figure.scale, err * j.figure.scale, j.figure.shown_unit if unit else "")


def detail(j: Judgement) -> str:
    """The numbers behind a judgement, as the sentence quotes them."""
    if j.figure.key == "loss":
        return "loss / old " + comparison_text(j).removeprefix("ratio ")
    return f"{shown(j)} vs {shown(j, 'old', unit=True)}"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def sentence(verdict: Verdict) -> str:
    """`expert 4: better in loss and z std, worse in z trimmed std (5.48 ± 0.09 vs 4.63 ± 0.08 cm).`"""
    parts = []
    for verdict_class, words in ((BETTER, "better in "), (WORSE, "worse in "), (SAME, "indistinguishable in "),
                                 (UNKNOWN, "no error known for ")):
        labels = [j.figure.label + (f" ({detail(j)})" if verdict_class == WORSE else "")
                  for j in verdict.judgements if j.verdict == verdict_class]
        if labels:
            parts.append(words + _join(labels))
    notes = [f"partial: {verdict.partial}"] * bool(verdict.partial) + ["fixed point"] * verdict.fixed_point
    scope = f"{verdict.scope} ({'; '.join(notes)})" if notes else verdict.scope
    return f"{scope}: " + (", ".join(parts) if parts else "no figures") + "."


def summary_sentences(summary: dict, split: str = "test") -> list[str]:
    return [v.sentence for v in run_verdicts(summary, split)]


def header(figure: Figure) -> str:
    """Row or column title of a figure in the verdict tables, with the unit of its numbers."""
    unit = {"1e-3": "10^-3"}.get(figure.shown_unit, figure.shown_unit)
    return figure.label + (f" [{unit}]" if unit else "")


def comparison_text(j: Judgement) -> str:
    """`ratio 0.81 ± 0.01, 95% 0.79-0.83` for losses and resolutions, `diff +0.3 ± 0.1 points` for efficiency
    and rejection."""
    if j.figure.higher_is_better:
        return f"diff {shown(j, 'comparison', unit=True)}"
    interval = f", 95% {j.comparison_ci[0]:.3g}-{j.comparison_ci[1]:.3g}" if j.comparison_ci else ""
    return f"ratio {shown(j, 'comparison')}{interval}"


def cell_lines(j: Judgement) -> list[str]:
    """What a report cell shows: the network (float and fixed point) and the old network, ± one error, and
    the paired ratio or difference."""
    if j.float_twin is None:
        lines = [shown(j)]
    else:
        lines = [f"float {shown(j.float_twin)}", f"fixed {shown(j)}"]
    lines.append(f"old {shown(j, 'old')}")
    if j.float_twin is not None:
        lines.append(f"float {comparison_text(j.float_twin)}")
    return lines + [comparison_text(j)]


def rich_table(verdict: Verdict, data: str = "test split"):
    """One scope's verdict for the console (rich): a row per figure, coloured by class (indistinguishable plain).

    For a deployable network the numbers are the fixed-point ones (the report has float beside them).
    """
    from rich import box
    from rich.table import Table
    from rich.text import Text

    network = "fixed point" if verdict.fixed_point else "network"
    table = Table(title=f"{verdict.title}: {network} against the old network ({data}, {CONFIDENCE}, paired)",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("figure", min_width=10)  # the only column that wraps when the terminal is narrow
    for name in (network, "old network", "ratio | diff"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    styles = {BETTER: "green", WORSE: "red", SAME: "", UNKNOWN: "dim"}
    for j in verdict.judgements:
        table.add_row(Text(header(j.figure)), shown(j), shown(j, "old"), shown(j, "comparison"),
                      Text(j.verdict, style=styles[j.verdict]), style=styles[j.verdict] or None)
    return table


def print_run_verdict(summary: dict, split: str = "test", console=None) -> None:
    """The end of a run on the console: the overall verdict table and one sentence per expert and overall,
    from the run's summary (nothing when it has no metrics, e.g. a run stopped before evaluation)."""
    from rich.console import Console

    console = console or Console()
    if verdict_3dh.is_3dh(summary):
        if summary.get("metrics", {}).get(split):
            console.print("\n".join(verdict_3dh.lines(summary, split)), highlight=False, markup=False, soft_wrap=True)
        return
    verdicts = run_verdicts(summary, split)
    if not verdicts:
        return
    overall = next((v for v in verdicts if v.scope == "overall"), verdicts[-1])
    console.print(rich_table(overall, f"{split} split"))
    for verdict in verdicts:
        console.print(verdict.sentence, highlight=False, markup=False, soft_wrap=True)  # one line each, for grep
