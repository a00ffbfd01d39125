"""The segmentation steps that read order lines (revenue growth, months of history, customer
types) run in the engine: oracle tests against their former pandas code (kept below, verbatim
but for the names), and a cached data set whose orders never enter pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import segmentation as sg
from helpers.features import features_for
from helpers.loading import TEXT, cache, load_dataset
from helpers.segmentation import tiers, trends
from helpers.segmentation.codes import column_codes, column_is, sorted_codes
from helpers.segmentation.trends import TYPE_FDR
from helpers.segmentation.windows import history_months_of, varies

AS_OF = pd.Timestamp("2025-12-31")

#: The former code factorizes a NumPy-backed array of Python strings, which pandas deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:factorize with argument:FutureWarning")


# --- the former pandas code (the oracle) ------------------------------------------------------


def _former_revenue_growth(
    orders: pd.DataFrame, as_of: pd.Timestamp, months: int = 12
) -> pd.Series:
    """Per account: revenue in the last ``months`` over the ``months`` before, minus 1 (share);
    NaN when the account bought nothing in the earlier window.

    The window sums are grouped on the accounts' ranks among the ids of the orders table
    (:func:`column_codes`, computed once per table) rather than on the id texts: pandas then
    hashes and sorts integers, several times faster at 10^6 lines, with the same groups in the
    same order and the same sums (each account's lines in the same order).
    """
    date = orders["order_date"].to_numpy()
    recent_start = (as_of - pd.DateOffset(months=months)).to_datetime64()
    early_start = (as_of - pd.DateOffset(months=2 * months)).to_datetime64()
    end = pd.Timestamp(as_of).to_datetime64()
    lines = np.flatnonzero(
        (date > early_start) & (date <= end) & ~column_is(orders, "status", "cancelled")
    )
    codes, ids = column_codes(orders, "account_id")
    account = codes[lines]
    amount, date = orders["net_amount"].to_numpy()[lines], date[lines]

    def window_sum(chosen: np.ndarray) -> pd.Series:
        chosen &= account >= 0  # a missing id: pandas leaves the line out of every group
        sums = pd.Series(amount[chosen]).groupby(account[chosen]).sum()
        index = pd.Index(ids.take(sums.index.to_numpy()), name="account_id")
        return pd.Series(sums.to_numpy(), index=index, name="net_amount")

    r = window_sum(date > recent_start)
    e = window_sum(date <= recent_start)
    return (r.reindex(e.index, fill_value=0.0) / e.where(e > 0) - 1).rename("growth")


def _former_completed_dates(orders: pd.DataFrame) -> pd.Series:
    """``order_date`` of the completed lines of ``orders`` (status compared as integer codes
    kept per table, :func:`helpers.segmentation.codes.column_is`)."""
    return orders["order_date"][column_is(orders, "status", "completed")]


def _former_history_months(dates: pd.Series, as_of: pd.Timestamp) -> int:
    """Calendar months from the first of ``dates`` (up to ``as_of``) to ``as_of``, both months
    counted: January 2022 to December 2025 is 48. 0 when no date is on or before ``as_of``."""
    first = dates[dates <= as_of].min()
    if pd.isna(first):
        return 0
    return (as_of.year - first.year) * 12 + as_of.month - first.month + 1


def _former_customer_types(
    orders: pd.DataFrame,
    features: pd.DataFrame,
    as_of: pd.Timestamp,
    months: int = 24,
    margin_quantile: float = 0.8,
    min_orders: int = 6,
    fdr: float = TYPE_FDR,
) -> pd.DataFrame:
    """Customer type per account with at least ``min_orders`` orders in the last ``months``:

    * ``growing``: the OLS slope of log order value against time (per year) is positive and
      significant after false-discovery-rate control (below), i.e. the account spends more
      per order over time (``growth`` = exp(slope) - 1 per year);
    * ``price-insensitive``: margin rate in the top ``1 - margin_quantile`` of accounts while
      the value per order is stable (no significant trend either way); never assigned when the
      data has no margin (or the same margin rate for every account);
    * ``steady``: no significant trend in order value;
    * ``shrinking``: a significant downward trend.

    One t-test per account (two-sided p-value of the slope, column ``p``) would call about
    2.5% of accounts without any trend "growing" by chance; the p-values are therefore
    adjusted by Benjamini-Hochberg (``q``, statsmodels ``multipletests(method="fdr_bh")``) and
    a trend counts as significant when ``q < fdr``: among the accounts called growing or
    shrinking, the expected share of false calls is at most ``fdr``. ``low``/``high`` are
    the unadjusted 95% intervals of the slope. Orders are summed per order id (lines ->
    orders); cancelled orders are ignored; accounts whose orders all fall on one day are left
    out (no trend to measure).
    """
    from scipy.stats import t as student
    from statsmodels.stats.multitest import multipletests

    start = as_of - pd.DateOffset(months=months)
    date = orders["order_date"].to_numpy()
    chosen = np.flatnonzero(
        column_is(orders, "status", "completed")
        & (date > start.to_datetime64())
        & (date <= pd.Timestamp(as_of).to_datetime64())
    )
    # the account codes are kept per table (the tiers use them too); the order ids are
    # ranked among the window's own (fewer to sort, and no other step groups by order)
    accounts, account_ids = column_codes(orders, "account_id")
    per_order = _former_order_values(
        (accounts[chosen], account_ids),
        sorted_codes(orders["order_id"].array.take(chosen)),  # Arrow text stays Arrow
        orders["net_amount"].to_numpy()[chosen],
        date[chosen],
        np.arange(len(chosen)),
    )
    per_order = per_order[per_order["value"] > 0]
    # the accounts left, renumbered 0.. in the order of their ids (as factorizing them would)
    _, first, account = np.unique(
        per_order["account"].to_numpy(), return_index=True, return_inverse=True
    )
    ids = pd.Index(per_order["account_id"].take(first).to_numpy())  # Python strings: few
    t = ((per_order["date"] - start).dt.days / 365.25).to_numpy()
    y = np.log(per_order["value"]).to_numpy()
    per_order = pd.DataFrame({"account": account, "t": t, "y": y})
    n = per_order.groupby("account").size()
    p = per_order[np.bincount(account)[account] >= min_orders]
    g = p.groupby("account")
    t_mean, y_mean = g["t"].transform("mean"), g["y"].transform("mean")
    dt, dy = p["t"] - t_mean, p["y"] - y_mean
    sxx = (dt**2).groupby(p["account"]).sum()
    sxy = (dt * dy).groupby(p["account"]).sum()
    sxx = sxx[sxx > 0]
    slope = sxy.reindex(sxx.index) / sxx
    fitted = slope.reindex(p["account"]).to_numpy() * dt
    sse = ((dy - fitted) ** 2).groupby(p["account"]).sum().reindex(slope.index)
    dof = n.reindex(slope.index) - 2
    se = np.sqrt(sse / dof / sxx)
    q = student.ppf(0.975, dof)
    with np.errstate(divide="ignore", invalid="ignore"):
        tstat = np.where(se > 0, slope / se, np.where(slope == 0, 0.0, np.inf * np.sign(slope)))
    pvalue = pd.Series(2 * student.sf(np.abs(tstat), dof), index=slope.index, dtype=float)
    out = pd.DataFrame(
        {
            "slope": slope,
            "low": slope - q * se,
            "high": slope + q * se,
            "p": pvalue,
            "orders": n.reindex(slope.index),
        }
    )
    out.index = ids.take(out.index.to_numpy(dtype=np.intp)).rename("account_id")
    out["q"] = multipletests(pvalue.to_numpy(), method="fdr_bh")[1] if len(out) else []
    out["growth"] = np.exp(out["slope"]) - 1
    margin = features.set_index("account_id")["margin_rate"]
    if varies(margin.dropna()):
        high_margin = margin.reindex(out.index) >= margin.quantile(margin_quantile)
    else:
        high_margin = pd.Series(False, index=out.index)
    significant = out["q"] < fdr
    out["type"] = np.select(
        [significant & (out["slope"] > 0), significant & (out["slope"] < 0), high_margin],
        ["growing", "shrinking", "price-insensitive"],
        "steady",
    )
    return out


def _former_order_values(
    account: tuple[np.ndarray, pd.Index | np.ndarray],
    order: tuple[np.ndarray, pd.Index | np.ndarray],
    value: np.ndarray,
    date: np.ndarray,
    rows: np.ndarray,
) -> pd.DataFrame:
    """Per (account, order) of the order lines ``rows`` (positions in arrays of the lines'
    account and order id codes, ``account`` and ``order``: sorted codes with their ids, as
    :func:`sorted_codes` or :func:`column_codes` give them, a subset's codes or the table's;
    ``value`` and ``date`` are those lines' ``net_amount`` and ``order_date``): ``value``
    (sum of ``net_amount``, currency) and ``date`` (the first ``order_date``), sorted by
    account id then order id; ``account`` is the account's code (its rank among the ids).

    The same table as ``lines.groupby(["account_id", "order_id"], as_index=False).agg(...)``:
    the ids are replaced by their ranks among the ids, and the two ranks by
    one integer (account rank x number of order ids + order rank, whose order is the order of
    the pairs), so pandas groups one integer key instead of hashing and sorting 10^6 texts
    (several times faster); the groups, their order and the sums (each group's lines in the
    same order) are unchanged.
    """
    (account_codes, account_ids), (order_codes, order_ids) = account, order
    a, o = account_codes[rows], order_codes[rows]
    keep = (a >= 0) & (o >= 0)  # a missing id is code -1: pandas drops the line
    key = a[keep].astype(np.int64) * max(len(order_ids), 1) + o[keep]
    out = (
        pd.DataFrame({"key": key, "value": value[keep], "date": date[keep]})
        .groupby("key", sort=True)
        .agg(value=("value", "sum"), date=("date", "min"))
    )
    pairs = out.index.to_numpy()
    codes = pairs // max(len(order_ids), 1)
    return pd.DataFrame(
        {
            "account": codes,
            "account_id": account_ids.take(codes),
            "order_id": order_ids.take(pairs % max(len(order_ids), 1)),
            "value": out["value"].to_numpy(),
            "date": out["date"].to_numpy(),
        }
    )


# --- random order lines -----------------------------------------------------------------------


def _lines(seed: int, accounts: int = 120, text: bool = False) -> pd.DataFrame:
    """Order lines over three years to a week after ``AS_OF``: several lines per order (their
    dates may differ), several orders on one day, returns (negative, status "returned"),
    cancelled lines, missing amounts, ids and statuses, lines on the as-of day, accounts whose
    orders all have one value (a subscription) or fall on one day. ``text``: the loaded dtypes
    (Arrow-backed text), else Python strings."""
    rng = np.random.default_rng(seed)
    rows = []
    for a in rng.permutation(accounts):
        account = f"acc-{a}"
        kind = rng.choice(["busy", "busy", "few", "subscription", "one day"])
        n_orders = int(rng.integers(1, 30 if kind == "busy" else 9))
        days = rng.integers(-3 * 365, 8, n_orders)
        if kind == "one day":
            days[:] = days[0]
        days[rng.random(n_orders) < 0.1] = 0  # on the as-of day
        price = rng.lognormal(6, 1)
        for k, day in enumerate(days):
            order = f"o{a}-{k % max(1, n_orders - 2)}"  # a few ids repeat: one order, two days
            for _ in range(1 if kind == "subscription" else int(rng.integers(1, 4))):
                amount = price if kind == "subscription" else rng.lognormal(5 + day / 700, 1)
                status = rng.choice(["completed"] * 6 + ["cancelled", "returned"])
                rows.append(
                    {
                        "order_id": order,
                        "account_id": account,
                        "order_date": AS_OF + pd.Timedelta(days=int(day)),
                        "net_amount": -amount if status == "returned" else amount,
                        "gross_margin": amount * 0.3 if rng.random() < 0.8 else np.nan,
                        "status": status,
                    }
                )
    lines = pd.DataFrame(rows)
    n = len(lines)
    for column, share in (("net_amount", 0.02), ("account_id", 0.01), ("order_id", 0.01)):
        lines.loc[rng.random(n) < share, column] = np.nan if column == "net_amount" else None
    lines.loc[rng.random(n) < 0.01, "status"] = None
    if text:
        lines = lines.astype({c: TEXT for c in ("order_id", "account_id", "status")})
    return lines.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def _features(lines: pd.DataFrame, seed: int) -> pd.DataFrame:
    ids = lines["account_id"].dropna().unique()
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"account_id": ids, "margin_rate": rng.uniform(0.1, 0.5, len(ids))})


def _same_growth(got: pd.Series, want: pd.Series) -> None:
    pd.testing.assert_series_equal(got, want, check_exact=False, rtol=1e-9, atol=0)


def _same_types(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Same accounts in the same order, same counts and types; floats to 1e-9."""
    assert list(got.columns) == list(want.columns)
    assert got.index.equals(want.index) and got.index.dtype == want.index.dtype
    assert got.index.name == want.index.name
    assert got["orders"].equals(want["orders"]) and got["type"].equals(want["type"])
    floats = [c for c in got.columns if c not in ("orders", "type")]
    pd.testing.assert_frame_equal(got[floats], want[floats], check_exact=False, rtol=1e-9)


# --- oracle tests -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_revenue_growth_equals_the_former_pandas_code(seed, text):
    lines = _lines(seed, text=text)
    for months in (3, 12):
        want = _former_revenue_growth(lines, AS_OF, months)
        got = sg.revenue_growth(lines, AS_OF, months)
        _same_growth(got, want)
        assert got.index.dtype == want.index.dtype
        assert want.notna().sum() > 20 and want.isna().any()  # the cases are there
    assert (want == -1).any()  # bought before, nothing since


@pytest.mark.parametrize("text", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_history_months_equal_the_former_pandas_code(seed, text):
    lines = _lines(seed, text=text)
    first = lines.loc[lines["status"] == "completed", "order_date"].min()
    for as_of in (AS_OF, AS_OF - pd.DateOffset(months=30), first, first - pd.Timedelta(days=1)):
        want = _former_history_months(_former_completed_dates(lines), as_of)
        assert history_months_of(lines, as_of) == want
    assert history_months_of(lines, first) == 1
    assert history_months_of(lines, first - pd.Timedelta(days=1)) == 0


def _one_day_accounts(lines: pd.DataFrame, as_of: pd.Timestamp, months: int) -> pd.Index:
    """Accounts whose orders of positive value in the trend window all fall on one day."""
    start = as_of - pd.DateOffset(months=months)
    chosen = lines[
        (lines["status"] == "completed")
        & (lines["order_date"] > start)
        & (lines["order_date"] <= as_of)
    ]
    orders = chosen.groupby(["account_id", "order_id"]).agg(
        value=("net_amount", "sum"), date=("order_date", "min")
    )
    days = orders[orders["value"] > 0].groupby("account_id")["date"].nunique()
    return days.index[days == 1]


@pytest.mark.parametrize("text", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_customer_types_equal_the_former_pandas_code(seed, text):
    """The same table, except for accounts whose orders all fall on one day (see the next
    test): they are left out of both sides here."""
    lines = _lines(seed, accounts=300, text=text)
    features = _features(lines, seed)
    for months, min_orders in ((24, 6), (12, 3)):
        one_day = _one_day_accounts(lines, AS_OF, months)
        assert len(one_day) > 0
        lines = lines[~lines["account_id"].isin(one_day)]
        want = _former_customer_types(lines, features, AS_OF, months, min_orders=min_orders)
        got = sg.customer_types(lines, features, AS_OF, months, min_orders=min_orders)
        _same_types(got, want)
        assert len(want) > 30
    assert want["type"].nunique() >= 2


def test_accounts_whose_orders_fall_on_one_day_are_left_out():
    """Orders on one day give no trend, as documented: such an account is not typed. The
    former code kept one when pandas' mean of its equal times was off in the last bit (a
    "steady" account with a slope of -2.7 and an interval of +-6e16 here)."""
    lines = pd.DataFrame(
        {
            "order_id": ["o0", "o2", "o3", "o3", "p0", "p1", "p2"],
            "account_id": ["a"] * 4 + ["b"] * 3,
            "order_date": [AS_OF] * 4 + [AS_OF - pd.Timedelta(days=d) for d in (1, 50, 90)],
            "net_amount": [387.459666, 392.135478, 828.357557, 314.216681, 10.0, 20.0, 15.0],
            "status": "completed",
        }
    )
    features = pd.DataFrame({"account_id": ["a", "b"], "margin_rate": [0.3, 0.2]})
    got = sg.customer_types(lines, features, AS_OF, months=12, min_orders=3)
    assert list(got.index) == ["b"]
    former = _former_customer_types(lines, features, AS_OF, months=12, min_orders=3)
    assert former.loc["a", "high"] > 1e15  # the former's meaningless fit of account a


def test_customer_types_of_accounts_with_one_order_value_have_no_trend():
    """Orders of one value (a subscription price) have no trend: p = 1, whatever the rounding
    of the engine's mean, and the former code says the same."""
    days = [3, 40, 95, 180, 260, 330, 400]
    lines = pd.DataFrame(
        {
            "order_id": [f"o{k}" for k in range(len(days))],
            "account_id": "flat",
            "order_date": [AS_OF - pd.Timedelta(days=d) for d in days],
            "net_amount": 1234.56,
            "status": "completed",
        }
    )
    features = pd.DataFrame({"account_id": ["flat"], "margin_rate": [0.3]})
    got = sg.customer_types(lines, features, AS_OF)
    _same_types(got, _former_customer_types(lines, features, AS_OF))
    assert got.loc["flat", "slope"] == 0 and got.loc["flat", "p"] == 1.0


def test_customer_types_recover_a_known_slope_and_its_standard_error():
    """Hand-checked against scipy's least squares: log value = 5 + 0.5 x years + residuals,
    one order every 73 days: slope, standard error and two-sided p-value of the slope."""
    from scipy.stats import linregress
    from scipy.stats import t as student

    days = np.array([1, 74, 147, 220, 293, 366, 439, 512])
    noise = np.array([0.1, -0.1, 0.05, -0.05, 0.1, -0.1, 0.05, -0.05])
    start = AS_OF - pd.DateOffset(months=24)
    t = days / 365.25
    y = 5 + 0.5 * t + noise
    lines = pd.DataFrame(
        {
            "order_id": [f"o{k}" for k in range(len(days))],
            "account_id": "a",
            "order_date": [start + pd.Timedelta(days=int(d)) for d in days],
            "net_amount": np.exp(y),
            "status": "completed",
        }
    )
    fit = linregress(t, y)
    features = pd.DataFrame({"account_id": ["a"], "margin_rate": [0.3]})
    got = sg.customer_types(lines, features, AS_OF).loc["a"]
    assert got["slope"] == pytest.approx(fit.slope, rel=1e-12)
    assert got["p"] == pytest.approx(fit.pvalue, rel=1e-9) and got["p"] < 0.01
    half = (got["high"] - got["low"]) / 2
    assert half == pytest.approx(fit.stderr * student.ppf(0.975, 6), rel=1e-9)
    assert got["orders"] == 8


_LINE_COLUMNS = ["order_id", "account_id", "order_date", "net_amount", "status"]
#: Frames without rows as code builds them: object columns, float64 columns (an empty list).
EMPTY_FRAMES = {
    "object": pd.DataFrame(columns=_LINE_COLUMNS),
    "float64": pd.DataFrame({c: [] for c in _LINE_COLUMNS}),
}


def test_empty_frames_built_in_code_ask_no_engine():
    """A frame without rows (its columns untyped): no growth, no history, no types."""
    empty = pd.DataFrame(columns=["order_id", "account_id", "order_date", "net_amount", "status"])
    assert sg.revenue_growth(empty, AS_OF).empty
    assert history_months_of(empty, AS_OF) == 0
    types = sg.customer_types(empty, pd.DataFrame({"account_id": [], "margin_rate": []}), AS_OF)
    assert types.empty and list(types.columns) == [
        "slope",
        "low",
        "high",
        "p",
        "orders",
        "q",
        "growth",
        "type",
    ]


@pytest.mark.parametrize("kind", [*EMPTY_FRAMES, "loaded"])
def test_growth_history_and_tiers_of_no_lines(kind, demo):
    """Frames without rows (built in code, or a loaded one) go through the engine: no history,
    no growth (ids typed as for a frame with rows: Python strings for object ids, else the
    loaded text), and the value tiers of the features without growth."""
    empty = demo["orders"].iloc[:0] if kind == "loaded" else EMPTY_FRAMES[kind]
    assert history_months_of(empty, AS_OF) == 0
    ids = pd.Index([], dtype=object if kind == "object" else TEXT, name="account_id")
    want = pd.Series([], index=ids, dtype=float, name="growth")
    pd.testing.assert_series_equal(sg.revenue_growth(empty, AS_OF), want, check_index_type=True)
    if kind == "loaded":  # as loaded lines of which no window holds one
        before = sg.revenue_growth(demo["orders"], pd.Timestamp("2000-01-01"))
        pd.testing.assert_series_equal(before, want, check_index_type=True)
    features = features_for(demo)
    got = sg.value_tiers(features, empty, AS_OF, weights=None)
    pd.testing.assert_series_equal(got, sg.value_tier(features, None, None))


@pytest.mark.parametrize("kind", [*EMPTY_FRAMES, "loaded"])
def test_customer_types_of_no_lines_are_an_empty_typed_table(kind, demo):
    """Frames without rows (built in code, or a loaded one) go through the engine: no types,
    in the columns, dtypes and index of the table with rows (Python-string ids)."""
    empty = demo["orders"].iloc[:0] if kind == "loaded" else EMPTY_FRAMES[kind]
    features = pd.DataFrame({"account_id": [], "margin_rate": []})
    want = pd.DataFrame(
        {
            **{c: pd.Series(dtype=float) for c in ("slope", "low", "high", "p")},
            "orders": pd.Series(dtype="int64"),
            "q": pd.Series(dtype=float),
            "growth": pd.Series(dtype=float),
            "type": pd.Series(dtype=object),
        },
        index=pd.Index([], dtype=object, name="account_id"),
    )
    pd.testing.assert_frame_equal(sg.customer_types(empty, features, AS_OF), want)
    sums = trends._regression_sums(empty, AS_OF, 24, 6, None)
    assert sums.num_rows == 0 and sums.schema.field("account_id").type == "string"


# --- on the demo, and a cached data set ---------------------------------------------------------


def test_the_demo_steps_equal_the_former_pandas_code(demo):
    as_of = demo.analysis_date
    orders = demo["orders"]
    features = features_for(demo)
    _same_growth(sg.revenue_growth(orders, as_of), _former_revenue_growth(orders, as_of))
    assert history_months_of(demo, as_of) == _former_history_months(
        _former_completed_dates(orders), as_of
    )
    _same_types(
        sg.customer_types(demo, features, as_of), _former_customer_types(orders, features, as_of)
    )


def test_a_cached_data_set_keeps_its_orders_in_the_engine(demo, root, monkeypatch):
    """Read from the load-once cache, the tiers, the migration and the customer types build
    no orders frame (the engine scans the entry) and give the plain data set's results."""
    load_dataset("demo")
    cached = load_dataset("demo")
    assert cache.last_outcome == "hit" and cached.tables.read() == []
    as_of = demo.analysis_date
    features = features_for(demo)  # the features' own reading of the orders is not this step's
    revenue = sg.account_revenue(features)
    earlier = {}

    def features_of(ds, when):
        earlier.setdefault(when, features_for(demo, when))
        return earlier[when]

    got_tiers = sg.value_tiers(features, cached, as_of, weights=None)
    got_types = sg.account_types(cached, features, as_of)
    monkeypatch.setattr(tiers, "features_for", features_of)
    got_move = sg.tier_migration_since(cached, got_tiers, revenue, as_of, months=12, weights=None)
    assert "orders" not in cached.tables.read()
    want_tiers = sg.value_tiers(features, demo["orders"], as_of, weights=None)
    assert got_tiers.equals(want_tiers)
    _same_types(got_types, trends.account_types(demo, features, as_of))
    want_move = sg.tier_migration_since(demo, want_tiers, revenue, as_of, months=12, weights=None)
    assert got_move.counts.equals(want_move.counts) and got_move.money.equals(want_move.money)
    assert got_move.moved_up > 0
