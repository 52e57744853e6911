"""Issue 25 items 4-7: text that reaches terminals and logs, odd environments, bounded work on garbage, and
one file given as train, val and test."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from neuro_trigger_tests.conftest import REPO_ROOT
from neuro_trigger_tests.namespaces import in_private_mounts
from neuro_trigger_tests.test_hardening import assert_one_line_refusal

HOSTILE = "desc [bold]x[/] [/] \x1b]0;retitled\x07 line\nbreak\rover\ttab \u202eevil"
ASCII_LOCALE = {"LC_ALL": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0"}


def shell(command: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    """`command` run by bash from the repository root, with `$PY` this Python."""
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    environment.update({"PY": sys.executable, **(env or {})})
    return subprocess.run(["bash", "-c", command], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
                          env=environment, **kwargs)


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory, small_files) -> tuple[Path, subprocess.CompletedProcess]:
    """A run under an ASCII locale, with rich markup, escape sequences and line breaks in its description and
    its log root, and one file given as train, val and test."""
    log_root = tmp_path_factory.mktemp("log") / "root [bold]x[/] with space"
    train = str(small_files["train"][0])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "neuro_trigger/main.py", "baseline_v2", "-p", "-d", HOSTILE,
                             "--log-root", str(log_root), "--data", train, train, train, "-m", "epochs=1",
                             "experts=[3]"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
                            env={**env, **ASCII_LOCALE})
    return log_root, result


def test_ascii_locale_run_finishes_and_prints_ascii(hostile_run):
    """Bug: under LC_ALL=C (PYTHONCOERCECLOCALE=0) a finished run died printing `±`."""
    _, result = hostile_run
    assert result.returncode == 0, result.stderr
    assert " +- " in result.stdout and "Traceback" not in result.stderr


def test_same_file_as_train_val_and_test_is_warned_once_and_in_the_report(hostile_run):
    """Bug: the same file given as train, val and test was accepted without a word."""
    log_root, result = hostile_run
    warnings = [line for line in result.stderr.splitlines() if "hold the same data" in line]
    assert len(warnings) == 1, result.stderr
    assert "the train, val and test splits hold the same data" in warnings[0]
    assert "verdict meaningless" in warnings[0]
    report = (log_root / "baseline_v2" / "version_0" / "report.html").read_text()
    assert "the train, val and test splits hold the same data" in report


def test_log_lines_stay_one_line_per_run_and_escaped(hostile_run):
    """Bug: a newline or carriage return in a description split the one-line-per-run log.txt."""
    log_root, _ = hostile_run
    lines = (log_root / "log.txt").read_text().split("\n")
    assert len(lines) == 2 and lines[1] == ""  # one line, and the file ends with its newline
    assert lines[0].split("\t")[2].startswith(r"desc [bold]x[/] [/] \x1b]0;retitled\x07 line\nbreak\rover\ttab \u")
    app_log = (log_root / "baseline_v2" / "version_0" / "app.log").read_text()
    assert "\x1b" not in app_log and "\r" not in app_log


def test_compare_shows_hostile_text_escaped_and_short(hostile_run, tmp_path):
    """Bugs: rich markup in a description or log-root path crashed compare (MarkupError); escape sequences in
    a description reached the terminal; a 100,000-character description made compare print 5,005 lines."""
    log_root, _ = hostile_run
    run_dir = log_root / "baseline_v2" / "version_0"
    long_run = tmp_path / "[/]log" / "baseline_v2" / "version_1"
    unfinished = long_run.with_name("version_2")
    summary = json.loads((run_dir / "summary.json").read_text())
    for copy, changes in ((long_run, {"description": "\x1b[2J" + "y" * 100_000}),
                          (unfinished, {"status": "interrupted"})):
        shutil.copytree(run_dir, copy)
        (copy / "summary.json").write_text(json.dumps({**summary, **changes}))
    result = shell(f'"$PY" -m neuro_trigger.compare "{run_dir}" "{long_run}" "{unfinished}"',
                   env={"COLUMNS": "250"})
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\r" not in result.stdout and "\u202e" not in result.stdout
    assert "[bold]x[/]" in result.stdout and "\\x1b]0;retitled\\x07" in result.stdout, result.stdout
    assert len(result.stdout.splitlines()) < 40, result.stdout
    not_finished = result.stdout.replace("\n", "").split("not finished: ")[1]
    assert "[/]log/baseline_v2/version_2 (status: interrupted)" in not_finished
    assert "\\x1b[2Jyyyy" in result.stdout and "more characters" in result.stdout


def test_closed_stdin_and_stdout_and_a_pipe_without_reader_end_a_finished_run_with_success(small_data_args,
                                                                                         tmp_path):
    """Bugs: with stdin closed a production run without -d died (AttributeError on isatty); with stdout closed
    a finished run ended in a traceback and rc 1; into a pipe with no reader main.py ended with rc 1."""
    data = " ".join(small_data_args)
    closed = shell(f'"$PY" neuro_trigger/main.py baseline_v2 -p --log-root {tmp_path}/a {data} '
                   '-m epochs=1 "experts=[3]" <&- >&-')
    assert closed.returncode == 0, closed.stderr
    assert "Traceback" not in closed.stderr
    assert json.loads((tmp_path / "a" / "baseline_v2" / "version_0" / "summary.json").read_text())["status"] \
        == "finished"
    piped = shell(f'"$PY" neuro_trigger/main.py baseline_v2 -p -d piped --log-root {tmp_path}/b {data} '
                  '-m epochs=1 "experts=[3]" | (exec 0<&-; sleep 0); echo "rc ${PIPESTATUS[0]}"')
    assert piped.stdout.strip() == "rc 0", piped.stderr
    assert "Traceback" not in piped.stderr and "BrokenPipe" not in piped.stderr


def test_predict_json_and_compare_into_a_pipe_without_reader(hostile_run, small_files):
    """Bug: `predict --json | (reader gone)` ended in a BrokenPipeError traceback; compare with rc 1."""
    log_root, _ = hostile_run
    run_dir = log_root / "baseline_v2" / "version_0"
    for command in (f'"$PY" -m neuro_trigger.predict "{run_dir}" {small_files["test"][0]} --json',
                    f'"$PY" -m neuro_trigger.compare "{run_dir}"'):
        result = shell(f'{command} | (exec 0<&-; sleep 0); echo "rc ${{PIPESTATUS[0]}}"')
        assert result.stdout.strip() == "rc 0", result.stderr
        assert result.stderr == ""


def test_unwritable_home_and_tmpdir_skip_the_cache_with_one_warning(small_data_args, tmp_path):
    """Bug: with HOME and TMPDIR unwritable the data cache write was fatal (PermissionError traceback, no run).
    HOME and TMPDIR lie on a read-only tmpfs in a private mount namespace."""
    data = " ".join(small_data_args)
    result = in_private_mounts(f"""
        R={tmp_path}/ro; mkdir -p $R; mount -t tmpfs -o size=1m tmpfs $R; mkdir $R/home $R/tmp
        mount -o remount,ro $R
        env -u NEURO_TRIGGER_CACHE -u MPLCONFIGDIR HOME=$R/home TMPDIR=$R/tmp "$PY" neuro_trigger/main.py baseline_v2 \
            --log-root {tmp_path}/log {data} -m epochs=1 > /dev/null
    """)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "warning" in line.lower()]
    assert len(warnings) == 1 and "the data cache" in warnings[0] and "cannot be written" in warnings[0], warnings
    assert "Matplotlib" not in result.stderr and "Traceback" not in result.stderr


def test_two_gigabytes_of_nul_bytes_are_refused_after_reading_the_header_bound(tmp_path):
    """Bug: a 2 GB file of NUL bytes without a newline, given as data, took 26 s and 4.5 GB of memory before it
    was refused. Now refused after 64 KiB; the reader runs under a 1 GB address-space limit to prove it."""
    garbage = tmp_path / "nul.txt"
    with open(garbage, "wb") as f:
        f.truncate(2 << 30)  # sparse: no disk used
    result = shell(f'ulimit -v 1000000; "$PY" -m neuro_trigger.data {garbage} --json',
                   env={"NEURO_TRIGGER_CACHE": str(tmp_path / "cache")})
    assert_one_line_refusal(result, f"{garbage}:1: no end of line in the first 65536 characters")
