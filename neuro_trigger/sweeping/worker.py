"""One sweep worker: take a trial, make its run through `run.execute` (or continue it with `run.resume`),
report the metric to the study, repeat until no trial is left.

A worker is a process (local, or a SLURM array task); every trial is a normal run folder whose
summary.json carries the tag `"sweep": {"name", "trial", "params"}` (and `"slurm_job_id"`).
"""
import contextlib
import ctypes
import logging
import os
import platform
import signal
import sys
import threading
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

from neuro_trigger.atomic import write_text
from neuro_trigger.errors import UserError
from neuro_trigger.runs.record import try_read_summary
from neuro_trigger.runs.signals import stop_on_signals
from neuro_trigger.sweeping import definition as definition_lib
from neuro_trigger.sweeping import study as study_lib
from neuro_trigger.sweeping.definition import Definition, packable
from neuro_trigger.sweeping.journal import JournalError
from neuro_trigger.sweeping.space import decode, encode
from neuro_trigger.training.threads import usable_cores

log = logging.getLogger("neuro_trigger.sweep")
PR_SET_PDEATHSIG = 1


def write_run_list(sweep_dir: Path, study: optuna.Study) -> None:
    """`runs.txt`: the run folders the trials stored, one per line, for `python -m neuro_trigger.compare <sweep>`."""
    paths = dict.fromkeys(t.user_attrs["run_dir"] for t in study.get_trials(deepcopy=False)
                          if "run_dir" in t.user_attrs)
    write_text(sweep_dir / "runs.txt", "".join(p + "\n" for p in paths))


def metric_value(summary: dict, metric: str) -> float | None:
    split, name = metric.split("/", 1)
    value = summary.get("metrics", {}).get(split, {}).get(name)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def trial_params(trial: optuna.trial.Trial, definition: Definition) -> dict:
    """The trial's values of the grid axes and ranges (decoded to config values)."""
    params = {key: decode(trial.suggest_categorical(key, [encode(v) for v in values]))
              for key, values in definition.space.axes.items()}
    params.update({key: rng.suggest(trial, key) for key, rng in definition.space.ranges.items()})
    return params


class Worker:
    """Runs trials of one sweep until none is left or `stop` is set."""

    def __init__(self, sweep_dir: Path, storage_url: str | None, slurm_job_id: str | None = None):
        self.sweep_dir = Path(sweep_dir)
        self.definition = definition_lib.load(self.sweep_dir)
        self.storage = study_lib.open_storage(self.sweep_dir, storage_url)
        self.study = optuna.load_study(study_name=self.definition.name, storage=self.storage,
                                       sampler=study_lib.sampler(self.definition))
        self.slurm_job_id = slurm_job_id
        self.stop = threading.Event()

    def next_trial(self) -> optuna.trial.Trial | None:
        study_lib.fail_dead_trials(self.study, self.storage)
        trial = study_lib.claim_waiting(self.study, self.storage)
        if trial is not None or self.definition.method == "grid":
            return trial
        now = study_lib.counts(self.study)
        if now["done"] + now["running"] >= self.definition.trials:
            return None
        trial = self.study.ask()  # pops a trial queued meanwhile (it has its seed), else samples a new point
        if "seed" not in trial.user_attrs:
            trial.set_user_attr("seed", self.definition.base_seed)
            trial.set_user_attr("sampled", True)
        return trial

    def run(self) -> int:
        """Trials run by this worker. With `--pack K`, up to K compatible trials (differing only in seed,
        learning rate or weight decay) train together; a claimed trial that fits no pack runs in the next."""
        done, claimed = 0, []
        size = int(self.definition.extra.get("pack") or 1)
        while not self.stop.is_set():
            while len(claimed) < size:
                trial = self.next_trial()
                if trial is None:
                    break
                claimed.append(trial)
            if not claimed:
                break
            pack = [claimed[0]] + [t for t in claimed[1:] if packable(self._overrides(t), self._overrides(claimed[0]))]
            claimed = [t for t in claimed if t not in pack]
            with contextlib.ExitStack() as beats:  # claimed trials waiting for the next pack stay alive
                for trial in claimed:
                    beats.enter_context(study_lib.Heartbeat(self.storage, trial._trial_id))
                if len(pack) == 1:
                    self.run_trial(pack[0])
                else:
                    self.run_pack(pack)
            done += len(pack)
        for trial in claimed:  # stopped with trials claimed but not started: back to the queue
            self._tell(trial, state=TrialState.FAIL)
            study_lib.requeue(self.study, study_lib.frozen(self.study, trial.number), max_retry=None)
        return done

    def _overrides(self, trial: optuna.trial.Trial) -> dict:
        return self.definition.overrides(trial_params(trial, self.definition),
                                         trial.user_attrs.get("seed", self.definition.base_seed))

    def _start(self, trial: optuna.trial.Trial) -> tuple[dict, int, dict, list[int]]:
        """Mark the trial as this worker's; its (params, seed, run tag, retry history)."""
        study_lib.mark_worker(trial)
        definition = self.definition
        retries = study_lib.history(study_lib.frozen(self.study, trial.number))
        params = trial_params(trial, definition)
        seed = trial.user_attrs.get("seed", definition.base_seed)
        if trial.user_attrs.get("sampled") and not retries:
            for other in definition.seed_values()[1:]:  # the other seeds of a newly sampled point
                self.study.enqueue_trial(dict(trial.params), user_attrs={"seed": other})
        tag = {"name": definition.name, "trial": trial.number, "params": params}
        if self.slurm_job_id:
            tag["slurm_job_id"] = self.slurm_job_id
        log.info("trial %d: %s seed %d", trial.number, params, seed)
        return params, seed, tag, retries

    def run_trial(self, trial: optuna.trial.Trial, started: tuple | None = None) -> None:
        """One trial on its own (`started`: what `_start` returned for it, when it was already called)."""
        from neuro_trigger import run as run_lib

        params, seed, tag, retries = started or self._start(trial)
        previous = self._previous_run(retries)
        started = time.perf_counter()
        try:
            with study_lib.Heartbeat(self.storage, trial._trial_id):
                if previous is not None and (try_read_summary(previous)[0] or {}).get("status") == "finished":
                    run_dir, code = previous, 0
                elif previous is not None:
                    log.info("trial %d continues %s from its last checkpoint", trial.number, previous)
                    run_dir, code = self._resume(previous, trial, params, seed, tag)
                else:
                    run_dir, code = run_lib.execute(self._request(trial, params, seed, tag))
        except JournalError:  # the study itself cannot be written: the sweep ends (serve)
            raise
        except Exception as e:  # one trial's failure must not end the sweep
            log.exception("trial %d failed", trial.number)
            trial.set_user_attr("error", f"{type(e).__name__}: {e}")
            self._tell(trial, state=TrialState.FAIL)
            return
        self._finish(trial, run_dir, code, time.perf_counter() - started)

    def run_pack(self, trials: list[optuna.trial.Trial]) -> None:
        """Compatible trials trained as one pack (`run.execute_pack`); each still gets its own run folder and
        result. A retried trial, or a pack the run refuses, runs on its own."""
        from neuro_trigger import run as run_lib

        started = [self._start(trial) for trial in trials]
        if any(retries for *_, retries in started):
            for trial, begun in zip(trials, started):
                self.run_trial(trial, begun)
            return
        requests = [self._request(trial, *begun[:3]) for trial, begun in zip(trials, started)]
        began = time.perf_counter()
        try:
            with contextlib.ExitStack() as beats:
                for trial in trials:
                    beats.enter_context(study_lib.Heartbeat(self.storage, trial._trial_id))
                outcomes = run_lib.execute_pack(requests)
        except JournalError:
            raise
        except UserError as e:
            log.warning("trials %s cannot be packed (%s): running them one by one",
                        [t.number for t in trials], e)
            for trial, begun in zip(trials, started):
                self.run_trial(trial, begun)
            return
        except Exception as e:  # one pack's failure must not end the sweep
            log.exception("trials %s failed", [t.number for t in trials])
            for trial in trials:
                trial.set_user_attr("error", f"{type(e).__name__}: {e}")
                self._tell(trial, state=TrialState.FAIL)
            return
        seconds = time.perf_counter() - began
        for trial, (run_dir, code) in zip(trials, outcomes):
            trial.set_user_attr("packed_with", [t.number for t in trials if t is not trial])
            self._finish(trial, run_dir, code, seconds)

    def _finish(self, trial: optuna.trial.Trial, run_dir: Path, code: int, seconds: float) -> None:
        """Record the trial's run folder and tell the study its metric (or its failure)."""
        from neuro_trigger import run as run_lib

        definition = self.definition
        trial.set_user_attr("run_dir", str(run_dir))
        trial.set_user_attr("run_s", round(seconds, 3))  # the run itself, without the sweep
        write_run_list(self.sweep_dir, self.study)
        if code in run_lib.INTERRUPTED_EXIT_CODES:
            self.stop.set()
            if self._tell(trial, state=TrialState.FAIL):
                study_lib.requeue(self.study, study_lib.frozen(self.study, trial.number), max_retry=None)
            return
        summary = try_read_summary(run_dir)[0] or {}
        value = metric_value(summary, definition.metric) if code == 0 else None
        if value is None:
            trial.set_user_attr("error", summary.get("error") or f"no metric {definition.metric} in summary.json")
            self._tell(trial, state=TrialState.FAIL)
        else:
            self._tell(trial, value)

    def _tell(self, trial: optuna.trial.Trial, value: float | None = None, state: TrialState | None = None) -> bool:
        """Report the trial; False when the study already failed it (its heartbeat went stale meanwhile)."""
        try:
            if study_lib.frozen(self.study, trial.number).state.is_finished():
                raise optuna.exceptions.UpdateFinishedTrialError(f"trial {trial.number} finished")
            self.study.tell(trial, value, state=state)
            return True
        except optuna.exceptions.UpdateFinishedTrialError:
            log.warning("trial %d was failed by the study meanwhile (stale heartbeat); its retry reuses the run",
                        trial.number)
            return False

    def _previous_run(self, retries: list[int]) -> Path | None:
        """The run folder of the trials this one retries (latest first), if one got that far: each trial stores
        its folder as soon as its run claims it (`RunRequest.on_claimed`)."""
        stored = {t.number: t.user_attrs.get("run_dir") for t in self.study.get_trials(deepcopy=False)}
        return next((Path(stored[n]) for n in reversed(retries) if stored.get(n)), None)

    def _resume(self, run_dir: Path, trial: optuna.trial.Trial, params: dict, seed: int, tag: dict):
        from neuro_trigger import run as run_lib

        try:
            return run_lib.resume(run_dir)
        except UserError as e:  # e.g. killed before its summary was written: start the trial afresh
            log.warning("trial %s: cannot resume %s (%s); starting afresh", tag["trial"], run_dir, e)
            return run_lib.execute(self._request(trial, params, seed, tag))

    def _request(self, trial: optuna.trial.Trial, params: dict, seed: int, tag: dict):
        """The trial's run, which stores its folder in the trial as soon as it exists (a retry then finds it);
        without plots (issue 21): the sweep draws those of its best trials at its end (`best_figures`)."""
        from neuro_trigger.run import RunRequest

        definition = self.definition
        tracked = definition.extra.get("tracking") or {}  # the sweep's MLflow parent run, if tracked
        return RunRequest(config_name=definition.config, overrides=definition.overrides(params, seed),
                          production=True, description=f"sweep {definition.name} trial {tag['trial']}",
                          data_files=definition.data_files, log_root=Path(definition.extra["log_root"]),
                          tags={"sweep": tag}, on_claimed=lambda run_dir: trial.set_user_attr("run_dir", str(run_dir)),
                          tracking_uri=tracked.get("uri"), tracking_parent=tracked.get("parent_run_id"), figures=False)


def core_share(index: int, workers: int) -> list[int]:
    """Worker `index`'s cores when `workers` workers share the cores this process may use (the rule of
    `training/threads.py`): consecutive blocks whose sizes differ by at most one, never an empty one."""
    cores = usable_cores()
    count = max(1, min(workers, len(cores)))
    index %= count
    return cores[index * len(cores) // count:(index + 1) * len(cores) // count]


def limit_cores(cores: list[int]) -> int:
    """Pin this process to its share of the cores and use as many torch threads; returns their number."""
    import torch

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cores)
    available = len(usable_cores())
    torch.set_num_threads(available)  # the trial's evaluation and export; its experts train as threads.py says
    return available


def _die_with_parent() -> None:
    """Linux: this worker gets SIGTERM when the sweep process that started it dies."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def serve(sweep_dir: str, storage_url: str | None, index: int | None = None, workers: int = 1,
          errors=None) -> int:
    """Entry point of every worker process: worker `index` of `workers` started by `pool.py` (output in
    workers/worker_<index>.log), or without `index` a SLURM array task started by submitit. Runs trials until
    none is left; the first Ctrl-C or SIGTERM stops the current run at its next step and the worker after it.
    A journal that cannot be written (disk full) ends the worker: its one line goes to `errors` (the pool's
    queue), or is raised (a SLURM task's result)."""
    from neuro_trigger.runs.logs import configure_console

    if index is None:  # `cpus` cores of the node by array task id, unless SLURM pins the tasks itself
        import submitit

        wanted, slurm_job_id = int(os.environ.get("SLURM_CPUS_PER_TASK") or 0), str(submitit.JobEnvironment().job_id)
        index, workers = int(os.environ.get("SLURM_ARRAY_TASK_ID") or 0), len(usable_cores()) // wanted if wanted else 1
    else:
        os.setpgid(0, 0)  # Ctrl-C reaches the sweep process only, which stops each worker once
        _die_with_parent()
        (Path(sweep_dir) / "workers").mkdir(exist_ok=True)
        out = os.open(Path(sweep_dir) / "workers" / f"worker_{index}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        os.dup2(out, 1)
        os.dup2(out, 2)
        sys.stdout = open(1, "w", buffering=1, closefd=False)
        sys.stderr = open(2, "w", buffering=1, closefd=False)
        slurm_job_id = None
    configure_console(interactive=False)
    threads = limit_cores(core_share(index, workers))
    try:
        worker = Worker(Path(sweep_dir), storage_url, slurm_job_id)
        log.info("worker pid %d on %s, %d torch threads", os.getpid(), platform.node(), threads)
        with stop_on_signals(worker.stop):  # while a run trains, the run's own handler (the same rule) takes over
            done = worker.run()
    except JournalError as e:
        log.error("%s", e)
        if errors is None:
            raise
        errors.put(str(e))
        return 0
    log.info("worker pid %d: %d trials, stopping", os.getpid(), done)
    return done
