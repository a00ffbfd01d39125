"""Benchmark: customer features (Ibis on DuckDB) vs the same table in hand-written DuckDB SQL.

Usage::

    python benchmarks/bench_features_sql.py                  # 10M order lines, 3 repeats
    python benchmarks/bench_features_sql.py --lines 1000000 --repeat 1

Contenders, each in a fresh subprocess (its own peak resident memory, ``VmHWM``), run
interleaved (one of each per repeat, so drift in machine load hits all alike):

1. ``features``: :func:`helpers.features.customer_features` over the Parquet files (the
   project's path: Ibis expressions compiled to SQL, executed by DuckDB with the project's
   settings: a 512 MB memory cap, ``preserve_insertion_order=false``).
2. ``sql``: one hand-written DuckDB SQL query producing the *same* table (same columns, dtypes
   and values; checked with ``pandas.testing.assert_frame_equal`` before timing, and the
   benchmark stops if they differ), on a DuckDB connection with the same settings.
3. ``sql_nocap``: the same query without the memory cap (DuckDB's default: 80% of RAM).
4. ``lifetimes``: the peer, ``lifetimes.utils.summary_data_from_transaction_data`` over the
   completed order lines read with pandas. It gives fewer columns: ``frequency`` (repeat
   purchase days), ``recency`` and ``T`` (days) and ``monetary_value`` (mean net amount per
   repeat purchase day), for accounts with a completed order only.

Each contender starts from the Parquet files and ends with a pandas DataFrame in memory.
Libraries are imported before the clock starts. Times are wall-clock medians over the repeats;
the ratio ``features / sql`` is taken within the same run (also as the median of the per-repeat
ratios). Target (issue #15): ``features / sql`` <= 1.10 at 10M order lines.

Data: the demo generator's accounts and orders in ``data/bench/<lines>/``, shared with
``bench_features.py`` (generated once, git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from _steps import in_subprocess, peak_mb
from bench_features import AS_OF, THRESHOLD, ensure_data

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("features", "sql", "sql_nocap", "lifetimes")
TARGET = 1.10
#: The project's DuckDB settings (helpers.features.connection).
CAP = "512MB"

# The features table, written by hand: one pass over the order lines, one join to the accounts.
# {orders}, {accounts}, {as_of}, {cutoff} and {threshold} are filled in by ``features_sql``.
SQL = """
WITH per_account AS (
    SELECT
        account_id,
        min(order_date) FILTER (WHERE status = 'completed') AS first_order,
        max(order_date) FILTER (WHERE status = 'completed') AS last_order,
        count(DISTINCT order_id) FILTER (WHERE status = 'completed') AS n_orders,
        count(*) FILTER (WHERE status = 'completed') AS n_lines,
        sum(net_amount) AS monetary_total,
        sum(-net_amount) FILTER (WHERE status = 'returned') AS returns_total,
        sum(gross_margin) AS margin_total,
        sum(quantity) FILTER (WHERE status = 'completed') AS quantity_total,
        count(DISTINCT product_category) FILTER (WHERE status = 'completed') AS n_categories
    FROM read_parquet('{orders}')
    WHERE order_date <= DATE '{as_of}' AND status IN ('completed', 'returned')
    GROUP BY account_id
),
joined AS (
    SELECT
        a.account_id, a.account_name, a.industry, a.size_band, a.region, a.country,
        a.business_line, a.ownership_type, a.business_type, a.acquisition_channel,
        a.acquired_date, a.sales_rep,
        p.first_order, p.last_order,
        coalesce(p.n_orders, 0) AS n_orders,
        coalesce(p.n_lines, 0) AS n_lines,
        coalesce(p.monetary_total, 0.0) AS monetary_total,
        coalesce(p.returns_total, 0.0) AS returns_total,
        p.margin_total,
        coalesce(p.quantity_total, 0.0) AS quantity_total,
        coalesce(p.n_categories, 0) AS n_categories,
        date_diff('day', p.first_order, DATE '{as_of}') AS tenure,
        date_diff('day', p.last_order, DATE '{as_of}') AS recency,
        coalesce(recency >= {threshold}, false) AS churned,
        coalesce(p.first_order <= DATE '{cutoff}', false) AS in_survival
    FROM read_parquet('{accounts}') AS a
    LEFT JOIN per_account AS p USING (account_id)
    WHERE a.acquired_date IS NULL OR a.acquired_date <= DATE '{as_of}'
)
SELECT
    account_id, account_name, industry, size_band, region, country, business_line,
    ownership_type, business_type, acquisition_channel,
    acquired_date::TIMESTAMP_NS AS acquired_date,
    sales_rep,
    first_order::TIMESTAMP_NS AS first_order,
    last_order::TIMESTAMP_NS AS last_order,
    n_orders, n_lines, monetary_total, returns_total, margin_total, quantity_total,
    n_categories,
    CASE WHEN n_orders > 0 THEN monetary_total / n_orders END AS monetary_mean,
    CASE WHEN monetary_total > 0 THEN margin_total / monetary_total END AS margin_rate,
    tenure::DOUBLE AS tenure_days,
    recency::DOUBLE AS recency_days,
    recency::DOUBLE AS silent_days,
    churned,
    in_survival,
    CASE
        WHEN churned THEN date_diff('day', first_order, last_order)
        WHEN in_survival THEN date_diff('day', first_order, DATE '{cutoff}')
    END::DOUBLE AS duration_days,
    churned::BIGINT AS event
FROM joined
ORDER BY account_id
"""


def features_sql(folder: Path) -> str:
    """The hand-written query for the data in ``folder`` (as-of date and threshold filled in)."""
    import pandas as pd

    cutoff = (pd.Timestamp(AS_OF) - pd.Timedelta(days=THRESHOLD)).date()
    return SQL.format(
        orders=folder / "orders.parquet",
        accounts=folder / "accounts.parquet",
        as_of=AS_OF,
        cutoff=cutoff,
        threshold=THRESHOLD,
    )


def run_features(folder: Path):
    from helpers.features import customer_features

    return customer_features(
        folder / "orders.parquet", folder / "accounts.parquet", AS_OF, THRESHOLD
    )


def run_sql(folder: Path, cap: bool = True):
    """The hand-written query on a fresh DuckDB connection (the project's settings; ``cap``:
    its 512 MB memory limit), Arrow -> pandas."""
    import duckdb

    config = {"preserve_insertion_order": False}
    if cap:
        config["memory_limit"] = CAP
    config["threads"] = int(os.environ.get("B2B_DUCKDB_THREADS") or 1)  # as helpers.engine
    con = duckdb.connect(config=config)
    return con.sql(features_sql(folder)).arrow().read_all().to_pandas()


def run_lifetimes(folder: Path):
    """The peer: completed order lines up to the as-of date, read with pandas, summarised by
    lifetimes per account and purchase day."""
    import pandas as pd
    from lifetimes.utils import summary_data_from_transaction_data

    lines = pd.read_parquet(
        folder / "orders.parquet",
        columns=["account_id", "order_date", "net_amount", "status"],
        filters=[("status", "==", "completed"), ("order_date", "<=", pd.Timestamp(AS_OF))],
    )
    lines["order_date"] = pd.to_datetime(lines["order_date"])
    return summary_data_from_transaction_data(
        lines,
        customer_id_col="account_id",
        datetime_col="order_date",
        monetary_value_col="net_amount",
        observation_period_end=AS_OF,
        freq="D",
    )


def check_same(folder: Path) -> int:
    """Stop loudly unless the hand-written SQL gives the features table exactly (same
    columns in the same order, same dtypes, same values to 1e-9 relative); returns its rows."""
    import pandas as pd

    ours = run_features(folder)
    theirs = run_sql(folder)
    key = ["account_id"]
    pd.testing.assert_frame_equal(
        ours.sort_values(key).reset_index(drop=True),
        theirs.sort_values(key).reset_index(drop=True),
        check_exact=False,
        rtol=1e-9,
    )
    return len(ours)


def worker(kind: str, folder: Path) -> None:
    import duckdb  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow  # noqa: F401

    if kind == "check":
        import helpers.features  # noqa: F401

        print(json.dumps({"rows": check_same(folder)}))
        return
    if kind == "features":
        # ibis loads its DuckDB backend (and sqlglot's dialects) lazily, on the first connect:
        # ~0.7 s of imports, which would otherwise fall inside the timed call.
        import ibis.backends.duckdb  # noqa: F401

        import helpers.features  # noqa: F401
    if kind == "lifetimes":
        import lifetimes.utils  # noqa: F401
    run = {
        "features": run_features,
        "sql": run_sql,
        "sql_nocap": lambda f: run_sql(f, cap=False),
        "lifetimes": run_lifetimes,
    }[kind]
    start, cpu = time.perf_counter(), time.process_time()
    frame = run(folder)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_s": cpu,
                "peak_mb": peak_mb(),
                "rows": len(frame),
                "columns": frame.shape[1] + (frame.index.name is not None),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[10_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--worker", choices=[*KINDS, "check"])
    parser.add_argument("--data", type=Path)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.data)
        return
    sys.path.insert(0, str(ROOT / "src"))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    table = []
    for lines in args.lines:
        folder = ensure_data(lines)
        # Same table, or no benchmark: in_subprocess raises with the assertion's message.
        rows = in_subprocess(__file__, ["--worker", "check", "--data", str(folder)])["rows"]
        print(f"  {lines:,} lines: hand-written SQL gives the identical table ({rows:,} rows)")
        runs: dict[str, list[dict]] = {k: [] for k in KINDS}
        for i in range(args.repeat):
            for kind in KINDS:  # interleaved
                r = in_subprocess(__file__, ["--worker", kind, "--data", str(folder)])
                runs[kind].append(r)
                print(
                    f"  run {i + 1} {kind}: {r['seconds']:.2f} s, {r['peak_mb']:,.0f} MB, "
                    f"{r['rows']:,} x {r['columns']}",
                    flush=True,
                )
        med = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
        cpu = {k: statistics.median(r["cpu_s"] for r in v) for k, v in runs.items()}
        peak = {k: max(r["peak_mb"] for r in v) for k, v in runs.items()}
        paired = statistics.median(
            f["seconds"] / s["seconds"] for f, s in zip(runs["features"], runs["sql"], strict=True)
        )
        table.append((lines, runs, med, cpu, peak, paired))
    print()
    print(
        "| order lines | contender | rows × columns | wall s | CPU s | peak MB | "
        "wall / SQL (capped) |"
    )
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    names = {
        "features": "`customer_features` (Ibis → DuckDB, 512 MB cap)",
        "sql": "hand-written DuckDB SQL, 512 MB cap",
        "sql_nocap": "hand-written DuckDB SQL, no cap",
        "lifetimes": "lifetimes `summary_data_from_transaction_data`",
    }
    for lines, runs, med, cpu, peak, paired in table:
        for kind in KINDS:
            r = runs[kind][0]
            print(
                f"| {lines:,} | {names[kind]} | {r['rows']:,} × {r['columns']} | "
                f"{med[kind]:.2f} | {cpu[kind]:.2f} | {peak[kind]:,.0f} | "
                f"{med[kind] / med['sql']:.2f} |"
            )
        ratio = med["features"] / med["sql"]
        verdict = "met" if ratio <= TARGET else "NOT met"
        print(
            f"\n{lines:,} lines: features / SQL (capped) = {ratio:.2f} (medians), "
            f"{paired:.2f} (median of per-repeat ratios); target <= {TARGET:.2f}: {verdict}; "
            f"CPU features / SQL = {cpu['features'] / cpu['sql']:.2f}"
        )
    print("\nraw:", json.dumps([(t[0], t[1]) for t in table]))


if __name__ == "__main__":
    main()
