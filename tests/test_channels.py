"""Channel economics: planted costs, rates, elasticities and LTV:CAC order are recovered."""

from __future__ import annotations

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
    study = sv.churn_study(demo, demo.analysis_date, n_boot=100)
    ratio = ch.ltv_cac(study.ltv_by_channel, costs)
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
