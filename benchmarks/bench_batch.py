"""Benchmark: a batch of 8 notebook runs with 1 job vs 2 jobs, and the default batch.

Usage: ``python benchmarks/bench_batch.py``. Reports go to a temporary folder (the real
``reports/`` is untouched). Wall-clock seconds per batch and the ratio jobs=2 / jobs=1,
measured in the same run (target: ≤ 0.6).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

EIGHT = """name: bench
parameters: {DATA_SOURCE: demo}
runs:
  - notebook: [00-data-overview, 01-customer-segmentation]
    matrix:
      FILTERS: [{region: north}, {region: south}, {region: east}, {region: west}]
"""


def timed(batch: Path, jobs: int, reports: Path) -> float:
    from helpers.runner.pool import run_batch

    start = time.perf_counter()
    records = run_batch(batch, jobs=jobs, reports_dir=reports)
    seconds = time.perf_counter() - start
    assert all(r.status == "ok" for r in records), [r.error for r in records]
    return seconds


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        batch = tmp / "bench.yaml"
        batch.write_text(EIGHT)
        one = timed(batch, 1, tmp / "r1")
        two = timed(batch, 2, tmp / "r2")
        default = timed(ROOT / "runs" / "default.yaml", 2, tmp / "r3")
    print(f"machine: {os.cpu_count()} cores")
    print("| batch | runs | jobs | wall s |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| 8 runs (00 and 01 x 4 regions) | 8 | 1 | {one:.1f} |")
    print(f"| 8 runs (00 and 01 x 4 regions) | 8 | 2 | {two:.1f} |")
    from helpers.runner.spec import read_batch

    n_default = len(read_batch(ROOT / "runs" / "default.yaml")[1])
    print(f"| runs/default.yaml | {n_default} | 2 | {default:.1f} |")
    print(f"ratio jobs=2 / jobs=1: {two / one:.2f}")


if __name__ == "__main__":
    main()
