"""Issue 13 item 5: a data path that is a directory or unreadable gives one line naming it, exit 2."""
import os
import shutil
import subprocess
import sys

import pytest

from neuro_trigger.data import io
from neuro_trigger.errors import UserError
from neuro_trigger_tests.conftest import REPO_ROOT, run_module
from neuro_trigger_tests.data.test_io import SPEC_ROW, write_raw


def test_directory_given_as_data_file_says_it_is_a_directory(tmp_path):
    with pytest.raises(UserError, match=r"is a directory, expected a data file"):
        io.read_file(tmp_path)
    result = run_module("-m", "neuro_trigger.data", str(tmp_path))
    assert result.returncode == 2 and result.stderr == f"error: {tmp_path}: is a directory, expected a data file\n"


def _without_root_override() -> list[str]:
    """Root reads any file whatever its mode: run the child without the capabilities that let it."""
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: cannot make a file unreadable to root")
    drop = "-dac_override,-dac_read_search"
    return ["setpriv", f"--bounding-set={drop}", f"--inh-caps={drop}"]


def test_unreadable_data_file_gives_one_line_naming_the_path(tmp_path):
    """Bug: PermissionError from the content hash surfaced as a traceback."""
    path = write_raw(tmp_path / "secret.gz", [SPEC_ROW])
    os.chmod(path, 0)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([*_without_root_override(), sys.executable, "-m", "neuro_trigger.data", str(path)],
                            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"error: {path}: permission denied, cannot read the data file\n"


def test_damaged_gzip_is_named_not_a_traceback(tmp_path):
    (tmp_path / "plain.gz").write_text("not gzip at all\n")
    with pytest.raises(UserError, match=r"plain\.gz: not a valid gzip file"):
        io.read_file(tmp_path / "plain.gz")
    whole = write_raw(tmp_path / "whole.gz", [SPEC_ROW] * 50).read_bytes()
    (tmp_path / "cut.gz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(UserError, match=r"cut\.gz: truncated gzip file"):
        io.read_file(tmp_path / "cut.gz")
