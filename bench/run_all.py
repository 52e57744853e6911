"""Run every benchmark, one after another: `python bench/run_all.py` (tables on stdout, JSON in bench/results/)."""
import subprocess
import sys
from pathlib import Path

BENCHMARKS = ["startup", "ingest", "filters", "sampler", "training", "experts", "end_to_end", "uncertainty",
              "profile_run", "sweep_pack"]

if __name__ == "__main__":
    chosen = sys.argv[1:] or BENCHMARKS
    here = Path(__file__).resolve().parent
    failed = [name for name in chosen if subprocess.run([sys.executable, str(here / f"{name}.py")]).returncode]
    sys.exit(1 if failed else 0)
