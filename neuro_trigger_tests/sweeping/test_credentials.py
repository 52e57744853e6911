"""Credentials (issue 23): a sweep on a password-protected PostgreSQL leaves the password in no file that
others can read (sweep folder, submitit's pickles and logs, run folders, reports) and on no console, and the
ways PostgreSQL users keep it out of URLs work: ~/.pgpass or PGPASSFILE, PGPASSWORD, --storage-password-file."""
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from neuro_trigger_tests.conftest import run_module
from neuro_trigger_tests.sweeping.helpers import FAST
from neuro_trigger_tests.sweeping.postgres import postgres_server

PASSWORD = "Pw-5c1f9e-leak-probe"


@pytest.fixture(scope="module")
def guarded_url():
    """postgresql://sweeper:PASSWORD@127.0.0.1:PORT/sweeps on a server that checks the password."""
    with postgres_server(password=PASSWORD) as url:
        yield url


def without_password(url: str) -> str:
    return url.replace(f":{PASSWORD}@", "@")


def private_file(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


def sweep(*args: str, env: dict | None = None, timeout: float = 600):
    """sweep.py as a subprocess, with `env` set in its environment for this call only."""
    saved = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})
    try:
        result = run_module("neuro_trigger/sweep.py", *args, timeout=timeout)
    finally:
        for key, value in saved.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
    assert PASSWORD not in result.stdout + result.stderr, "the password on the console"
    return result


def files_holding_the_password(root: Path) -> list[str]:
    """What `grep -r PASSWORD root` finds, with each file's permissions."""
    return [f"{p} ({p.stat().st_mode & 0o777:o})" for p in root.rglob("*")
            if p.is_file() and not p.is_symlink() and PASSWORD.encode() in p.read_bytes()]


def wait_until_done(name: str, root: Path, password_file: Path, trials: int) -> dict:
    deadline = time.time() + 300
    while True:
        status = sweep("--status", name, "--log-root", str(root), "--json", "--storage-password-file",
                       str(password_file), timeout=120)
        assert status.returncode == 0, status.stderr
        state = json.loads(status.stdout)
        if state["done"] + state["failed"] >= trials or time.time() > deadline:
            return state
        time.sleep(2)


@pytest.mark.parametrize("cluster", ["local", "slurm"])
def test_credentials_slurm_sweep_leaves_no_password_in_any_file_others_can_read(tmp_path, small_data_args,
                                                                               guarded_url, cluster):
    """`--slurm cluster=local` runs submitit's local executor (pickled jobs, logs); `cluster=slurm` the same
    array through sbatch on a SLURM cluster, where one is installed."""
    if cluster == "slurm" and (shutil.which("sbatch") is None or not os.environ.get("SLURM_CONF")):
        pytest.skip("no SLURM cluster here (sbatch or SLURM_CONF missing; /work/shared/tools/local_cluster.sh "
                    "up slurm starts one); cluster=local covers submitit's files")
    root = tmp_path / "log"
    submitted = sweep("baseline_v2", "-m", "learning_rate=0.01,0.02", *FAST, *small_data_args, "--workers", "2",
                      "--log-root", str(root), "--name", "guarded", "--storage", guarded_url,
                      "--slurm", f"cluster={cluster},time=10,cpus=1")
    assert submitted.returncode == 0, submitted.stderr
    state = wait_until_done("guarded", root, private_file(tmp_path / "pw", PASSWORD + "\n"), 2)
    assert (state["done"], state["failed"]) == (2, 0), state
    assert any((root / "sweeps" / "guarded" / "slurm").iterdir())  # submitit's pickles and logs are there
    assert json.loads((root / "sweeps" / "guarded" / "sweep.json").read_text())["extra"]["storage"] == \
        without_password(guarded_url)
    assert files_holding_the_password(root) == []


def test_credentials_local_sweep_and_the_ways_to_give_the_password(tmp_path, small_data_args, guarded_url):
    """The local pool with the password in the URL; then --status and --resume by --storage-password-file,
    PGPASSFILE and PGPASSWORD (libpq's own ways work: nothing asks for a password in the URL)."""
    root, url = tmp_path / "log", without_password(guarded_url)
    nowhere = {"PGPASSFILE": str(tmp_path / "none"), "PGPASSWORD": ""}
    refused = sweep("baseline_v2", "-m", "learning_rate=0.01", *FAST, *small_data_args, "--log-root", str(root),
                    "--name", "nopassword", "--storage", url, env=nowhere)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert f"error: --storage {url}: cannot connect (" in refused.stderr
    assert not (root / "sweeps" / "nopassword").exists()
    done = sweep("baseline_v2", "-m", "learning_rate=0.01", *FAST, *small_data_args, "--log-root", str(root),
                 "--name", "local", "--storage", guarded_url, timeout=600)
    assert done.returncode == 0, done.stderr
    status = ["--status", "local", "--log-root", str(root), "--json"]
    password_file = private_file(tmp_path / "pw", PASSWORD + "\n")
    host, port = url.split("@")[1].split("/")[0].split(":")
    pgpass = private_file(tmp_path / "pgpass", f"{host}:{port}:sweeps:sweeper:{PASSWORD}\n")
    for extra, env in ((["--storage-password-file", str(password_file)], nowhere),
                       ([], {"PGPASSFILE": str(pgpass), "PGPASSWORD": ""}), ([], {**nowhere, "PGPASSWORD": PASSWORD})):
        shown = sweep(*status, *extra, env=env)
        assert shown.returncode == 0 and json.loads(shown.stdout)["done"] == 1, shown.stderr
    resumed = sweep("--resume", "local", "--log-root", str(root), env={"PGPASSFILE": str(pgpass), "PGPASSWORD": ""})
    assert resumed.returncode == 0, resumed.stderr  # its workers find the password the same way
    assert files_holding_the_password(root) == []
    readable = private_file(tmp_path / "shared_pw", PASSWORD)
    readable.chmod(0o644)
    refused = sweep(*status, "--storage-password-file", str(readable))
    assert refused.returncode == 2 and f"--storage-password-file {readable}: readable by others (mode 644)" \
        in refused.stderr
    both = sweep(*status, "--storage", guarded_url, "--storage-password-file", str(password_file))
    assert both.returncode == 2 and "give one of them" in both.stderr
