"""The plots of a sweep's best trials, drawn once the sweep has ended.

Trials are made without plots (a trial's figures took longer than its packed training, issue 21): each
writes its metrics, weights and predictions, and its summary.json says `"figures": "pending"`. At the end
the best trials get their plots and full report.html (`inference.draw_figures`, the same as
`python neuro_trigger/main.py --draw RUN_DIR`, which draws any other trial on demand).
"""
import logging
from pathlib import Path

import optuna
from optuna.trial import TrialState

from neuro_trigger.errors import UserError
from neuro_trigger.evaluation.report import FIGURES_PENDING
from neuro_trigger.runs.record import try_read_summary

log = logging.getLogger("neuro_trigger.sweep")
BEST_DRAWN = 1  # trials whose plots the sweep draws at its end (sweep.py --draw-best): each costs a run's plots
# (some 60 of a five-expert run), which the sweep's per-trial budget of 2 s (issue 21) pays for over its trials


def best_run_dirs(study: optuna.Study, direction: str, count: int = BEST_DRAWN) -> list[Path]:
    """The run folders of the `count` best finished trials, best first."""
    done = [t for t in study.get_trials(deepcopy=False)
            if t.state == TrialState.COMPLETE and t.value is not None and "run_dir" in t.user_attrs]
    done.sort(key=lambda t: t.value, reverse=direction == "maximize")
    return [Path(t.user_attrs["run_dir"]) for t in done[:count]]


def draw_best(study: optuna.Study, direction: str, count: int = BEST_DRAWN) -> list[Path]:
    """Draw the plots of the best trials whose plots are pending; returns the run folders drawn. A trial that
    cannot be drawn (its data files moved) is logged and skipped: the sweep's result does not depend on it."""
    from neuro_trigger.inference import draw_figures

    drawn = []
    for run_dir in best_run_dirs(study, direction, count):
        if (try_read_summary(run_dir)[0] or {}).get("figures") != FIGURES_PENDING:
            continue
        try:
            draw_figures(run_dir)
        except UserError as e:
            log.warning("plots of %s not drawn: %s", run_dir, e)
            continue
        drawn.append(run_dir)
    return drawn
