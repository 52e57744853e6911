"""docs/notebooks/study.md, the study of docs/python-api.md, executed cell by cell by docs/make_notebook.py:
any cell error fails, and the executed notebook holds the resolution figure and the network picked."""
import os

import nbformat
import pytest

from neuro_trigger_tests.conftest import run_module

pytest.importorskip("jupytext")  # requirements-tests.txt; CI installs it
pytest.importorskip("nbclient")


def test_the_study_notebook_runs_and_draws_its_figure(tmp_path):
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    result = run_module("docs/make_notebook.py", "--out", str(tmp_path / "study.ipynb"), "--log-dir",
                        str(tmp_path / "log"), timeout=1800)
    assert result.returncode == 0, result.stderr[-5000:]
    notebook = nbformat.read(tmp_path / "study.ipynb", as_version=4)
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert any("image/png" in o.get("data", {}) for o in outputs), "the resolution figure"
    assert any("best: " in o.get("text", "") for o in outputs)
    assert len(list((tmp_path / "log").glob("*/version_*"))) == 4  # two configs, two sweep trials
