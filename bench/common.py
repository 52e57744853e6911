"""Shared helpers of the benchmarks: synthetic data, timing (median of repeats), result tables and JSON."""
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere: bench/ is not a package

from neuro_trigger.data import io, synthetic  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
WORK = Path(os.environ.get("NEURO_TRIGGER_BENCH_DIR", "/tmp/nt_bench"))


def synthetic_file(rows: int, suffix: str = ".gz", seed: int = 5) -> Path:
    """A generated neuroresults file of `rows` rows, made once and reused."""
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"synthetic_{rows}_{seed}{suffix}"
    if not path.exists():
        io.write_file(path, synthetic.generate(rows, seed=seed))
    return path


def median_time(function: Callable[[], object], repeats: int = 3, warmup: int = 0) -> float:
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def report(name: str, rows: list[dict], note: str = "") -> None:
    """Print rows as a table and write them to bench/results/<name>.json."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    widths = {c: max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in columns}
    print(f"\n== {name} ==" + (f"  ({note})" if note else ""))
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(_fmt(row.get(c)).ljust(widths[c]) for c in columns))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps({"benchmark": name, "note": note, "rows": rows}, indent=1))


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)
