"""Every figure a run reports, named once: its unit, which way is better, how it is shown and where it is
logged, so that TensorBoard, summary.json, sweeps, `compare` and the verdict cannot drift apart.

Derived keys follow rules, not rows (docs/metrics.md): `X_err` / `X_ci` its uncertainty, `X_fixed...` the
fixed-point twin (`fixed_twins.fixed_name`), `X_minus_old` the paired difference of a fraction.
"""
import math
from dataclasses import dataclass

import numpy as np

# where a figure is logged
EPOCH = "epoch"  # TensorBoard and the progress board, at every validation epoch (`val_<name>`)
SUMMARY = "summary"  # summary.json `metrics` (overall and per expert), per split; with their `_fixed` twins
# the test split's at the end of each expert's TensorBoard run (`test/<name>`) and in its hparams entry
SWEEP = "sweep"  # accepted as a sweep's `--metric SPLIT/NAME` (with its `_fixed` versions)
COMPARE = "compare"  # a column of `compare` (docs/compare.md), in this order
SEEDS = "seeds"  # the report's table of the spread over packed seeds
VERDICT = "verdict"  # judged against the old network (verdict.py), in this order


@dataclass(frozen=True)
class Metric:
    key: str  # name in summary.json and, as `val_<name>`, in TensorBoard
    unit: str  # of the stored value: cm, deg, fraction (0-1), ratio (new / old), loss (scaled targets)
    higher_is_better: bool
    fmt: str  # display format of a value without an uncertainty to round it
    logged: frozenset[str]
    label: str = ""  # the verdict's words for it
    shown_unit: str = ""  # unit of a number as the verdict shows it: the stored value times `scale`
    scale: float = 1.0


def _row(name: str, unit: str, better: str, logged: str, label: str = "", shown_unit: str = "",
         scale: float = 1.0) -> Metric:
    return Metric(name, unit, better == "higher", ".4g", frozenset(logged.split()), label, shown_unit, scale)


METRICS = [  # in the order EPOCH and COMPARE list them
    _row("loss_old", "loss", "lower", "epoch summary sweep"),
    _row("loss_vs_old", "ratio", "lower", "epoch summary sweep compare seeds"),
    _row("z_diff_std", "cm", "lower", "epoch summary sweep compare seeds verdict", "z std", "cm"),
    _row("z_diff_std_old", "cm", "lower", "epoch summary sweep compare"),
    _row("z_diff_std_vs_old", "ratio", "lower", "epoch summary sweep"),
    _row("z_diff_std_trimmed", "cm", "lower", "epoch summary sweep compare seeds verdict", "z trimmed std", "cm"),
    _row("z_diff_std_trimmed_old", "cm", "lower", "summary sweep compare"),
    _row("z_diff_std_trimmed_vs_old", "ratio", "lower", "epoch summary sweep"),
    _row("efficiency", "fraction", "higher", "epoch summary sweep compare seeds verdict", "IP efficiency", "%", 100.0),
    _row("efficiency_old", "fraction", "higher", "epoch summary sweep compare"),
    _row("rejection", "fraction", "higher", "epoch summary sweep compare seeds verdict", "background rejection", "%",
         100.0),
    _row("rejection_old", "fraction", "higher", "epoch summary sweep compare"),
    _row("loss_fixed_vs_old", "ratio", "lower", "summary compare"),
    _row("z_diff_std_fixed", "cm", "lower", "summary compare"),
    _row("z_diff_std_trimmed_fixed", "cm", "lower", "summary compare"),
    _row("efficiency_fixed", "fraction", "higher", "summary compare"),
    _row("rejection_fixed", "fraction", "higher", "summary compare"),
    _row("loss", "loss", "lower", "summary sweep verdict", "loss", "1e-3", 1e3),
    _row("theta_diff_std", "deg", "lower", "epoch summary sweep verdict", "theta std", "deg"),
    _row("theta_diff_std_trimmed", "deg", "lower", "epoch summary sweep verdict", "theta trimmed std", "deg"),
    _row("theta_diff_std_old", "deg", "lower", "summary sweep"),
    _row("theta_diff_std_vs_old", "ratio", "lower", "epoch summary sweep"),
    _row("theta_diff_std_trimmed_old", "deg", "lower", "summary sweep"),
    _row("theta_diff_std_trimmed_vs_old", "ratio", "lower", "epoch summary sweep"),
    _row("nnt_auc", "fraction", "higher", "summary sweep"),  # ROC areas of the 3DH classifications
    _row("stt_auc", "fraction", "higher", "summary sweep"),
]
BY_NAME = {m.key: m for m in METRICS}
VERDICT_ORDER = ("loss", "z_diff_std", "z_diff_std_trimmed", "theta_diff_std", "theta_diff_std_trimmed",
                 "efficiency", "rejection")


def names(where: str) -> tuple[str, ...]:
    """The names of the figures logged at `where` (EPOCH, SUMMARY, SWEEP, COMPARE, SEEDS), in table order."""
    return tuple(m.key for m in METRICS if where in m.logged)


def find(name: str) -> Metric | None:
    """The row of `name`, or of its float original for a fixed-point twin (`z_diff_std_fixed_vs_old`)."""
    return BY_NAME.get(name) or BY_NAME.get(name.replace("_fixed", ""))


# how a stored unit is shown where a row names no `shown_unit`: fractions as %, as in the verdict and the report
SHOWN = {"fraction": ("%", 100.0), "cm": ("cm", 1.0), "deg": ("deg", 1.0), "ratio": ("", 1.0), "loss": ("", 1.0)}


def shown_unit(name: str) -> tuple[str, float]:
    """(unit, scale) of a figure as tables show it, the stored value times scale: (`%`, 100) for efficiencies
    and rejections (their `_old` and `_fixed` twins too), (`cm`, 1), (`deg`, 1), (``, 1) for ratios."""
    metric = find(name)
    if metric is None:
        return "", 1.0
    if metric.shown_unit and metric.shown_unit != "1e-3":
        return metric.shown_unit, metric.scale
    return SHOWN.get(metric.unit, ("", 1.0))


def format_pm(value: float, err: float, unit: str = "") -> str:
    """`5.48 ± 0.09 cm`: the error rounded as the Particle Data Group does (two significant digits when they
    start with 100-354, else one), the value to the same decimals."""
    suffix = f" {unit}" if unit and unit != "1e-3" else ""
    if not math.isfinite(value):
        return "n/a"
    if not (math.isfinite(err) and err > 0):
        return f"{value:.4g}{suffix}"
    exponent = math.floor(math.log10(err))
    leading = int(err / 10 ** (exponent - 2))  # the first three digits, 100..999
    if leading >= 950:  # rounds up to 1.0 x 10^(exponent + 1): two digits there
        exponent, digits = exponent + 1, 2
    else:
        digits = 2 if leading < 355 else 1
    decimals = min(max(0, digits - 1 - exponent), 10)
    return f"{value:.{decimals}f} ± {err:.{decimals}f}{suffix}"


def higher_is_better(name: str) -> bool:
    metric = find(name)
    return metric is not None and metric.higher_is_better


def verdict_figures() -> list[Metric]:
    """The figures the verdict judges, in the order its sentences and tables name them."""
    return [BY_NAME[name] for name in VERDICT_ORDER]


EPOCH_METRICS, COMPARE_METRICS, SWEEP_METRICS = names(EPOCH), names(COMPARE), names(SWEEP)


def seed_spread(values: list) -> tuple[float, float | None, int]:
    """(mean, std, n) over seeds of the finite values; std with ddof = 1 (None for one seed), the same in
    summary.json `seeds` and `compare` (mean NaN when no value is finite)."""
    finite = np.array([v for v in values if isinstance(v, (int, float)) and math.isfinite(v)], dtype=float)
    if not len(finite):
        return float("nan"), None, 0
    return float(finite.mean()), float(finite.std(ddof=1)) if len(finite) > 1 else None, int(len(finite))
