"""Evaluation jobs in worker processes: the same results as in the calling thread, files written by the
time the block ends, failures logged, and a job lost with its worker run again here."""
import logging
import os
import stat

import numpy as np

from neuro_trigger.evaluation import offload
from neuro_trigger.evaluation.fixed_twins import evaluate_split
from neuro_trigger.hardware.fixed_point import FixedPointNetwork


def split_data(n: int = 3000, seed: int = 3):
    rng = np.random.default_rng(seed)
    reco = rng.uniform(-0.5, 0.5, (n, 2))
    reco[: n // 3, 0] = rng.normal(0, 0.002, n // 3)  # interaction-point tracks
    old = reco + rng.normal(0, 0.05, reco.shape)
    pred = reco + rng.normal(0, 0.03, reco.shape)
    inputs = rng.uniform(-1, 1, (n, 27)).astype(np.float32)
    network = FixedPointNetwork(rng.integers(-300, 300, (81, 27)), rng.integers(-300, 300, 81),
                                rng.integers(-300, 300, (2, 81)), rng.integers(-300, 300, 2))
    return pred, network, inputs, reco, old


def same(a, b) -> bool:
    """Equal metrics dicts, NaN equal to NaN, floats to the last bits (numpy's sums may take another order
    in another process, where the arrays lie at other addresses)."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return bool(np.isclose(a, b, rtol=1e-12, atol=0.0, equal_nan=True))
    return a == b


def test_a_split_evaluated_in_a_worker_equals_the_same_job_here():
    job = (*split_data(), 15.0, "all")
    here, here_nodes = evaluate_split(*job)
    with offload.workers():
        future = offload.submit(evaluate_split, *job)
        there, there_nodes = offload.result(future, evaluate_split, *job)
    assert same(here, there) and np.isfinite(here["z_diff_std_fixed_err"])
    np.testing.assert_array_equal(here_nodes, there_nodes)


def _write_marker(folder, name: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("drawn")
    return name


def _fail(message: str) -> None:
    raise ValueError(message)


def test_background_jobs_are_done_when_the_block_ends_and_their_failures_are_logged(tmp_path, caplog):
    previous = os.umask(0o027)
    try:
        with caplog.at_level(logging.ERROR, logger="neuro_trigger.offload"), offload.workers():
            offload.submit_background(_write_marker, tmp_path / "plots", "a.png")
            offload.submit_background(_fail, "no figure today")
    finally:
        os.umask(previous)
    written = tmp_path / "plots" / "a.png"
    assert written.read_text() == "drawn"
    assert stat.S_IMODE(written.stat().st_mode) == 0o640  # the run's umask, not the worker's
    assert "no figure today" in caplog.text


def _die_in_a_worker(parent: int) -> str:
    if os.getpid() != parent:
        os._exit(3)  # a worker killed (out of memory, a signal) in the middle of the job
    return "done here"


def test_a_job_lost_with_its_worker_runs_again_here():
    with offload.workers():
        future = offload.submit(_die_in_a_worker, os.getpid())
        assert offload.result(future, _die_in_a_worker, os.getpid()) == "done here"
        again = offload.submit(_die_in_a_worker, os.getpid())  # the pool is broken: this one runs here
        assert offload.result(again, _die_in_a_worker, os.getpid()) == "done here"


def test_without_workers_jobs_run_in_the_calling_thread():
    future = offload.submit(os.getpid)
    assert future.done() and future.result() == os.getpid()
