"""Issue 25 item 2: SIGINT and SIGTERM end every phase of a run the same way: exit code 130 or 143, no traceback,
status `interrupted` once a run folder exists, the resume command printed (shell-quoted), and `--resume` then
finishes the run exactly as an uninterrupted one. Each phase is reached by `NEURO_TRIGGER_SIGNAL_AT`, which
makes the run send itself the signal as that phase starts."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from neuro_trigger_tests.conftest import REPO_ROOT, run_module
from neuro_trigger_tests.training.test_reliability import outputs

RUN = ["baseline_v2", "-p", "-d", "signals", "-m", "epochs=3", "experts=[3]"]
EXIT_CODES = {"SIGINT": 130, "SIGTERM": 143}


def run_signalled(at: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["NEURO_TRIGGER_SIGNAL_AT"] = at
    return subprocess.run([sys.executable, "neuro_trigger/main.py", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, small_data_args) -> dict:
    log_root = tmp_path_factory.mktemp("reference")
    result = run_module("neuro_trigger/main.py", *RUN, "--log-root", str(log_root), *small_data_args)
    assert result.returncode == 0, result.stderr
    return outputs(log_root / "baseline_v2" / "version_0")


def resume_as_printed(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    """Paste the printed resume command into a shell."""
    command = result.stdout.split("to continue it: ")[1].splitlines()[0]
    return subprocess.run(["bash", "-c", command.replace("python ", f"{sys.executable} ", 1)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("at", ["startup:SIGTERM", "data:SIGINT", "data:SIGTERM"])
def test_signal_before_the_run_folder_exists(tmp_path, small_data_args, at):
    """SIGTERM at start-up ended with the default handler (rc -15); now 143 and one line, and no folder."""
    result = run_signalled(at, *RUN, "--log-root", str(tmp_path), *small_data_args)
    assert result.returncode == EXIT_CODES[at.split(":")[1]], result.stderr
    assert result.stderr.splitlines()[-1] == "interrupted" and "Traceback" not in result.stderr
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("at", ["training:SIGTERM", "evaluation:SIGINT", "plots:SIGTERM", "export:SIGTERM",
                                "export:SIGINT"])
def test_signal_in_every_phase_of_a_run_ends_interrupted_and_resumes_exactly(tmp_path, small_data_args,
                                                                           uninterrupted, at):
    """Bug: SIGTERM while the run exports ended with the default handler (rc -15, status left `running`, no
    resume command); SIGINT there printed a KeyboardInterrupt traceback and no resume command."""
    log_root = tmp_path / "log root's"  # the printed command must survive a space and a quote
    result = run_signalled(at, *RUN, "--log-root", str(log_root), *small_data_args)
    assert result.returncode == EXIT_CODES[at.split(":")[1]], result.stderr
    assert "Traceback" not in result.stderr
    run_dir = log_root / "baseline_v2" / "version_0"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    assert summary["error"] == ("stopped by SIGTERM" if at.endswith("SIGTERM") else "stopped by Ctrl-C (SIGINT)") \
        or at.startswith("training") and summary["error"] == "expert 3: stopped before it started"
    resumed = resume_as_printed(result)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "finished"
    assert outputs(run_dir) == uninterrupted


def test_signal_while_a_resume_reads_its_data_leaves_the_folder_resumable(tmp_path, small_data_args,
                                                                          uninterrupted):
    log_root = tmp_path / "log"
    first = run_signalled("export:SIGINT", *RUN, "--log-root", str(log_root), *small_data_args)
    assert first.returncode == 130, first.stderr
    run_dir = log_root / "baseline_v2" / "version_0"
    again = run_signalled("data:SIGTERM", "--resume", str(run_dir))
    assert again.returncode == 143 and "Traceback" not in again.stderr, again.stderr
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "interrupted"
    assert resume_as_printed(again).returncode == 0
    assert outputs(run_dir) == uninterrupted


def test_printed_resume_command_is_shell_quoted():
    from neuro_trigger.main import resume_command

    assert resume_command(Path("/l o g/it's")) == \
        "to continue it: python neuro_trigger/main.py --resume '/l o g/it'\"'\"'s'"
    assert resume_command(Path("/log/a\nb\x1b[2J")).endswith(r"--resume $'/log/a\nb\x1b[2J'")
