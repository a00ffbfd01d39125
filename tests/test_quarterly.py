"""helpers.quarterly's order-line series computed in the engine (churn_by_quarter,
top_share_by_quarter) against their former pandas code, kept here verbatim as the oracle;
the studies' calls on a data set read from the load-once cache build no orders frame.

The series' own behaviour on the demo (hand-checked churn, a quarter uses no later data) is
tested in test_kpi.py with the leadership summary that reads them."""

from __future__ import annotations

import dataclasses
import importlib.util
import shutil
from types import SimpleNamespace

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from helpers import quarterly
from helpers.engine import Engine
from helpers.loading import Dataset, entry, load_dataset
from helpers.segmentation import study as segmentation_study
from helpers.steps import Skipped
from helpers.survival import study as survival_study

# the former top-share code factorizes an object array's take (deprecated in pandas 3)
pytestmark = pytest.mark.filterwarnings("ignore:factorize with argument:FutureWarning")

TEXT = pd.StringDtype("pyarrow", na_value=np.nan)  # text columns as loaded

# --- the former pandas code (verbatim but for its name and the module prefix) -----------------


def _former_churn_by_quarter(
    orders: pd.DataFrame, threshold_days: int, as_of: pd.Timestamp, n: int = quarterly.QUARTERS
) -> dict[str, float] | Skipped:
    """Churn per quarter (share 0-1, see module docstring) for the last ``n`` complete
    quarters; a quarter without active accounts is left out. Skipped when no quarter has
    active accounts (too short a history)."""
    # on integer account codes and day numbers (ns): 8 quarters of group-bys on the id texts
    # took ~2 s at 100k accounts; the same counts, so the same shares (test: the pandas version)
    done = orders.loc[orders["status"] == "completed", ["account_id", "order_date"]]
    day = done["order_date"].dt.normalize()
    keep = (day <= pd.Timestamp(as_of)).to_numpy()  # NaT dates are left out
    # factorized as the column is (Arrow text: in Arrow, without a Python string per line, ~1 GB
    # at 1M accounts), then cut to the kept lines: accounts with no kept line are never active,
    # so the numbering changes no count
    code = pd.factorize(done["account_id"])[0][keep]
    days = day.to_numpy("datetime64[ns]")[keep].view("i8")
    known = code >= 0  # a missing account id belongs to no account
    code, days = code[known], days[known]
    order = np.lexsort((days, code))
    code, days = code[order], days[order]
    distinct = np.ones(len(code), dtype=bool)  # one row per account and purchase day
    distinct[1:] = (code[1:] != code[:-1]) | (days[1:] != days[:-1])
    code, days = code[distinct], days[distinct]
    threshold = pd.Timedelta(days=int(threshold_days)).value
    # the day an account's silence reached the threshold after this purchase day (none when it
    # bought again in time); whether a later purchase came in time is known on that very day
    again = np.zeros(len(code), dtype=bool)
    again[:-1] = (code[1:] == code[:-1]) & (days[1:] - days[:-1] <= threshold)
    never = np.iinfo(np.int64).min
    reached = np.where(again, never, days + threshold)
    n_accounts = int(code.max()) + 1 if len(code) else 0
    out = {}
    for quarter in quarterly.complete_quarters(as_of, n):
        start = quarter.start_time.normalize().value
        end = quarter.end_time.normalize().value
        before = days <= start
        last = np.full(n_accounts, never, dtype=np.int64)
        np.maximum.at(last, code[before], days[before])
        active = last > start - threshold  # bought less than threshold before the start
        n_active = int(active.sum())
        if not n_active:
            continue
        hit = active[code] & (reached > start) & (reached <= end)
        churned = int(np.count_nonzero(np.bincount(code[hit], minlength=n_accounts)))
        out[str(quarter)] = churned / n_active
    if not out:
        return Skipped(
            "no account was active at the start of any of the last complete quarters",
            "a quarterly churn series needs two years of orders",
        )
    return out


def _former_top_share_by_quarter(
    orders: pd.DataFrame, as_of: pd.Timestamp, top: float = 0.20, n: int = quarterly.QUARTERS
) -> dict[str, float] | Skipped:
    """Revenue share (0-1) of the top ``top`` share of accounts per quarter (see module
    docstring) for the last ``n`` complete quarters; a quarter with fewer than two accounts or
    no positive revenue is left out. Skipped when every quarter is.

    Only the lines of those quarters are grouped, by one integer per (quarter, account): the
    accounts' codes from a factorization of their ids (Arrow's, for Arrow text) rather than
    pandas grouping 10^7 id texts with the quarters. pandas sums each group's lines in their
    order either way, and a quarter's sums are then sorted by value, so the shares are the
    same as grouping by quarter and account id.
    """
    quarters = quarterly.complete_quarters(as_of, n)
    date = orders["order_date"].to_numpy()
    first = quarters[0].start_time.to_datetime64()
    rows = np.flatnonzero(
        orders["status"].isin(["completed", "returned"]).to_numpy()
        & (date <= pd.Timestamp(as_of).to_datetime64())
        & (date >= first)
    )
    account, ids = pd.factorize(orders["account_id"].array.take(rows))
    quarter = pd.Series(date[rows]).dt.to_period("Q").array.asi8
    keep = account >= 0  # a line without an account: pandas leaves it out of every group
    width = max(len(ids), 1)
    key = quarter[keep].astype(np.int64) * width + account[keep]
    sums = pd.Series(orders["net_amount"].to_numpy()[rows][keep]).groupby(key).sum()
    of_quarter = sums.index.to_numpy() // width
    out = {}
    for q in quarters:
        chosen = of_quarter == q.ordinal
        if not chosen.any():
            continue
        r = np.sort(pd.Series(sums.to_numpy()[chosen]).clip(lower=0).to_numpy())[::-1]
        if len(r) < 2 or r.sum() <= 0:
            continue
        out[str(q)] = float(r[: int(np.ceil(top * len(r)))].sum() / r.sum())
    if not out:
        return Skipped(
            "no recent complete quarter has revenue from two accounts",
            "a quarterly concentration series needs orders in the last two years",
        )
    return out


# --- random order logs ------------------------------------------------------------------------


def _orders(seed: int, n: int = 4000, accounts: int = 150, integer: bool = False) -> pd.DataFrame:
    """Random order lines over 2022-2026 around the analysis dates used here: completed,
    returned (negative amounts) and cancelled lines, a few without status, account, date or
    amount, several orders of an account on one day, times of day, lines on and after the
    analysis dates. ``integer``: whole amounts (exact sums in any order)."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2022-01-01")
    day = start + pd.to_timedelta(rng.integers(0, 1600, n), unit="D")
    # a quarter of the lines at midnight, the others at a time of day
    second = np.where(rng.random(n) < 0.25, 0, rng.integers(0, 86_400, n))
    status = rng.choice(["completed"] * 6 + ["returned", "cancelled"], n).astype(object)
    amount = rng.integers(1, 5000, n).astype(float)
    if not integer:
        amount = np.round(amount * rng.random(n), 2)
    amount = np.where(status == "returned", -amount, amount)
    orders = pd.DataFrame(
        {
            "account_id": rng.choice([f"A{i:03d}" for i in range(accounts)], n).astype(object),
            "order_date": day + pd.to_timedelta(second, unit="s"),
            "status": status,
            "net_amount": amount,
        }
    )
    # same-day repeats: a tenth of the lines copied with another amount
    again = orders.sample(frac=0.1, random_state=seed).assign(net_amount=lambda t: t.net_amount / 2)
    orders = pd.concat([orders, again], ignore_index=True)
    m = len(orders)
    orders.loc[rng.choice(m, 20, replace=False), "account_id"] = None
    orders.loc[rng.choice(m, 20, replace=False), "order_date"] = pd.NaT
    orders.loc[rng.choice(m, 20, replace=False), "status"] = None
    orders.loc[rng.choice(m, 40, replace=False), "net_amount"] = np.nan
    # every line of one account without an amount: it still counts as an account (with 0)
    orders.loc[orders["account_id"] == "A000", "net_amount"] = np.nan
    return orders.sample(frac=1.0, random_state=seed + 1).reset_index(drop=True)


#: Analysis dates: a quarter's last day, within a quarter, and with a time of day.
AS_OF = [pd.Timestamp("2025-09-30"), pd.Timestamp("2025-11-17"), pd.Timestamp("2025-06-30 15:00")]


#: Churn thresholds (days), each with one of the order sources in the churn test.
THRESHOLDS = (1, 30, 90, 180, 365)


def _same_shares(got, want, exact: bool = False) -> None:
    """The same quarters in the same order, shares equal (to rtol 1e-9 unless ``exact``)."""
    assert not isinstance(want, Skipped) and want, "the oracle must have quarters to compare"
    assert list(got) == list(want)
    if exact:
        assert got == want
    else:
        assert np.allclose(list(got.values()), list(want.values()), rtol=1e-9, atol=0)


@pytest.mark.parametrize("seed", range(2))
def test_churn_equals_the_former_code_on_random_orders(seed):
    """Shares of counts: equal to the bit, for frames with Python or Arrow text, an Ibis
    table, several thresholds and analysis dates."""
    orders = _orders(seed)
    arrow = orders.astype({"account_id": TEXT, "status": TEXT})
    table = ibis.memtable(orders[list(quarterly.CHURN_COLUMNS)])
    for as_of in AS_OF:
        for threshold, source in zip(
            THRESHOLDS, (orders, arrow, table, orders, arrow), strict=True
        ):
            want = _former_churn_by_quarter(orders, threshold, as_of)
            got = quarterly.churn_by_quarter(source, threshold, as_of)
            _same_shares(got, want, exact=True)
    assert quarterly.churn_by_quarter(table, 90, AS_OF[0], n=3) == (
        _former_churn_by_quarter(orders, 90, AS_OF[0], n=3)
    )


@pytest.mark.parametrize("seed", range(2))
def test_top_share_equals_the_former_code_on_random_orders(seed):
    """Money shares: equal to rtol 1e-9 (the engine sums in its own order); with whole amounts
    (sums exact in any order) equal to the bit, so a different cut would show."""
    orders = _orders(seed)
    whole = _orders(seed, integer=True).astype({"account_id": TEXT, "status": TEXT})
    for as_of in AS_OF:
        _same_shares(
            quarterly.top_share_by_quarter(orders, as_of),
            _former_top_share_by_quarter(orders, as_of),
        )
        for top in (0.2, 0.07, 1.0):
            want = _former_top_share_by_quarter(whole, as_of, top)
            _same_shares(quarterly.top_share_by_quarter(whole, as_of, top), want, exact=True)
    table = ibis.memtable(orders[list(quarterly.SHARE_COLUMNS)])
    _same_shares(
        quarterly.top_share_by_quarter(table, AS_OF[0], 0.5, n=3),
        _former_top_share_by_quarter(orders, AS_OF[0], 0.5, n=3),
    )


def _quarter_of(revenues: list[float], day: str = "2025-08-01") -> pd.DataFrame:
    """One completed line per account ``Xnn`` on ``day`` with the given amounts."""
    return pd.DataFrame(
        {
            "account_id": [f"X{i:02d}" for i in range(len(revenues))],
            "order_date": pd.Timestamp(day),
            "status": "completed",
            "net_amount": revenues,
        }
    )


def test_the_top_accounts_are_cut_where_the_former_code_cut():
    """100 accounts, top 7%: 0.07 × 100 is 7.000000000000001 in floating point, so the former
    code took ceil = 8 accounts (not 7); the 8th to 10th tie; negative revenue as 0; all
    accounts at top 1."""
    revenue = [100.0] * 7 + [50.0] * 3 + [1.0] * 90
    orders = _quarter_of(revenue)
    as_of = pd.Timestamp("2025-09-30")
    got = quarterly.top_share_by_quarter(orders, as_of, top=0.07, n=1)
    assert got == _former_top_share_by_quarter(orders, as_of, top=0.07, n=1)
    assert got == {"2025Q3": 750 / 940}
    with_return = pd.concat([orders, _quarter_of([-500.0])], ignore_index=True)  # X00 nets -400
    got = quarterly.top_share_by_quarter(with_return, as_of, top=0.5, n=1)
    assert got == _former_top_share_by_quarter(with_return, as_of, top=0.5, n=1)
    assert got == {"2025Q3": 791 / 840}
    assert quarterly.top_share_by_quarter(_quarter_of([0.1, 0.2, 0.7]), as_of, 1.0, 1) == {
        "2025Q3": 1.0
    }


def test_a_nan_amount_in_an_engine_table_counts_as_missing():
    """A table whose amounts hold a real NaN (Arrow keeps it; a pandas frame's upload makes it
    null): that line counts nothing, as in pandas' sums, not NaN for its quarter."""
    orders = _quarter_of([100.0, np.nan, 10.0, 30.0])
    orders.loc[4] = ["X00", pd.Timestamp("2025-08-02"), "completed", np.nan]
    table = pa.Table.from_pandas(orders, preserve_index=False)
    amounts = pa.array(orders["net_amount"].to_numpy(), from_pandas=False)  # NaN, not null
    table = table.set_column(3, "net_amount", amounts)
    assert table["net_amount"].null_count == 0
    as_of = pd.Timestamp("2025-09-30")
    got = quarterly.top_share_by_quarter(ibis.memtable(table), as_of, top=0.5, n=1)
    assert got == _former_top_share_by_quarter(orders, as_of, top=0.5, n=1) == {"2025Q3": 130 / 140}


def test_quarters_too_thin_are_left_out_and_none_left_is_skipped():
    as_of = pd.Timestamp("2025-09-30")
    lone = _quarter_of([10.0])  # one account
    nothing = _quarter_of([-5.0, 0.0])  # no positive revenue
    for orders in (lone, nothing, lone.iloc[:0], lone.assign(status="cancelled")):
        got = quarterly.top_share_by_quarter(orders, as_of)
        assert isinstance(got, Skipped) and got == _former_top_share_by_quarter(orders, as_of)
        got = quarterly.churn_by_quarter(orders, 30, as_of)
        assert isinstance(got, Skipped) and got == _former_churn_by_quarter(orders, 30, as_of)
    # frames built in code without rows (object or float64 columns, typed as they reach the
    # engine): skipped as a loaded frame without rows is
    columns = list(quarterly.SHARE_COLUMNS)
    for untyped in (pd.DataFrame(columns=columns), pd.DataFrame({c: [] for c in columns})):
        got = quarterly.top_share_by_quarter(untyped, as_of)
        assert got == _former_top_share_by_quarter(lone.iloc[:0], as_of)
        assert got.reason.startswith("no recent complete")
        got = quarterly.churn_by_quarter(untyped, 30, as_of)
        assert got == _former_churn_by_quarter(lone.iloc[:0], 30, as_of)
        assert got.reason.startswith("no account was")


# --- the studies' calls on a cached data set -------------------------------------------------


def test_the_studies_read_no_orders_frame_from_a_cached_data_set(demo_dir, root, monkeypatch):
    """Read from the load-once cache, the segmentation's and the churn study's quarterly
    series come from the orders' entry file scanned by the engine (no orders column in pandas
    in this process), with the same values as from frames and as the former code."""
    load_dataset("demo")
    frames = load_dataset("demo")
    frames = dataclasses.replace(frames, tables=dict(frames.tables))  # every table a frame
    ds = load_dataset("demo")
    converted = []
    real = entry.arrow_to_pandas
    monkeypatch.setattr(
        entry, "arrow_to_pandas", lambda t: converted.append(t.schema.names) or real(t)
    )
    as_of = ds.analysis_date
    definition = SimpleNamespace(threshold=180, as_of=as_of)
    shares = segmentation_study._quarterly_concentration(ds, as_of)
    churn = survival_study._quarterly_churn(ds, definition)
    assert converted == [] and ds.tables.read() == []
    assert len(shares) == len(churn) == 8
    _same_shares(shares, segmentation_study._quarterly_concentration(frames, as_of))
    _same_shares(shares, _former_top_share_by_quarter(frames["orders"], as_of))
    _same_shares(churn, survival_study._quarterly_churn(frames, definition), exact=True)
    _same_shares(churn, _former_churn_by_quarter(frames["orders"], 180, as_of), exact=True)


# --- the same on Spark (local mode; `make test-spark`) ---------------------------------------


def _no_spark() -> str | None:
    if importlib.util.find_spec("pyspark") is None:
        return "PySpark is not installed"
    if shutil.which("java") is None:
        return "no Java runtime"
    return None


@pytest.mark.spark
@pytest.mark.skipif(_no_spark() is not None, reason=str(_no_spark()))
def test_on_spark_the_series_are_the_duckdb_ones(demo: Dataset):
    """On Spark the same counts and cuts (100 accounts at top 7%: after 8, where the double
    product 0.07 × 100 is 7.000000000000001)."""
    spark = Engine("pyspark", "local[2]")
    as_of = demo.analysis_date
    orders = demo["orders"]
    for threshold in (90, 180):
        assert quarterly.churn_by_quarter(orders, threshold, as_of, engine=spark) == (
            quarterly.churn_by_quarter(orders, threshold, as_of)
        )
    _same_shares(
        quarterly.top_share_by_quarter(orders, as_of, engine=spark),
        quarterly.top_share_by_quarter(orders, as_of),
    )
    cut = _quarter_of([100.0] * 7 + [50.0] * 3 + [1.0] * 90)
    got = quarterly.top_share_by_quarter(cut, pd.Timestamp("2025-09-30"), 0.07, 1, engine=spark)
    assert got == {"2025Q3": 750 / 940}
