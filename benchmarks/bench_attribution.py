"""Benchmark: multi-touch attribution (paths, rule models, Markov removal) and funnel counts on
100k and 1M touches; the engine steps against the pandas versions they replaced, in one run.

Usage::

    python benchmarks/bench_attribution.py                       # 100k and 1M touchpoints, 3 repeats
    python benchmarks/bench_attribution.py --touchpoints 1000000 --repeat 1 --data-dir /tmp/x

For each size the demo generator (all tables) writes a data set with about that many touchpoints
to ``<data-dir>/touch-<n>/`` (default ``data/bench/``, git-ignored; cached). Each run is a fresh
process that loads it with ``helpers.loading`` (not timed), then times what notebook 03 does in
its funnel and attribution cells, with its defaults (leads of the last 48 months, funnel over
leads at least 365 days old, conversion = won, 90-day window, 20 touches):
``funnel.conversion`` (counts per channel and stage in the engine), ``attribution.conversion_times``,
``attribution.build_paths`` (paths numbered and summed per step in the engine, with ``values``:
revenue per lead, its account's net revenue up to the analysis date, prepared untimed) and
``attribution.attribute`` (all five rule models and the Markov removal effect, credit and
revenue, from the steps). Beside them, in the same
process, the pandas versions the engine steps replaced (the oracles kept in
``tests/test_attribution.py`` and ``tests/test_funnel.py``), whose results must be equal (counts
identical, credit and revenue to 1e-10 relative).
The engine is warmed up (connection, first compile) untimed, as a notebook has done before
these cells. Peak memory per step: see ``benchmarks/_steps.py``. Times are medians over the repeats; ratios
compare the engine with pandas at each size, and the largest size with the smallest (10x fewer
touches), all in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from _steps import ROOT, Steps, in_subprocess, medians, short, table

TOUCHES_PER_ACCOUNT = (
    35.8  # touchpoints per requested account (demo: 110k for 3,000; 980k for 27,322)
)
PERIOD_MONTHS = 48
WINDOW_DAYS = 90
MATURE_DAYS = 365
MAX_TOUCHES = 20
TARGET_S = 30.0


#: The engine steps and the pandas versions they replaced (timed in the same process).
COMPARED = {
    "funnel.conversion": "funnel (pandas, before)",
    "build_paths": "build_paths (pandas, before)",
    "attribute": "attribute (pandas, before)",
}


def ensure_data(touchpoints: int, data_dir: Path) -> Path:
    """Generate (once) a full demo data set with about ``touchpoints`` touchpoints."""
    folder = data_dir / f"touch-{touchpoints}"
    if not (folder / "truth.json").exists():
        from helpers.demo import write

        start = time.perf_counter()
        truth = write(folder, n_accounts=round(touchpoints / TOUCHES_PER_ACCOUNT))
        print(
            f"  generated {truth['n_accounts']:,} accounts in {time.perf_counter() - start:.1f} s",
            flush=True,
        )
    return folder


def worker(folder: Path) -> None:
    import warnings

    import pandas as pd

    sys.path.insert(0, str(ROOT / "tests"))
    from test_attribution import _attribute_by_strings, _pandas_paths
    from test_funnel import _pandas_conversion

    from helpers import attribution, funnel
    from helpers.loading import demo_config, load_dataset

    start = time.perf_counter()
    ds = load_dataset(demo_config(folder))
    load_s = time.perf_counter() - start
    as_of = ds.analysis_date
    first = as_of - pd.DateOffset(months=PERIOD_MONTHS)
    leads = ds["leads"][
        (ds["leads"]["created_date"] > first) & (ds["leads"]["created_date"] <= as_of)
    ]
    o = ds["orders"]
    revenue = (
        o[(o["status"] != "cancelled") & (o["order_date"] <= as_of)]
        .groupby("account_id")["net_amount"]
        .sum()
    )
    values = leads.set_index("lead_id")["account_id"].map(revenue).dropna()

    # the engine's connection and first compile, untimed (a notebook has made them before)
    funnel.conversion(leads.head(1000), as_of, MATURE_DAYS)
    steps = Steps()
    warnings.simplefilter("ignore")  # undated stages: counted as reached, as in the notebook
    fun = steps.run("funnel.conversion", lambda: funnel.conversion(leads, as_of, MATURE_DAYS))
    before = steps.run(
        COMPARED["funnel.conversion"], lambda: _pandas_conversion(leads, as_of, MATURE_DAYS)
    )
    pd.testing.assert_frame_equal(fun, before, check_exact=True)
    conv = steps.run(
        "conversion_times",
        lambda: attribution.conversion_times(ds, "won").reindex(leads["lead_id"]),
    )
    paths = steps.run(
        "build_paths",
        lambda: attribution.build_paths(
            ds["touchpoints"], leads, conv, as_of, WINDOW_DAYS, MAX_TOUCHES, values=values
        ),
    )
    before = steps.run(
        COMPARED["build_paths"],
        lambda: _pandas_paths(ds["touchpoints"], leads, conv, as_of, WINDOW_DAYS, MAX_TOUCHES),
    )
    counts = (paths.n_paths, paths.n_converted, paths.truncated, paths.open, paths.no_lost)
    assert counts == before[1:], (counts, before[1:])
    table = steps.run("attribute", lambda: attribution.attribute(paths))
    want = steps.run(
        COMPARED["attribute"], lambda: _attribute_by_strings(before[0], before[2], values)
    )
    # the engine sums exact decimals in its own order: equal to the last digits that matter
    pd.testing.assert_frame_equal(table, want, check_exact=False, rtol=1e-10, atol=1e-6)
    credit = table[list(attribution.MODELS)]
    print(
        json.dumps(
            {
                "steps": steps.records,
                "load_s": load_s,
                "touchpoints": len(ds["touchpoints"]),
                "leads": len(leads),
                "paths": paths.n_paths,
                "converted": paths.n_converted,
                "touches": int(paths.steps["touches"].sum()),
                # fingerprints of the results, to check that a code change left them alone
                "credit": credit.round(6).to_dict(),
                "revenue": table.filter(like="revenue").sum().round(2).to_dict(),
            }
        )
    )


def compare(labels: list[str], results: list[list[dict]]) -> str:
    """Markdown: each engine step against the pandas version it replaced, per size (seconds,
    and the engine's time over pandas' time in the same run), and the memory each needed on
    top at the largest size (extra MB, the largest over the repeats)."""
    head = ["step"]
    for size in labels:
        head += [f"{size} engine s", f"{size} pandas s", f"{size} engine / pandas"]
    head += [f"{labels[-1]} extra MB engine / pandas"]
    lines = ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)]
    for step, baseline in COMPARED.items():
        cells = [step]
        for r in results:
            by = {s["step"]: s for s in r}
            e, p = by[step], by[baseline]
            cells += [
                f"{e['seconds']:.2f}",
                f"{p['seconds']:.2f}",
                f"{e['seconds'] / p['seconds']:.2f}x",
            ]
        by = {s["step"]: s for s in results[-1]}
        cells.append(f"{by[step]['extra_mb']:,.0f} / {by[baseline]['extra_mb']:,.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--touchpoints", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also write the raw results to this file")
    parser.add_argument(
        "--data-dir", type=Path, default=ROOT / "data" / "bench", help="where data sets are cached"
    )
    args = parser.parse_args()
    if args.worker:
        worker(args.data)
        return
    sys.path.insert(0, str(ROOT / "src"))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    sizes = sorted(args.touchpoints)
    results, raw = [], {}
    for n in sizes:
        folder = ensure_data(n, args.data_dir)
        runs = [
            in_subprocess(__file__, ["--worker", "--data", str(folder)]) for _ in range(args.repeat)
        ]
        assert all(r["credit"] == runs[0]["credit"] for r in runs), "results differ between runs"
        raw[n] = runs
        results.append(medians(runs))
        r = runs[0]
        print(
            f"{r['touchpoints']:,} touchpoints, {r['leads']:,} leads -> {r['paths']:,} paths "
            f"({r['converted']:,} converting), {r['touches']:,} touches kept; "
            f"loading (not timed) {min(x['load_s'] for x in runs):.1f} s",
            flush=True,
        )
    labels = [short(n) for n in sizes]
    notebook = [[s for s in r if s["step"] not in COMPARED.values()] for r in results]
    print()
    print(table(labels, notebook))
    print()
    print(compare(labels, results))
    total = sum(s["seconds"] for s in notebook[-1])
    verdict = "met" if total <= TARGET_S else "MISSED"
    print(f"\ntarget: {labels[-1]} touchpoints in <= {TARGET_S:.0f} s: {verdict} ({total:.2f} s)")
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1))


if __name__ == "__main__":
    main()
