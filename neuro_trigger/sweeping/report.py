"""What people look at: the live progress line, `--status`, `status.json` and the sweep's `report.html`.

The report is self-contained like a run's: Optuna's optimisation history, parameter importances and
parallel coordinates (drawn with `optuna.visualization.matplotlib`) as base64 PNGs, then every trial.
"""
import base64
import html
import io
import json
import warnings
from pathlib import Path
from typing import TextIO

import optuna
from optuna.trial import TrialState

from neuro_trigger.atomic import write_json, write_text
from neuro_trigger.sweeping import definition as definition_lib
from neuro_trigger.sweeping import study as study_lib


def open_study(sweep_dir: Path, storage_url: str | None) -> optuna.Study:
    definition = definition_lib.load(sweep_dir)
    storage = study_lib.open_storage(sweep_dir, storage_url)
    return optuna.load_study(study_name=definition.name, storage=storage)


def progress_text(name: str, metric: str, state: dict) -> str:
    best = "-" if state["best_value"] is None else f"{state['best_value']:.4g} (trial {state['best_trial']})"
    retried = f" ({state['retried']} retried)" if state.get("retried") else ""
    return (f"sweep {name}: {state['done']} done, {state['running']} running, {state['waiting']} waiting, "
            f"{state['failed']} failed{retried}; best {metric} {best}")


class ProgressLine:
    """One line that says how far the sweep is, redrawn in place on a terminal, else printed on change."""

    def __init__(self, sweep_dir: Path, storage_url: str | None, out: TextIO):
        self.sweep_dir, self.out = sweep_dir, out
        self.definition = definition_lib.load(sweep_dir)
        self.study = open_study(sweep_dir, storage_url)
        self.last = None
        self.tty = out.isatty()

    def update(self, final: bool = False) -> dict:
        state = study_lib.counts(self.study)
        text = progress_text(self.definition.name, self.definition.metric, state)
        try:
            write_json(self.sweep_dir / "status.json", {"name": self.definition.name,
                                                        "metric": self.definition.metric, **state})
        except OSError:  # e.g. a full disk: the line below still says how far the sweep is
            pass
        if self.tty:
            print("\r" + text.ljust(len(self.last or "")), end="\n" if final else "", file=self.out, flush=True)
        elif text != self.last:
            print(text, file=self.out, flush=True)
        self.last = text
        return state


def trial_rows(study: optuna.Study) -> list[dict]:
    """One entry per trial: number, state, seed, parameters, value, run folder, what it retries."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        rows.append({"trial": t.number, "state": t.state.name, "seed": t.user_attrs.get("seed"),
                     "params": t.params, "value": t.value, "run_dir": t.user_attrs.get("run_dir"),
                     "retries": study_lib.history(t) or None, "error": t.user_attrs.get("error")})
    return rows


def status(sweep_dir: Path, storage_url: str | None) -> dict:
    definition = definition_lib.load(sweep_dir)
    study = open_study(sweep_dir, storage_url)
    state = study_lib.counts(study)
    return {"name": definition.name, "config": definition.config, "method": definition.method,
            "metric": definition.metric, "direction": definition.direction, **state,
            "line": progress_text(definition.name, definition.metric, state), "trials": trial_rows(study)}


def print_status(result: dict, out: TextIO) -> None:
    print(result["line"], file=out)
    print(f"{'trial':>5}  {'state':<8} {'seed':>5}  {'value':>10}  params / run folder", file=out)
    for row in result["trials"]:
        value = _value(row["value"])
        params = ", ".join(f"{k}={v}" for k, v in row["params"].items())
        where = row["run_dir"] or ""
        print(f"{row['trial']:>5}  {row['state']:<8} {str(row['seed']):>5}  {value:>10}  {params}  {where}", file=out)


def _value(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _png(axes) -> str:
    figure = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
    figure.set_size_inches(8, 5)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    import matplotlib.pyplot as plt

    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def figures(study: optuna.Study, metric: str) -> list[tuple[str, str | None, str]]:
    """(title, base64 PNG or None, why not) of the three Optuna plots."""
    import matplotlib

    matplotlib.use("Agg")
    from optuna.visualization import matplotlib as ovm

    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    plots = [("Optimisation history", lambda: ovm.plot_optimization_history(study, target_name=metric)),
             ("Parameter importances", lambda: ovm.plot_param_importances(study, target_name=metric)),
             ("Parallel coordinates", lambda: ovm.plot_parallel_coordinate(study, target_name=metric))]
    result = []
    for title, draw in plots:
        if not done:
            result.append((title, None, "no finished trial yet"))
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result.append((title, _png(draw()), ""))
        except (ValueError, RuntimeError, ZeroDivisionError) as e:  # e.g. importances of a single parameter value
            result.append((title, None, str(e).splitlines()[0] if str(e) else type(e).__name__))
    return result


def write_report(sweep_dir: Path, storage_url: str | None) -> Path:
    """`report.html` in the sweep folder; returns its path."""
    e = html.escape
    result = status(sweep_dir, storage_url)
    study = open_study(sweep_dir, storage_url)
    definition = definition_lib.load(sweep_dir)
    parts = [f"<h1>NeuroTrigger sweep {e(result['name'])}</h1>", f"<p>{e(result['line'])}</p>",
             f"<p>config <b>{e(definition.config)}</b>, method {e(definition.method)}, {e(definition.direction)} "
             f"{e(definition.metric)}; leaderboard: <code>python -m neuro_trigger.compare {e(str(sweep_dir))} "
             f"--split {e(definition.metric.split('/')[0])}</code></p>"]
    for title, png, why in figures(study, definition.metric):
        parts.append(f"<h2>{e(title)}</h2>" + (f'<img alt="{e(title)}" src="data:image/png;base64,{png}">'
                                               if png else f"<p>not drawn: {e(why)}</p>"))
    head = "".join(f"<th>{c}</th>" for c in ("trial", "state", "seed", "value", "parameters", "run folder"))
    body = "".join(
        f"<tr><td>{r['trial']}</td><td>{r['state']}</td><td>{r['seed']}</td><td>{_value(r['value'])}</td>"
        f"<td>{e(json.dumps(r['params']))}</td><td>{e(r['run_dir'] or '')}</td></tr>" for r in result["trials"])
    parts.append(f"<h2>Trials</h2><table><tr>{head}</tr>{body}</table>")
    parts.append(f"<h2>Definition</h2><pre>{e(json.dumps(definition.to_json(), indent=1))}</pre>")
    style = ("body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse}"
             "td,th{border:1px solid #bbb;padding:3px 8px}th{background:#eee}img{max-width:800px}"
             "pre{background:#f6f6f6;padding:1em}")
    path = sweep_dir / "report.html"
    write_text(path, f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>sweep {e(result['name'])}</title>"
                     f"<style>{style}</style></head><body>" + "\n".join(parts) + "</body></html>\n")
    return path
