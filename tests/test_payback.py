"""Lifetime value, LTV:CAC and payback: planted order recovered, hand-computed ratios and
payback months, and where the lifetime values come from."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from helpers import channels as ch
from helpers import payback as pb
from helpers import survival as sv
from helpers.loading import Dataset
from helpers.steps import Skipped

AS_OF = pd.Timestamp("2025-01-01")


def _costs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "paid": [True, True, True, True, False],
            "cac": [100.0, 200.0, 100.0, float("nan"), 0.0],
        },
        index=["X", "Y", "V", "W", "Z"],
    )


def _ltv() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "mean": [900.0, 500.0, 150.0, 800.0, 1000.0],
            "low": [400.0, 300.0, 50.0, 700.0, 900.0],
            "high": [1200.0, 700.0, 250.0, 900.0, 1100.0],
            "n": [10, 10, 10, 10, 10],
        },
        index=["X", "Y", "V", "W", "Z"],
    )


def _orders_and_accounts() -> tuple[pd.DataFrame, pd.DataFrame]:
    """X's one customer (acquired 2024-01-01) earns 60 margin in month 0 and 60 in month 1 (a
    cancelled order of 1000 in month 0 must not count); V's customer earns 10 a month."""
    accounts = pd.DataFrame(
        {
            "account_id": ["a1", "a2"],
            "acquired_date": pd.to_datetime(["2024-01-01", "2024-01-01"]),
            "acquisition_channel": ["X", "V"],
        }
    )
    orders = pd.DataFrame(
        {
            "account_id": ["a1", "a1", "a1", "a2"],
            "order_date": pd.to_datetime(["2024-01-10", "2024-01-12", "2024-02-15", "2024-01-10"]),
            "gross_margin": [60.0, 1000.0, 60.0, 10.0],
            "status": ["completed", "cancelled", "completed", "completed"],
        }
    )
    return orders, accounts


def _dataset() -> Dataset:
    return Dataset(tables={}, source="test", analysis_date=AS_OF, fingerprint="abc")


def test_ltv_cac_ranks_channels_in_the_planted_order(demo, truth):
    costs = ch.volume_and_cost(leads=demo["leads"], spend=demo["channel_spend"])
    ltv = sv.channel_ltv(demo, demo.analysis_date, sv.LtvSettings(n_boot=100))
    ratio = pb.ltv_cac_ratios(ltv=ltv, costs=costs)
    assert list(ratio.index) == truth["ltv_cac"]["order_best_to_worst"]
    assert (ratio["low"] <= ratio["ratio"]).all() and (ratio["ratio"] <= ratio["high"]).all()


def test_ltv_cac_ratios_by_hand():
    ratio = pb.ltv_cac_ratios(ltv=_ltv(), costs=_costs())
    assert list(ratio.index) == ["X", "Y", "V"]  # W has no CAC, Z no spend
    assert list(ratio["ratio"]) == pytest.approx([9.0, 2.5, 1.5])
    assert ratio.loc["X", "low"] == 4.0 and ratio.loc["X", "high"] == 12.0
    assert list(ratio["flag"]) == ["", "ratio under 3", "may not pay back"]


def test_payback_months_by_hand():
    orders, accounts = _orders_and_accounts()
    months = pb.payback_months(orders, accounts, costs=_costs(), as_of=AS_OF)
    assert months["X"] == 2.0  # 60 + 60 >= 100 in the second month
    assert pd.isna(months["V"])  # 10 a month never reaches 100 in 36 months
    assert "Y" not in months.index  # no customer acquired through Y


def test_ltv_cac_step_adds_payback_and_says_best_and_worst():
    orders, accounts = _orders_and_accounts()
    ltv = pb.ChannelLtv(table=_ltv(), source="given")
    ratio = pb.ltv_cac(ltv, costs=_costs(), orders=orders, accounts=accounts, as_of=AS_OF)
    assert ratio.loc["X", "payback_months"] == 2.0 and pd.isna(ratio.loc["Y", "payback_months"])
    assert pb.ratio_sentence(ratio) == "X returns 9.0× its acquisition cost, V 1.5×."


def test_ltv_cac_skips_without_lifetime_values_or_paid_channels():
    orders, accounts = _orders_and_accounts()
    unpaid = _costs().assign(paid=False)
    ltv = pb.ChannelLtv(table=_ltv(), source="given")
    none = pb.ltv_cac(ltv, costs=unpaid, orders=orders, accounts=accounts, as_of=AS_OF)
    assert none == Skipped(
        "no paid channel has both a lifetime value and a CAC",
        "LTV:CAC needs paid channels that won customers",
        "LTV:CAC",
    )
    cause = Skipped("only 3 churn events", step="Lifetime value by channel")
    after = pb.ltv_cac(cause, costs=_costs(), orders=orders, accounts=accounts, as_of=AS_OF)
    assert after == Skipped("only 3 churn events", step="LTV:CAC")
    assert pb.ratio_sentence(after) == after  # a sentence helper passes the cause on
    assert pb.ltv_source(cause) == (
        "Lifetime value by channel is not available: only 3 churn events."
    )


def test_lifetime_values_read_from_churn_metrics_of_the_same_data(tmp_path, monkeypatch):
    def no_fit(*args, **kwargs):
        raise AssertionError("the survival model must not be fitted when metrics fit")

    monkeypatch.setattr(sv, "channel_ltv", no_fit)
    path = tmp_path / "metrics.json"
    table = {"X": {"mean": 900.0, "low": 800.0, "high": 1000.0, "n": 40}}
    same = {
        "data_fingerprint": "abc",
        "analysis_date": "2025-01-01",
        "filters": {},
        "ltv_definition": sv.LtvSettings(n_boot=50, seed=7).as_dict(),
        "ltv_by_channel": table,
    }
    path.write_text(json.dumps(same), encoding="utf-8")
    ltv = pb.lifetime_values(_dataset(), AS_OF, churn_metrics=str(path), n_boot=50, seed=7)
    assert ltv.table.loc["X", "mean"] == 900.0
    assert ltv.source == f"Lifetime values read from the churn study's `{path}`."


def test_lifetime_values_fitted_here_or_skipped_with_the_models_note(tmp_path, monkeypatch):
    calls = []
    table = pd.DataFrame({"mean": [900.0], "low": [800.0], "high": [1.0e3], "n": [40]}, ["X"])

    table.attrs["notes"] = ["Penalised fit."]

    def fitted(ds, as_of, settings):
        calls.append((as_of, settings.n_boot, settings.seed))
        return table

    monkeypatch.setattr(sv, "channel_ltv", fitted)
    absent = tmp_path / "absent.json"
    ltv = pb.lifetime_values(_dataset(), AS_OF, churn_metrics=str(absent), n_boot=50, seed=7)
    assert calls == [(AS_OF, 50, 7)] and ltv.table is table
    assert ltv.source == (
        f"No churn metrics at `{absent}`: lifetime values computed here. Penalised fit."
    )
    assert pb.lifetime_values(_dataset(), AS_OF).source == pb.FITTED_HERE + " Penalised fit."

    cause = Skipped("only 3 churn events", "a Cox model needs at least 20", "The Cox model")
    monkeypatch.setattr(sv, "channel_ltv", lambda ds, as_of, settings: cause)
    skipped = pb.lifetime_values(_dataset(), AS_OF, n_boot=50, seed=7)
    assert skipped == Skipped(
        "only 3 churn events", "a Cox model needs at least 20", step="Lifetime value by channel"
    )


def test_ltv_is_read_from_churn_metrics_only_for_the_same_data(tmp_path):
    table = {"search_ads": {"mean": 900.0, "low": 800.0, "high": 1000.0, "n": 40}}
    same = {"data_fingerprint": "abc", "analysis_date": pd.Timestamp("2025-12-31"), "filters": {}}
    path = tmp_path / "metrics.json"
    path.write_text(
        json.dumps(
            {
                "ltv_by_channel": table,
                "data_fingerprint": "abc",
                "analysis_date": "2025-12-31",
                "filters": {},
            }
        )
    )
    ltv, note = pb.ltv_from_metrics(str(path), same)
    assert ltv.loc["search_ads", "mean"] == 900.0 and "read from" in note
    ltv, note = pb.ltv_from_metrics(str(path), {**same, "filters": {"region": "north"}})
    assert ltv is None and "filters differ" in note
    ltv, note = pb.ltv_from_metrics(str(tmp_path / "absent.json"), same)
    assert ltv is None and "No churn metrics" in note
    assert pb.ltv_from_metrics("", same) == (None, "")


def test_churn_metrics_with_another_ltv_definition_are_not_reused(tmp_path):
    same = {"data_fingerprint": "abc", "ltv_definition": sv.LtvSettings().as_dict()}
    path = tmp_path / "metrics.json"
    table = {"search_ads": {"mean": 900.0, "low": 800.0, "high": 1000.0, "n": 40}}
    other = {**sv.LtvSettings(threshold_days=60).as_dict()}
    path.write_text(
        json.dumps({"ltv_by_channel": table, "data_fingerprint": "abc", "ltv_definition": other})
    )
    ltv, note = pb.ltv_from_metrics(str(path), same)
    assert ltv is None and "ltv_definition differ" in note
    path.write_text("{damaged")
    assert pb.ltv_from_metrics(str(path), same)[0] is None


# ---- the second estimate: BG/NBD + Gamma-Gamma -----------------------------------------------


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
    table = pb.btyd_lifetime_values(
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
    flat = pb.btyd_lifetime_values(*args, horizon_days=365, discount_per_year=0.0, n_boot=20)
    discounted = pb.btyd_lifetime_values(*args, horizon_days=365, discount_per_year=0.10, n_boot=20)
    assert (discounted["mean"] < flat["mean"]).all()


def test_btyd_lifetime_values_skip_without_channels_or_spend_model():
    no_accounts = pb.btyd_lifetime_values(
        _btyd_dataset(with_accounts=False), AS_OF, _btyd({"p": 2.0, "q": 3.0, "v": 50.0})
    )
    assert isinstance(no_accounts, Skipped) and "accounts" in no_accounts.reason
    no_spend = pb.btyd_lifetime_values(
        _btyd_dataset(), AS_OF, _btyd(Skipped("only 4 repeat buyers with positive spend"))
    )
    assert isinstance(no_spend, Skipped) and "4 repeat buyers" in no_spend.reason
    cause = Skipped("only 1 accounts bought on more than one day", step="The BG/NBD model")
    passed_on = pb.btyd_lifetime_values(_btyd_dataset(), AS_OF, cause)
    assert passed_on.step == "The BG/NBD lifetime value by channel"
    assert pb.estimates_sentence(pb.ltv_estimates(passed_on, passed_on, passed_on)) == (
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
    table = pb.ltv_estimates(ratio, pb.ChannelLtv(_ltv(), "test"), btyd)
    assert list(table.index) == list(ratio.index)
    assert table["flag"].to_dict() == {"X": "", "Y": "estimates disagree", "V": ""}
    assert table.loc["Y", "ratio_btyd"] == pytest.approx(900.0 / 200.0)
    assert table.loc["X", "ratio"] == ratio.loc["X", "ratio"]
    assert "disagree" in pb.estimates_sentence(table) and "Y" in pb.estimates_sentence(table)
    agree = pb.ltv_estimates(ratio, pb.ChannelLtv(_ltv(), "test"), _ltv())
    assert "agrees" in pb.estimates_sentence(agree)


def test_second_ltv_fits_on_the_order_log_with_the_survival_settings(monkeypatch):
    calls = []
    fitted = _btyd({"p": 2.0, "q": 3.0, "v": 50.0})

    def fake(ds, as_of, period_days):
        calls.append((as_of, period_days))
        return fitted

    monkeypatch.setattr(sv, "buy_till_you_die", fake)
    ratio = pb.ltv_cac_ratios(_ltv(), _costs())
    table = pb.second_ltv(ratio, _btyd_dataset(), AS_OF, period_days=14, n_boot=20, seed=3)
    assert calls == [(AS_OF, 14)]
    settings = sv.LtvSettings()
    expected = pb.btyd_lifetime_values(
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
    assert pb.second_ltv(ratio, _btyd_dataset(), AS_OF).reason == cause.reason
    # no LTV:CAC table (e.g. no spend data): nothing is fitted
    calls.clear()
    monkeypatch.setattr(sv, "buy_till_you_die", fake)
    no_ratio = Skipped("the data has no channel spend table", step="LTV:CAC")
    assert pb.second_ltv(no_ratio, _btyd_dataset(), AS_OF).reason == no_ratio.reason
    assert calls == []
