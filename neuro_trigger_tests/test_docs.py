"""The documentation cannot drift: generated files match their scripts, and every shown command runs."""
import json
import re
import shlex
import shutil

import pytest

from neuro_trigger_tests.conftest import REPO_ROOT, run_module

DOCS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
NOT_RUN = ("pip install", "python3 -m venv", "pytest", "tensorboard")


def shown_commands() -> list[str]:
    """Every `python ...` line of the bash blocks in README.md and docs/, without its trailing comment."""
    commands = []
    for doc in DOCS:
        for block in re.findall(r"```bash\n(.*?)```", doc.read_text(), re.S):
            for line in block.splitlines():
                line = re.sub(r"\s+#.*$", "", line).strip()
                if line.startswith("python") and not any(skip in line for skip in NOT_RUN):
                    commands.append(line)
    return commands


def test_configuration_doc_is_generated_from_the_schema():
    result = run_module("docs/make_configuration.py", "--check")
    assert result.returncode == 0, result.stderr


def test_docs_exist_and_are_linked_from_the_readme():
    readme = (REPO_ROOT / "README.md").read_text()
    for name in ("configuration", "data-format", "reweighting", "architecture", "metrics", "deploying", "compare",
                 "sweeps"):
        assert (REPO_ROOT / "docs" / f"{name}.md").is_file()
        assert f"docs/{name}.md" in readme
    for image in re.findall(r"\]\((figures/[^)]+)\)", (REPO_ROOT / "docs" / "reweighting.md").read_text()):
        assert (REPO_ROOT / "docs" / image).is_file(), image
    assert "```mermaid" in (REPO_ROOT / "docs" / "architecture.md").read_text()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A folder where the documented file names exist (small data) and log/ holds finished runs."""
    work = tmp_path_factory.mktemp("docs")
    made = run_module("-m", "neuro_trigger.data.synthetic", "--out", "mydata", "--rows", "20000", cwd=work)
    assert made.returncode == 0, made.stderr  # the data set the documented commands name, as documented
    data = ["--data", *[f"mydata/neuroresults_random{i}.gz" for i in (1, 2, 3)]]
    result = run_module(str(REPO_ROOT / "neuro_trigger" / "main.py"), "baseline_v2", "-p", "-d", "docs",
                        "--log-root", "log", *data, "-m", "epochs=1", "experts=[0,1]", cwd=work)
    assert result.returncode == 0, result.stderr
    for version in (1, 2, 3):  # the documented version_3 exists too
        shutil.copytree(work / "log" / "baseline_v2" / "version_0", work / "log" / "baseline_v2" / f"version_{version}")
    summary_path = work / "log" / "baseline_v2" / "version_3" / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary_path.write_text(json.dumps({**summary, "status": "interrupted"}))  # something to --resume
    return work


@pytest.mark.parametrize("command", shown_commands())
def test_every_shown_command_runs(command, workspace):
    args = shlex.split(command)[1:]
    if args[0].endswith("main.py"):
        args[0] = str(REPO_ROOT / "neuro_trigger" / "main.py")
        if "--resume" not in args and "--help" not in args:  # small: a one-epoch run into the workspace
            if "--data" not in args:
                args += ["--data", *[f"mydata/neuroresults_random{i}.gz" for i in (1, 2, 3)]]
            if "-m" in args:
                args.insert(args.index("-m") + 1, "epochs=1")
            else:
                args += ["-m", "epochs=1", "experts=[0]"]
            args += ["--log-root", "log"]
    result = run_module(*args, cwd=workspace)
    assert result.returncode == 0, f"{command}\n{result.stderr[-2000:]}"
