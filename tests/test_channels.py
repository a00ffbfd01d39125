"""Channel economics: planted costs, rates, elasticities and LTV:CAC order are recovered."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from helpers import channels as ch
from helpers import survival as sv


@pytest.fixture(scope="module")
def costs(demo):
    return ch.volume_and_cost(demo["leads"], demo["channel_spend"])


def test_cost_per_lead_exact_to_the_cent(costs, truth):
    for channel, info in truth["channels"].items():
        if info["paid"]:
            assert costs.loc[channel, "cost_per_lead"] == info["realised"]["cost_per_lead"]
        else:
            assert costs.loc[channel, "cost_per_lead"] == 0.0 and not costs.loc[channel, "paid"]


def test_missing_spend_month_is_named_and_left_out(costs, truth):
    miss = truth["warts"]["missing_spend"]
    assert miss["month"] in costs.loc[miss["channel"], "note"]


def test_stage_rates_inside_bonferroni_wilson_intervals(demo, truth):
    """24 comparisons (6 channels x 4 stages): each planted marginal rate must lie in the
    observed Wilson interval at level 1 - 0.05/24 (Bonferroni), so that one test has a 5%
    chance of a false alarm overall, not 24 x 5%."""
    fun = ch.funnel(demo["leads"], demo.analysis_date, mature_days=365)
    alpha = 0.05 / len(fun)
    assert len(fun) == 24
    for row in fun.itertuples():
        planted = truth["channels"][row.channel]["marginal_stage_rates"][row.stage]
        lo, hi = proportion_confint(row.converted, row.entered, alpha=alpha, method="wilson")
        assert lo <= planted <= hi, (row.channel, row.stage, row.rate, planted)


def test_elasticities_within_a_tenth(demo, truth):
    trend = ch.monthly_trend(demo["leads"], demo["channel_spend"])
    fit = ch.spend_response(trend)
    for channel, info in truth["channels"].items():
        if info["paid"]:
            assert fit.loc[channel, "elasticity"] == pytest.approx(info["elasticity"], abs=0.1)


def test_ltv_cac_ranks_channels_in_the_planted_order(demo, truth, costs):
    ltv, _ = sv.channel_ltv(demo, demo.analysis_date, n_boot=100)
    ratio = ch.ltv_cac(ltv, costs)
    assert list(ratio.index) == truth["ltv_cac"]["order_best_to_worst"]
    assert (ratio["low"] <= ratio["ratio"]).all() and (ratio["ratio"] <= ratio["high"]).all()


def test_channels_without_spend_and_spend_without_leads():
    leads = pd.DataFrame(
        {
            "lead_id": ["L1", "L2"],
            "source_channel": ["referral", "referral"],
            "created_date": pd.to_datetime(["2025-01-05", "2025-02-05"]),
            "intent_date": pd.to_datetime(["2025-01-06", None]),
            "won_date": pd.to_datetime(["2025-01-20", None]),
        }
    )
    spend = pd.DataFrame(
        {"channel": ["search_ads"], "month": pd.to_datetime(["2025-01-01"]), "spend": [500.0]}
    )
    c = ch.volume_and_cost(leads, spend)
    assert c.loc["referral", "cac"] == 0.0 and c.loc["referral", "cost_per_inquiry"] == 0.0
    assert pd.isna(c.loc["search_ads", "cost_per_lead"])
    assert c.loc["search_ads", "note"] == "spend but no leads in the selection"


def test_quadrant_strategies():
    costs = pd.DataFrame(
        {
            "paid": True,
            "cost_per_lead": [10.0, 10.0, 100.0, 100.0],
            "cac": [50.0, 500.0, 50.0, 500.0],
        },
        index=list("abcd"),
    )
    q = ch.quadrant(costs, x_target=50, y_target=200)
    assert q.loc["a", "strategy"] == "invest more"
    assert q.loc["b", "strategy"] == "improve conversion"
    assert q.loc["d", "strategy"] == "wind down"
    assert q.loc["c", "strategy"].startswith("precise but dear")


def test_conversion_action_must_be_known(demo):
    with pytest.raises(ValueError, match="CONVERSION_ACTION"):
        ch.conversion_times(demo, "click")


def test_attribution_over_demo_is_consistent(demo):
    from helpers import attribution as at

    conv = ch.conversion_times(demo, "won")
    paths = at.build_paths(demo["touchpoints"], demo["leads"], conv, demo.analysis_date)
    table = at.attribute(paths)
    for model in at.MODELS:
        assert table[model].sum() == pytest.approx(paths.n_converted)


def test_ltv_cac_without_lifetime_values_is_empty(costs):
    assert ch.ltv_cac(None, costs).empty


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
    ltv, note = ch.ltv_from_metrics(str(path), same)
    assert ltv.loc["search_ads", "mean"] == 900.0 and "read from" in note
    ltv, note = ch.ltv_from_metrics(str(path), {**same, "filters": {"region": "north"}})
    assert ltv is None and "filters differ" in note
    ltv, note = ch.ltv_from_metrics(str(tmp_path / "absent.json"), same)
    assert ltv is None and "No churn metrics" in note
    assert ch.ltv_from_metrics("", same) == (None, "")


def test_revenue_after_conversion_by_hand():
    leads = pd.DataFrame({"lead_id": ["L1", "L2", "L3", "L4"], "account_id": ["A", "B", None, "B"]})
    conv = pd.Series(
        pd.to_datetime(["2025-01-10 15:00:00", None, "2025-01-01 00:00:00", "2025-03-20 00:00:00"]),
        index=["L1", "L2", "L3", "L4"],
    )
    orders = pd.DataFrame(
        {
            "account_id": ["A", "A", "A", "A", "B", "A"],
            "order_date": pd.to_datetime(
                ["2025-01-09", "2025-01-10", "2025-03-01", "2025-02-10", "2025-03-25", "2025-03-05"]
            ),
            "net_amount": [1.0, 10.0, 100.0, 1000.0, 5.0, 7.0],
            "status": [
                "completed",
                "completed",
                "completed",
                "cancelled",
                "completed",
                "completed",
            ],
        }
    )
    as_of = pd.Timestamp("2025-03-31")
    value = ch.revenue_after_conversion(leads, orders, conv, as_of, days=60)
    # L1: the conversion day, 1 and 5 March (days 50 and 54) count: 10 + 100 + 7; the day
    # before and the cancelled order do not. L2 did not convert; L3 has no account; L4
    # converted 11 days before as_of: its 60-day window is incomplete.
    assert value["L1"] == 117.0 and value["L2"] == 0.0 and value["L3"] == 0.0
    assert pd.isna(value["L4"])
    assert ch.revenue_after_conversion(leads, orders, conv, as_of, days=30)["L1"] == 10.0
    # an earlier analysis date sees neither later orders nor complete windows it cannot know
    early = ch.revenue_after_conversion(leads, orders, conv, pd.Timestamp("2025-03-02"), days=30)
    assert early["L1"] == 10.0 and pd.isna(early["L4"])


def test_conversions_after_the_analysis_date_do_not_count(demo):
    late = demo.analysis_date - pd.DateOffset(months=6)
    conv = ch.conversion_times(demo, "won", late)
    assert (
        conv.max() <= late and conv.notna().sum() < ch.conversion_times(demo, "won").notna().sum()
    )


def test_churn_metrics_with_another_ltv_definition_are_not_reused(tmp_path):
    same = {"data_fingerprint": "abc", "ltv_definition": sv.ltv_definition()}
    path = tmp_path / "metrics.json"
    table = {"search_ads": {"mean": 900.0, "low": 800.0, "high": 1000.0, "n": 40}}
    other = {**sv.ltv_definition(threshold=60)}
    path.write_text(
        json.dumps({"ltv_by_channel": table, "data_fingerprint": "abc", "ltv_definition": other})
    )
    ltv, note = ch.ltv_from_metrics(str(path), same)
    assert ltv is None and "ltv_definition differ" in note
    path.write_text("{damaged")
    assert ch.ltv_from_metrics(str(path), same)[0] is None
