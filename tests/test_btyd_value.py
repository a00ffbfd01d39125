"""The second lifetime-value estimate per channel (BG/NBD + Gamma-Gamma) beside the survival one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_payback import AS_OF, _costs, _ltv

from helpers import btyd_value as bv
from helpers import lifetime_value as lv
from helpers import payback as pb
from helpers import survival as sv
from helpers.loading import Dataset
from helpers.steps import Skipped


class _ConstantRate:
    """A stand-in for a fitted BetaGeoModel: 0.1 expected purchase days per period ahead."""

    def expected_purchases(self, data, future_t):
        return 0.1 * pd.Series(future_t, index=data.index).to_numpy(float)


def _btyd(spend_params) -> sv.BuyTillYouDie:
    accounts = pd.DataFrame(
        {
            "account_id": ["a1", "a2", "a3"],
            "frequency": [1, 1, 0],
            "recency": [2.0, 1.0, 0.0],
            "T": [4.4, 82.9, 13.1],
            "monetary_value": [100.0, 100.0, 0.0],
            "p_alive": [0.9, 0.2, 1.0],
            "expected_purchases": [1.0, 0.1, 1.0],
            "expected_spend": [120.0, 110.0, float("nan")],
        }
    )
    return sv.BuyTillYouDie(
        as_of=AS_OF,
        period_days=7,
        horizon_days=90,
        priors="flat",
        params={"r": 1.0, "alpha": 1.0, "a": 1.0, "b": 1.0},
        spend_params=spend_params,
        independence={"r": 0.0, "p": 1.0, "n": 2.0},
        accounts=accounts,
        model=_ConstantRate(),
        spend_model=None,
    )


def _btyd_dataset(with_accounts: bool = True) -> Dataset:
    """a1 (X): first bought 31 days before AS_OF, margin 30 of 100 twice (a cancelled order
    does not count); a2 (Y): first bought 580 days before, so its horizon is all seen (the
    order after its first 365 days does not count); a3 (Y): one order 92 days before."""
    orders = pd.DataFrame(
        {
            "account_id": ["a1", "a1", "a1", "a2", "a2", "a3"],
            "order_date": pd.to_datetime(
                [
                    "2024-12-01",
                    "2024-12-15",
                    "2024-12-20",
                    "2023-06-01",
                    "2024-08-01",
                    "2024-10-01",
                ]
            ),
            "net_amount": [100.0, 100.0, 500.0, 100.0, 100.0, 100.0],
            "gross_margin": [30.0, 30.0, 500.0, 50.0, 999.0, 20.0],
            "status": [
                "completed",
                "completed",
                "cancelled",
                "completed",
                "completed",
                "completed",
            ],
        }
    )
    accounts = pd.DataFrame(
        {"account_id": ["a1", "a2", "a3"], "acquisition_channel": ["X", "Y", "Y"]}
    )
    tables = {"orders": orders, "accounts": accounts} if with_accounts else {"orders": orders}
    return Dataset(tables=tables, source="test", analysis_date=AS_OF, fingerprint="abc")


def test_btyd_lifetime_values_by_hand():
    table = bv.btyd_lifetime_values(
        _btyd_dataset(),
        AS_OF,
        _btyd({"p": 2.0, "q": 3.0, "v": 50.0}),
        horizon_days=365,
        discount_per_year=0.0,
        n_boot=20,
    )
    # a1: 60 seen + (365 - 31) / 7 periods × 0.1 × spend 120 × margin share 0.3
    a1 = 60 + (334 / 7) * 0.1 * 120 * 0.3
    # a2: 50 seen, nothing ahead; a3: 20 seen + 39 periods × 0.1 × p·v/(q−1) = 50 × share 0.2
    a3 = 20 + (273 / 7) * 0.1 * 50 * 0.2
    assert table.loc["X", "mean"] == pytest.approx(a1)
    assert table.loc["Y", "mean"] == pytest.approx((50 + a3) / 2)
    assert table["n"].to_dict() == {"X": 1, "Y": 2}
    assert (table["low"] <= table["mean"]).all() and (table["mean"] <= table["high"]).all()


def test_btyd_lifetime_values_discount_future_margin():
    args = (_btyd_dataset(), AS_OF, _btyd({"p": 2.0, "q": 3.0, "v": 50.0}))
    flat = bv.btyd_lifetime_values(*args, horizon_days=365, discount_per_year=0.0, n_boot=20)
    discounted = bv.btyd_lifetime_values(*args, horizon_days=365, discount_per_year=0.10, n_boot=20)
    assert (discounted["mean"] < flat["mean"]).all()


def test_btyd_lifetime_values_skip_without_channels_or_spend_model():
    no_accounts = bv.btyd_lifetime_values(
        _btyd_dataset(with_accounts=False), AS_OF, _btyd({"p": 2.0, "q": 3.0, "v": 50.0})
    )
    assert isinstance(no_accounts, Skipped) and "accounts" in no_accounts.reason
    no_spend = bv.btyd_lifetime_values(
        _btyd_dataset(), AS_OF, _btyd(Skipped("only 4 repeat buyers with positive spend"))
    )
    assert isinstance(no_spend, Skipped) and "4 repeat buyers" in no_spend.reason
    cause = Skipped("only 1 accounts bought on more than one day", step="The BG/NBD model")
    passed_on = bv.btyd_lifetime_values(_btyd_dataset(), AS_OF, cause)
    assert passed_on.step == "The BG/NBD lifetime value by channel"
    assert bv.estimates_sentence(bv.ltv_estimates(passed_on, passed_on, passed_on)) == (
        passed_on.downstream("The two lifetime-value estimates")
    )


def test_ltv_estimates_flag_channels_whose_intervals_do_not_overlap():
    ratio = pb.ltv_cac_ratios(_ltv(), _costs())  # X, Y, V (W has no CAC, Z is not paid)
    btyd = pd.DataFrame(
        {
            "mean": [1000.0, 900.0, 200.0],
            "low": [800.0, 750.0, 100.0],  # Y: 750 above the survival high of 700
            "high": [1300.0, 1000.0, 260.0],
            "n": [10, 10, 10],
        },
        index=["X", "Y", "V"],
    )
    table = bv.ltv_estimates(ratio, lv.ChannelLtv(_ltv(), "test"), btyd)
    assert list(table.index) == list(ratio.index)
    assert table["flag"].to_dict() == {"X": "", "Y": "estimates disagree", "V": ""}
    assert table.loc["Y", "ratio_btyd"] == pytest.approx(900.0 / 200.0)
    assert table.loc["X", "ratio"] == ratio.loc["X", "ratio"]
    assert "disagree" in bv.estimates_sentence(table) and "Y" in bv.estimates_sentence(table)
    assert "for Why:" in bv.estimates_sentence(table, names={"Y": "Why"})
    shown = bv.estimates_table(table, currency="EUR", names={"Y": "Why"})
    assert list(shown.index) == ["X", "Why", "V"] and shown.index.name == "channel"
    assert shown.loc["Why", "BG/NBD LTV (95% interval)"] == "900 EUR (750–1,000)"
    assert shown.loc["Why", "LTV:CAC, BG/NBD"] == "4.5×"
    assert shown.loc["Why", "warning"] == "estimates disagree"
    agree = bv.ltv_estimates(ratio, lv.ChannelLtv(_ltv(), "test"), _ltv())
    assert "agrees" in bv.estimates_sentence(agree)


def test_second_ltv_fits_on_the_order_log_with_the_survival_settings(monkeypatch):
    calls = []
    fitted = _btyd({"p": 2.0, "q": 3.0, "v": 50.0})

    def fake(ds, as_of, period_days):
        calls.append((as_of, period_days))
        return fitted

    monkeypatch.setattr(sv, "buy_till_you_die", fake)
    ratio = pb.ltv_cac_ratios(_ltv(), _costs())
    table = bv.second_ltv(ratio, _btyd_dataset(), AS_OF, period_days=14, n_boot=20, seed=3)
    assert calls == [(AS_OF, 14)]
    settings = sv.LtvSettings()
    expected = bv.btyd_lifetime_values(
        _btyd_dataset(),
        AS_OF,
        fitted,
        horizon_days=settings.horizon_days,
        discount_per_year=settings.discount_per_year,
        n_boot=20,
        seed=3,
    )
    pd.testing.assert_frame_equal(table, expected)
    cause = Skipped("only 1 accounts bought on more than one day", step="The BG/NBD model")
    monkeypatch.setattr(sv, "buy_till_you_die", lambda ds, as_of, period_days: cause)
    assert bv.second_ltv(ratio, _btyd_dataset(), AS_OF).reason == cause.reason
    # no LTV:CAC table (e.g. no spend data): nothing is fitted
    calls.clear()
    monkeypatch.setattr(sv, "buy_till_you_die", fake)
    no_ratio = Skipped("the data has no channel spend table", step="LTV:CAC")
    assert bv.second_ltv(no_ratio, _btyd_dataset(), AS_OF).reason == no_ratio.reason
    assert calls == []


def _margin_seen_before(orders, as_of, horizon_days, rate):
    """btyd_lifetime_values' order lines as they were computed in pandas (the oracle)."""
    keep = orders["status"].isin(["completed", "returned"]) & (orders["order_date"] <= as_of)
    o = orders.loc[keep, ["account_id", "order_date", "status", "gross_margin", "net_amount"]]
    first = o[o["status"] == "completed"].groupby("account_id")["order_date"].min()
    o = o.join(first.rename("first"), on="account_id")
    age = (o["order_date"] - o["first"]).dt.days
    o = o[age.between(0, horizon_days)]
    seen = (o["gross_margin"] * rate ** -age[o.index]).groupby(o["account_id"]).sum()
    totals = o.groupby("account_id")[["gross_margin", "net_amount"]].sum()
    return first, seen, totals


@pytest.mark.parametrize("seed", [0, 1])
def test_margin_seen_equals_the_pandas_computation(seed):
    """The engine's per-account sums equal the pandas ones (to rounding: another summation
    order), on random lines with returns, cancellations, missing margins, lines before the
    first completed order, after ``as_of`` and on the horizon's last day."""
    rng = np.random.default_rng(seed)
    n, horizon, rate = 4_000, 365, 1.1 ** (1 / 365)
    as_of = pd.Timestamp("2025-06-30")
    start = pd.Timestamp("2023-01-01")
    orders = pd.DataFrame(
        {
            "account_id": [f"a{i}" for i in rng.integers(0, 300, n)],
            "order_date": start + pd.to_timedelta(rng.integers(0, 960, n), unit="D"),
            "status": rng.choice(["completed", "returned", "cancelled"], n, p=[0.7, 0.2, 0.1]),
            "gross_margin": np.where(rng.random(n) < 0.05, np.nan, rng.normal(30, 20, n)),
            "net_amount": rng.gamma(2.0, 60.0, n),
        }
    )
    first = orders[orders["status"] == "completed"].groupby("account_id")["order_date"].min()
    edge = first.iloc[:5] + pd.Timedelta(days=horizon)  # lines on the horizon's last day
    orders = pd.concat(
        [orders, pd.DataFrame({"account_id": edge.index, "order_date": edge.to_numpy(),
                               "status": "returned", "gross_margin": 5.0, "net_amount": 9.0})],
        ignore_index=True,
    )  # fmt: skip
    got = bv.margin_seen(orders, as_of, horizon, rate)
    want_first, want_seen, want_totals = _margin_seen_before(orders, as_of, horizon, rate)
    assert got.index.is_unique and set(got.index) == set(want_first.index)
    pd.testing.assert_series_equal(
        got["first"], want_first.reindex(got.index), check_names=False, check_index_type=False
    )
    np.testing.assert_allclose(
        got["seen"].fillna(0), want_seen.reindex(got.index).fillna(0), rtol=1e-12, atol=1e-9
    )
    for column in ("gross_margin", "net_amount"):
        np.testing.assert_allclose(
            got[column].fillna(0), want_totals[column].reindex(got.index).fillna(0), rtol=1e-12
        )
    assert got["seen"].notna().sum() > 200 and (got["seen"] != got["gross_margin"]).any()
