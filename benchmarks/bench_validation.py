"""Benchmark: ``load_dataset`` (cache off) with the contract's rules in DuckDB SQL vs in pandas.

Usage: ``python benchmarks/bench_validation.py --data FOLDER [--csv] [--repeats N]``.
``--data`` is a folder written by ``python -m helpers.demo --out FOLDER --accounts N``
(default: the demo, ``data/demo``); ``--csv`` also measures a source YAML whose accounts, orders,
leads and spend tables are CSV files (written once to a temporary folder; touchpoints stay
Parquet), since CSV exports take another reading path than Parquet.

The two contenders are the same load with different rule implementations: ``sql`` is the
load as it ships (:mod:`helpers.loading.checks_sql`), ``pandas`` the same load with the pandas
reference rules of :mod:`helpers.validation` put in their place (what loads ran before). Each
load runs in a fresh process, the two alternate, ``--repeats`` times; figures are medians.
Per load: wall seconds of ``load_dataset`` (imports excluded), seconds spent inside the four
rule functions, and the process's peak resident memory (``VmHWM``, MB). Both contenders must
load the same rows (checked). Nothing is written under ``data/``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from _steps import in_subprocess, write_csv_source

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

CHILD = """
import json, sys, time
from pathlib import Path
import helpers.loading.dataset as dataset
import helpers.validation as reference
from helpers.loading import demo_config, load_dataset
mode, source = sys.argv[1], sys.argv[2]
spent = [0.0]
for name in ("check_schema", "check_rows", "check_references", "check_not_after"):
    rule = getattr(reference if mode == "pandas" else dataset, name)
    def timed(*args, _rule=rule, **kwargs):
        start = time.perf_counter()
        try:
            return _rule(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - start
    setattr(dataset, name, timed)
source = demo_config(Path(source)) if Path(source).is_dir() else source
start = time.perf_counter()
ds = load_dataset(source, cache=False)
seconds = time.perf_counter() - start
line = next(t for t in Path("/proc/self/status").read_text().splitlines() if t.startswith("VmHWM"))
print(json.dumps({"seconds": seconds, "checks": spent[0], "peak_mb": int(line.split()[1]) / 1024,
                  "rows": {k: len(v) for k, v in ds.tables.items()}}))
"""


def measure(mode: str, source: str) -> dict:
    """One load in a fresh process with the ``mode`` rules: seconds, check seconds, peak MB."""
    return in_subprocess("-c", [CHILD, mode, source], env={"B2B_CACHE": "off"})


def compare(label: str, source: str, repeats: int) -> None:
    runs: dict[str, list[dict]] = {"pandas": [], "sql": []}
    for _ in range(repeats):
        for mode in runs:  # alternate, so both see the same machine
            runs[mode].append(measure(mode, source))
    assert runs["pandas"][0]["rows"] == runs["sql"][0]["rows"], runs
    med = {
        mode: {k: statistics.median(r[k] for r in rs) for k in ("seconds", "checks", "peak_mb")}
        for mode, rs in runs.items()
    }
    rows = sum(runs["sql"][0]["rows"].values())
    print(
        f"| {label} | {rows:,} | {med['pandas']['seconds']:.1f} | {med['pandas']['checks']:.1f} "
        f"| {med['pandas']['peak_mb']:,.0f} | {med['sql']['seconds']:.1f} "
        f"| {med['sql']['checks']:.1f} | {med['sql']['peak_mb']:,.0f} "
        f"| {med['pandas']['checks'] / med['sql']['checks']:.1f}x |",
        flush=True,
    )
    print(json.dumps(runs), file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "demo")
    parser.add_argument("--csv", action="store_true")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    print(
        "| source | rows | pandas load s | pandas rules s | pandas peak MB | SQL load s "
        "| SQL rules s | SQL peak MB | rules speed-up |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    compare("Parquet", str(args.data.resolve()), args.repeats)
    if args.csv:
        with tempfile.TemporaryDirectory(prefix="bench-validation-") as tmp:
            source = write_csv_source(args.data.resolve(), Path(tmp), keep_parquet=("touchpoints",))
            compare("CSV (+ Parquet touchpoints)", str(source), args.repeats)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
