"""The Optuna study behind a sweep: its storage, creation (grid trials enqueued once), claiming trials,
and failing trials whose worker died.

Storage is a journal file in the sweep folder by default (no server), or an RDB (PostgreSQL) with
heartbeats when `--storage URL` is given. Journal storage has no heartbeat: a RUNNING trial is stale
when its worker process (pid and host, stored on the trial) is gone.
"""
import json
import logging
import os
import platform
import threading
import time
import warnings
from pathlib import Path

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from neuro_trigger.errors import UserError, describe
from neuro_trigger.sweeping import journal
from neuro_trigger.sweeping.definition import Definition

log = logging.getLogger("neuro_trigger.sweep")
JOURNAL = journal.FILE
MAX_RETRIES = 2  # a trial whose worker died is re-run at most twice
HEARTBEAT_INTERVAL_S = int(os.environ.get("NEURO_TRIGGER_SWEEP_HEARTBEAT_S", "30"))
GRACE_PERIOD_S = 4 * HEARTBEAT_INTERVAL_S
ENQUEUED = "grid_enqueued"

warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
optuna.logging.set_verbosity(optuna.logging.WARNING)


def database_url(url: str) -> str:
    """`postgresql://...` as users type it -> the psycopg2 driver (SQLAlchemy 2.1 would pick psycopg 3)."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg2://" + url[len(plain):]
    return url


def _parsed(url: str):
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url)
    except ArgumentError:
        raise UserError(f"--storage {url.split('@')[-1]}: not a database URL; expected "
                        f"postgresql://USER@HOST:PORT/DB") from None


def shown_url(url: str | None) -> str | None:
    """The storage URL without its password (in the user part or as `?password=`), as written to sweep.json and
    printed (libpq then finds the password in PGPASSWORD, PGPASSFILE or ~/.pgpass)."""
    if url is None:
        return None
    parsed = _parsed(url)
    return parsed._replace(password=None).difference_update_query(["password"]).render_as_string(
        hide_password=False)


def private_url(url: str | None, password_file: Path | None) -> str | None:
    """The storage URL without its password. The password, from the URL or from `--storage-password-file`,
    goes to PGPASSWORD of this process, where libpq reads it and the workers (local processes, SLURM tasks)
    inherit it, so no file, pickle or log of the sweep holds it. Without either, libpq's own ways apply
    (PGPASSWORD, PGPASSFILE, ~/.pgpass)."""
    if url is None:
        if password_file is not None:
            raise UserError("--storage-password-file: only with a --storage database URL")
        return None
    parsed = _parsed(url)
    password = parsed.password or parsed.query.get("password")
    if password_file is not None:
        if password:
            raise UserError(f"--storage {shown_url(url)}: the URL holds a password and --storage-password-file "
                            f"gives one too; give one of them")
        password = read_password_file(Path(password_file))
    if password:
        os.environ["PGPASSWORD"] = password if isinstance(password, str) else password[0]
    return shown_url(url)


def read_password_file(path: Path) -> str:
    """The password on the first line of `path`, a file only its owner may read (as libpq asks of ~/.pgpass)."""
    try:
        mode = path.stat().st_mode
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"--storage-password-file {path}: cannot read it ({describe(e)})") from None
    if mode & 0o077:
        raise UserError(f"--storage-password-file {path}: readable by others (mode {mode & 0o777:o}); "
                        f"expected a private file (chmod 600 {path})")
    password = text.split("\n", 1)[0].rstrip("\r")
    if not password:
        raise UserError(f"--storage-password-file {path}: its first line is empty; expected the password")
    return password


def open_storage(sweep_dir: Path, url: str | None, attempts: int = 5) -> optuna.storages.BaseStorage:
    """The study's storage; an unreachable or malformed database URL is a user error.

    Processes joining an empty database at once race on creating its tables, so creation is retried.
    """
    if url is None:  # a damaged journal is refused here, before any process appends to it
        try:
            sweep_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"{sweep_dir}: cannot create the sweep folder ({describe(e)})") from None
        return journal.open_journal(sweep_dir / JOURNAL)
    from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError, ProgrammingError

    kwargs = {"pool_pre_ping": True}
    if database_url(url).startswith("postgresql+psycopg2://"):
        kwargs["connect_args"] = {"connect_timeout": 10}
    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna, and what we need
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    database_url(url), engine_kwargs=kwargs, heartbeat_interval=HEARTBEAT_INTERVAL_S,
                    grace_period=GRACE_PERIOD_S,
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES))
        except (IntegrityError, ProgrammingError) as e:  # another process created the tables at the same time
            if attempt == attempts - 1:
                raise UserError(f"--storage {shown_url(url)}: cannot set up the study tables ({_first_line(e)})")
            time.sleep(0.5 + attempt)
        except OperationalError as e:
            raise UserError(f"--storage {shown_url(url)}: cannot connect ({_first_line(e.orig or e)})") from None
        except (ArgumentError, ImportError, ValueError) as e:
            raise UserError(f"--storage {shown_url(url)}: not a usable database URL ({_first_line(e)})") from None
    raise AssertionError("unreachable")


def _first_line(e: BaseException) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def sampler(definition: Definition) -> optuna.samplers.BaseSampler:
    """Unseeded: workers with equally seeded samplers would all draw the same points. TPE's constant liar
    keeps parallel workers from crowding around one point."""
    if definition.method == "tpe":
        return optuna.samplers.TPESampler(constant_liar=True)
    return optuna.samplers.RandomSampler()


def create_or_load(storage, definition: Definition) -> optuna.Study:
    """Create the study (enqueueing every grid point x seed exactly once) or join the existing one."""
    try:
        study = optuna.create_study(study_name=definition.name, storage=storage, direction=definition.direction,
                                    sampler=sampler(definition))
        created = True
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=definition.name, storage=storage, sampler=sampler(definition))
        created = False
    if definition.method != "grid":
        return study
    if created:
        _enqueue_grid(study, definition)
    else:
        deadline = time.time() + 60  # a process that created the study a moment ago is still enqueueing
        while ENQUEUED not in study.user_attrs and time.time() < deadline:
            time.sleep(1)
        if ENQUEUED not in study.user_attrs:  # its creator died while enqueueing: finish the job
            _enqueue_grid(study, definition)
    return study


def _enqueue_grid(study: optuna.Study, definition: Definition) -> None:
    present = {_identity(t) for t in study.get_trials(deepcopy=False)}
    for trial in definition.grid_trials():
        if (json.dumps(trial["params"], sort_keys=True), trial["seed"]) not in present:
            study.enqueue_trial(trial["params"], user_attrs={"seed": trial["seed"]})
    study.set_user_attr(ENQUEUED, True)


def _identity(trial: optuna.trial.FrozenTrial) -> tuple[str, int | None]:
    return json.dumps(trial.params or trial.system_attrs.get("fixed_params", {}), sort_keys=True), \
        trial.user_attrs.get("seed")


def claim_waiting(study: optuna.Study, storage) -> optuna.trial.Trial | None:
    """Take a WAITING trial (grid point or retry) for this worker; None when none is left.

    Setting WAITING -> RUNNING is atomic in both storages, so two workers never take the same trial.
    (`study.ask()` does the same, but makes a new sampled trial when none waits: a grid must not grow.)
    """
    for waiting in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        if storage.set_trial_state_values(waiting._trial_id, state=TrialState.RUNNING):
            return optuna.trial.Trial(study, waiting._trial_id)
    return None


def mark_worker(trial: optuna.trial.Trial) -> None:
    """Record which process runs the trial, so that a rerun can tell when that process is gone."""
    trial.set_user_attr("worker", {"trial": trial.number, "host": platform.node(), "pid": os.getpid()})


def requeue(study: optuna.Study, frozen: optuna.trial.FrozenTrial, max_retry: int | None = MAX_RETRIES) -> None:
    """Queue a failed trial again with its parameters; its run folder is found through the retry history."""
    RetryHeartbeatStaleTrialCallback(max_retry=max_retry)(study, frozen)


history = RetryHeartbeatStaleTrialCallback.retry_history  # numbers of the trials one retries, oldest first


def frozen(study: optuna.Study, number: int) -> optuna.trial.FrozenTrial:
    return next(t for t in study.get_trials(deepcopy=False) if t.number == number)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_dead_trials(study: optuna.Study, storage) -> list[int]:
    """Fail and requeue RUNNING trials whose worker died (journal storage; RDB uses heartbeats).

    The worker's pid and host are the trial's `worker` attribute (`mark_worker`, set before its run starts).
    Trials of live or other-host workers are left alone.
    """
    if isinstance(storage, optuna.storages.RDBStorage):
        optuna.storages.fail_stale_trials(study)
        return []
    failed = []
    for frozen in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = frozen.user_attrs.get("worker") or {}
        if worker.get("trial", frozen.number) != frozen.number:  # copied from the trial this one retries
            continue
        pid, host = worker.get("pid"), worker.get("host")
        if host != platform.node() or not isinstance(pid, int) or pid == os.getpid() or _alive(pid):
            continue
        try:
            study.tell(frozen.number, state=TrialState.FAIL)
        except (optuna.exceptions.UpdateFinishedTrialError, RuntimeError, ValueError):  # finished meanwhile
            continue
        log.warning("trial %d: its worker (pid %d) is gone; queued again", frozen.number, pid)
        requeue(study, frozen)
        failed.append(frozen.number)
    return failed


class Heartbeat:
    """Records the trial's heartbeat in an RDB storage while a trial runs (nothing for journal storage)."""

    def __init__(self, storage, trial_id: int):
        self.storage, self.trial_id = storage, trial_id
        self.stop = threading.Event()
        self.thread = None

    def __enter__(self) -> "Heartbeat":
        if isinstance(self.storage, optuna.storages.RDBStorage):
            self.storage.record_heartbeat(self.trial_id)
            self.thread = threading.Thread(target=self._beat, daemon=True, name="sweep-heartbeat")
            self.thread.start()
        return self

    def _beat(self) -> None:
        while not self.stop.wait(HEARTBEAT_INTERVAL_S):
            try:
                self.storage.record_heartbeat(self.trial_id)
            except Exception:  # a database hiccup must not kill the trial; the next beat tries again
                log.warning("trial heartbeat failed", exc_info=True)

    def __exit__(self, *exc) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()


def counts(study: optuna.Study) -> dict:
    """Trials done / running / waiting / failed (not retried) / retried, and the best value so far."""
    trials = study.get_trials(deepcopy=False)
    retried = {n for t in trials for n in history(t)}
    by_state = {s: [t for t in trials if t.state == s] for s in TrialState}
    failed = by_state[TrialState.FAIL]
    result = {"done": len(by_state[TrialState.COMPLETE]), "running": len(by_state[TrialState.RUNNING]),
              "waiting": len(by_state[TrialState.WAITING]),
              "failed": sum(t.number not in retried for t in failed),
              "retried": sum(t.number in retried for t in failed),
              "best_value": None, "best_trial": None}
    if result["done"]:
        best = study.best_trial
        result["best_value"], result["best_trial"] = best.value, best.number
    return result
