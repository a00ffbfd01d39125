"""Benchmark: ``load_dataset`` without the cache, cold (parse, validate and store) and warm.

Usage: ``python benchmarks/bench_cache.py [--data FOLDER] [--csv] [--baseline SRC]``.
``--data`` is a folder written by ``python -m helpers.demo --out FOLDER --accounts N``
(default: the demo, ``data/demo``); ``--csv`` also measures the same tables exported as CSV
files with a source YAML (own exports are mostly CSV, whose parse costs more than Parquet's).
``--baseline SRC`` also measures another checkout's ``src`` folder (e.g. ``git archive main``
unpacked) in the same run, alternating with this one, and prints new / baseline ratios; the
warm process then also computes the churn study's feature tables (six as-of dates and the
order gaps, as notebook 02 asks for them) after the load, timed separately. Each figure is
measured in a fresh process (as a notebook kernel of a batch starts), with an empty cache
folder for the cold load; wall-clock seconds of the ``load_dataset`` call (imports excluded)
and the process's peak resident memory (MB). Nothing under ``data/`` or the user's cache is
written: the cache and the CSV files go to a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import statistics
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
source, use, features = sys.argv[1], sys.argv[2] == "on", sys.argv[3] == "features"
source = demo_config(Path(source)) if Path(source).is_dir() else source
start = time.perf_counter()
ds = load_dataset(source, cache=use)
seconds = time.perf_counter() - start
rows = sum(len(f) for f in ds.tables.values())
feature_seconds = None
if features:
    import pandas as pd
    from helpers.features import customer_features
    from helpers.order_gaps import gap_counts
    start = time.perf_counter()
    for months in range(0, 36, 6):
        when = ds.analysis_date - pd.DateOffset(months=months)
        customer_features(ds["orders"], ds["accounts"], as_of=when)
    gap_counts(ds["orders"], ds.analysis_date)
    feature_seconds = time.perf_counter() - start
status = Path("/proc/self/status")  # VmHWM: this process's own peak (ru_maxrss may show
if status.exists():                  # the parent's, inherited through fork and exec)
    line = next(t for t in status.read_text().splitlines() if t.startswith("VmHWM"))
    peak = int(line.split()[1]) / 1024
else:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "outcome": cache.last_outcome if use else "off",
                  "rows": rows, "peak_mb": peak, "features": feature_seconds}))
"""


def measure(
    source: str, use: bool, cache_dir: Path, src: Path | None = None, features: bool = False
) -> dict:
    """One load in a fresh process (``src``: the code to import, default this checkout's):
    seconds, cache outcome, rows, peak MB, and the feature tables' seconds when asked."""
    env = {"B2B_CACHE_DIR": str(cache_dir)}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    args = [CHILD, source, "on" if use else "off", "features" if features else "-"]
    return in_subprocess("-c", args, env=env)


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


def compare(source: str, baseline: Path, tmp: Path, rounds: int = 2) -> None:
    """This checkout against ``baseline`` (a ``src`` folder), alternating, ``rounds`` times:
    cold (empty cache folder) and warm load, then the feature tables; medians, ratios."""
    runs: dict[str, list[dict]] = {"baseline": [], "new": []}
    for round_ in range(rounds):
        for label, src in (("baseline", baseline), ("new", ROOT / "src")):
            folder = tmp / f"cache-{label}-{round_}"
            cold = measure(source, True, folder, src)
            warm = measure(source, True, folder, src, features=True)
            assert (cold["outcome"], warm["outcome"]) == ("miss", "hit"), (cold, warm)
            runs[label].append({"cold": cold, "warm": warm})
            print(
                f"  round {round_ + 1} {label:<8} cold {cold['seconds']:6.2f} s  warm "
                f"{warm['seconds']:6.2f} s (peak {warm['peak_mb']:5.0f} MB)  features "
                f"{warm['features']:6.2f} s   load average {os.getloadavg()[0]:.1f}"
            )

    def median(label: str, part: str, field: str) -> float:
        return statistics.median(r[part][field] for r in runs[label])

    for part, field, name in (
        ("cold", "seconds", "cold load (miss, store)"),
        ("warm", "seconds", "warm load (hit)"),
        ("warm", "features", "feature tables (6 dates + gaps)"),
        ("warm", "peak_mb", "warm process peak MB"),
    ):
        old, new = median("baseline", part, field), median("new", part, field)
        print(f"  {name:<32} baseline {old:8.2f}  new {new:8.2f}  new / baseline {new / old:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT / "data" / "demo"))
    parser.add_argument("--csv", action="store_true", help="also measure a CSV export")
    parser.add_argument("--baseline", type=Path, help="another checkout's src folder")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds (--baseline)")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.baseline:
            print(f"{args.data}: baseline {args.baseline} against {ROOT / 'src'}")
            compare(args.data, args.baseline, tmp, args.rounds)
            print(f"load average after: {os.getloadavg()[0]:.1f}")
            return
        report(f"Parquet ({args.data})", args.data, tmp)
        if args.csv:
            yaml = write_csv_source(Path(args.data), tmp / "csv")
            report("the same tables as CSV", str(yaml), tmp)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
