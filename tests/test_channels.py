"""Channel economics: reporting period, planted costs and elasticities recovered, quadrant,
findings and headline metrics (with skipped steps)."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from helpers import attribution as at
from helpers import channels as ch
from helpers import lifetime_value as lv
from helpers import spend as sp
from helpers.loading import Dataset
from helpers.steps import Skipped

AS_OF = pd.Timestamp("2025-12-31")
NO_SPEND = Skipped(
    "the data has no channel_spend table",
    "export monthly spend per channel to get costs per lead and customer",
)


@pytest.fixture(scope="module")
def costs(demo):
    return ch.volume_and_cost(leads=demo["leads"], spend=demo["channel_spend"])


def _dataset(with_spend: bool = True) -> Dataset:
    """Leads created before, at the start of, inside and at the end of the 48 months to
    2025-12-31 (the period is (2021-12-31, 2025-12-31]); spend rows likewise."""
    leads = pd.DataFrame(
        {
            "lead_id": ["L0", "L1", "L2", "L3"],
            "source_channel": ["search_ads", "search_ads", "referral", "search_ads"],
            "created_date": pd.to_datetime(["2021-06-01", "2021-12-31", "2022-01-01", AS_OF]),
            "intent_date": pd.to_datetime([None, None, "2022-01-02", "2025-12-31"]),
            "won_date": pd.to_datetime([None, None, "2022-02-01", None]),
        }
    )
    spend = pd.DataFrame(
        {
            "channel": ["search_ads"] * 3,
            "month": pd.to_datetime(["2021-12-01", "2022-01-01", "2025-12-01"]),
            "spend": [999.0, 100.0, 300.0],
        }
    )
    tables = {"leads": leads, "channel_spend": spend} if with_spend else {"leads": leads}
    return Dataset(tables=tables, source="test", analysis_date=AS_OF, fingerprint="abc")


def test_reporting_period_selects_leads_and_spend_of_its_months():
    period = sp.reporting_period(_dataset(), analysis_date="", months=48)
    assert period.as_of == AS_OF and period.start == pd.Timestamp("2021-12-31")
    assert list(period.leads["lead_id"]) == ["L2", "L3"]
    assert list(period.spend["spend"]) == [100.0, 300.0]
    assert sp.period_sentence(period, currency="EUR") == (
        "Reporting period: the 48 months to 31 Dec 2025, 2 leads; 400 EUR of spend on 1 "
        "channels over 2 months."
    )
    earlier = sp.reporting_period(_dataset(), analysis_date="2022-06-30", months=12)
    assert earlier.as_of == pd.Timestamp("2022-06-30")
    assert list(earlier.leads["lead_id"]) == ["L1", "L2"]
    assert list(earlier.spend["spend"]) == [999.0, 100.0]


def test_without_spend_costs_are_skipped_never_zero():
    period = sp.reporting_period(_dataset(with_spend=False), months=48)
    assert period.spend == NO_SPEND
    costs = ch.volume_and_cost(leads=period.leads, spend=period.spend)
    assert costs == dataclasses.replace(NO_SPEND, step="Spend and cost per channel")
    assert costs.sentence() == (
        "Spend and cost per channel is not available: the data has no channel_spend table "
        "(export monthly spend per channel to get costs per lead and customer)."
    )
    assert sp.period_sentence(period) == (
        "Reporting period: the 48 months to 31 Dec 2025, 2 leads; no costs: the data has no "
        "channel_spend table (export monthly spend per channel to get costs per lead and "
        "customer)."
    )
    trend = sp.monthly_trend(leads=period.leads, spend=period.spend)
    assert trend.step == "The monthly spend trend"
    assert ch.quadrant(costs).step == "The channel quadrant"
    assert sp.spend_response(trend).step == "The spend response"
    assert ch.cheapest_leads_sentence(costs) == costs


def test_spend_outside_the_period_only_is_skipped():
    period = sp.reporting_period(_dataset(), analysis_date="2021-07-15", months=2)
    assert isinstance(period.spend, Skipped)
    assert period.spend.reason == "no channel spend is recorded between May 2021 and Jul 2021"
    assert list(period.leads["lead_id"]) == ["L0"]


def test_cost_per_lead_exact_to_the_cent(costs, truth):
    for channel, info in truth["channels"].items():
        if info["paid"]:
            assert costs.loc[channel, "cost_per_lead"] == info["realised"]["cost_per_lead"]
        else:
            assert costs.loc[channel, "cost_per_lead"] == 0.0 and not costs.loc[channel, "paid"]


def test_missing_spend_month_is_named_and_left_out(costs, truth):
    miss = truth["warts"]["missing_spend"]
    month = pd.Timestamp(miss["month"] + "-01")  # named for readers: "Jul 2024"
    assert f"no spend recorded for {month:%b %Y}" in costs.loc[miss["channel"], "note"]


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
    c = ch.volume_and_cost(leads=leads, spend=spend)
    assert c.loc["referral", "cac"] == 0.0 and c.loc["referral", "cost_per_inquiry"] == 0.0
    assert (c.loc["referral", "leads"], c.loc["referral", "customers"]) == (2, 1)
    assert pd.isna(c.loc["search_ads", "cost_per_lead"])
    assert c.loc["search_ads", "note"] == "spend but no leads in the selection"
    assert ch.cheapest_leads_sentence(c) == "No paid channel brought leads in the selection."


def test_monthly_trend_and_cheapest_leads_by_hand():
    period = sp.reporting_period(_dataset(), months=48)
    trend = sp.monthly_trend(leads=period.leads, spend=period.spend)
    assert list(trend["month"]) == list(pd.to_datetime(["2022-01-01", "2025-12-01"]))
    assert list(trend["leads"]) == [0, 1] and list(trend["spend"]) == [100.0, 300.0]
    costs = ch.volume_and_cost(leads=period.leads, spend=period.spend)
    assert costs.loc["search_ads", "cost_per_lead"] == 400.0  # 400 of spend, one lead
    assert ch.cheapest_leads_sentence(costs, currency="EUR") == (
        "Search ads brings the cheapest leads (400 EUR each over 1 leads); cost per lead moves "
        "with spend from month to month (section 6)."
    )
    assert "(€400 each over 1 leads; slice spend allocated by lead share)" in (
        ch.cheapest_leads_sentence(
            costs, caveat="slice spend allocated by lead share", currency="€"
        )
    )
    shown = ch.cost_table(costs, names={"search_ads": "Search (paid)"})
    assert "Search (paid)" in shown.index and shown.index.name == "channel"
    assert list(shown.columns[:3]) == ["paid", "spend", "leads"] and "note" in shown.columns
    assert shown.loc["Search (paid)", "paid"] == "yes"  # not True
    assert "cost per new customer" in shown.columns and "cac" not in shown.columns


def test_elasticities_within_a_tenth(demo, truth):
    trend = sp.monthly_trend(leads=demo["leads"], spend=demo["channel_spend"])
    fit = sp.spend_response(trend)
    for channel, info in truth["channels"].items():
        if info["paid"]:
            assert fit.loc[channel, "elasticity"] == pytest.approx(info["elasticity"], abs=0.1)


def test_spend_response_by_hand_and_too_short_histories():
    months = pd.date_range("2025-01-01", periods=6, freq="MS")
    spend = [100.0, 200.0, 400.0, 800.0, 1600.0, 3200.0]
    leads = [9.5, 19.5, 39.5, 79.5, 159.5, 319.5]  # log(leads + 0.5) = log(spend) - log(10)
    trend = pd.DataFrame({"channel": "x", "month": months, "spend": spend, "leads": leads})
    fit = sp.spend_response(trend)
    assert fit.loc["x", "elasticity"] == pytest.approx(1.0)
    assert fit.loc["x", "months"] == 6 and fit.loc["x", "mean_spend"] == 1050.0
    assert fit.loc["x", "marginal_cost"] == pytest.approx(1050.0 / 104.5)
    lo, hi = fit.loc["x", ["low", "high"]]
    assert sp.response_sentence(fit, currency="EUR", names={"x": "Ads"}) == (
        f"Leads from Ads rise most with its spend (elasticity 1.00, 95% interval "
        f"{lo:.2f}–{hi:.2f}, over 6 months); at current spend one more lead there goes with about 10 EUR more "
        "spend (an association: spend was not varied at random)."
    )
    shown = sp.response_table(fit, names={"x": "Ads"})
    assert shown.loc["Ads", "elasticity (95% interval)"] == f"1.00 ({lo:.2f} to {hi:.2f})"
    assert set(sp.RESPONSE_KINDS) <= set(shown.columns)
    short = sp.spend_response(trend.iloc[:5])
    assert short == Skipped(
        "no paid channel has 6 months of spend",
        "a longer reporting period gives more months",
        "The spend response",
    )


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
    # a position on cost, never an action: the verdict is LTV:CAC's (section 5)
    assert q["strategy"].to_dict() == {
        "a": "cheap leads, cheap customers",
        "b": "cheap leads, dear customers",
        "c": "dear leads, cheap customers",
        "d": "dear leads, dear customers",
    }
    assert (q.attrs["x_cut"], q.attrs["y_cut"]) == (50, 200)
    assert ch.quadrant_sentence(q, names={"a": "Alpha"}) == (
        "Cost position, a diagnostic and not a verdict: cheap leads, cheap customers: Alpha; "
        "cheap leads, dear customers: B; dear leads, dear customers: D; dear leads, cheap "
        "customers: C. Section 5 weighs what the customers are worth and gives each channel "
        "its verdict."
    )
    table = ch.quadrant_table(q, names={"a": "Alpha"})
    assert list(table.columns) == ["cost per lead", "cost per new customer", ch.POSITION_COLUMN]
    assert list(table.index) == ["Alpha", "B", "C", "D"] and table.index.name == "channel"
    assert ch.position_of("wind down") == "dear leads, dear customers"  # an older run's word
    assert ch.position_of(None) is None
    median = ch.quadrant(costs.assign(cost_per_lead=[10.0, 20.0, 30.0, 40.0]))
    assert median.attrs["x_cut"] == 25.0 and list(median["high_acquisition_cost"]) == [
        False,
        False,
        True,
        True,
    ]
    assert ch.quadrant(costs.assign(paid=False)).reason == (
        "no paid channel has both a cost per lead and a CAC"
    )


COSTS = pd.DataFrame(
    {
        "paid": [True, True, False, False],
        "spend": [1000.0, 3000.0, 0.0, 0.0],
        "leads": [10, 10, 5, 5],
        "customers": [4, 2, 3, 1],
        "cost_per_lead": [100.0, 300.0, 0.0, 0.0],
        "cac": [250.0, 1500.0, 0.0, 0.0],
        "note": ["", "", "", ""],
    },
    index=pd.Index(["cheap", "dear", "organic", "referral"], name="channel"),
)
RATIO = pd.DataFrame(
    {
        "ratio": [6.0, 2.0, 0.5, 3.0],
        "low": [5.0, 1.5, 0.3, 2.0],
        "high": [7.0, 2.5, 0.8, 4.0],
        "marginal": [3.0, 1.0, 0.2, 3.0],
        "marginal_low": [2.0, 0.5, 0.1, float("nan")],
        "marginal_high": [4.0, 1.5, 0.3, float("nan")],
        "verdict": ["grow", "hold", "cut or fix", "no verdict"],
        "flag": ["", "ratio under 3", "may not pay back", ""],
        "payback_months": [3.0, 30.0, float("nan"), 12.0],
    },
    index=["cheap", "dear", "bad", "unclear"],
)


SPEND_CAUTION = "if the observed spend response holds (spend was not varied at random)"


def test_findings_by_hand():
    names = {"cheap": "Cheap ads"}
    assert ch.findings(costs=COSTS, ratio=RATIO, notes=["a note"], currency="EUR", names=names) == [
        "The cheapest paid channel per new customer is Cheap ads (250 EUR); the dearest is Dear "
        "(1,500 EUR).",
        "Organic and Referral brought 4 customers with no recorded spend.",
        "Grow Cheap ads: LTV:CAC 6.0× (95% interval 5.0–7.0); marginal LTV:CAC 3.0× (95% "
        f"interval 2.0–4.0), above 1 at its lower bound {SPEND_CAUTION}.",
        "Hold Dear: LTV:CAC 2.0× (95% interval 1.5–2.5); marginal LTV:CAC 1.0× (95% interval "
        f"0.5–1.5), not clearly above 1 {SPEND_CAUTION}.",
        "Cut or fix Bad: LTV:CAC 0.5× (95% interval 0.3–0.8), below 1 even at the interval's top.",
        "No verdict on Unclear: LTV:CAC 3.0× (95% interval 2.0–4.0), but whether more spend "
        "brings more customers is not measured (the spend elasticity's interval includes 0, "
        "or it was not estimated).",
        "a note",
    ]
    verdicts = ch.verdicts(RATIO)
    assert [v.verdict for v in verdicts.values()] == list(RATIO["verdict"])
    assert verdicts["bad"].move().startswith("**Cut or fix Bad**: LTV:CAC 0.5×")
    sliced = ch.findings(costs=COSTS, ratio=RATIO, caveat="slice spend allocated by lead share")
    caveated = sliced[:1] + sliced[2:]
    assert all(f.endswith("(slice spend allocated by lead share).") for f in caveated)
    with_counts = COSTS.assign(mature_customers=[40, 20, 0, 0])
    ratio = RATIO.assign(cac_low=[200.0, 1200.0, 1.0, 1.0], cac_high=[300.0, 1800.0, 1.0, 1.0])
    assert ch.findings(costs=with_counts, ratio=ratio, currency="EUR")[0] == (
        "The cheapest paid channel per new customer is Cheap (250 EUR, 95% interval 200–300; 40 "
        "customers of matured leads); the dearest is Dear (1,500 EUR, 95% interval 1,200–1,800; "
        "20 customers of matured leads)."
    )
    no_ltv = Skipped("only 3 churn events", step="LTV:CAC")
    assert ch.findings(costs=COSTS, ratio=no_ltv)[-1] == (
        "LTV:CAC is not available: only 3 churn events."
    )
    no_costs = dataclasses.replace(NO_SPEND, step="Spend and cost per channel")
    assert ch.findings(costs=no_costs, ratio=no_costs.downstream("LTV:CAC")) == [
        no_costs.sentence()
    ]


def _sliced(spend_columns: dict | None = None) -> tuple[Dataset, pd.DataFrame]:
    """Company leads of search_ads in 2025-01: 4 north, 6 south (and 2 north of trade_show in
    2025-02); 1000 of search_ads spend in 2025-01 and 500 of trade_show in 2025-02."""
    leads = pd.DataFrame(
        {
            "lead_id": [f"L{i}" for i in range(12)],
            "source_channel": ["search_ads"] * 10 + ["trade_show"] * 2,
            "region": ["north"] * 4 + ["south"] * 6 + ["north"] * 2,
            "created_date": pd.to_datetime(["2025-01-15"] * 10 + ["2025-02-15"] * 2),
            "intent_date": pd.NaT,
            "won_date": pd.to_datetime(["2025-03-01"] * 2 + [None] * 8 + ["2025-03-01", None]),
        }
    )
    spend = pd.DataFrame(
        {
            "channel": ["search_ads", "trade_show"],
            "month": pd.to_datetime(["2025-01-01", "2025-02-01"]),
            "spend": [1000.0, 500.0],
            **(spend_columns or {}),
        }
    )
    company = Dataset(
        tables={"leads": leads, "channel_spend": spend},
        source="test",
        analysis_date=AS_OF,
        fingerprint="abc",
    )
    north = dataclasses.replace(
        company,
        tables={**company.tables, "leads": leads[leads["region"] == "north"]},
        filters={"region": "north"},
    )
    return north, leads


def test_a_slice_gets_its_share_of_each_channels_spend():
    north, company_leads = _sliced()
    period = sp.reporting_period(north, months=48, company_leads=company_leads)
    spend = period.spend.set_index("channel")["spend"]
    # 4 of search_ads' 10 leads are north's: 400 of 1000 (the old code charged all 1000)
    assert spend.to_dict() == {"search_ads": 400.0, "trade_show": 500.0}
    assert period.spend_note.startswith("Spend allocated to the slice region = north by")
    assert sp.slice_words({"region": ["north", "south"], "business_line": "b"}) == (
        "region = north or south and business line = b"
    )
    assert period.caveat == "slice spend allocated by lead share"
    assert period.spend_note in sp.period_sentence(period)
    costs = ch.volume_and_cost(leads=period.leads, spend=period.spend)
    assert costs.loc["search_ads", "cost_per_lead"] == 100.0  # as for the company: 1000 / 10
    # the spend response is the company's (10 search_ads leads on 1000 of spend)
    trend = sp.response_trend(period).set_index("channel")
    assert trend.loc["search_ads", ["spend", "leads"]].tolist() == [1000.0, 10]
    whole = sp.reporting_period(_dataset(), months=48)
    pd.testing.assert_frame_equal(
        sp.response_trend(whole), sp.monthly_trend(leads=whole.leads, spend=whole.spend)
    )


def test_a_slice_uses_the_spend_exports_own_column_or_says_spend_is_company_wide():
    north, company_leads = _sliced({"region": ["north", "south"]})
    own = sp.reporting_period(north, months=48, company_leads=company_leads)
    assert list(own.spend["channel"]) == ["search_ads"] and own.caveat == ""
    assert "own region column" in own.spend_note
    north, _ = _sliced()
    whole = sp.reporting_period(north, months=48)
    assert whole.spend["spend"].sum() == 1500.0
    assert whole.caveat == "company-wide spend over slice volumes: overstated"


def test_metrics_carry_the_slice_spend_note():
    north, company_leads = _sliced()
    period = sp.reporting_period(north, months=48, company_leads=company_leads)
    costs = ch.volume_and_cost(leads=period.leads, spend=period.spend)
    m = _metrics(costs=costs, ratio=Skipped("no LTV", step="LTV:CAC"), period=period, ds=north)
    assert m.spend_allocation == period.spend_note
    assert m.findings[0].endswith("(slice spend allocated by lead share).")


def test_spend_slice_notes_only_for_a_slice(demo):
    assert sp.spend_slice_notes(demo) == []
    region = demo["accounts"]["region"].iloc[0]
    notes = sp.spend_slice_notes(demo.filter({"region": region}))
    assert len(notes) == 1 and notes[0].startswith("spend is company-wide")


def _metrics(ds=None, period=None, **changes):
    ds = ds or _dataset()
    period = period or sp.reporting_period(ds, months=48)
    credit = pd.DataFrame({m: [3.0, 1.0] for m in at.MODELS}, index=["cheap", "organic"])
    attributed = at.Attribution(
        paths=at.Paths(pd.DataFrame(), 4, 4, 0),
        credit=credit,
        revenue=credit * 100,
        spend_per_conversion=credit,
        valued=4,
        pending=0,
        action="won",
        max_touches=20,
        revenue_days=365,
    )
    steps = {
        "costs": COSTS,
        "ratio": RATIO,
        "quad": ch.quadrant(COSTS),
        "response": pd.DataFrame({"elasticity": [0.5]}, index=["cheap"]),
        "attributed": attributed,
        "ltv": lv.ChannelLtv(table=pd.DataFrame(), source="Lifetime values from here."),
        **changes,
    }
    return ch.metrics(ds, period=period, headline_model="markov", **steps)


def test_metrics_by_hand():
    m = _metrics()
    assert (m.data_fingerprint, m.analysis_date, m.filters, m.source) == (
        "abc",
        "2025-12-31",
        {},
        "test",
    )
    assert m.costs["dear"]["cac"] == 1500.0 and "note" not in m.costs["dear"]
    assert m.ltv_cac["dear"]["ratio"] == 2.0 and m.ltv_cac["dear"]["verdict"] == "hold"
    assert m.spend_allocation == ""
    assert m.quadrant == {
        "cheap": "cheap leads, cheap customers",
        "dear": "dear leads, dear customers",
    }
    assert m.elasticity == {"cheap": 0.5}
    assert m.attribution == {"cheap": 3.0, "organic": 1.0}
    assert m.attributed_revenue == {"cheap": 300.0, "organic": 100.0}
    assert m.ltv_source == "Lifetime values from here."
    assert m.findings == ch.findings(costs=COSTS, ratio=RATIO)
    # paid channels' spend over their customers: (1000 + 3000) / (4 + 2)
    assert m.cac_all == pytest.approx(4000 / 6)
    assert (m.window_start, m.window_end) == ("2022-01-01", "2025-12-31")
    # the hand data has no won deal in the last eight quarters: only that series is skipped
    assert set(m.skipped) == {"quarterly_cac"} and m.quarterly_cac is None


def test_metrics_record_null_and_the_reason_of_skipped_steps():
    no_touch = _attribute_without_touchpoints()
    no_ltv = Skipped("only 3 churn events", step="Lifetime value by channel")
    m = _metrics(attributed=no_touch, ltv=no_ltv, ratio=no_ltv.downstream("LTV:CAC"))
    assert m.attribution is None and m.attributed_revenue is None and m.ltv_cac is None
    reason = (
        "the data has no touchpoints table (export touchpoints to credit conversions to the "
        "channels along the journey)"
    )
    assert {k: v for k, v in m.skipped.items() if k != "quarterly_cac"} == {
        "attribution": reason,
        "attributed_revenue": reason,
        "ltv_cac": "only 3 churn events",
    }
    assert m.ltv_source == "Lifetime value by channel is not available: only 3 churn events."
    assert m.costs["cheap"]["spend"] == 1000.0  # the other steps are still recorded

    no_costs = ch.volume_and_cost(leads=pd.DataFrame(), spend=NO_SPEND)
    m = _metrics(
        costs=no_costs,
        ratio=no_costs.downstream("LTV:CAC"),
        quad=ch.quadrant(no_costs),
        response=no_costs.downstream("The spend response"),
    )
    assert m.costs is None and m.quadrant is None and m.elasticity is None
    assert set(m.skipped) == {
        "costs",
        "ltv_cac",
        "quadrant",
        "elasticity",
        "cac_all",
        "quarterly_cac",
    }
    assert m.skipped["costs"] == NO_SPEND.why()
    assert m.findings == [no_costs.sentence()] and m.attribution == {"cheap": 3.0, "organic": 1.0}


def _attribute_without_touchpoints():
    ds = _dataset()
    return at.attribute_conversions(ds, leads=ds["leads"], as_of=AS_OF, costs=COSTS)


def test_save_costs_writes_the_table_or_says_why_not(tmp_path):
    assert ch.save_costs(tmp_path, costs=COSTS) == "Metrics and `channel_costs.csv` written."
    written = pd.read_csv(tmp_path / "channel_costs.csv")
    assert list(written["channel"]) == list(COSTS.index) and written["spend"].sum() == 4000.0
    assert ch.save_costs(tmp_path / "none", costs=NO_SPEND) == (
        "Metrics written; no `channel_costs.csv`: the data has no channel_spend table (export "
        "monthly spend per channel to get costs per lead and customer)."
    )
    assert not (tmp_path / "none" / "channel_costs.csv").exists()


def _open_and_late_wins() -> Dataset:
    """Search-ads leads of 2023-01 (two, one won in 2023-03, one won 2024-08, after the
    analysis date 2024-06-30) and of 2024-05 (ten, all still open): 100 of spend each month."""
    leads = pd.DataFrame(
        {
            "lead_id": [f"L{i}" for i in range(12)],
            "source_channel": ["search_ads"] * 12,
            "created_date": pd.to_datetime(["2023-01-10", "2023-01-20"] + ["2024-05-05"] * 10),
            "intent_date": pd.to_datetime(["2023-02-01", "2024-07-01"] + [None] * 10),
            "won_date": pd.to_datetime(["2023-03-01", "2024-08-01"] + [None] * 10),
            "lost_date": pd.to_datetime([None] * 12),
        }
    )
    spend = pd.DataFrame(
        {
            "channel": ["search_ads"] * 2,
            "month": pd.to_datetime(["2023-01-01", "2024-05-01"]),
            "spend": [100.0, 100.0],
        }
    )
    return Dataset(
        tables={"leads": leads, "channel_spend": spend},
        source="test",
        analysis_date=pd.Timestamp("2025-12-31"),
        fingerprint="abc",
    )


def test_stage_dates_after_the_analysis_date_are_masked():
    # the old code counted the win of 2024-08-01 on 2024-06-30: 2 customers, 1 inquiry
    period = sp.reporting_period(_open_and_late_wins(), analysis_date="2024-06-30", months=48)
    assert period.leads["won_date"].notna().sum() == 1
    assert period.leads["intent_date"].notna().sum() == 1
    costs = ch.volume_and_cost(leads=period.leads, spend=period.spend)
    assert costs.loc["search_ads", ["customers", "inquiries"]].tolist() == [1, 1]


def test_cac_on_matured_cohorts_ignores_open_leads():
    period = sp.reporting_period(_open_and_late_wins(), analysis_date="2024-06-30", months=48)
    costs = ch.volume_and_cost(
        leads=period.leads, spend=period.spend, as_of=period.as_of, mature_days=365
    )
    row = costs.loc["search_ads"]
    # only 2023-01 is a matured month: 100 of spend, 2 leads, 1 customer (the old CAC: 200)
    assert row["cac"] == 100.0
    assert (row["mature_spend"], row["mature_leads"], row["mature_customers"]) == (100.0, 2, 1)
    assert row["cost_per_lead"] == round(200 / 12, 2)  # the whole period
    young = ch.volume_and_cost(
        leads=period.leads, spend=period.spend, as_of=period.as_of, mature_days=800
    )
    assert pd.isna(young.loc["search_ads", "cac"])
    assert "no lead month is 800 days old" in young.loc["search_ads", "note"]


def _missing_by_sets(spend: pd.DataFrame, leads: pd.DataFrame) -> pd.DataFrame:
    """:func:`spend.missing_spend_months` as it was (a set of every lead's month, months by
    ``to_period``), kept as the oracle."""
    rows = []
    months = leads["created_date"].dt.to_period("M").dt.to_timestamp()
    lead_months = leads.assign(month=months)
    for channel, part in spend.groupby("channel"):
        have = set(part["month"])
        span = pd.date_range(part["month"].min(), part["month"].max(), freq="MS")
        with_leads = set(lead_months.loc[lead_months["source_channel"] == channel, "month"])
        rows += [
            {"channel": channel, "month": m} for m in span if m not in have and m in with_leads
        ]
    return pd.DataFrame(rows, columns=["channel", "month"])


def test_month_start_and_missing_spend_months_equal_the_pandas_way(demo):
    """Month starts by numpy equal ``to_period`` (NaT kept, name and index kept); the missing
    spend months equal the set-based oracle on the demo with spend rows taken out."""
    dates = demo["leads"]["intent_date"]  # has NaT
    pd.testing.assert_series_equal(sp.month_start(dates), dates.dt.to_period("M").dt.to_timestamp())
    spend = demo["channel_spend"]
    gaps = spend.drop(spend.index[[3, 10, 11, 40]])
    got = sp.missing_spend_months(gaps, demo["leads"])
    assert len(got) >= 2
    pd.testing.assert_frame_equal(got, _missing_by_sets(gaps, demo["leads"]))


def test_rows_by_channel_are_the_rows_a_comparison_selects():
    """The one-pass split against the per-channel comparison it replaced (the oracle): same
    rows, order and columns for every channel, interleaved rows, an empty channel name, a
    missing one, and a channel without leads."""
    leads = pd.DataFrame(
        {
            "source_channel": ["b", "a", "b", None, "", "a", "b"],
            "n": range(7),
        },
        index=[10, 3, 5, 7, 1, 2, 0],
    )
    rows_of = ch._rows_by_channel(leads)
    for name in ("a", "b", "", "paid_search"):
        pd.testing.assert_frame_equal(rows_of(name), leads[leads["source_channel"] == name])


def test_costs_and_decision_times_from_str_equal_those_from_objects(demo):
    text = pd.StringDtype("pyarrow", na_value=float("nan"))
    period = ch.reporting_period(demo, months=48)
    results = {}
    for kind in (object, text):
        leads = period.leads.astype({"source_channel": kind})
        leads.loc[leads.index[:40], "source_channel"] = None  # some leads without a channel
        leads = leads.astype({"source_channel": kind})
        costs = ch.volume_and_cost(leads, period.spend, as_of=period.as_of)
        times = ch.funnel.time_to_decision(leads, as_of=period.as_of)
        results[kind] = (costs, times.medians)
    pd.testing.assert_frame_equal(results[object][0], results[text][0])
    pd.testing.assert_series_equal(results[object][1], results[text][1])
    assert "unknown" in results[text][0].index
