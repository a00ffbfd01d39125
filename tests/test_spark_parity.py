"""The engine-side steps on Spark (local mode) give the DuckDB tables on the demo data.

A source YAML naming ``engine: pyspark`` over the demo files is loaded the ordinary way; its
features, order gaps, purchase days, attribution paths (and the credit computed from them),
funnel counts and the steps that sum the order lines for the studies (order checks, revenue by
period, tier growth, customer types, quarterly series, payback margins, the BG/NBD summary) run
in a local Spark session and must equal the DuckDB ones: same rows, same
columns in the same order, same dtypes after the transfer back to pandas, values equal to 1e-9.

Marked ``spark``: Spark's start-up takes tens of seconds, so ``make test`` leaves it out and
``make test-spark`` (run by ``.ci/run``) runs it. Skipped when PySpark or a Java runtime is
absent, unless ``B2B_REQUIRE_SPARK=1`` (CI), where that absence fails.
"""

from __future__ import annotations

import importlib.util
import os
import shutil

import numpy as np
import pandas as pd
import pytest

from helpers import (
    attribution,
    attribution_value,
    decomposition,
    funnel,
    health,
    leads,
    payback_period,
    quarterly,
    revenue_periods,
)
from helpers.config import DEMO_DIR
from helpers.contract import ORDERS, TOUCHPOINTS
from helpers.engine import DUCKDB, Engine, engine_of
from helpers.features import features_for, orders_table
from helpers.loading import load_dataset
from helpers.order_gaps import gap_counts
from helpers.segmentation import account_types, customer_types, revenue_growth
from helpers.segmentation.windows import history_months_of
from helpers.steps import Skipped
from helpers.survival.bgnbd import purchase_days, rfm_summary
from helpers.survival.definition import export_start

REQUIRED = os.environ.get("B2B_REQUIRE_SPARK") == "1"


def _missing() -> str | None:
    """Why Spark cannot run here, or None."""
    if importlib.util.find_spec("pyspark") is None:
        return "PySpark is not installed (pip install -e '.[spark]')"
    java_home = os.environ.get("JAVA_HOME")
    if shutil.which("java") is None and not (java_home and os.path.exists(java_home)):
        return "no Java runtime (java is not on PATH and JAVA_HOME is unset)"
    return None


MISSING = _missing()

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(MISSING is not None and not REQUIRED, reason=str(MISSING)),
]


def assert_same_table(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Same columns in the same order, same dtypes, same rows; numbers equal to 1e-9."""
    assert list(got.columns) == list(expected.columns)
    assert got.dtypes.to_dict() == expected.dtypes.to_dict()
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-9, atol=1e-9)


@pytest.fixture(scope="module")
def on_spark(tmp_path_factory, demo):
    """The demo orders, accounts, leads and touchpoints loaded through a source YAML with
    ``engine: pyspark``."""
    if MISSING is not None:
        pytest.fail(f"B2B_REQUIRE_SPARK=1 but Spark cannot run here: {MISSING}")
    folder = tmp_path_factory.mktemp("spark-source")
    source = folder / "source.yaml"
    source.write_text(
        f"analysis_date: {demo.analysis_date.date()}\n"
        "engine: pyspark\n"
        "spark_master: local[2]\n"
        "tables:\n"
        f"  accounts: {DEMO_DIR / 'accounts.parquet'}\n"
        f"  orders: {DEMO_DIR / 'orders.parquet'}\n"
        f"  leads: {DEMO_DIR / 'leads.parquet'}\n"
        f"  touchpoints: {DEMO_DIR / 'touchpoints.parquet'}\n",
        encoding="utf-8",
    )
    ds = load_dataset(source)
    assert ds.engine == Engine("pyspark", "local[2]")
    return ds


def test_features_on_spark_equal_the_duckdb_features(on_spark, demo):
    expected = features_for(demo)
    got = features_for(on_spark)
    assert got.shape == (2883, 30)  # every demo account acquired by the analysis date
    assert_same_table(got, expected)


def test_order_gaps_and_purchase_days_on_spark_equal_duckdb(on_spark, demo):
    """The gap counts (the data set's engine table of the orders, at the analysis date and at
    the back-test's start) and the purchase days."""
    as_of = demo.analysis_date
    for day in (as_of, as_of - pd.Timedelta(days=365)):
        got, want = gap_counts(orders_table(on_spark), day), gap_counts(orders_table(demo), day)
        assert len(want) > 10_000 and got == want
        assert got.values.dtype == want.values.dtype and got.counts.dtype == want.counts.dtype
    assert_same_table(
        purchase_days(on_spark["orders"], as_of), purchase_days(demo["orders"], as_of)
    )


def _attribution(ds, action: str, as_of):
    """Notebook 03's attribution on ``ds`` (its defaults; no spend: that part is pandas)."""
    return attribution.attribute_conversions(
        ds,
        leads=ds["leads"],
        as_of=as_of,
        costs=Skipped("no spend here"),
        action=action,
        max_touches=5,  # some paths are cut
    )


def test_attribution_paths_on_spark_equal_duckdb(on_spark, demo):
    """First-order conversions (a per-account aggregate in the engine), then the paths
    numbered and summed per step (window functions, exact decimal sums) on Spark; and the
    touches of a few paths (:func:`path_touches`) row for row."""
    as_of = demo.analysis_date - pd.DateOffset(months=3)  # some conversions come later
    got = _attribution(on_spark, "first_order", as_of)
    want = _attribution(demo, "first_order", as_of)
    steps = want.paths.steps
    assert steps["touches"].sum() > 10_000 and want.paths.truncated > 0 and want.paths.open > 0
    assert_same_table(got.paths.steps, steps)
    counts = ("n_paths", "n_converted", "truncated", "open", "no_lost")
    assert [getattr(got.paths, c) for c in counts] == [getattr(want.paths, c) for c in counts]
    assert_same_table(got.credit, want.credit)
    assert_same_table(got.revenue, want.revenue)
    conv = attribution.conversion_times(demo, "first_order", as_of)
    touches = [
        attribution.path_touches(
            ds.engine_table("touchpoints", ["lead_id", "channel", "touched_at"]),
            ds["leads"],
            conv.reindex(ds["leads"]["lead_id"]),
            as_of,
            max_touches=5,
            engine=ds.engine,
        )
        for ds in (on_spark, demo)
    ]
    assert_same_table(*touches)


@pytest.mark.filterwarnings("ignore:.*counted as reached")
def test_funnel_counts_on_spark_equal_duckdb(on_spark, demo):
    as_of = demo.analysis_date
    for drop in ([], ["lost_date", "proposal_date"]):
        leads = on_spark["leads"].drop(columns=drop)
        assert engine_of(leads) == on_spark.engine  # the selection still runs on Spark
        got = funnel.conversion(leads, as_of=as_of)
        want = funnel.conversion(demo["leads"].drop(columns=drop), as_of=as_of)
        assert len(want) == 24
        assert_same_table(got, want)
        assert got.attrs == want.attrs


def _margins(months: payback_period.MarginMonths) -> pd.DataFrame:
    """(account row, month, margin) in a fixed order (the engine gives none)."""
    frame = pd.DataFrame({"account": months.account, "k": months.k, "margin": months.margin})
    return frame.sort_values(["account", "k"]).reset_index(drop=True)


def test_the_order_line_sums_on_spark_equal_duckdb(on_spark, demo):
    """Every step that aggregates the order lines for notebooks 00-03 through the data set's
    engine table of the orders (a memtable carrying the Spark engine here)."""
    as_of = demo.analysis_date
    table = orders_table(on_spark)
    assert engine_of(table) == on_spark.engine
    assert export_start(table) == export_start(demo["orders"])
    assert health.order_checks(on_spark) == pytest.approx(health.order_checks(demo), rel=1e-9)
    assert_same_table(
        decomposition.components(on_spark, as_of, freq="Q"),
        decomposition.components(demo, as_of, freq="Q"),
    )
    pd.testing.assert_series_equal(
        revenue_growth(on_spark, as_of), revenue_growth(demo, as_of), rtol=1e-9
    )
    features = features_for(demo)
    pd.testing.assert_frame_equal(
        account_types(on_spark, features, as_of), account_types(demo, features, as_of), rtol=1e-9
    )
    for threshold in (90, 180):
        assert quarterly.churn_by_quarter(table, threshold, as_of) == quarterly.churn_by_quarter(
            demo["orders"], threshold, as_of
        )
    accounts = demo["accounts"]
    got = payback_period.margin_months(table, accounts, as_of)
    want = payback_period.margin_months(demo["orders"], accounts, as_of)
    assert len(want.k) > 1000 and np.array_equal(got.accounts.index, want.accounts.index)
    assert_same_table(_margins(got), _margins(want))
    assert_same_table(rfm_summary(table, as_of), rfm_summary(demo["orders"], as_of))


def test_frames_without_rows_built_in_code_run_on_spark(on_spark, demo):
    """Empty frames built in code (object columns, typed on upload: ``helpers.engine_types``)
    go through Spark as through DuckDB, with the same empty results."""
    spark, as_of = on_spark.engine, demo.analysis_date
    orders = pd.DataFrame(columns=ORDERS.names)
    touches = pd.DataFrame(columns=TOUCHPOINTS.names)
    churn = quarterly.churn_by_quarter(orders, 180, as_of, engine=spark)
    assert isinstance(churn, Skipped) and churn == quarterly.churn_by_quarter(orders, 180, as_of)
    share = quarterly.top_share_by_quarter(orders, as_of, engine=spark)
    assert isinstance(share, Skipped) and share == quarterly.top_share_by_quarter(orders, as_of)
    pd.testing.assert_series_equal(
        revenue_growth(orders, as_of, engine=spark), revenue_growth(orders, as_of)
    )
    assert history_months_of(orders, as_of, spark) == history_months_of(orders, as_of) == 0
    won = demo["leads"].set_index("lead_id")["won_date"]
    pd.testing.assert_series_equal(
        attribution_value.revenue_after_conversion(demo["leads"], orders, won, as_of, engine=spark),
        attribution_value.revenue_after_conversion(demo["leads"], orders, won, as_of),
    )
    features = features_for(demo)
    assert_same_table(
        customer_types(orders, features, as_of, engine=spark),
        customer_types(orders, features, as_of),
    )
    accounts = demo["accounts"]
    got = payback_period.margin_months(orders, accounts, as_of, engine=spark)
    assert_same_table(
        _margins(got), _margins(payback_period.margin_months(orders, accounts, as_of))
    )
    assert_same_table(
        revenue_periods.period_sums(orders, "Q", as_of, spark),
        revenue_periods.period_sums(orders, "Q", as_of, DUCKDB),
    )
    assert_same_table(
        leads.early_behaviour(demo["leads"], touches, engine=spark),
        leads.early_behaviour(demo["leads"], touches),
    )
