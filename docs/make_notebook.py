"""Execute docs/notebooks/study.md (a jupytext notebook) cell by cell and write it with its outputs, figures
included: `python docs/make_notebook.py [--out docs/notebooks/study.ipynb]`. A cell error fails (exit 1).

The test suite runs it (neuro_trigger_tests/test_notebook.py), so the notebook cannot drift from the API.
"""
import argparse
import os
import sys
from pathlib import Path

import jupytext
import nbclient
import nbformat

DOCS = Path(__file__).resolve().parent
NOTEBOOK = DOCS / "notebooks" / "study.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=NOTEBOOK.with_suffix(".ipynb"), help="the executed notebook")
    parser.add_argument("--log-dir", type=Path, default=None, help="the study's runs (default: a temporary folder)")
    args = parser.parse_args()
    if args.log_dir is not None:
        os.environ["STUDY_LOG_DIR"] = str(args.log_dir.resolve())
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(DOCS.parent), os.environ.get("PYTHONPATH")]))
    notebook = jupytext.read(NOTEBOOK)
    try:
        nbclient.NotebookClient(notebook, timeout=1800, kernel_name="python3",
                                resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    except nbclient.exceptions.CellExecutionError as e:
        print(f"{NOTEBOOK}: a cell failed:\n{e}", file=sys.stderr)
        return 1
    nbformat.write(notebook, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
