"""Benchmark: Cox fit on 100k and 1M accounts, lifelines' fitter vs the project's (issue #15).

Usage: ``python benchmarks/bench_survival.py [--folder DIR] [--repeats N] [--continuous]
[--ph-check]``.

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

``--ph-check`` times instead the proportional-hazards check (``cox.ph_check``: the refit
without delayed entry, the scaled Schoenfeld residuals, the rank test) on the 100k design,
fitted with ``cox_fitter``, and on its stratified remedy (``cox.remedy_ph``) when a covariate
is flagged: the residuals by lifelines' per-row loop (the baseline, put back on the project's
fitter) and by ``helpers.survival.schoenfeld``, interleaved, with the largest difference of
their test statistics (relative) and whether the flags agree. When no covariate is flagged,
the remedy is forced on the one with the smallest p (marked "forced"), so that a stratified
check is timed as well.
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


def _ph_check(cph, design, loop) -> tuple[float, float, object]:
    """Wall and CPU seconds of one ``ph_check`` with ``loop`` as the Schoenfeld residuals of
    one stratum (None: the project's), and its table."""
    from helpers.survival.cox import ph_check
    from helpers.survival.efron import SemiParametricPHFitter

    ours = SemiParametricPHFitter.__dict__["_compute_schoenfeld_within_strata"]
    if loop is not None:
        SemiParametricPHFitter._compute_schoenfeld_within_strata = loop
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        table = ph_check(cph, design)
        return time.perf_counter() - wall, time.process_time() - cpu, table
    finally:
        SemiParametricPHFitter._compute_schoenfeld_within_strata = ours


def ph_checks(frame, repeats: int) -> None:
    """The ``--ph-check`` table (see the module docstring)."""
    from lifelines.fitters.coxph_fitter import SemiParametricPHFitter as Lifelines

    from helpers import survival as sv
    from helpers.survival.cox import fit_cox, remedy_ph

    design = sv.design_matrix(frame)
    cph, _ = fit_cox(design)
    models = [("unstratified", cph, design)]
    check = _ph_check(cph, design, None)[2]
    flagged = bool(check["violated"].any())
    if not flagged:  # stratify on the covariate closest to a violation: strata are timed too
        smallest = check.loc[check["covariate"].isin(design.levels), "p"].min()
        check = check.assign(violated=check["p"] == smallest)
    stratified, stratified_design, _ = remedy_ph(cph, design, check, 0.0)
    if stratified_design.strata:
        name = f"strata={stratified_design.strata[0]}" + ("" if flagged else " (forced)")
        models.append((name, stratified, stratified_design))
    print(
        "| model | accounts | deaths | lifelines wall s | CPU s | schoenfeld wall s | CPU s "
        "| speed-up (wall) | max rel diff of statistics | same flags |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for label, model, d in models:
        plain_runs, ours_runs = [], []
        for _ in range(repeats):  # interleaved: both see the same machine load
            *seconds, plain = _ph_check(model, d, Lifelines._compute_schoenfeld_within_strata)
            plain_runs.append(seconds)
            *seconds, ours = _ph_check(model, d, None)
            ours_runs.append(seconds)
        (plain_wall, plain_cpu), (ours_wall, ours_cpu) = (
            [statistics.median(col) for col in zip(*runs, strict=True)]
            for runs in (plain_runs, ours_runs)
        )
        stat = plain["test_statistic"]
        diff = float(((ours["test_statistic"] - stat).abs() / stat.abs()).max())
        same = bool((ours["violated"] == plain["violated"]).all())
        print(
            f"| {label} | {len(d.data):,} | {int(d.data['event'].sum()):,} | {plain_wall:.2f} | "
            f"{plain_cpu:.2f} | {ours_wall:.2f} | {ours_cpu:.2f} | "
            f"{plain_wall / ours_wall:.0f}x | {diff:.1e} | {same} |",
            flush=True,
        )


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
    parser.add_argument("--ph-check", action="store_true")
    args = parser.parse_args()

    folder = args.folder
    if not (folder / "truth.json").exists():
        write(folder, n_accounts=100_000, tables=("accounts", "orders"))
    f = customer_features(folder / "orders.parquet", folder / "accounts.parquet", "2025-12-31", 180)
    frame = sv.survival_frame(f)
    if args.ph_check:
        ph_checks(frame, args.repeats)
        return
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
