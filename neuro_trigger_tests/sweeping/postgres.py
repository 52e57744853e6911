"""A throwaway PostgreSQL server on loopback for the tests, started and stopped by them.

PostgreSQL refuses to run as root: as root, `initdb` and `pg_ctl` run as the unprivileged `postgres`
user (`runuser`), in a folder that user can read.
"""
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator


def find_binary(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def postgres_server(password: str | None = None) -> Iterator[str]:
    """Start a server with one database `sweeps`; yields its URL as a user types it (postgresql://...).

    With `password`, connections over TCP must give it (scram-sha-256) as the role `sweeper`, which owns the
    database; without, any password is accepted for `postgres` (trust)."""
    initdb, pg_ctl = find_binary("initdb"), find_binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise RuntimeError("PostgreSQL is not installed (initdb, pg_ctl); .ci/run installs it with apt-get")
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="nt-pg-"))
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, "postgres")
    data, port = folder / "data", _free_port()

    def run(*command: str) -> None:
        subprocess.run([*as_user, *command], check=True, capture_output=True, text=True, cwd=folder)

    auth = ["--auth-local=trust", "--auth-host=scram-sha-256"] if password else ["--auth=trust"]
    run(initdb, "-D", str(data), "-U", "postgres", *auth, "-E", "UTF8")
    run(pg_ctl, "-D", str(data), "-l", str(folder / "server.log"), "-w", "-t", "60", "-o",
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "start")
    try:
        admin = ["-h", str(folder), "-p", str(port), "-U", "postgres"]  # the socket: trusted either way
        if password is None:
            run(str(Path(pg_ctl).with_name("createdb")), *admin, "sweeps")
            yield f"postgresql://postgres:secret@127.0.0.1:{port}/sweeps"
            return
        run(str(Path(pg_ctl).with_name("psql")), *admin, "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qc",
            f"CREATE ROLE sweeper LOGIN PASSWORD '{password}'")
        run(str(Path(pg_ctl).with_name("createdb")), *admin, "-O", "sweeper", "sweeps")
        yield f"postgresql://sweeper:{password}@127.0.0.1:{port}/sweeps"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], capture_output=True,
                       cwd=folder)
        shutil.rmtree(folder, ignore_errors=True)
