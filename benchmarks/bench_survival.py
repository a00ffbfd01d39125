"""Benchmark: Cox fit on 100k and 1M accounts, lifelines' fitter vs the project's (issue #15).

Usage: ``python benchmarks/bench_survival.py [--folder DIR] [--repeats N] [--continuous]``.

The 100k-account survival frame comes from the demo generator (accounts + orders, written to
``--folder``, default ``data/bench/accounts-100k``) through ``helpers.features``; the 1M frame
resamples its rows (generating 1M accounts with all their orders would take ~10 GB for a fit
that only needs the survival frame). Durations are whole days, as the project fits them.

Each size is fitted, in the same process and interleaved, by lifelines' own ``CoxPHFitter``
(the baseline) and by ``helpers.survival.cox_fitter`` (lifelines' fitter with the vectorised
Efron terms of ``helpers.survival.efron``): the same call (no penalty, the design's default
covariates), the median of ``--repeats`` fits each (alternating), and the largest difference
of their coefficients. Wall and CPU seconds (``time.process_time``: every thread of the
process): on a machine shared with other work the CPU time is the steadier figure.
``--continuous`` adds the 100k rows with continuous durations (a uniform fraction of a day
added: every event time distinct; lifelines' per-row loop, slow).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def _fit(make, design) -> tuple[float, float, object]:
    """Wall and CPU seconds (this process, all its threads) of one fit, and the fit."""
    wall, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = make().fit(design.data, "duration_days", "event")
    return time.perf_counter() - wall, time.process_time() - cpu, fitted


def main() -> None:
    import lifelines

    from helpers import survival as sv
    from helpers.demo import write
    from helpers.features import customer_features
    from helpers.survival.cox import cox_fitter

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=ROOT / "data" / "bench" / "accounts-100k")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--continuous", action="store_true")
    args = parser.parse_args()

    folder = args.folder
    if not (folder / "truth.json").exists():
        write(folder, n_accounts=100_000, tables=("accounts", "orders"))
    f = customer_features(folder / "orders.parquet", folder / "accounts.parquet", "2025-12-31", 180)
    frame = sv.survival_frame(f)
    rng = np.random.default_rng(0)
    print(
        "| accounts | durations | columns | lifelines wall s | CPU s | cox_fitter wall s | CPU s "
        "| speed-up (wall) | max coef diff |"
    )
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in (100_000, 1_000_000):
        rows = frame.sample(n=n, replace=n > len(frame), random_state=0)
        design = sv.design_matrix(rows)
        kinds = [("whole days", design)]
        if n == 100_000 and args.continuous:
            cont = sv.Design(
                design.data.assign(
                    duration_days=design.data["duration_days"] + rng.uniform(0, 1, len(rows))
                ),
                design.covariates,
                design.references,
            )
            kinds.append(("continuous", cont))
        for label, d in kinds:
            plain_runs, ours_runs = [], []
            for _ in range(args.repeats):  # interleaved: both see the same machine load
                *seconds, plain = _fit(lifelines.CoxPHFitter, d)
                plain_runs.append(seconds)
                *seconds, ours = _fit(cox_fitter, d)
                ours_runs.append(seconds)
            (plain_wall, plain_cpu), (ours_wall, ours_cpu) = (
                [statistics.median(col) for col in zip(*runs, strict=True)]
                for runs in (plain_runs, ours_runs)
            )
            diff = float(np.abs(plain.params_ - ours.params_).max())
            print(
                f"| {len(rows):,} | {label} | {d.data.shape[1] - 2} | {plain_wall:.2f} | "
                f"{plain_cpu:.2f} | {ours_wall:.2f} | {ours_cpu:.2f} | "
                f"{plain_wall / ours_wall:.1f}x | {diff:.1e} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
