"""Shared fixtures: a private cache folder, and small synthetic data sets made once per session."""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# every test process (and the subprocesses it starts) uses a private cache
os.environ["NEURO_TRIGGER_CACHE"] = tempfile.mkdtemp(prefix="nt-test-cache-")
# pytest-xdist's workers run with COLUMNS=80 and LINES=24 set; the CLIs take COLUMNS as the terminal's width, so
# every test starts without them, as a command piped into a file does (tests that need a width set their own)
for name in ("COLUMNS", "LINES"):
    os.environ.pop(name, None)

from neuro_trigger.constants import ID_COLUMNS  # noqa: E402
from neuro_trigger.data import splits  # noqa: E402
from neuro_trigger.data.tracks import Tracks  # noqa: E402

SMALL_ROWS = {"train": 6000, "val": 1500, "test": 1500}


@pytest.fixture(scope="session")
def small_files(tmp_path_factory) -> dict[str, list[Path]]:
    """A small synthetic data set (gz), the same in every session."""
    return splits.write_synthetic(tmp_path_factory.mktemp("small"), SMALL_ROWS, seed=7)


@pytest.fixture(scope="session")
def small_data_args(small_files) -> list[str]:
    """`--data TRAIN VAL TEST` arguments for main.py."""
    return ["--data"] + [str(small_files[s][0]) for s in splits.SPLITS]


def make_tracks(event, reco_z, reco_theta=None, expert=None, run=None) -> Tracks:
    """A hand-made table: one row per entry, other columns filled with plausible constants."""
    n = len(event)
    ids = np.zeros((n, len(ID_COLUMNS)), dtype=np.int64)
    ids[:, 1] = 1 if run is None else run
    ids[:, 3] = event
    ids[:, 6] = 0 if expert is None else expert
    ids[:, 7], ids[:, 8] = 27, 2
    reco = np.stack([np.asarray(reco_z, float), np.zeros(n) if reco_theta is None else np.asarray(reco_theta, float)], 1)
    return Tracks(ids=ids, inputs=np.zeros((n, 27), np.float32), reco=reco, old=np.zeros((n, 2)),
                  old_raw=np.zeros((n, 2), np.int64), row=np.arange(n, dtype=np.int64))


def run_module(*args: str, cwd: Path = REPO_ROOT, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    """Run `python <args>` as a user would, from the repository root, capturing output."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if Path(cwd).resolve() != REPO_ROOT:  # outside the checkout the package must be found on the path
        env["PYTHONPATH"] = str(REPO_ROOT)
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=env, **kwargs)
