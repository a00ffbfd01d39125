"""Revenue identity and LMDI change drivers: exact on hand-checked and demo data."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from helpers import decomposition as dec


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
    before, after = dec.comparison_periods(c)
    d = dec.change_drivers(c, before, after)
    text = " ".join(dec.findings(c, d, before, after))
    assert str(after) in text and str(before) in text
    assert dec.driver_sentence(d).startswith("The factor that moved revenue most")
