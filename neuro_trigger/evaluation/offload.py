"""Evaluation work that needs no torch (bootstrap uncertainties, figures) done in worker processes.

The expert threads share one interpreter, whose lock the Lightning loop holds most of the time: numpy's
bootstrap and matplotlib's drawing in those threads slowed training and were slowed by it, and drew on one
core at a time (bench/profile_run.py). In processes of their own they run beside training on the other
core. Workers are forked by multiprocessing's fork server, which `start_server` launches before torch is
imported: it imports numpy and matplotlib while the main process imports torch, so a worker starts in
milliseconds and never inherits torch's or the experts' threads.

Outside a `workers()` block, or where there is no fork server, every job runs in the calling thread.
"""
import concurrent.futures
import contextlib
import gc
import logging
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterator

from neuro_trigger.errors import write_fault

log = logging.getLogger("neuro_trigger.offload")

# imported once by the fork server, so that no worker imports them again
PRELOAD = ["neuro_trigger.evaluation.plots", "neuro_trigger.evaluation.fixed_twins",
           "matplotlib.backends.backend_agg", "PIL.PngImagePlugin"]
MAX_WORKERS = 2  # per pool: the splits of one expert at once; more only compete with training for the cores
# Two pools: an expert thread waits for its metrics (its training slot stays taken meanwhile), nobody waits
# for figures until the run ends; with workers of their own, figures never hold up a metric in a queue.
# (Figure workers at a lower priority let training go first on an idle machine, but starved the figures
# next to other users' work: no faster overall on the shared 2-core machine, bench/profile_run.py.)
GC_THRESHOLD = 20_000  # objects allocated between young collections (Python's default 700): matplotlib makes
# tens of thousands per figure, nearly all freed with the figure; with the preloaded modules frozen out of the
# collector's view as well, a figure costs some 15% less CPU

_state = threading.Lock()
_pool: concurrent.futures.ProcessPoolExecutor | None = None  # metrics: somebody waits for them
_figures_pool: concurrent.futures.ProcessPoolExecutor | None = None  # background jobs (figures)
_workers_per_pool = 1
_users = 0
_background: list[tuple[Future, Callable, tuple, dict]] = []  # jobs nobody waits for until the block ends
_seconds = 0.0  # CPU time of the jobs finished in workers, for the run's timing


def available() -> bool:
    """Whether worker processes can be forked from a fork server here (POSIX, not Windows)."""
    return "forkserver" in multiprocessing.get_all_start_methods()


def start_server() -> None:
    """Launch the fork server now, with PRELOAD imported in it, so that the first worker is ready at once."""
    if not available():
        return
    from multiprocessing import forkserver

    multiprocessing.set_forkserver_preload(PRELOAD)
    forkserver.ensure_running()


def _worker_started() -> None:
    """Ctrl-C is the main process's to handle (it stops training and still exports): workers ignore it.
    The modules imported so far live as long as the worker: the garbage collector need not scan them again."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])


def _timed(umask: int, function: Callable, args: tuple, kwargs: dict) -> tuple[Any, float]:
    """Run a job in a worker with the run's umask (for the files it writes); returns (result, CPU seconds)."""
    os.umask(umask)
    started = time.process_time()
    return function(*args, **kwargs), time.process_time() - started


@contextlib.contextmanager
def workers() -> Iterator[None]:
    """Worker processes for this block (nested and concurrent blocks share them); at its end every job
    submitted has finished, and the failures of background jobs are logged."""
    global _pool, _figures_pool, _users, _workers_per_pool
    with _state:
        _users += 1
        if _pool is None and available():
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
            multiprocessing.set_forkserver_preload(PRELOAD)
            context = multiprocessing.get_context("forkserver")
            count = _workers_per_pool = max(1, min(MAX_WORKERS, cores))
            _pool = concurrent.futures.ProcessPoolExecutor(count, context, _worker_started)
            _figures_pool = concurrent.futures.ProcessPoolExecutor(count, context, _worker_started)
    try:
        yield
    finally:
        try:
            wait_background()
        finally:
            with _state:
                _users -= 1
                pools = (_pool, _figures_pool) if _users == 0 else ()
                if pools:
                    _pool = _figures_pool = None
            for pool in pools:
                if pool is not None:
                    pool.shutdown(wait=True, cancel_futures=True)


def submit(function: Callable, *args, **kwargs) -> Future:
    """Start `function(*args, **kwargs)` in a worker (it and its arguments must pickle, and its module must
    not import torch); returns its future. Without workers it runs here, and the future is done."""
    return _submit(_pool, function, args, kwargs)


def _submit(pool: concurrent.futures.ProcessPoolExecutor | None, function: Callable, args: tuple,
            kwargs: dict) -> Future:
    if pool is not None:
        try:
            return _counted(pool.submit(_timed, _umask(), function, args, kwargs))
        except (BrokenProcessPool, RuntimeError) as e:  # a worker died, or the pool is shut down
            log.warning("worker processes unavailable (%s): evaluating in this thread", e)
    done: Future = Future()
    try:
        done.set_result(function(*args, **kwargs))
    except Exception as e:
        done.set_exception(e)
    return done


def result(future: Future, function: Callable, *args, **kwargs) -> Any:
    """The result of a submitted job; a job lost with its worker (killed, out of memory) is run again here."""
    try:
        return future.result()
    except BrokenProcessPool:
        log.warning("a worker process died: running %s in this thread", function.__name__)
        return function(*args, **kwargs)


def submit_background(function: Callable, *args, **kwargs) -> None:
    """Start a job whose result nobody needs before the `workers()` block ends (writing figures), in the
    figures' workers."""
    future = submit_figures(function, *args, **kwargs)
    with _state:
        _background.append((future, function, args, kwargs))


def submit_figures(function: Callable, *args, **kwargs) -> Future:
    """Start a job of figures whose result its caller collects (`result`), in the figures' workers."""
    return _submit(_figures_pool, function, args, kwargs)


def figure_shares() -> int:
    """Into how many jobs to split a set of figures: one per figure worker (1 without workers)."""
    return 1 if _figures_pool is None else _workers_per_pool


def wait_background() -> None:
    """Wait for every background job; log the failures (with traceback), rerun here the ones a dead worker lost.
    A full or read-only disk is raised once all have ended: the run is not complete without its figures."""
    with _state:
        jobs = list(_background)
        _background.clear()
    fault = None
    for future, function, args, kwargs in jobs:
        try:
            result(future, function, *args, **kwargs)
        except Exception as e:
            if write_fault(e) is None:
                log.exception("%s failed", function.__name__)
            fault = fault or (e if write_fault(e) else None)
    if fault is not None:
        raise fault


def worker_seconds() -> float:
    """CPU seconds the workers spent on the jobs finished so far (in this process's lifetime)."""
    return _seconds


def _counted(future: Future) -> Future:
    """The job's own result, with its CPU time added to `worker_seconds`."""
    outer: Future = Future()

    def unpack(inner: Future) -> None:
        global _seconds
        try:
            value, seconds = inner.result()
        except BaseException as e:
            outer.set_exception(e)
            return
        with _state:
            _seconds += seconds
        outer.set_result(value)
    future.add_done_callback(unpack)
    return outer


def _umask() -> int:
    from neuro_trigger.atomic import current_umask

    return current_umask()
