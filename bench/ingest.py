"""Ingest of a 1,000,000-row .gz file: np.loadtxt vs the project's reader (cold) vs its cache (warm).

Each variant runs in its own process so that its peak RSS can be measured.
"""
import json
import os
import subprocess
import sys
import tempfile

from common import report, synthetic_file

ROWS = int(os.environ.get("BENCH_INGEST_ROWS", 1_000_000))
VARIANT = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
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
print(json.dumps({{"seconds": seconds, "rows": n, "array_mb": nbytes / 2**20,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def run(variant: str, path, cache: str) -> dict:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "NEURO_TRIGGER_CACHE": cache}
    out = subprocess.run([sys.executable, "-c", VARIANT.format(root=root, path=str(path), variant=variant)],
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    path = synthetic_file(ROWS)
    baseline = subprocess.run([sys.executable, "-c", "import resource, numpy, neuro_trigger.data.io;"
                               "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"],
                              capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(__file__)) or ".")
    import_mb = float(baseline.stdout) if baseline.returncode == 0 else 0.0
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
    loadtxt, cold, warm = rows
    for row in rows:
        row["speedup_vs_loadtxt"] = loadtxt["seconds"] / row["seconds"]
        row["rss_over_arrays"] = row["rss_above_imports_mb"] / max(cold["arrays_mb"], 1e-9)
    warm["speedup_vs_cold"] = cold["seconds"] / warm["seconds"]
    report("ingest", rows, f"{ROWS} rows, {path.stat().st_size / 2**20:.0f} MB gz; rss_over_arrays = (peak RSS - "
                           f"{import_mb:.0f} MB of imports) / in-memory arrays")


if __name__ == "__main__":
    main()
