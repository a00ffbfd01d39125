"""Benchmark: ``load_dataset`` without the cache, cold (parse, validate and store) and warm.

Usage: ``python benchmarks/bench_cache.py [--data FOLDER] [--csv]``. ``--data`` is a folder
written by ``python -m helpers.demo --out FOLDER --accounts N`` (default: the demo,
``data/demo``); ``--csv`` also measures the same tables exported as CSV files with a source
YAML (own exports are mostly CSV, whose parse costs more than Parquet's). Each figure is
measured in a fresh process (as a notebook kernel of a batch starts), with an empty cache
folder for the cold load; wall-clock seconds of the ``load_dataset`` call (imports excluded)
and the process's peak resident memory (MB). Nothing under ``data/`` or the user's cache is
written: the cache and the CSV files go to a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from _steps import in_subprocess, write_csv_source

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

CHILD = """
import json, resource, sys, time
from pathlib import Path
from helpers.loading import cache, demo_config, load_dataset
source, use = sys.argv[1], sys.argv[2] == "on"
source = demo_config(Path(source)) if Path(source).is_dir() else source
start = time.perf_counter()
ds = load_dataset(source, cache=use)
seconds = time.perf_counter() - start
rows = sum(len(f) for f in ds.tables.values())
status = Path("/proc/self/status")  # VmHWM: this process's own peak (ru_maxrss may show
if status.exists():                  # the parent's, inherited through fork and exec)
    line = next(t for t in status.read_text().splitlines() if t.startswith("VmHWM"))
    peak = int(line.split()[1]) / 1024
else:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "outcome": cache.last_outcome if use else "off",
                  "rows": rows, "peak_mb": peak}))
"""


def measure(source: str, use: bool, cache_dir: Path) -> dict:
    """One load in a fresh process: seconds, cache outcome, rows, peak MB."""
    return in_subprocess(
        "-c", [CHILD, source, "on" if use else "off"], env={"B2B_CACHE_DIR": str(cache_dir)}
    )


def report(label: str, source: str, tmp: Path) -> None:
    cache_dir = tmp / f"cache-{label}"
    off = measure(source, False, cache_dir)
    cold = measure(source, True, cache_dir)
    warm = measure(source, True, cache_dir)
    assert (cold["outcome"], warm["outcome"]) == ("miss", "hit"), (cold, warm)
    size = sum(p.stat().st_size for p in cache_dir.rglob("*.parquet")) / 1e6
    print(f"{label}: {off['rows']:,} rows in all tables; cache entry {size:.1f} MB")
    for name, run in (("no cache", off), ("cold (store)", cold), ("warm (hit)", warm)):
        print(f"  {name:<13} {run['seconds']:6.2f} s   peak {run['peak_mb']:6.0f} MB")
    print(f"  warm / no cache: {warm['seconds'] / off['seconds']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT / "data" / "demo"))
    parser.add_argument("--csv", action="store_true", help="also measure a CSV export")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        report(f"Parquet ({args.data})", args.data, tmp)
        if args.csv:
            yaml = write_csv_source(Path(args.data), tmp / "csv")
            report("the same tables as CSV", str(yaml), tmp)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
