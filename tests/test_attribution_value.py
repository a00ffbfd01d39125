"""The revenue after a conversion, summed in the engine: equal to the former pandas join on
random order lines, from frames, Ibis tables and a cached data set (which then reads no orders
into pandas)."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from helpers import attribution as at
from helpers import attribution_value as av
from helpers.loading import load_dataset
from helpers.text_arrays import reindex

TEXT = pd.StringDtype("pyarrow", na_value=np.nan)


def _former_revenue_after_conversion(
    leads: pd.DataFrame,
    orders: pd.DataFrame,
    conversion: pd.Series,
    as_of: pd.Timestamp,
    days: int = 365,
) -> pd.Series:
    """``revenue_after_conversion`` before it summed in the engine (verbatim; its Arrow path
    ``_booked`` was tested bit for bit equal to this join on the text)."""
    conv = reindex(conversion, leads["lead_id"]).rename_axis(conversion.index.name)
    stamps = pd.DatetimeIndex(conv.to_numpy())
    day = stamps.normalize()
    known = stamps.notna()
    complete = known & np.asarray(day + pd.Timedelta(days=days) <= as_of)
    done = complete & leads["account_id"].notna().to_numpy()
    value = np.where(known & ~complete, np.nan, 0.0)
    if done.any():
        accounts = pd.Series(leads["account_id"].array[done])
        value[done] = _former_booked_by_text(accounts, day[done].to_numpy(), orders, as_of, days)
    value = pd.Series(value, index=conv.index)
    return value.rename("revenue")


def _former_booked_by_text(
    accounts: pd.Series, start: np.ndarray, orders: pd.DataFrame, as_of: pd.Timestamp, days: int
) -> np.ndarray:
    """The former ``_booked_by_text`` (verbatim)."""
    pairs = pd.DataFrame(
        {"pair": np.arange(len(accounts)), "account_id": accounts.to_numpy(), "start": start}
    )
    o = orders.loc[
        (orders["status"] != "cancelled") & (orders["order_date"] <= as_of),
        ["account_id", "order_date", "net_amount"],
    ]
    m = pairs.merge(o, on="account_id")
    inside = (m["order_date"] >= m["start"]) & (
        m["order_date"] < m["start"] + pd.Timedelta(days=days)
    )
    booked = m[inside].groupby("pair")["net_amount"].sum()
    return booked.reindex(pairs["pair"], fill_value=0.0).to_numpy()


AS_OF = pd.Timestamp("2025-06-01")
DAYS = 90


def _revenue_case(text: object, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Leads (shared accounts, some without one; one account converted twice on one day and
    again later) and order lines of every kind: returns (negative amounts), cancellations,
    missing amounts, same-day lines, lines with a time of day, lines on a window's first day,
    on its last day and on the day after it, on the as-of date and after it, an account no lead
    has, and a converting account without any order."""
    rng = np.random.default_rng(seed)
    n, k = 80, 600
    accounts = np.array([f"A{i}" for i in range(12)] + [None] * 3, dtype=object)
    lead_accounts = accounts[rng.integers(0, len(accounts), n)]
    lead_accounts[:4] = ["A0", "A0", "A0", "Z0"]  # A0 three times; Z0 has no order at all
    day = pd.Timestamp("2024-01-01")
    stamps = day + pd.to_timedelta(rng.integers(0, 540 * 24, n), unit="h")
    stamps = stamps.to_numpy().copy()
    stamps[:3] = pd.to_datetime(["2024-03-05 09:00", "2024-03-05 17:30", "2024-08-01 00:00"])
    stamps[4] = AS_OF - pd.Timedelta(days=DAYS)  # its window just complete on the as-of date
    stamps[5] = AS_OF - pd.Timedelta(days=DAYS - 1)  # one day short: pending
    lead_accounts[4:6] = ["A1", "A1"]
    leads = pd.DataFrame(
        {"lead_id": [f"L{i}" for i in range(n)], "account_id": lead_accounts}
    ).astype({"lead_id": text, "account_id": text})
    conv = pd.Series(np.where(rng.random(n) < 0.75, stamps, pd.NaT), index=leads["lead_id"])
    conv.iloc[:6] = stamps[:6]
    order_accounts = np.array([*accounts[:12], None, "B9"], dtype=object)
    dates = day + pd.to_timedelta(rng.integers(0, 560, k), unit="D")
    dates = dates.to_numpy().copy()
    a0 = pd.Timestamp("2024-03-05")
    edges = [a0, a0, a0 + pd.Timedelta(days=DAYS - 1), a0 + pd.Timedelta(days=DAYS)]
    edges += [a0 - pd.Timedelta(days=1), AS_OF, AS_OF + pd.Timedelta(days=1)]
    edges += [a0 + pd.Timedelta(hours=13), AS_OF - pd.Timedelta(days=DAYS) + pd.Timedelta(hours=1)]
    dates[: len(edges)] = edges
    who = order_accounts[rng.integers(0, len(order_accounts), k)]
    who[: len(edges)] = ["A0"] * (len(edges) - 1) + ["A1"]
    status = rng.choice(["completed", "cancelled", "returned"], k, p=[0.7, 0.15, 0.15])
    amount = rng.normal(100, 40, k)
    amount[status == "returned"] *= -1
    amount[rng.random(k) < 0.08] = np.nan
    orders = pd.DataFrame(
        {"account_id": who, "order_date": dates, "net_amount": amount, "status": status}
    ).astype({"account_id": text, "status": text})
    return leads, orders, conv.astype("datetime64[ns]")


def _assert_same(got: pd.Series, want: pd.Series) -> None:
    """The same leads in order, NaN where it was NaN, amounts to rtol 1e-9 (the engine adds
    a window's lines in its own order)."""
    assert list(got.index) == list(want.index) and got.index.name == want.index.name
    assert got.name == want.name == "revenue"
    assert np.array_equal(got.isna().to_numpy(), want.isna().to_numpy())
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("text", [object, TEXT])
@pytest.mark.parametrize("seed", [3, 4])
def test_revenue_in_the_engine_equals_the_former_join(text, seed):
    leads, orders, conv = _revenue_case(text, seed)
    want = _former_revenue_after_conversion(leads, orders, conv, AS_OF, DAYS)
    # the case has every kind of lead: valued, pending, not converted, several per account
    assert (want > 0).sum() > 10 and want.isna().sum() > 5 and (want == 0).sum() > 5
    assert (want < 0).any()  # returns outweigh purchases in some window
    for source in (orders, ibis.memtable(orders)):
        got = av.revenue_after_conversion(leads, source, conv, AS_OF, DAYS)
        _assert_same(got, want)
    # an account converted twice on one day counts its orders for each lead; an account
    # without orders gives 0; a window ending on the as-of date is complete, one day later not
    value = av.revenue_after_conversion(leads, orders, conv, AS_OF, DAYS)
    assert value.iloc[0] == value.iloc[1] and value.iloc[0] != 0
    assert value.iloc[3] == 0.0 and not np.isnan(value.iloc[4]) and np.isnan(value.iloc[5])


def test_revenue_window_edges_by_hand():
    """The conversion day counts from its midnight, the window's last day (day ``days`` - 1)
    counts, day ``days`` does not; cancelled lines and missing amounts add nothing, a missing
    status counts; a lead of an account with only such lines gets 0; an empty orders frame
    (built in code: untyped columns) gives 0."""
    leads = pd.DataFrame({"lead_id": ["L1", "L2"], "account_id": ["A", "B"]})
    conv = pd.Series(pd.to_datetime(["2025-01-10 15:00", "2025-01-10 08:00"]), index=["L1", "L2"])
    orders = pd.DataFrame(
        {
            "account_id": ["A", "A", "A", "A", "A", "A", "B", "B"],
            "order_date": pd.to_datetime(
                [
                    "2025-01-10 00:00",  # conversion day, before the conversion's hour: counts
                    "2025-01-19 23:59",  # the last day of a 10-day window: counts
                    "2025-01-20 00:00",  # day 10: outside
                    "2025-01-09 23:59",  # the day before: outside
                    "2025-01-12 00:00",  # missing status: counts
                    "2025-01-13 00:00",  # missing amount: nothing
                    "2025-01-11 00:00",  # cancelled
                    "2025-01-12 00:00",
                ]
            ),
            "net_amount": [1.0, 10.0, 100.0, 1000.0, 5.0, np.nan, 7.0, np.nan],
            "status": [
                *("completed", "returned", "completed", "completed", None, "completed"),
                *("cancelled", "completed"),
            ],
        }
    )
    got = av.revenue_after_conversion(leads, orders, conv, pd.Timestamp("2025-03-01"), 10)
    assert got.to_dict() == {"L1": 16.0, "L2": 0.0}
    want = _former_revenue_after_conversion(leads, orders, conv, pd.Timestamp("2025-03-01"), 10)
    pd.testing.assert_series_equal(got, want)
    # a window complete on the as-of date (its end, day 10, is the as-of date) is valued
    assert av.revenue_after_conversion(leads, orders, conv, pd.Timestamp("2025-01-20"), 10)[
        "L1"
    ] == pytest.approx(16.0)
    assert np.isnan(
        av.revenue_after_conversion(leads, orders, conv, pd.Timestamp("2025-01-19"), 10)["L1"]
    )
    # frames without rows: built in code (object or float64 columns) and typed; 0 for each
    zero = pd.Series([0.0, 0.0], index=pd.Index(["L1", "L2"]), name="revenue")
    for none in (
        orders.iloc[:0].astype(object),
        pd.DataFrame({c: [] for c in av.REVENUE_COLUMNS}),
        orders.iloc[:0],
    ):
        got = av.revenue_after_conversion(leads, none, conv, pd.Timestamp("2025-03-01"), 10)
        pd.testing.assert_series_equal(got, zero)


def test_a_cached_data_set_reads_no_orders_for_attribution(demo, root):
    """On a data set read from the load-once cache, the attribution's revenue and first-order
    conversions run on the cached orders file: no orders frame is built, and the results are
    those of the data set whose frames are read (``demo``)."""
    fresh = demo
    fresh["orders"]  # its frame read: the engine gets the frame's upload
    load_dataset("demo")
    got = load_dataset("demo")
    as_of = fresh.analysis_date
    first = av.conversion_times(got, "first_order", as_of)
    pd.testing.assert_series_equal(first, av.conversion_times(fresh, "first_order", as_of))
    costs = pd.DataFrame({"paid": [False], "spend": [0.0]}, index=["x"])
    want = at.attribute_conversions(fresh, fresh["leads"], as_of, costs, revenue_days=180)
    att = at.attribute_conversions(got, got["leads"], as_of, costs, revenue_days=180)
    assert "orders" not in got.tables.read()
    assert want.valued > 10 and (att.valued, att.pending) == (want.valued, want.pending)
    pd.testing.assert_frame_equal(att.credit, want.credit, check_exact=True)
    pd.testing.assert_frame_equal(att.revenue, want.revenue, rtol=1e-9)
