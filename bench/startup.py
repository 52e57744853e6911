"""How fast a mistake is answered: wall time of `main.py` for a typo, a bad value and a missing data
file, each a fresh process (median of repeats). Issue 12 asks for under 1.5 s for a typo."""
import subprocess
import sys
from pathlib import Path

from common import median_time, report

MAIN = str(Path(__file__).resolve().parents[1] / "neuro_trigger" / "main.py")
CASES = {
    "typo in a key (-m learnin_rate=1)": ["baseline_v2", "-m", "learnin_rate=1"],
    "bad value (-m act=tanh/3)": ["baseline_v2", "-m", "act=tanh/3"],
    "missing data file (--data a.gz b.gz c.gz)": ["baseline_v2", "--data", "a.gz", "b.gz", "c.gz"],
    "--help": ["--help"],
}


def answer(args: list[str]) -> None:
    subprocess.run([sys.executable, MAIN, *args], capture_output=True, check=False)


if __name__ == "__main__":
    rows = [{"case": name, "seconds": round(median_time(lambda: answer(args), repeats=7, warmup=1), 3)}
            for name, args in CASES.items()]
    report("startup", rows, "fresh process per answer, median of 7 after one warm-up")
