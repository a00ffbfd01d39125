"""Revenue identity and LMDI change drivers: exact on hand-checked and demo data."""

from __future__ import annotations

import dataclasses
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from helpers import decomposition as dec
from helpers import engine, plots, reporting, revenue_periods, schemas
from helpers.loading import TEXT, Dataset, load_dataset
from helpers.loading.lazy_tables import LazyTables
from helpers.steps import Skipped, step


def _orders(rows):
    frame = pd.DataFrame(rows, columns=["account_id", "order_date", "net_amount", "status"])
    frame["order_date"] = pd.to_datetime(frame["order_date"])
    return frame


ORDERS = _orders(
    [
        ("a", "2025-01-10", 100.0, "completed"),  # a new in Q1
        ("b", "2025-02-10", 50.0, "completed"),  # b new in Q1
        ("a", "2025-04-10", 120.0, "completed"),  # a retained in Q2
        ("c", "2025-05-01", 30.0, "completed"),  # c new in Q2
        ("c", "2025-05-20", 999.0, "cancelled"),  # ignored
        ("a", "2025-07-10", 80.0, "completed"),  # a retained in Q3
        ("a", "2025-07-20", -20.0, "returned"),  # return reduces a's Q3 revenue
        ("b", "2025-08-10", 40.0, "completed"),  # b reactivated in Q3 (silent in Q2)
    ]
)
LEADS = pd.DataFrame(
    {
        "created_date": pd.to_datetime(
            ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04", "2025-04-01", "2025-04-02"]
        )
    }
)


def test_hand_checked_components():
    c = dec.revenue_components(ORDERS, LEADS, "Q", end="2025-09-30")
    q1, q2, q3 = (c.loc[pd.Period(p)] for p in ("2025Q1", "2025Q2", "2025Q3"))
    assert (q1["revenue"], q1["new"], q1["new_accounts"], q1["leads"]) == (150, 150, 2, 4)
    assert q1["conversion"] == 0.5 and q1["new_volume"] == 75
    assert (q2["existing"], q2["base"], q2["retained"], q2["retention"]) == (120, 2, 1, 0.5)
    assert q2["new"] == 30 and q2["conversion"] == 0.5
    assert q3["existing"] == 60 and q3["reactivated"] == 40 and q3["reactivated_accounts"] == 1
    assert q3["base"] == 2 and q3["retention"] == 0.5
    assert c["complete"].all()


def test_identity_is_exact_on_demo(demo):
    c = dec.revenue_components(demo["orders"], demo["leads"], "Q", end=demo.analysis_date)
    assert (c["revenue"] - c["new"] - c["existing"] - c["reactivated"]).abs().max() < 1e-6
    # each term equals the product of its factors
    new = c["leads"] * c["conversion"] * c["new_volume"]
    existing = c["base"] * c["retention"] * c["repurchase_volume"]
    pd.testing.assert_series_equal(new.dropna(), c["new"][new.notna()], check_names=False)
    pd.testing.assert_series_equal(
        existing.dropna(), c["existing"][existing.notna()], check_names=False
    )
    total = c.groupby(lambda p: True)["revenue"].sum().iloc[0]
    o = demo["orders"]
    assert total == pytest.approx(o.loc[o["status"] != "cancelled", "net_amount"].sum())


@pytest.mark.parametrize("lag", [1, 4])
def test_drivers_sum_to_change(demo, lag):
    c = dec.revenue_components(demo["orders"], demo["leads"], "Q", end=demo.analysis_date)
    before, after = dec.comparison_periods(c, lag)
    d = dec.change_drivers(c, before, after)
    assert d["contribution"].sum() == pytest.approx(
        c.loc[after, "revenue"] - c.loc[before, "revenue"], rel=1e-12
    )
    assert set(d["driver"]) == {
        "leads",
        "conversion",
        "new_volume",
        "base",
        "retention",
        "repurchase_volume",
        "reactivated",
    }


def test_lmdi_two_factor_hand_case():
    # revenue = base x retention x volume: 100 x 0.5 x 2 = 100 -> 100 x 0.5 x 4 = 200
    comp = pd.DataFrame(
        {
            "revenue": [100.0, 200.0],
            "new": [0.0, 0.0],
            "existing": [100.0, 200.0],
            "reactivated": [0.0, 0.0],
            "leads": [float("nan")] * 2,
            "new_accounts": [0, 0],
            "new_volume": [float("nan")] * 2,
            "base": [100, 100],
            "retention": [0.5, 0.5],
            "repurchase_volume": [2.0, 4.0],
        },
        index=["p0", "p1"],
    )
    d = dec.change_drivers(comp, "p0", "p1").set_index("driver")["contribution"]
    assert d["repurchase_volume"] == pytest.approx(100.0)  # the only factor that moved
    assert d["base"] == 0 and d["retention"] == 0
    assert d["new (not split)"] == 0
    assert dec._log_mean(200.0, 100.0) == pytest.approx(100 / math.log(2))


def test_without_leads_new_revenue_is_accounts_times_volume():
    c = dec.revenue_components(ORDERS, None, "Q", end="2025-09-30")
    assert c["conversion"].isna().all()
    d = dec.change_drivers(c, pd.Period("2025Q1"), pd.Period("2025Q2"))
    assert "new_accounts" in set(d["driver"]) and "leads" not in set(d["driver"])


def test_partial_period_and_too_few_periods():
    c = dec.revenue_components(ORDERS, LEADS, "Q", end="2025-08-15")
    assert not c["complete"].iloc[-1]
    with pytest.raises(ValueError, match="needs 3 complete periods; the selection has 2"):
        dec.comparison_periods(c, 2)


def test_sentences_are_computed(demo):
    c = dec.revenue_components(demo["orders"], demo["leads"], "Q", end=demo.analysis_date)
    change = dec.revenue_change(c, lag=1)
    text = " ".join(dec.findings(components=c, change=change, currency="EUR"))
    assert "2025 Q4" in text and "2025 Q3" in text and "M EUR" in text
    assert "2025Q" not in text
    assert dec.driver_sentence(change=change).startswith("The largest contribution to the change")


# --- the notebook's steps on the hand-checked orders --------------------------------------------

Q3 = dec.revenue_components(ORDERS, LEADS, "Q", end="2025-09-30")  # Q2 150 -> Q3 100


def _dataset(tables: dict[str, pd.DataFrame]) -> Dataset:
    return Dataset(
        tables=tables,
        source="hand",
        analysis_date=pd.Timestamp("2025-09-30"),
        fingerprint="f00d",
        filters={"region": "north"},
    )


def test_revenue_change_hand_checked():
    change = dec.revenue_change(components=Q3, lag=1)
    assert (str(change.before), str(change.after)) == ("2025Q2", "2025Q3")
    assert (change.revenue_before, change.revenue_after) == (150.0, 100.0)
    assert change.drivers["contribution"].sum() == pytest.approx(-50.0)
    contributions = change.drivers.set_index("driver")["contribution"]
    # existing 120 -> 60 with base (2) and retention (0.5) unchanged: all from the volume;
    # new 30 -> 0 cannot be split (no new account in Q3, log of 0); reactivated 0 -> 40
    assert contributions["repurchase_volume"] == pytest.approx(-60.0)
    assert contributions["base"] == 0 and contributions["retention"] == 0
    assert contributions["new (not split)"] == -30.0 and contributions["reactivated"] == 40.0
    assert change.top["driver"] == "repurchase_volume"
    assert dec.driver_sentence(change=change, currency="EUR") == (
        "The largest contribution to the change was spend per retained account: it took away "
        "60 EUR as it went from 120 EUR per account to 60 EUR per account."
    )


def test_revenue_change_skips_with_too_few_complete_periods():
    partial = dec.revenue_components(ORDERS, LEADS, "Q", end="2025-08-15")  # Q1, Q2 complete
    change = dec.revenue_change(components=partial, lag=2)
    assert isinstance(change, Skipped)
    assert change.sentence() == (
        "The split of the revenue change is not available: the selection has 2 complete "
        "period(s) (comparing with 2 period(s) earlier needs 3)."
    )
    assert dec.driver_sentence(change=change) == change
    assert dec.findings(components=partial, change=change)[-1] == change.sentence()
    with pytest.raises(ValueError, match="at least 1 period"):
        dec.revenue_change(components=partial, lag=0)


def test_mix_sentence_defaults_to_the_last_complete_period():
    partial = dec.revenue_components(ORDERS, LEADS, "Q", end="2025-08-15")
    assert str(dec.latest_period(components=partial)) == "2025Q2"
    assert dec.mix_sentence(components=partial) == (
        "In 2025 Q2, accounts that also bought in the period before brought the largest part "
        "of revenue (80%), then new accounts (20%) and returning accounts (0%)."
    )


def test_findings_hand_checked():
    change = dec.revenue_change(components=Q3, lag=1)
    assert dec.findings(components=Q3, change=change, currency="EUR") == [
        "Revenue fell from 150 EUR in 2025 Q2 to 100 EUR in 2025 Q3 (-33.3%).",
        "In 2025 Q3, 60% of revenue came from accounts that also bought in the period before "
        "(50% of those 2 accounts bought again), 0% from 0 new accounts and 40% from 1 "
        "returning accounts.",
        "The largest positive contribution was reactivated accounts (40 EUR).",
        "The largest negative contribution was spend per retained account (-60 EUR).",
    ]


def test_metrics_hand_checked(tmp_path):
    ds = _dataset({"orders": ORDERS, "leads": LEADS})
    change = dec.revenue_change(components=Q3, lag=1)
    m = dec.metrics(ds=ds, as_of=pd.Timestamp("2025-09-30"), components=Q3, change=change)
    assert (m.period, m.compared_with, m.analysis_date) == ("2025Q3", "2025Q2", "2025-09-30")
    assert (m.revenue, m.revenue_before, m.revenue_change) == (100.0, 150.0, -50.0)
    assert (m.share_existing, m.share_new, m.share_reactivated) == (0.6, 0.0, 0.4)
    assert (m.retention, m.new_accounts) == (0.5, 0)
    assert (m.retention_before, m.new_accounts_before) == (0.5, 1)  # 2025Q2: a of a, b; c new
    assert (m.period_start, m.period_end) == ("2025-07-01", "2025-09-30")
    assert m.top_driver == "repurchase_volume"
    assert m.top_driver_contribution == pytest.approx(-60.0)
    assert sum(m.drivers.values()) == pytest.approx(-50.0)
    assert m.rows == {"orders": 8, "leads": 6}
    assert (m.data_fingerprint, m.source, m.filters) == ("f00d", "hand", {"region": "north"})
    # no 2024Q3 in the data: the year-on-year figures alone are skipped, with the reason
    assert set(m.skipped) == {"revenue_year_before", "revenue_change_year"}
    assert "no revenue for 2024Q3, a year before 2025Q3" in m.skipped["revenue_year_before"]
    m = dataclasses.replace(m, currency="EUR")
    table = dec.headline_table(metrics=m).set_index("measure")["value"]
    assert table["Change in revenue"] == "-50 EUR" and table["Revenue in the period"] == "100 EUR"
    assert (table["Period"], table["Compared with"]) == ("2025 Q3", "2025 Q2")
    assert (
        table["Data as of"] == "30 Sep 2025"
        and table["Retention of the previous period's buyers"] == "50%"
    )
    assert table["Largest driver of the change"] == "spend per retained account"
    assert table["New accounts in the period"] == "0 accounts"
    assert not any("_" in label for label in table.index)  # no code names
    assert "f00d" not in table.to_numpy()  # the fingerprint is in the report header
    reporting.write_metrics(tmp_path, m)
    back = schemas.read(tmp_path, schemas.OverviewMetrics)  # floats rounded to 6 digits
    assert back.top_driver_contribution == -60.0 and back.rows == m.rows
    assert back == dataclasses.replace(m, top_driver_contribution=-60.0, drivers=back.drivers)


def test_metrics_compare_with_the_same_period_a_year_earlier():
    year_ago = pd.concat([_orders([("d", "2024-07-15", 70.0, "completed")]), ORDERS])
    components = dec.revenue_components(year_ago, None, "Q", end="2025-09-30")
    change = dec.revenue_change(components=components, lag=1)
    m = dec.metrics(
        ds=_dataset({"orders": year_ago}),
        as_of=pd.Timestamp("2025-09-30"),
        components=components,
        change=change,
    )
    assert (m.revenue, m.revenue_year_before, m.revenue_change_year) == (100.0, 70.0, 30.0)
    assert "revenue_year_before" not in m.skipped


def test_metrics_of_a_skipped_change_are_null_with_the_reason():
    partial = dec.revenue_components(ORDERS, LEADS, "Q", end="2025-08-15")
    change = dec.revenue_change(components=partial, lag=2)
    m = dec.metrics(
        ds=_dataset({"orders": ORDERS}),
        as_of=pd.Timestamp("2025-08-15"),
        components=partial,
        change=change,
    )
    assert m.period is None and m.drivers is None and m.rows == {"orders": 8}
    assert set(m.skipped) == set(dec.CHANGE_FIELDS) | {
        "period_start",
        "period_end",
        "revenue_year_before",
        "revenue_change_year",
    }
    assert m.skipped["revenue"] == change.why()
    table = dec.headline_table(metrics=m).set_index("measure")["value"]
    assert table["Revenue in the period"] == "not available"


def test_charts_of_the_notebook():
    change = dec.revenue_change(components=Q3, lag=1)
    ax = plots.change_waterfall(change)
    assert len(ax.patches) == len(change.drivers) + 2  # start, one bar per driver, end
    assert ax.get_title() == "What moved revenue from 2025 Q2 to 2025 Q3"
    ax = plots.revenue_by_kind(Q3, as_of=pd.Timestamp("2025-09-30"))
    assert ax.get_title() == "Revenue by period, by kind of account (as of 30 Sep 2025)"
    assert len(ax.patches) == 3 * len(Q3)  # existing, new, reactivated per period
    plt.close("all")


def test_components_step_skips_without_orders_and_runs_without_leads():
    as_of = pd.Timestamp("2025-09-30")
    funnel = Dataset(tables={"leads": LEADS}, source="f.yaml", analysis_date=as_of, fingerprint="x")
    skipped = dec.components(funnel, as_of, freq="Q")
    assert skipped.sentence() == (
        "Revenue by period is not available: the data source 'f.yaml' has no orders table "
        "(revenue by period needs the order lines)."
    )
    assert isinstance(dec.factor_table(components=skipped), Skipped)
    assert dec.findings(components=skipped, change=dec.revenue_change(skipped)) == [
        skipped.sentence()
    ]
    orders_only = Dataset(
        tables={"orders": ORDERS}, source="o", analysis_date=as_of, fingerprint="x"
    )
    components = dec.components(orders_only, as_of, freq="Q")
    pd.testing.assert_frame_equal(components, dec.revenue_components(ORDERS, None, "Q", end=as_of))
    table = dec.factor_table(components=components)
    assert "leads" not in table.index and "conversion" not in table.index
    assert table.loc["retention"].iloc[0] == "n/a"  # no buyers before the first period
    assert not table.isna().any().any()
    assert table.columns.tolist() == ["2025 Q1", "2025 Q2", "2025 Q3"]


def test_factor_table_is_text_with_units_not_raw_floats():
    table = dec.factor_table(components=Q3, currency="EUR")
    assert table.loc["revenue"].tolist() == ["150 EUR", "150 EUR", "100 EUR"]
    assert table.loc["conversion", "2025 Q1"] == "50.0%"
    assert table.loc["new accounts", "2025 Q1"] == "2"
    assert table.loc["revenue per new account", "2025 Q1"] == "75 EUR"
    assert all(isinstance(v, str) and not v.endswith(".0") for v in table.to_numpy().ravel())


def test_a_compared_period_without_earlier_buyers_has_no_retention_and_says_why():
    change = dec.revenue_change(components=Q3, lag=2)  # 2025Q1, the first period: no base
    m = dec.metrics(
        ds=_dataset({"orders": ORDERS}),
        as_of=pd.Timestamp("2025-09-30"),
        components=Q3,
        change=change,
    )
    assert m.retention_before is None and m.new_accounts_before == 2
    assert m.skipped["retention_before"] == "2025Q1 has no buyers in the period before it to retain"


# --- the engine against the former pandas implementation ----------------------------------------
# The former code, verbatim but for its name and where ``_ratio`` lives now: the oracle.


def _former_period(dates: pd.Series, freq: str) -> pd.Series:
    return dates.dt.to_period(freq)


def _former_revenue_components(
    orders: pd.DataFrame,
    leads: pd.DataFrame | None = None,
    freq: str = "Q",
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """The former pandas implementation of :func:`dec.revenue_components` (the oracle)."""
    if freq not in ("M", "Q", "Y"):
        raise ValueError(f"freq must be 'M', 'Q' or 'Y', got {freq!r}")
    o = orders.loc[
        orders["status"] != "cancelled", ["account_id", "order_date", "net_amount", "status"]
    ]
    if end is not None:
        o = o[o["order_date"] <= pd.Timestamp(end)]
    # periods as their integer ordinals while grouping: pandas boxes every Period of a period
    # column to find duplicates (1.3M Python objects, 12 s at 100k accounts)
    o = o.assign(period=_former_period(o["order_date"], freq).array.asi8)
    # accounts as integer codes in their ids' sorted order, when none is missing: grouping by
    # them gives the groups, in the same order, that grouping by the texts gives (the result
    # is per period, ids never show), without hashing 10^7 id texts once per groupby
    codes, _ = pd.factorize(o["account_id"], sort=True)
    if (codes >= 0).all():
        o = o.assign(account_id=codes)
    revenue = o.groupby(["account_id", "period"], observed=True)["net_amount"].sum()
    bought = o.loc[o["status"] == "completed", ["account_id", "period"]].drop_duplicates()
    first = bought.groupby("account_id")["period"].min().rename("first_period")
    if bought.empty:
        raise ValueError("No completed orders in the selection: nothing to decompose.")
    periods = pd.period_range(
        pd.Period(ordinal=bought["period"].min(), freq=freq),
        pd.Period(ordinal=bought["period"].max(), freq=freq),
        freq=freq,
    )
    ordinals = pd.Index(periods.asi8)
    bought = bought.assign(flag=True)
    # account x period purchase matrix (accounts are few thousand to a few hundred thousand)
    matrix = (
        bought.pivot_table(
            index="account_id", columns="period", values="flag", aggfunc="any", fill_value=False
        )
        .reindex(columns=ordinals, fill_value=False)
        .astype(bool)
    )
    rev = revenue.unstack("period").reindex(index=matrix.index, columns=ordinals).fillna(0.0)
    first_idx = ordinals.get_indexer(first.reindex(matrix.index))
    col_idx = np.arange(len(periods))
    is_new = first_idx[:, None] == col_idx[None, :]
    prev = np.zeros_like(matrix.to_numpy())
    prev[:, 1:] = matrix.to_numpy()[:, :-1]
    now = matrix.to_numpy()
    retained = now & prev
    reactivated = now & ~prev & ~is_new
    values = rev.to_numpy()
    # revenue of accounts with no completed order in the period (returns only) goes to the
    # group they belonged to last period, so that the identity stays exact
    returns_only = ~now & (values != 0)
    frame = pd.DataFrame(index=pd.Index(periods, name="period"))
    frame["revenue"] = values.sum(axis=0)
    frame["new"] = (values * is_new).sum(axis=0)
    frame["existing"] = (values * (retained | (returns_only & prev))).sum(axis=0)
    frame["reactivated"] = (values * (reactivated | (returns_only & ~prev))).sum(axis=0)
    frame["new_accounts"] = is_new.sum(axis=0)
    frame["new_volume"] = revenue_periods.ratio(frame["new"], frame["new_accounts"])
    frame["base"] = prev.sum(axis=0)
    frame["retained"] = retained.sum(axis=0)
    frame["retention"] = revenue_periods.ratio(frame["retained"], frame["base"])
    frame["repurchase_volume"] = revenue_periods.ratio(frame["existing"], frame["retained"])
    frame["reactivated_accounts"] = reactivated.sum(axis=0)
    if leads is not None:
        created = _former_period(leads["created_date"], freq).value_counts()
        frame["leads"] = created.reindex(periods, fill_value=0).to_numpy()
        frame["conversion"] = revenue_periods.ratio(frame["new_accounts"], frame["leads"])
    else:
        frame["leads"] = np.nan
        frame["conversion"] = np.nan
    last_day = pd.Timestamp(end) if end is not None else o["order_date"].max()
    frame["complete"] = [p.end_time.normalize() <= last_day for p in periods]
    if start is not None:
        frame = frame[[p.end_time >= pd.Timestamp(start) for p in frame.index]]
    return frame


@step("Revenue by period")
def _former_components(
    ds: Dataset, as_of: pd.Timestamp, *, freq: str = "Q"
) -> pd.DataFrame | Skipped:
    """The former pandas implementation of :func:`dec.components` (the oracle)."""
    orders = ds.tables.get("orders")
    if orders is None:
        return Skipped(
            f"the data source '{ds.source}' has no orders table",
            "revenue by period needs the order lines",
        )
    done = orders[(orders["status"] == "completed") & (orders["order_date"] <= as_of)]
    if done.empty:
        return Skipped(f"no completed order up to {as_of:%Y-%m-%d}", "revenue by period needs them")
    return _former_revenue_components(orders, ds.tables.get("leads"), freq, end=as_of)


def _random_orders(seed: int, text: object = TEXT, n: int = 600) -> pd.DataFrame:
    """Random order lines of 15 accounts over 2023-2025: returns (negative), cancellations,
    missing margins, several lines a day, lines on AS_OF and after it; an account with
    returns only, one with cancelled lines only, one whose only purchase is after AS_OF.
    Rows shuffled (file lines a permutation)."""
    rng = np.random.default_rng(seed)
    ids = rng.choice([f"A{i:02d}" for i in range(12)], n)
    days = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 1060, n), "D")
    days = days.where(rng.random(n) > 0.1, AS_OF)  # the as-of day itself
    status = rng.choice(["completed", "returned", "cancelled"], n, p=[0.75, 0.15, 0.10])
    amount = rng.gamma(2.0, 50.0, n).round(2)
    extra = pd.DataFrame(
        {
            "account_id": ["R1", "R1", "C1", "L1", "L1"],
            "order_date": pd.to_datetime(
                ["2024-03-01", "2024-05-01", "2024-04-01", "2025-10-02", "2025-06-30"]
            ),
            "net_amount": [-10.0, -5.5, 80.0, 40.0, -4.0],
            "status": ["returned", "returned", "cancelled", "completed", "returned"],
        }
    )
    lines = pd.DataFrame(
        {
            "account_id": ids,
            "order_date": days,
            "net_amount": np.where(status == "returned", -amount, amount),
            "status": status,
        }
    )
    lines = pd.concat([lines, extra], ignore_index=True)
    margin = (lines["net_amount"] * 0.3).where(rng.random(len(lines)) > 0.3)
    lines = lines.assign(gross_margin=margin, _source_row=rng.permutation(len(lines)) + 2)
    lines = lines.astype({"account_id": text, "status": text})
    return lines.sample(frac=1.0, random_state=seed).reset_index(drop=True)


AS_OF = pd.Timestamp("2025-09-15")


def _random_leads(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = pd.Timestamp("2022-10-01") + pd.to_timedelta(rng.integers(0, 1200, 300), "D")
    return pd.DataFrame({"created_date": days.where(rng.random(300) > 0.02)})  # a few missing


def _same_components(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Counts, periods and flags exactly; sums of amounts (and ratios of them) to 1e-9."""
    assert got.columns.tolist() == want.columns.tolist()
    pd.testing.assert_index_equal(got.index, want.index, exact=True)
    floats = [c for c in want.columns if want[c].dtype == float]
    pd.testing.assert_frame_equal(got.drop(columns=floats), want.drop(columns=floats))
    pd.testing.assert_frame_equal(got[floats], want[floats], check_exact=False, rtol=1e-9)


@pytest.mark.parametrize(("seed", "freq"), [(1, "M"), (2, "Q"), (3, "Y")])
def test_revenue_components_equal_the_former_pandas_ones(seed, freq):
    orders, leads = _random_orders(seed), _random_leads(seed)
    for end, start, with_leads in ((AS_OF, None, True), (None, "2024-02-10", False)):
        got = dec.revenue_components(orders, leads if with_leads else None, freq, start, end)
        want = _former_revenue_components(orders, leads if with_leads else None, freq, start, end)
        _same_components(got, want)
    if freq == "Q":  # an Ibis table of the lines (as a cached data set gives): the same sums
        table = engine.memtable(orders, list(orders.columns))
        _same_components(
            dec.revenue_components(table, leads, freq, end=AS_OF),
            _former_revenue_components(orders, leads, freq, end=AS_OF),
        )


def test_sums_do_not_depend_on_the_order_of_the_lines():
    """Amounts are added exactly (revenue_periods.exact_sum): the lines in another order (as
    an engine's threads may add them) give the same table to the last bit."""
    orders = _random_orders(5, n=3000)
    orders["net_amount"] = orders["net_amount"] / 7  # amounts with many decimals
    got = dec.revenue_components(orders, None, "M", end=AS_OF)
    shuffled = orders.sample(frac=1.0, random_state=1).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        dec.revenue_components(shuffled, None, "M", end=AS_OF), got, check_exact=True
    )


def test_object_text_and_a_line_without_an_account_give_the_former_table():
    """Python-string columns (frames built in code) and a line without an account (it counts
    for no account, but its period may widen the span, as the former grouping had it)."""
    orders = _random_orders(7, text=object)
    orders.loc[3, "account_id"] = None
    orders.loc[4, ["account_id", "status", "order_date"]] = [None, "completed", "2022-06-01"]
    for freq in ("M", "Q"):
        _same_components(
            dec.revenue_components(orders, None, freq, end=AS_OF),
            _former_revenue_components(orders, None, freq, end=AS_OF),
        )


@pytest.mark.parametrize("kind", ["object", "float64", "typed"])
def test_frames_without_rows_have_no_period_and_no_leads(kind):
    """Orders and leads without rows (built in code: object or float64 columns; or typed) go
    through the engine: no period (the columns and dtypes of the sums with rows), no
    decomposition (``ValueError``; the step is skipped), and leads counted 0 in every period
    (the former pandas table)."""

    def empty(frame: pd.DataFrame) -> pd.DataFrame:
        if kind == "object":
            return pd.DataFrame(columns=frame.columns)
        return pd.DataFrame({c: [] for c in frame.columns}) if kind == "float64" else frame[:0]

    orders, leads = empty(ORDERS), empty(LEADS)
    sums = revenue_periods.period_sums(orders, "Q", AS_OF, engine.DUCKDB)
    full = revenue_periods.period_sums(ORDERS, "Q", AS_OF, engine.DUCKDB)
    pd.testing.assert_frame_equal(sums, full.iloc[:0], check_index_type=True)
    counted = revenue_periods.lead_counts(leads, "Q", engine.DUCKDB)
    none = pd.Series([], index=pd.Index([], dtype="int64"), dtype="int64")
    pd.testing.assert_series_equal(counted, none, check_index_type=True)
    with pytest.raises(ValueError, match="No completed orders"):
        dec.revenue_components(orders, leads, "Q")
    ds = Dataset(
        tables={"orders": orders, "leads": leads}, source="r", analysis_date=AS_OF, fingerprint="x"
    )
    assert dec.components(ds, AS_OF).sentence() == (
        "Revenue by period is not available: no completed order up to 2025-09-15 (revenue by "
        "period needs them)."
    )
    got = dec.revenue_components(ORDERS, leads, "Q", end="2025-09-30")
    want = _former_revenue_components(ORDERS, LEADS[:0], "Q", end="2025-09-30")
    _same_components(got, want)
    assert got["leads"].eq(0).all() and got["conversion"].isna().all()


def test_components_step_equals_the_former_step():
    orders = _random_orders(4)
    ds = Dataset(
        tables={"orders": orders, "leads": _random_leads(4)},
        source="r",
        analysis_date=AS_OF,
        fingerprint="x",
    )
    _same_components(dec.components(ds, AS_OF, freq="Q"), _former_components(ds, AS_OF, freq="Q"))
    early = pd.Timestamp("2022-12-31")  # before any line
    assert (
        dec.components(ds, early).sentence()
        == _former_components(ds, early).sentence()
        == (
            "Revenue by period is not available: no completed order up to 2022-12-31 (revenue by "
            "period needs them)."
        )
    )
    empty = dataclasses.replace(ds, tables={"orders": pd.DataFrame(columns=orders.columns)})
    assert dec.components(empty, AS_OF).sentence() == _former_components(empty, AS_OF).sentence()
    with pytest.raises(ValueError, match="No completed orders"):
        dec.revenue_components(orders[orders["status"] != "completed"], None, "Q")
    with pytest.raises(ValueError, match="freq must be"):
        dec.revenue_components(orders, None, "W")


def test_notebook_00_on_a_cached_data_set_reads_no_order_line_into_pandas(root, tmp_path):
    """Notebook 00's steps, from ``session.start`` to its metrics, on the demo read from the
    load-once cache: no table is built as a pandas frame (the engine scans the cached files),
    and the numbers are those of the frames of a fresh load (sums to 1e-9)."""
    from helpers import health, session

    ds, as_of, out = session.start("00-data-overview", "demo", {}, "", str(tmp_path))
    assert isinstance(ds.tables, LazyTables) and ds.tables.read() == []
    health.tables_display(ds)
    warts = health.order_checks(ds)
    health.warnings_display(ds)
    components = dec.components(ds, as_of, freq="Q")
    dec.mix_sentence(components)
    dec.factor_table(components.tail(6), currency=ds.currency)
    change = dec.revenue_change(components, lag=1)
    metrics = dec.metrics(ds=ds, as_of=as_of, components=components, change=change)
    reporting.write_metrics(out, metrics)
    dec.findings(components, change, currency=ds.currency)
    assert "orders" not in ds.tables.read()
    assert ds.tables.read() == []  # nor leads, touchpoints, accounts
    fresh = load_dataset("demo", cache=False)
    _same_components(components, _former_components(fresh, as_of, freq="Q"))
    assert warts == pytest.approx(health.order_warts(fresh["orders"]), rel=1e-9)
    assert metrics.rows == {name: len(frame) for name, frame in fresh.tables.items()}
