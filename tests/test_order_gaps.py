"""Order gaps as counts per gap length (:mod:`helpers.order_gaps`).

Two oracles: pandas' own statistics on the series of every gap (what the churn study computed
before the counts: ``Series.quantile``, ``median``, the share within the threshold), and
:func:`_oracle_gaps`, the per-gap table the engine used to return (one row per account and
purchase day after the first), written in pandas.
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pandas as pd
import pytest

from helpers import engine as engines
from helpers import survival as sv
from helpers.features import ORDER_COLUMNS
from helpers.loading import Dataset
from helpers.order_gaps import GapCounts, gap_counts
from helpers.steps import is_skipped

#: Quantiles every comparison tries: the ends, the study's (0.99: threshold; 0.999: the
#: histogram's clip) and fractions whose binary form is inexact.
QUANTILES = (0.0, 1.0, 0.5, 0.99, 0.999, 0.1, 0.25, 0.3, 0.7, 0.75, 0.9, 0.95, 0.01, 1 / 3)


def _oracle_gaps(orders: pd.DataFrame, as_of) -> pd.DataFrame:
    """The gaps as the engine returned them before the counts, in pandas: completed orders on
    or before ``as_of``'s day, one purchase day per account and day, each purchase day after
    an account's first with ``gap_days`` since its previous one (account_id, order_date)."""
    day = pd.Timestamp(as_of).normalize()
    o = orders[orders["status"] == "completed"].copy()
    o["order_date"] = pd.to_datetime(o["order_date"]).dt.normalize()
    days = o.loc[o["order_date"] <= day, ["account_id", "order_date"]].drop_duplicates()
    days = days.sort_values(["account_id", "order_date"], ignore_index=True)
    gap = days.groupby("account_id")["order_date"].diff().dt.days
    out = days.assign(gap_days=gap).dropna(subset=["gap_days"])
    return out.astype({"gap_days": "int64"}).reset_index(drop=True)


def _random_orders(seed: int, accounts: int = 60) -> pd.DataFrame:
    """Order lines over two years: accounts with one order, several orders (and lines) on
    one day, returned and cancelled lines, times of day, orders after the usual as-of days."""
    rng = np.random.default_rng(seed)
    rows = []
    for a in range(accounts):
        n = int(rng.choice([1, 1, 2, 3, 5, 12]))
        days = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 730, size=n), unit="D")
        for k, d in enumerate(days):
            for _ in range(int(rng.integers(1, 3))):  # one or two lines, same order
                hour = pd.Timedelta(hours=int(rng.integers(0, 24)))
                status = rng.choice(["completed"] * 8 + ["returned", "cancelled"])
                rows.append((f"o{a}-{k}", f"A{a:03d}", d + hour, 10.0, 1.0, 1.0, "x", status))
    frame = pd.DataFrame(rows, columns=list(ORDER_COLUMNS))
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # any row order


def _random_gaps(rng: np.random.Generator) -> np.ndarray:
    """Integer gaps of a random size (1 to 400), from a narrow range (many ties) or a wide one."""
    n = int(rng.choice([1, 2, 3, 4, 5, 7, 10, 99, 100, 101, 400]))
    high = int(rng.choice([2, 5, 30, 400, 5000]))
    return rng.integers(1, high, size=n)


def _positions(n: int) -> list[float]:
    """Quantiles whose virtual position (n - 1) * q should fall on a gap exactly."""
    return [k / (n - 1) for k in range(n)] if 1 < n <= 12 else []


def test_quantile_median_and_share_are_pandas_floats_on_random_integer_gaps():
    """Each statistic is pandas' float on the series of every gap, bit for bit: ties, a
    single gap, q at 0 and 1, positions exactly on a gap. An interpolation off by one
    position (or from the wrong side) fails here."""
    rng = np.random.default_rng(20251231)
    checked = 0
    for _ in range(300):
        gaps = _random_gaps(rng)
        series = pd.Series(gaps)
        counts = GapCounts.of(gaps)
        assert len(counts) == len(gaps) and not counts.empty
        assert counts.counts.sum() == len(gaps) and len(counts.values) == series.nunique()
        for q in (*QUANTILES, *_positions(len(gaps)), float(rng.random())):
            want = series.quantile(q)
            got = counts.quantile(q)
            assert type(got) is float
            assert got == want or (math.isnan(got) and math.isnan(want)), (gaps, q)
            checked += 1
        assert counts.median() == series.median()
        for days in (0, int(gaps.min()), int(np.median(gaps)), int(gaps.max()), 10**6):
            assert counts.share_at_most(days) == float((series <= days).mean())
        assert sv.default_threshold(counts) == sv.default_threshold(series)
    assert checked > 4000


def test_quantile_of_a_known_small_series():
    """Hand-checked values (linear interpolation between the sorted gaps 10, 30, 30, 65)."""
    gaps = GapCounts.of([30, 65, 10, 30])
    assert gaps.quantile(0.0) == 10.0 and gaps.quantile(1.0) == 65.0
    assert gaps.quantile(0.5) == 30.0 and gaps.median() == 30.0
    assert gaps.quantile(0.25) == 25.0  # position 0.75: 10 + 0.75 * 20
    assert gaps.quantile(2 / 3) == 30.0  # position 2: exactly the third gap
    assert gaps.quantile(0.9) == pytest.approx(54.5)  # position 2.7: 30 + 0.7 * 35
    assert GapCounts.of([7]).quantile(0.99) == 7.0 and GapCounts.of([7]).median() == 7.0
    assert GapCounts.of([3, 5]).median() == 4.0


def test_empty_counts_and_bad_input():
    """No gap: NaN statistics (as pandas on an empty series) and no derived threshold."""
    empty = GapCounts.of([])
    assert empty.empty and len(empty) == 0
    assert math.isnan(empty.quantile(0.99)) and math.isnan(empty.median())
    assert math.isnan(empty.share_at_most(180))
    with pytest.raises(ValueError, match="cannot be derived"):
        sv.default_threshold(empty)
    with pytest.raises(ValueError, match="between 0 and 1"):
        GapCounts.of([1, 2]).quantile(1.5)
    with pytest.raises(ValueError, match="strictly increasing"):
        GapCounts(np.array([3, 2]), np.array([1, 1]))
    with pytest.raises(ValueError, match="strictly increasing"):
        GapCounts(np.array([2, 3]), np.array([1, 0]))
    assert GapCounts.of([1.0, np.nan, 1.0]) == GapCounts(np.array([1.0]), np.array([2]))


def test_clipped_values_keep_their_counts():
    gaps = GapCounts.of([1, 1, 4, 9, 9, 9])
    values, counts = gaps.clipped(5.5)
    assert values.tolist() == [1.0, 4.0, 5.5] and counts.tolist() == [2, 1, 3]
    values, counts = gaps.clipped(math.nan)
    assert values.tolist() == [1.0, 4.0, 9.0] and counts.tolist() == [2, 1, 3]


def test_gap_counts_of_a_hand_checked_table():
    """a: lines of one order on 01-01, a purchase on 03-01 (59 days), a return and a cancelled
    order later (no purchase days); b: 06-01, then 2026-01-05 (218 days, after 2025-12-31)."""
    rows = [
        ("a", "2025-01-01", "completed"),
        ("a", "2025-01-01 15:00", "completed"),  # the same purchase day
        ("a", "2025-03-01", "completed"),
        ("a", "2025-03-10", "returned"),
        ("a", "2025-04-01", "cancelled"),
        ("b", "2025-06-01", "completed"),
        ("b", "2026-01-05", "completed"),
    ]
    orders = pd.DataFrame(rows, columns=["account_id", "order_date", "status"])
    orders["order_date"] = pd.to_datetime(orders["order_date"], format="ISO8601")
    assert gap_counts(orders, "2025-12-31") == GapCounts(np.array([59]), np.array([1]))
    assert gap_counts(orders, "2026-01-05") == GapCounts(np.array([59, 218]), np.array([1, 1]))
    assert gap_counts(orders, "2025-02-28").empty


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_engine_counts_equal_the_per_gap_oracle_on_random_order_lines(seed):
    """The engine's counts are the value counts of the former per-gap table, at several
    as-of days (orders after them unseen; an hour of the as-of day is ignored)."""
    orders = _random_orders(seed)
    for as_of in ("2025-12-31", "2025-03-15", pd.Timestamp("2024-09-30 17:45"), "2024-01-03"):
        want = _oracle_gaps(orders, as_of)["gap_days"]
        got = gap_counts(orders, as_of)
        assert got == GapCounts.of(want), as_of
        assert got.values.dtype == np.int64 and got.counts.dtype == np.int64
        if as_of == "2025-12-31":
            assert len(got) > 100 and got.counts.max() > 1  # ties among many gaps


def test_engine_counts_on_the_demo_and_without_repeat_orders(demo):
    """The demo at three days; one order per account (no gap at all) gives empty counts."""
    orders = demo["orders"]
    for day in (demo.analysis_date, demo.analysis_date - pd.Timedelta(days=365), "2022-06-30"):
        assert gap_counts(orders, day) == GapCounts.of(_oracle_gaps(orders, day)["gap_days"])
    first = orders.drop_duplicates("account_id")
    assert gap_counts(first, demo.analysis_date).empty
    assert sv.gaps_for(first, demo.analysis_date).empty


def _dataset(orders: pd.DataFrame, accounts: pd.DataFrame | None, as_of) -> Dataset:
    tables = {"orders": orders} if accounts is None else {"orders": orders, "accounts": accounts}
    return Dataset(tables=tables, source="test", analysis_date=pd.Timestamp(as_of), fingerprint="0")


def test_a_definition_without_repeat_orders_is_skipped_unless_the_threshold_is_given(demo):
    """The Skipped path (no gap: no derived threshold); a given threshold still defines churn,
    with a cadence of 30 days and no share of gaps."""
    orders = demo["orders"].drop_duplicates("account_id")
    ds = _dataset(orders, demo["accounts"], demo.analysis_date)
    skipped = sv.define_churn(ds, demo.analysis_date)
    assert is_skipped(skipped) and "two orders on different days" in skipped.why()
    given = sv.define_churn(ds, demo.analysis_date, 180)
    assert given.gaps.empty and given.cadence_days == 30.0
    assert math.isnan(given.share_of_gaps_within)


def test_the_definition_keeps_counts_and_the_engine_returns_one_row_per_gap_length(
    demo, monkeypatch
):
    """No per-gap rows reach pandas on the study's path: every engine result with a
    ``gap_days`` column has one row per distinct gap length, and the definition (pickled into
    the step cache) keeps the counts, whose statistics are the oracle's."""
    seen: list[pd.DataFrame] = []
    to_pandas = engines.to_pandas

    def spy(expr, engine=None):
        frame = to_pandas(expr, engine)
        seen.append(frame)
        return frame

    monkeypatch.setattr(engines, "to_pandas", spy)
    ds = _dataset(demo["orders"], demo["accounts"], demo.analysis_date)  # not kept on disk
    definition = sv.define_churn(ds, demo.analysis_date)
    gap_frames = [f for f in seen if "gap_days" in f.columns]
    assert len(gap_frames) == 1
    assert gap_frames[0]["gap_days"].is_unique and len(gap_frames[0]) < 500

    oracle = _oracle_gaps(demo["orders"], demo.analysis_date)["gap_days"]
    assert isinstance(definition.gaps, GapCounts)
    assert len(definition.gaps) == len(oracle) == 23_003  # per-gap rows: 23,003
    assert len(definition.gaps.values) == oracle.nunique() == 260  # kept: 260
    assert definition.threshold == sv.default_threshold(oracle) == 180
    assert definition.cadence_days == float(oracle.median())
    assert definition.share_of_gaps_within == float((oracle <= 180).mean())
    assert not any(
        isinstance(v, (pd.Series, pd.DataFrame)) and len(v) >= len(oracle)
        for v in vars(definition).values()
    )
    assert len(pickle.dumps(definition.gaps)) < 10_000
