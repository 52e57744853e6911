"""Issue 25 item 1: what the product writes over. Atomic replacement is only for regular files; devices,
pipes and links to them are written through; a symbolic link stays a link; an output that is one of the
inputs is refused before anything is read; the files a run and `predict --out` write are read by `predict`."""
import gzip
import json
import os
import stat
import subprocess
import threading
from pathlib import Path

import pytest

from neuro_trigger_tests.conftest import run_module
from neuro_trigger_tests.namespaces import in_private_mounts
from neuro_trigger_tests.test_hardening import assert_one_line_refusal


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, small_data_args) -> Path:
    log_root = tmp_path_factory.mktemp("log")
    result = run_module("neuro_trigger/main.py", "baseline_v2", "-p", "-d", "outputs", "--log-root", str(log_root),
                        *small_data_args, "-m", "epochs=1", "experts=[3]")
    assert result.returncode == 0, result.stderr
    return log_root / "baseline_v2" / "version_0"


def predict(run_dir: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return run_module("-m", "neuro_trigger.predict", str(run_dir), *args, **kwargs)


STAND_IN_DEV = """
    mount -t tmpfs tmpfs /dev
    mknod -m 666 /dev/null c 1 3
    mknod -m 666 /dev/urandom c 1 9
    ln -s /proc/self/fd /dev/fd
    ln -s /proc/self/fd/1 /dev/stdout
    mkdir /dev/shm
"""


def test_predict_out_dev_null_as_root_keeps_the_device_node(run_dir, small_files):
    """Bug: `predict --out /dev/null` as root renamed its temporary file onto the device node, replacing it with
    a regular file. Run against a stand-in /dev (a tmpfs in a private mount namespace)."""
    result = in_private_mounts(STAND_IN_DEV + f"""
        "$PY" -m neuro_trigger.predict {run_dir} {small_files["test"][0]} --out /dev/null --json
        echo "kind: $(stat -c %F /dev/null)"
        ls -A /dev
    """)
    assert result.returncode == 0, result.stderr
    assert "kind: character special file" in result.stdout
    assert json.loads(result.stdout.splitlines()[0])["out"] == "/dev/null"
    assert sorted(result.stdout.split("kind: ")[1].splitlines()[1:]) == ["fd", "null", "shm", "stdout", "urandom"]


def test_predict_out_dev_stdout_writes_through_and_keeps_the_link(run_dir, small_files, tmp_path):
    """Bug: `--out /dev/stdout` replaced the symbolic link with a file. Into a file and into a pipe, against a
    stand-in /dev (the bug replaced the machine's own /dev/stdout)."""
    result = in_private_mounts(STAND_IN_DEV + f"""
        "$PY" -m neuro_trigger.predict {run_dir} {small_files["test"][0]} --out /dev/stdout --json > {tmp_path}/file
        "$PY" -m neuro_trigger.predict {run_dir} {small_files["test"][0]} --out /dev/stdout --json \
            | cat > {tmp_path}/pipe
        echo "kind: $(stat -c %F /dev/stdout)"
    """)
    assert result.returncode == 0, result.stderr
    assert "kind: symbolic link" in result.stdout
    assert json.loads((tmp_path / "file").read_text().splitlines()[0])["out"] == "/dev/stdout"  # the same file
    assert (tmp_path / "pipe").read_text().startswith("Experiment\tRun\t")


def test_predict_out_through_a_symbolic_link_and_into_a_fifo(run_dir, small_files, tmp_path):
    """A link to a regular file stays a link (the file it names gets the rows); a FIFO gets the rows written."""
    target = tmp_path / "target.csv"
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    result = predict(run_dir, str(small_files["test"][0]), "--out", str(link))
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and target.read_text().startswith("Experiment,Run,")  # a .csv name: real CSV
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    result = predict(run_dir, str(small_files["test"][0]), "--out", str(fifo))
    reader.join(timeout=60)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and received[0].startswith("Experiment,Run,")
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_predict_out_that_is_an_input_is_refused_before_anything_is_read(run_dir, small_files, tmp_path):
    """Bug: `predict --out F`, with F one of its own input files, overwrote the input (data lost)."""
    data = tmp_path / "data.gz"
    data.write_bytes(small_files["test"][0].read_bytes())
    hard = tmp_path / "hard.gz"
    os.link(data, hard)
    soft = tmp_path / "soft.gz"
    soft.symlink_to(data)
    before = data.read_bytes()
    for out in (data, hard, soft):
        result = predict(run_dir, str(small_files["val"][0]), str(data), "--out", str(out))
        assert_one_line_refusal(result, f"--out {out}: is the input {data}")
    weights = run_dir / "weights.json"
    kept = weights.read_bytes()
    result = predict(run_dir, str(data), "--out", str(weights))
    assert_one_line_refusal(result, f"--out {weights}: is the input {weights}")
    assert data.read_bytes() == before and weights.read_bytes() == kept and soft.is_symlink()


def test_predictions_of_a_run_and_of_predict_out_are_read_by_predict(run_dir, small_files, tmp_path):
    """Bug: the README says a run's predictions_<split>.csv.gz are readable by predict; they were refused
    (unknown column 'PredZ'), and so was predict's own --out file (and `--out x.csv.gz` was not gzipped)."""
    direct = json.loads(predict(run_dir, str(small_files["test"][0]), "--json").stdout)
    for source in (run_dir / "predictions_test.csv.gz",):
        result = predict(run_dir, str(source), "--json", "--out", str(tmp_path / "again.csv.gz"))
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["overall"] == direct["overall"]
    with gzip.open(tmp_path / "again.csv.gz", "rt") as f:  # gzip-compressed as its name says, real CSV
        assert f.readline().rstrip("\n").split(",")[-4:] == ["PredZ", "PredTheta", "PredZ_cm", "PredTheta_deg"]
    twice = predict(run_dir, str(tmp_path / "again.csv.gz"), "--json", "--fixed-point", "--out",
                    str(tmp_path / "twice.csv"))
    assert twice.returncode == 0, twice.stderr
    assert json.loads(twice.stdout)["overall"]["rows"] == direct["overall"]["rows"]
    thrice = predict(run_dir, str(tmp_path / "twice.csv"), "--json")  # with PredZFix, PredThetaFix: ignored too
    assert thrice.returncode == 0, thrice.stderr
    assert json.loads(thrice.stdout)["overall"] == direct["overall"]


def test_compare_plot_onto_a_runs_own_file_is_refused(run_dir):
    summary = run_dir / "summary.json"
    kept = summary.read_bytes()
    result = run_module("-m", "neuro_trigger.compare", str(run_dir), "--plot", str(summary))
    assert_one_line_refusal(result, f"--plot {summary}: is the input {summary}")
    assert summary.read_bytes() == kept
