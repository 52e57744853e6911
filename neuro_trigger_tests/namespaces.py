"""Tests that need a filesystem of their own (a full disk, a read-only folder, a stand-in /dev) run a shell
script in a private mount namespace (`unshare -m`): whatever it mounts or breaks vanishes with it, so the test
cannot damage the machine."""
import os
import shutil
import subprocess
import sys

import pytest

from neuro_trigger_tests.conftest import REPO_ROOT


def private_mounts_allowed() -> str | None:
    """None when `unshare -m` may mount a tmpfs here, else why not (for the skip reason)."""
    if shutil.which("unshare") is None:
        return "no unshare command"
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                           "mount -t tmpfs -o size=1m tmpfs /mnt"], capture_output=True, text=True)
    return None if probe.returncode == 0 else f"unshare -m with a tmpfs is not permitted: {probe.stderr.strip()}"


def in_private_mounts(script: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run a bash `script` in a private mount namespace, from the repository root; `$PY` is this Python."""
    reason = private_mounts_allowed()
    if reason:
        pytest.skip(reason)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PY"] = sys.executable
    return subprocess.run(["unshare", "-m", "--propagation", "private", "bash", "-euc", script], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=timeout, env=env)
