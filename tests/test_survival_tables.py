"""The churn report's tables and sentences for readers: units, currency, "not reached", yes/no,
display names, no raw floats, booleans, dates with times or row numbers. Hand-made inputs
(the views read only the attributes they show)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from helpers import survival as sv
from helpers.steps import Skipped

INF = float("inf")


def _all_text(frame: pd.DataFrame) -> bool:
    return all(isinstance(v, str) for v in frame.to_numpy().ravel())


def test_lifetime_table_says_not_reached_for_an_infinite_median():
    medians = pd.DataFrame(
        {
            "accounts": [314, 380],
            "churned": [234, 178],
            "median_days": [240.0, INF],
            "low": [191.0, 508.0],
            "high": [272.0, INF],
        },
        index=pd.MultiIndex.from_tuples(
            [("acquisition_channel", "b2b_marketplace"), ("ownership_type", "state_owned")],
            names=["segment", "group"],
        ),
    )
    view = sv.medians_view(km=SimpleNamespace(medians=medians))
    assert view.to_dict("records") == [
        {
            "segment": "Acquisition channel",
            "group": "B2B marketplace",
            "accounts": "314",
            "churned": "234",
            "median lifetime": "7.9 months",
            "95% interval": "6.3 months to 8.9 months",
        },
        {
            "segment": "Ownership type",
            "group": "State owned",
            "accounts": "380",
            "churned": "178",
            "median lifetime": "not reached",
            "95% interval": "16.7 months to not reached",
        },
    ]
    assert "inf" not in view.to_string()
    none = sv.medians_view(km=SimpleNamespace(medians=pd.DataFrame()))
    assert none.sentence().startswith("Kaplan-Meier by segment is not available: the data has")


def test_ph_check_table_has_one_yes_no_row_per_attribute_not_raw_booleans():
    ph = pd.DataFrame(
        {
            "test_statistic": [1.21, 0.5, 9.5, 0.2],
            "p": [0.27, 0.4, 0.00002, 0.6],
            "p_holm": [1.0, 1.0, 0.0004, 1.0],
            "violated": [False, False, True, False],
        },
        index=[
            "acquisition_channel=b2b_marketplace",
            "acquisition_channel=linkedin_ads",
            "size_band=micro",
            "size_band=small",
        ],
    )
    view = sv.ph_view(model=SimpleNamespace(ph=ph), names={"size_band": "Company size"})
    assert view.to_dict("records") == [
        {
            "attribute": "Company size",
            "smallest p-value (Holm)": "<0.001",
            "effect changes over time": "yes",
        },
        {
            "attribute": "Acquisition channel",
            "smallest p-value (Holm)": "1",
            "effect changes over time": "no",
        },
    ]
    assert "False" not in view.to_string() and "True" not in view.to_string()


def test_aft_table_says_why_the_cox_model_has_no_aic():
    aft = pd.DataFrame(
        {"AIC": [np.nan, 20807.4, 20870.1], "concordance": [0.6671, 0.6672, 0.668]},
        index=["Cox (semi-parametric)", "Weibull AFT", "log-logistic AFT"],
    )
    view = sv.aft_view(aft=aft)
    assert view["AIC (lower is better)"].tolist() == [sv.tables.COX_AIC, "20,807", "20,870"]
    assert view["concordance"].tolist() == ["0.667", "0.667", "0.668"]
    assert "nan" not in view.to_string()


def test_pairs_and_logrank_tables_have_no_row_numbers_and_readable_p_values():
    pairs = pd.DataFrame(
        {
            "group_a": ["b2b_marketplace", "linkedin_ads"],
            "group_b": ["linkedin_ads", "search_ads"],
            "test_statistic": [48.4357, 5.913],
            "p": [1e-12, 0.015],
            "p_holm": [1e-11, 0.0451],
        },
        index=pd.MultiIndex.from_tuples([("acquisition_channel", 0), ("acquisition_channel", 7)]),
    )
    logrank = pd.DataFrame({"log-rank p-value": [5.7e-38]}, index=["acquisition_channel"])
    km = SimpleNamespace(pairs=pairs, logrank=logrank)
    view = sv.pairs_view(km=km)
    assert view.iloc[1].tolist() == [
        "Acquisition channel",
        "LinkedIn ads",
        "Search ads",
        "5.9",
        "0.045",
    ]
    assert list(view.index) == [0, 1] and "7" not in view.to_numpy()  # no pandas numbers shown
    assert sv.logrank_view(km=km).iloc[0].tolist() == ["Acquisition channel", "<0.001"]
    assert sv.pairs_view(km=SimpleNamespace(pairs=Skipped("none"), logrank=logrank)).reason


def test_backtest_sensitivity_and_ltv_tables_carry_units():
    bt = SimpleNamespace(
        start=pd.Timestamp("2024-12-31"),
        metrics={"harrell_c": 0.6349, "accounts": 1282, "penalizer": 0.0, "brier_km": 0.2274},
    )
    view = sv.backtest_view(bt=bt)
    assert view.columns.tolist() == ["measure", "back-test from 31 Dec 2024"]
    values = dict(zip(view["measure"], view.iloc[:, 1], strict=True))
    assert values["Accounts active at the start"] == "1,282 accounts"
    assert values["Harrell's C of the risk score (0.5 = chance)"] == "0.635"
    assert not any("_" in m for m in values)
    sensitivity = pd.DataFrame(
        {"accounts": [2883], "churned": [1436], "churn_rate": [0.498], "median_days": [INF]},
        index=pd.Index([180], name="threshold_days"),
    )
    assert sv.sensitivity_view(sensitivity=sensitivity).iloc[0].tolist() == [
        "180 days",
        "2,883",
        "1,436",
        "49.8%",
        "not reached",
    ]
    ltv = pd.DataFrame(
        {
            "mean": [24383.2, 2887.4],
            "low": [22195.0, 2270.0],
            "high": [26808.0, 3648.0],
            "n": [525, 374],
        },
        index=["trade_show", "b2b_marketplace"],
    )
    view = sv.ltv_view(ltv=ltv, currency="EUR")
    assert view.iloc[0].tolist() == ["Trade show", "24.4k EUR", "22.2k EUR to 26.8k EUR", "525"]
    assert _all_text(view)
    assert sv.ltv_sentence(ltv, currency="EUR") == (
        "A new customer from Trade show is worth 24.4k EUR of discounted margin, one from "
        "B2B marketplace 2,887 EUR."
    )


def test_prechurn_list_and_sentence_carry_the_currency():
    prechurn = pd.DataFrame(
        {
            "account_id": ["A001475"],
            "account_name": ["Company 1475"],
            "sales_rep": ["rep_12"],
            "region": ["east"],
            "silent_days": [145.0],
            "p_churn": [0.694],
            "expected_revenue": [71543.2],
            "revenue_at_risk": [49636.1],
            "reason": ["silent and high risk"],
        }
    )
    view = sv.prechurn_view(prechurn=prechurn, currency="EUR", names={"rep_12": "Ana Ruiz"})
    assert view.iloc[0].tolist() == [
        "A001475",
        "Company 1475",
        "Ana Ruiz",
        "East",
        "145 days",
        "69%",
        "71.5k EUR",
        "49.6k EUR",
        "silent and high risk",
    ]
    text = sv.prechurn_sentence(prechurn, 90, currency="EUR")
    assert text.startswith("1 active accounts are on the list, with 49.7k EUR of expected revenue")
    assert text.count("EUR") == 3


def test_sentences_use_dates_and_display_names():
    model = SimpleNamespace(
        references={"acquisition_channel": "referral", "industry": "food_processing"}
    )
    assert sv.references_sentence(model) == (
        "Reference levels of the hazard ratios: Acquisition channel: Referral; Industry: Food "
        "processing."
    )
    assert sv.ph_sentence(SimpleNamespace(ph_note="No covariate breaks it.", penalizer=0.0)) == (
        "No covariate breaks it. Penalizer chosen by 4-fold cross-validation: 0 (no shrinkage)."
    )
    assert sv.ph_sentence(SimpleNamespace(ph_note="N.", penalizer=0.05)).endswith(": 0.05.")
    recal = SimpleNamespace(landmark=pd.Timestamp("2025-04-05"), accounts=1317, events=448)
    assert "at the landmark 5 Apr 2025 (1,317 accounts" in sv.recalibration_sentence(recal)
    assert sv.days_text(INF) == "not reached" and sv.days_text(371.0) == "12.2 months"
    tiers = SimpleNamespace(
        medians=pd.DataFrame(
            {"median_days": [536.0, INF], "accounts": [69, 511]}, index=["strategic", "long tail"]
        ),
        landmark=pd.Timestamp("2024-01-15"),
        p_value=1.4e-9,
    )
    assert sv.tier_sentence(tiers) == (
        "Tiers as they were on 15 Jan 2024, accounts followed from that day: median time until "
        "they stop buying: strategic 17.6 months (69 accounts), long tail not reached (511 "
        "accounts); log-rank p < 0.001."
    )
