"""Ingest of a 1,000,000-row .gz file: np.loadtxt vs the project's reader (cold) vs its cache (warm).

Each variant runs in its own process so that its peak RSS can be measured.
"""
import json
import os
import subprocess
import sys
import tempfile

import gzip

from common import median_time, report, synthetic_file


def _inflate(path) -> None:
    with gzip.open(path, "rb") as f:
        while f.read(1 << 24):
            pass

ROWS = int(os.environ.get("BENCH_INGEST_ROWS", 1_000_000))
VARIANT = """
import json, sys, time
sys.path.insert(0, {root!r})
{peak}
import numpy as np
from neuro_trigger.data import io
path, variant = {path!r}, {variant!r}
start = time.perf_counter()
if variant == "np.loadtxt":
    data = np.loadtxt(path, skiprows=2, delimiter="\\t")
    n, nbytes = len(data), data.nbytes
else:
    tracks = io.read_file(path, use_cache=(variant != "reader (cold)"))
    n, nbytes = len(tracks), sum(a.nbytes for a in tracks.arrays().values())
seconds = time.perf_counter() - start
print(json.dumps({{"seconds": seconds, "rows": n, "array_mb": nbytes / 2**20, "peak_rss_mb": peak_rss_mb()}}))
"""
# VmHWM is this process's own high-water mark; ru_maxrss would include the parent's RSS at fork time
PEAK = """
def peak_rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""


def run(variant: str, path, cache: str) -> dict:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "NEURO_TRIGGER_CACHE": cache}
    out = subprocess.run([sys.executable, "-c", VARIANT.format(root=root, path=str(path), variant=variant, peak=PEAK)],
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    path = synthetic_file(ROWS)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    baseline = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {root!r})\n{PEAK}\n"
                               "import numpy, neuro_trigger.data.io\nprint(peak_rss_mb())"],
                              capture_output=True, text=True, check=True)
    import_mb = float(baseline.stdout)
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        for variant, repeats in (("np.loadtxt", 1), ("reader (cold)", 3), ("cache (warm)", 5)):
            if variant == "cache (warm)":
                run("reader (warm-up)", path, cache)  # builds the cache entry
            results = sorted((run(variant, path, cache) for _ in range(repeats)), key=lambda r: r["seconds"])
            median = results[len(results) // 2]
            rows.append({"variant": variant, "repeats": repeats, "seconds": median["seconds"],
                         "peak_rss_mb": median["peak_rss_mb"], "rss_above_imports_mb": median["peak_rss_mb"] - import_mb,
                         "arrays_mb": median["array_mb"]})
    inflate = median_time(lambda: _inflate(path), repeats=3)
    rows.append({"variant": "gzip inflate only (zlib)", "repeats": 3, "seconds": inflate})
    loadtxt, cold, warm = rows[:3]
    for row in rows[:3]:
        row["speedup_vs_loadtxt"] = loadtxt["seconds"] / row["seconds"]
        row["rss_over_arrays"] = row["rss_above_imports_mb"] / max(cold["arrays_mb"], 1e-9)
    warm["speedup_vs_cold"] = cold["seconds"] / warm["seconds"]
    report("ingest", rows, f"{ROWS} rows, {path.stat().st_size / 2**20:.0f} MB gz; rss_over_arrays = (peak RSS - "
                           f"{import_mb:.0f} MB of imports) / in-memory arrays")


if __name__ == "__main__":
    main()
