"""Benchmark: Cox fit time on 100k and 1M accounts, whole-day vs continuous durations.

Usage: ``python benchmarks/bench_survival.py``. The 100k-account survival frame comes from the
demo generator (accounts + orders) through ``helpers.features``; the 1M frame resamples its
rows (generating 1M accounts with all their orders would take ~10 GB for a fit that only needs
the survival frame). Continuous durations add a uniform fraction of a day to each duration,
which makes every event time distinct: the baseline in the same run.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def main() -> None:
    from helpers import survival as sv
    from helpers.demo import write
    from helpers.features import customer_features

    folder = ROOT / "data" / "bench" / "accounts-100k"
    if not (folder / "truth.json").exists():
        write(folder, n_accounts=100_000, tables=("accounts", "orders"))
    f = customer_features(folder / "orders.parquet", folder / "accounts.parquet", "2025-12-31", 180)
    frame = sv.survival_frame(f)
    rng = np.random.default_rng(0)
    print("| accounts | durations | Cox fit s |")
    print("| ---: | --- | ---: |")
    for n in (100_000, 1_000_000):
        rows = frame.sample(n=n, replace=n > len(frame), random_state=0)
        design = sv.design_matrix(rows)
        kinds = [("whole days", design)]
        if n == 100_000:
            cont = sv.Design(
                design.data.assign(
                    duration_days=design.data["duration_days"] + rng.uniform(0, 1, len(rows))
                ),
                design.covariates,
                design.references,
            )
            kinds.append(("continuous", cont))
        for label, d in kinds:
            start = time.perf_counter()
            sv.fit_cox(d, 0.0)
            print(f"| {len(rows):,} | {label} | {time.perf_counter() - start:.2f} |", flush=True)


if __name__ == "__main__":
    main()
