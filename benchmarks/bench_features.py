"""Benchmark: customer features (Ibis on DuckDB over Parquet) vs a plain pandas baseline.

Usage::

    python benchmarks/bench_features.py                  # 1M and 10M order lines, 3 repeats
    python benchmarks/bench_features.py --lines 1000000 --repeat 1

For each size the demo generator writes accounts + orders to ``data/bench/<lines>/`` (cached,
git-ignored). Each measurement runs in a fresh subprocess, so its peak resident memory
(``ru_maxrss``: the whole process, interpreter and libraries included) is its own. Both
contenders compute the same table (checked: same accounts, same totals) and end with a pandas
DataFrame in memory. Times are wall-clock medians over the repeats; the ratio
``pandas / ibis`` is taken within the same run, so machine load affects both alike.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINES_PER_ACCOUNT = 13.7  # demo default: ~39.4k lines for ~2.9k accounts
AS_OF = "2025-12-31"
THRESHOLD = 180


def ensure_data(lines: int) -> Path:
    """Generate (once) a demo data set with about ``lines`` order lines."""
    folder = ROOT / "data" / "bench" / str(lines)
    if not (folder / "truth.json").exists():
        from helpers.demo import write

        start = time.perf_counter()
        truth = write(
            folder, n_accounts=round(lines / LINES_PER_ACCOUNT), tables=("accounts", "orders")
        )
        print(
            f"  generated {truth['purchasing']['n_order_lines']:,} lines, "
            f"{truth['n_accounts']:,} accounts in {time.perf_counter() - start:.1f} s",
            flush=True,
        )
    return folder


def run_ibis(folder: Path) -> tuple[int, float]:
    from helpers.features import customer_features

    frame = customer_features(
        folder / "orders.parquet", folder / "accounts.parquet", AS_OF, THRESHOLD
    )
    return len(frame), float(frame["monetary_total"].sum())


def run_pandas(folder: Path) -> tuple[int, float]:
    """The same features the obvious pandas way: read everything, filter, groupby, merge."""
    import numpy as np
    import pandas as pd

    day = pd.Timestamp(AS_OF)
    cutoff = day - pd.Timedelta(days=THRESHOLD)
    orders = pd.read_parquet(folder / "orders.parquet")
    accounts = pd.read_parquet(folder / "accounts.parquet")
    orders["order_date"] = pd.to_datetime(orders["order_date"])
    accounts["acquired_date"] = pd.to_datetime(accounts["acquired_date"])
    o = orders[(orders["order_date"] <= day) & (orders["status"] != "cancelled")]
    done = o[o["status"] == "completed"]
    g = done.groupby("account_id")
    per = g.agg(
        first_order=("order_date", "min"),
        last_order=("order_date", "max"),
        n_orders=("order_id", "nunique"),
        n_lines=("order_id", "size"),
        quantity_total=("quantity", "sum"),
        n_categories=("product_category", "nunique"),
    )
    all_lines = o.groupby("account_id").agg(
        monetary_total=("net_amount", "sum"), margin_total=("gross_margin", "sum")
    )
    returns = o[o["status"] == "returned"].groupby("account_id")["net_amount"].sum()
    per = per.join(all_lines, how="outer")
    per["returns_total"] = -returns.reindex(per.index).fillna(0.0)
    frame = accounts[accounts["acquired_date"] <= day].merge(
        per, left_on="account_id", right_index=True, how="left"
    )
    frame["n_orders"] = frame["n_orders"].fillna(0)
    frame["monetary_total"] = frame["monetary_total"].fillna(0.0)
    frame["monetary_mean"] = frame["monetary_total"] / frame["n_orders"].where(
        frame["n_orders"] > 0
    )
    frame["margin_rate"] = frame["margin_total"] / frame["monetary_total"].where(
        frame["monetary_total"] > 0
    )
    frame["tenure_days"] = (day - frame["first_order"]).dt.days
    frame["recency_days"] = (day - frame["last_order"]).dt.days
    frame["silent_days"] = frame["recency_days"]
    frame["churned"] = frame["recency_days"] >= THRESHOLD
    frame["in_survival"] = frame["first_order"] <= cutoff
    frame["duration_days"] = np.where(
        frame["churned"],
        (frame["last_order"] - frame["first_order"]).dt.days,
        np.where(frame["in_survival"], (cutoff - frame["first_order"]).dt.days, np.nan),
    )
    frame["event"] = frame["churned"].astype(int)
    frame = frame.sort_values("account_id").reset_index(drop=True)
    return len(frame), float(frame["monetary_total"].sum())


def peak_mb() -> float:
    """Peak resident memory of this process (VmHWM, MB). Unlike ``ru_maxrss``, which Linux
    carries over from the parent across fork + exec, VmHWM starts afresh with the new program."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: approximate


def worker(kind: str, folder: Path) -> None:
    # Libraries are imported before the clock starts: both contenders pay import time once per
    # process, and it is not what is being compared.
    import pandas  # noqa: F401

    if kind == "ibis":
        import helpers.features  # noqa: F401
    start = time.perf_counter()
    rows, total = (run_ibis if kind == "ibis" else run_pandas)(folder)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb(), "rows": rows, "total": total}))


def measure(kind: str, folder: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run(
        [sys.executable, __file__, "--worker", kind, "--data", str(folder)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--worker", choices=["ibis", "pandas"])
    parser.add_argument("--data", type=Path)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.data)
        return
    sys.path.insert(0, str(ROOT / "src"))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    rows = []
    for lines in args.lines:
        folder = ensure_data(lines)
        runs = {"ibis": [], "pandas": []}
        for _ in range(args.repeat):
            for kind in runs:  # interleaved, so drift in machine load hits both
                runs[kind].append(measure(kind, folder))
        ibis_r, pandas_r = runs["ibis"], runs["pandas"]
        assert ibis_r[0]["rows"] == pandas_r[0]["rows"], "contenders disagree on accounts"
        assert abs(ibis_r[0]["total"] - pandas_r[0]["total"]) < 1e-6 * abs(ibis_r[0]["total"])
        t_ibis = statistics.median(r["seconds"] for r in ibis_r)
        t_pandas = statistics.median(r["seconds"] for r in pandas_r)
        rows.append(
            (
                lines,
                ibis_r[0]["rows"],
                t_ibis,
                max(r["peak_mb"] for r in ibis_r),
                t_pandas,
                max(r["peak_mb"] for r in pandas_r),
            )
        )
    print()
    print(
        "| order lines | accounts | Ibis/DuckDB s | peak MB | pandas s | peak MB | "
        "speed-up (pandas / Ibis) |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for lines, accounts, ti, mi, tp, mp in rows:
        print(
            f"| {lines:,} | {accounts:,} | {ti:.2f} | {mi:,.0f} | {tp:.2f} | {mp:,.0f} | "
            f"{tp / ti:.1f}x |"
        )


if __name__ == "__main__":
    main()
