"""The leadership summary: finds the right study runs, reads them through their declared schemas
and takes every number from them (or says why a number is not available)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from helpers import channels, formats, payback, reporting, schemas, summary
from helpers.steps import Skipped

COMMON = {
    "data_fingerprint": "9db2c9ff4a4998e7",
    "analysis_date": "2025-12-31",
    "filters": {},
    "source": "demo",
    "currency": "EUR",
}

# Values of the demo data's default run (nested tables the summary does not read trimmed).
SEG = schemas.SegmentationMetrics(
    **COMMON,
    top_1pct_share=0.13859,
    top_5pct_share=0.402721,
    top_10pct_share=0.588726,
    top_20pct_share=0.797741,
    gini=0.746495,
    abc_counts={"A": 582, "B": 717, "C": 1584},
    tier_counts={"key": 432, "long tail": 1441, "standard": 865, "strategic": 145},
    tier_revenue_share={
        "key": 0.421751,
        "long tail": 0.04102,
        "standard": 0.181588,
        "strategic": 0.355641,
    },
    strategic_accounts=145,
    clusters=4,
    cluster_stability=0.998579,
    customer_types={"growing": 70, "price-insensitive": 212, "shrinking": 19, "steady": 847},
    lead_grade_conversion={"excellent": 0.322203, "good": 0.190455, "to improve": 0.026612},
    lead_score_auc=0.736843,
    lookalike={"auc": 0.935832, "base_rate": 0.01969, "lift_top_decile": 7.64996},
)
CHURN = schemas.ChurnMetrics(
    **COMMON,
    churn_threshold_days=180,
    threshold_derived=True,
    horizon_days=90,
    accounts=2883,
    churn_rate=0.498092,
    km_median_days=411.0,
    cox_concordance=0.667234,
    cox_concordance_unstratified=0.667234,  # no PH remedy on the demo
    stratified_on=[],
    references=None,  # not read by the summary
    penalizer=0.0,
    log_hazard_ratios={"size_band=enterprise": -1.062584, "industry=textiles": 0.452644},
    log_hazard_ratio_intervals=None,  # not read by the summary
    backtest={"accounts": 1282, "auc_at_horizon": 0.652446, "harrell_c": 0.634693},
    prechurn_accounts=328,
    revenue_at_risk=1819319.425989,
    revenue_at_risk_interval=None,  # not read by the summary
    ltv_by_tier={"strategic": {"mean": 42602.6, "low": 38091.3, "high": 47098.0, "n": 129}},
    ltv_by_channel={"trade_show": {"mean": 25040.8, "low": 22774.2, "high": 27533.6, "n": 525}},
    ltv_definition={"discount_per_year": 0.1, "ltv_horizon_days": 1095, "seed": 42},
    notes=[],
)


def _cost(spend: float, leads: int, customers: int, paid: bool = True) -> dict:
    return {
        "spend": spend,
        "leads": leads,
        "customers": customers,
        "paid": paid,
        "cost_per_lead": round(spend / leads, 2),
        "cac": round(spend / customers, 2),
    }


def _ratio(
    ltv: float,
    cac: float,
    ratio: float,
    low: float,
    high: float,
    flag: str,
    verdict: str | None = None,
    marginal: tuple[float, float, float] | None = None,
) -> dict:
    row = {"ltv": ltv, "cac": cac, "ratio": ratio, "low": low, "high": high, "flag": flag}
    if verdict is not None:
        row["verdict"] = verdict
    if marginal is not None:
        row.update(zip(("marginal", "marginal_low", "marginal_high"), marginal, strict=True))
    return row


CHAN = schemas.ChannelMetrics(
    **COMMON,
    costs={
        "b2b_marketplace": _cost(479450.1, 4095, 374),
        "linkedin_ads": _cost(1954090.38, 3014, 448),
        "organic_web": _cost(0.0, 3105, 278, paid=False),
        "referral": _cost(0.0, 1997, 631, paid=False),
        "search_ads": _cost(1049616.24, 4950, 619),
        "trade_show": _cost(1547663.01, 2471, 525),
    },
    # verdicts chosen to disagree with the cost quadrant: the dear trade show grows, the cheap
    # marketplace holds
    ltv_cac={
        "b2b_marketplace": _ratio(
            2965.5, 1281.95, 2.313282, 1.820883, 2.922337, "ratio under 3", "hold", (1.2, 0.8, 1.6)
        ),
        "linkedin_ads": _ratio(
            14724.0, 4361.81, 3.375673, 2.979233, 3.798035, "", "no verdict", (0.3, -0.4, 1.1)
        ),
        "search_ads": _ratio(
            9897.1, 1695.66, 5.836701, 4.77958, 7.577536, "", "grow", (4.5, 3.6, 6.3)
        ),
        "trade_show": _ratio(
            25040.8, 2947.93, 8.494378, 7.725505, 9.339962, "", "grow", (4.41, 3.74, 5.45)
        ),
    },
    quadrant={
        "b2b_marketplace": "invest more",
        "linkedin_ads": "wind down",
        "search_ads": "invest more",
        "trade_show": "wind down",
    },
    elasticity={"b2b_marketplace": 0.659218, "trade_show": 0.479885},
    attribution_model="markov",
    attribution={"organic_web": 719.680988, "trade_show": 319.554727},
    attributed_revenue={"organic_web": 17173883.06, "trade_show": 7662086.02},
    ltv_source="Lifetime values from the churn study's survival model, fitted here.",
    findings=["Grow trade_show: each new customer is worth 8.5× what it cost (LTV:CAC)."],
)

#: What the page says on the demo data's metrics (the verdicts of the fixture above).
DEMO_FINDINGS = [
    "The top 20% of accounts bring 80% of revenue (Gini 0.75); 145 strategic accounts carry "
    "36% of it.",
    "50% of the 2,883 buying accounts have gone silent for 180+ days; half stop buying within "
    "13.5 months of their first order.",
    "328 active accounts are at risk now, with 1.82M EUR of expected revenue at stake in the "
    "next 90 days.",
    "A new customer costs from 1,282 EUR (B2B marketplace) to 4,362 EUR (LinkedIn ads) "
    "depending on the channel.",
    "A new customer from Trade show is worth the most per unit of acquisition cost: 8.5× what "
    "it cost to win (95% interval 7.7–9.3).",
]
SPEND_CAUTION = "if the observed spend response holds (spend was not varied at random)"
DEMO_MOVES = [
    "**Call the pre-churn list this month**: 328 accounts, 1.82M EUR of revenue at risk (list: "
    "`prechurn.csv` of the churn study).",
    "**Give the 145 strategic accounts named owners**: they bring 36% of revenue.",
    "**Grow Trade show**: LTV:CAC 8.5× (95% interval 7.7–9.3); marginal LTV:CAC 4.4× (95% "
    f"interval 3.7–5.5), above 1 at its lower bound {SPEND_CAUTION}.",
    "**Grow Search ads**: LTV:CAC 5.8× (95% interval 4.8–7.6); marginal LTV:CAC 4.5× (95% "
    f"interval 3.6–6.3), above 1 at its lower bound {SPEND_CAUTION}.",
    "**No verdict on LinkedIn ads**: LTV:CAC 3.4× (95% interval 3.0–3.8), but whether more "
    "spend brings more customers is not measured (the spend elasticity's interval includes 0, "
    "or it was not estimated).",
    "**Hold B2B marketplace**: LTV:CAC 2.3× (95% interval 1.8–2.9); marginal LTV:CAC 1.2× (95% "
    f"interval 0.8–1.6), not clearly above 1 {SPEND_CAUTION}.",
]

COX = "only 5 churn events (a Cox model needs at least 20)"
NO_TOUCHPOINTS = "the data has no touchpoints table (export touchpoints to attribute conversions)"


def _write(folder: Path, name: str, metrics, filters=None, fingerprint=None) -> None:
    """A study run folder ``name`` holding ``metrics`` (a schema object, or a raw mapping for a
    file that does not match its schema) for the slice ``filters``."""
    if not isinstance(metrics, dict):
        changes = {"filters": filters or {}}
        if fingerprint:
            changes["data_fingerprint"] = fingerprint
        metrics = dataclasses.replace(metrics, **changes)
    reporting.write_metrics(folder / name, metrics)


def _found(seg=SEG, churn=CHURN, chan=CHAN) -> dict[str, summary.StudyRun]:
    return {
        s: summary.StudyRun(study=s, folder=Path(s) if m else None, metrics=m)
        for s, m in zip(summary.STUDIES, (seg, churn, chan), strict=True)
    }


def _page(found) -> str:
    """Every sentence and headline figure of the page."""
    return " ".join(
        summary.findings(found)
        + summary.moves(found)
        + summary.notes(found)
        + list(summary.kpis(found)["value"])
    )


def test_finds_the_runs_of_the_slice_with_the_fewest_extra_parameters(tmp_path):
    _write(tmp_path, "01-customer-segmentation", SEG)
    _write(tmp_path, "01-customer-segmentation--filters-region-north", SEG, {"region": "north"})
    _write(tmp_path, "02-churn-survival--churn_threshold_days-90", CHURN)
    _write(tmp_path, "02-churn-survival", CHURN)
    (tmp_path / "03-channel-economics").mkdir()
    (tmp_path / "03-channel-economics" / "metrics.json").write_text("{not json")
    found = summary.find_metrics(folder=tmp_path, filters={}, source="demo")
    assert found["segmentation"].folder.name == "01-customer-segmentation"
    assert found["segmentation"].metrics == SEG  # read back through its schema, unchanged
    assert found["churn"].folder.name == "02-churn-survival"
    assert found["channels"].metrics is None  # damaged: treated as absent
    north = summary.find_metrics(folder=tmp_path, filters={"region": "north"}, source="demo")
    assert north["segmentation"].folder.name.endswith("region-north")
    assert north["churn"].metrics is None
    other = summary.find_metrics(folder=tmp_path, filters={}, source="data/other.yaml")
    assert other["segmentation"].metrics is None


def test_missing_studies_and_mixed_data_are_said(tmp_path):
    _write(tmp_path, "01-customer-segmentation", SEG, fingerprint="f1")
    _write(tmp_path, "02-churn-survival", CHURN, fingerprint="f2")
    notes = summary.consistency_notes(summary.find_metrics(tmp_path, {}, "demo"))
    assert any("No channels metrics" in n for n in notes)
    assert any("different data" in n and "f2" in n for n in notes)
    later = dataclasses.replace(CHURN, analysis_date="2026-03-31")
    dates = summary.consistency_notes(_found(churn=later))
    assert any("segmentation: 31 Dec 2025, churn: 31 Mar 2026" in n for n in dates), dates


def test_the_demo_page_read_back_from_files(tmp_path):
    for name, metrics in zip(summary.STUDIES.values(), (SEG, CHURN, CHAN), strict=True):
        _write(tmp_path, name, metrics)
    found = summary.find_metrics(folder=tmp_path, filters={}, source="demo")
    assert summary.findings(found) == DEMO_FINDINGS
    assert summary.moves(found) == DEMO_MOVES
    assert summary.notes(found) == []


def test_every_number_comes_from_the_metrics():
    text = " ".join(summary.findings(_found()) + summary.moves(_found()))
    for shown in ("80%", "0.75", "145", "36%", "2,883", "180+", "13.5 months", "328"):
        assert shown in text, shown
    for shown in ("1.82M EUR", "1,282 EUR", "4,362 EUR", "8.5×"):
        assert shown in text, shown
    changed = dataclasses.replace(SEG, top_20pct_share=0.61, strategic_accounts=17)
    text = " ".join(summary.findings(_found(seg=changed)))
    assert "61%" in text and "17 strategic" in text and "80%" not in text


def test_moves_name_the_recorded_verdict_never_the_cost_quadrant():
    moves = summary.moves(_found())
    # the dear trade show (dear leads, dear customers) grows: its customers repay 8.5x
    dear = next(m for m in moves if "Trade show" in m)
    assert dear.startswith("**Grow Trade show**") and "8.5×" in dear
    # the cheap marketplace holds: its marginal ratio is not clearly above 1
    cheap = next(m for m in moves if "B2B marketplace" in m)
    assert cheap.startswith("**Hold B2B marketplace**") and "marginal LTV:CAC 1.2×" in cheap
    page = " ".join(moves + summary.findings(_found())).lower()
    for action in ("invest more", "wind down", "improve conversion", "fission", "fix before"):
        assert action not in page, action
    assert summary.moves(_found(None, None, None)) == [
        "No recommended move: the study metrics are missing."
    ]
    assert summary.numbered(items=moves[:2]) == f"1. {moves[0]}\n2. {moves[1]}"


def test_a_channel_without_a_recorded_verdict_gets_none():
    ltv_cac = {k: {**v} for k, v in CHAN.ltv_cac.items()}
    del ltv_cac["search_ads"]["verdict"]
    found = _found(chan=dataclasses.replace(CHAN, ltv_cac=ltv_cac))
    move = next(m for m in summary.moves(found) if "Search ads" in m)
    assert move.startswith("**No verdict on Search ads**") and "not recorded" in move
    assert summary.channel_section(found).table.loc["Search ads", "verdict"] == "No verdict"


def test_tables_from_the_metrics():
    table = summary.channel_table(CHAN)
    # best LTV:CAC first, unpaid channels left out
    assert list(table.index) == ["trade_show", "search_ads", "linkedin_ads", "b2b_marketplace"]
    assert table.loc["trade_show", "verdict"] == "grow"
    assert table.loc["trade_show", "position"] == "dear leads, dear customers"  # old word read
    assert list(summary.tier_shares(SEG).index) == ["long tail", "standard", "key", "strategic"]
    kpis = summary.kpis(_found())
    assert kpis.loc["Revenue at risk", "value"] == "1.82M EUR"
    assert kpis.loc["New customers won", "value"] == "2,875"  # paid and unpaid channels
    assert kpis.loc["Marketing spend in the period", "value"] == "5.03M EUR"
    assert summary.sources(_found()).loc["churn", "analysis date"] == "31 Dec 2025"
    assert summary.findings(_found(None, None, None)) == []


def test_sections_for_the_charts():
    tiers = summary.tier_section(found=_found())
    assert list(tiers.shares.index) == ["long tail", "standard", "key", "strategic"]
    assert tiers.sentence == "Strategic accounts bring 36% of revenue."
    channels = summary.channel_section(found=_found())
    assert list(channels.ratios.index)[0] == "B2B marketplace"  # lowest first: top of the chart
    assert channels.ratios.loc["Trade show", ["low", "high"]].tolist() == [7.725505, 9.339962]
    table = channels.table
    assert list(table.columns) == list(summary.CHANNEL_COLUMNS) and len(table) == 4
    assert table.loc["Trade show"].tolist() == [
        "Grow",
        "8.5× (7.7–9.3)",
        "4.4× (3.7–5.5)",
        "2,948 EUR",
        "dear leads, dear customers",
    ]
    assert table.index.name == "channel"
    assert channels.sentence.startswith(
        "Trade show returns 8.5× its acquisition cost; B2B marketplace 2.3×."
    )
    missing = summary.channel_section(found=_found(chan=None))
    assert isinstance(missing.ratios, Skipped) and isinstance(missing.table, Skipped)
    assert "no channels metrics were found" in missing.ratios.sentence()
    assert isinstance(summary.tier_section(found=_found(seg=None)).shares, Skipped)


def test_a_skipped_number_reads_not_available_with_its_reason(tmp_path):
    churn = dataclasses.replace(
        CHURN,
        cox_concordance=None,
        log_hazard_ratios=None,
        backtest=None,
        prechurn_accounts=None,
        revenue_at_risk=None,
        km_median_days=None,
        skipped={
            "cox_concordance": COX,
            "log_hazard_ratios": COX,
            "backtest": COX,
            "prechurn_accounts": COX,
            "revenue_at_risk": COX,
            "km_median_days": "more than half still buy after 1,095 days",
        },
    )
    chan = dataclasses.replace(
        CHAN,
        attribution=None,
        attributed_revenue=None,
        skipped={"attribution": NO_TOUCHPOINTS, "attributed_revenue": NO_TOUCHPOINTS},
    )
    seg = dataclasses.replace(SEG, gini=None, skipped={"gini": "only 3 accounts bought"})
    for name, metrics in zip(summary.STUDIES.values(), (seg, churn, chan), strict=True):
        _write(tmp_path, name, metrics)
    found = summary.find_metrics(folder=tmp_path, filters={}, source="demo")
    assert found["churn"].metrics.skipped["cox_concordance"] == COX  # read back from the file
    findings = summary.findings(found)
    assert "(Gini not available: only 3 accounts bought)" in findings[0]
    assert findings[1].endswith(
        "180+ days; the median customer lifetime is not available: more than half still buy "
        "after 1,095 days."
    )
    assert f"The pre-churn list (active accounts at risk now) is not available: {COX}." in findings
    moves = summary.moves(found)
    assert not any("pre-churn" in m for m in moves)  # no call list to act on
    nothing = summary.moves(found=_found(seg=None, churn=churn, chan=None))
    assert nothing == [
        "No recommended move: the numbers behind the moves are not available "
        "(see the key findings)."
    ]
    kpis = summary.kpis(found)
    assert kpis.loc["Accounts on the pre-churn list", "value"] == f"not available: {COX}"
    assert kpis.loc["Revenue at risk", "value"] == f"not available: {COX}"
    assert kpis.loc["Gini coefficient of revenue", "value"] == (
        "not available: only 3 accounts bought"
    )
    notes = summary.notes(found)
    assert (
        "From the churn study, Cox model concordance, hazard ratios, backtest, pre-churn list "
        f"and revenue at risk are not available: {COX}." in notes
    )
    assert (
        "From the channels study, attributed conversions and attributed revenue are not "
        f"available: {NO_TOUCHPOINTS}." in notes
    )
    page = _page(found)
    assert "n/a" not in page and "nan" not in page.lower() and " 0 " not in page


def test_without_lifetime_values_the_channel_section_keeps_costs_and_says_why():
    why = "no lifetime values: " + COX
    chan = dataclasses.replace(CHAN, ltv_cac=None, skipped={"ltv_cac": why})
    found = _found(chan=chan)
    assert (
        "What a new customer is worth per unit of acquisition cost (LTV:CAC) is not available: "
        f"{why}." in summary.findings(found)
    )
    assert not any("LTV:CAC" in m for m in summary.moves(found))
    section = summary.channel_section(found=found)
    assert section.ratios == Skipped(why, step="The LTV:CAC chart")
    assert list(section.table.columns) == ["cost per new customer", "cost position (diagnostic)"]
    assert list(section.table.index)[0] == "B2B marketplace"  # cheapest first
    assert section.table.iloc[0].tolist() == ["1,282 EUR", "cheap leads, cheap customers"]
    no_costs = dataclasses.replace(
        CHAN, costs=None, ltv_cac=None, skipped={"costs": "the data has no channel_spend table"}
    )
    found = _found(chan=no_costs)
    kpis = summary.kpis(found)
    assert kpis.loc["Marketing spend in the period", "value"] == (
        "not available: the data has no channel_spend table"
    )
    assert summary.channel_section(found=found).table == Skipped(
        "the data has no channel_spend table", step="The channel table"
    )


def test_incomplete_metrics_read_not_available_instead_of_crashing():
    seg = dataclasses.replace(SEG, gini=None, top_20pct_share=None, tier_revenue_share=None)
    chan = dataclasses.replace(
        CHAN,
        ltv_cac={
            "b2b_marketplace": _ratio(2600.0, 1281.95, 2.0, None, None, "ratio under 3"),
            "linkedin_ads": _ratio(3500.0, 4361.81, 0.8, 0.5, 1.1, "may not pay back"),
        },
        quadrant=None,
    )  # nulls without a recorded reason
    found = _found(seg=seg, chan=chan)
    text = " ".join(summary.findings(found) + summary.moves(found))
    assert "Gini not available: not recorded in the segmentation metrics" in text
    assert "The revenue share of the top 20% of accounts is not available" in text
    assert "whose share of revenue is not available" in text
    assert "A new customer from B2B marketplace is worth the most per unit" in text
    assert "LTV:CAC 2.0× (95% interval not recorded)" in text
    assert "its verdict is not recorded" in text
    assert "cost position" not in text  # a diagnostic of the table, never a sentence
    section = summary.channel_section(found)
    assert set(section.table["cost position (diagnostic)"]) == {"–"}
    assert (
        summary.kpis(found).loc["Gini coefficient of revenue", "value"].startswith("not available")
    )


def test_in_a_batch_folder_runs_json_says_which_runs_count(tmp_path):
    _write(tmp_path, "churn-quarterly", CHURN)  # an explicit run name
    _write(tmp_path, "02-churn-survival", CHURN)  # a stale folder that failed this time
    _write(tmp_path, "seg", SEG)
    runs = [
        {
            "name": "churn-quarterly",
            "notebook": "02-churn-survival",
            "status": "ok",
            "parameters": {"DATA_SOURCE": "demo", "CHURN_THRESHOLD_DAYS": 90},
        },
        {
            "name": "02-churn-survival",
            "notebook": "02-churn-survival",
            "status": "failed",
            "parameters": {"DATA_SOURCE": "demo"},
        },
        {
            "name": "seg",
            "notebook": "01-customer-segmentation",
            "status": "ok",
            "parameters": {"DATA_SOURCE": "demo"},
        },
    ]
    (tmp_path / "runs.json").write_text(json.dumps({"batch": "b", "runs": runs}))
    found = summary.find_metrics(folder=tmp_path, filters={}, source="demo")
    assert found["churn"].folder.name == "churn-quarterly"
    assert found["segmentation"].folder.name == "seg" and found["segmentation"].variant == {}
    notes = summary.consistency_notes(found)
    assert any("churn-quarterly (CHURN_THRESHOLD_DAYS = 90)" in n for n in notes)
    assert sum("figures come from" in n for n in notes) == 1  # DATA_SOURCE is shared: no note


def test_without_runs_json_the_shortest_name_wins(tmp_path):
    _write(tmp_path, "02-churn-survival--seed-7", CHURN)
    _write(tmp_path, "02-churn-survival--churn_threshold_days-60--seed-7", CHURN)
    found = summary.find_metrics(folder=tmp_path, filters={}, source="demo")
    assert found["churn"].folder.name == "02-churn-survival--seed-7"


def test_a_file_that_does_not_match_its_schema_is_refused_with_a_note(tmp_path):
    undeclared = {**SEG.to_json(), "revenue_share_top_3": 0.5}
    _write(tmp_path, "01-customer-segmentation", undeclared)
    old_version = {**CHURN.to_json(), "schema_version": 0}
    _write(tmp_path, "02-churn-survival", old_version)
    today = {k: v for k, v in CHAN.to_json().items() if k not in ("schema", "schema_version")}
    _write(tmp_path, "03-channel-economics", today)  # the format before the schemas
    found = summary.find_metrics(folder=tmp_path, filters={}, source="demo")
    assert all(run.metrics is None for run in found.values())  # treated as not found
    notes = summary.consistency_notes(found)
    assert "No readable segmentation metrics found: its part of the summary is left out." in notes
    seg_file = tmp_path / "01-customer-segmentation" / "metrics.json"
    assert (
        f"The segmentation metrics in {seg_file} were not read: fields not in schema "
        "'segmentation' v2: revenue_share_top_3; missing: none. Rerun notebook "
        "01-customer-segmentation with this code to include them." in notes
    )
    churn_note = next(n for n in notes if "02-churn-survival/metrics.json" in n)
    assert f"version 0, expected 'churn' version {schemas.ChurnMetrics.VERSION}" in churn_note
    assert "Rerun notebook 02-churn-survival" in churn_note
    assert any("03-channel-economics/metrics.json were not read" in n for n in notes)
    assert summary.findings(found) == []
    # beside a readable run of the selection, a stale file is no gap in the page: no note
    _write(tmp_path, "01-customer-segmentation--seed-7", SEG)
    found = summary.find_metrics(folder=tmp_path, filters={}, source="demo")
    assert found["segmentation"].metrics == SEG
    assert not any("segmentation metrics in" in n for n in summary.consistency_notes(found))


def test_the_summary_metrics_follow_their_schema(tmp_path):
    found = _found(chan=None)
    written = summary.metrics(found=found, filters={}, source="demo")
    assert isinstance(written, schemas.SummaryMetrics)
    reporting.write_metrics(tmp_path, written)
    back = schemas.read(tmp_path, schemas.SummaryMetrics)
    assert back.findings == summary.findings(found) and back.moves == summary.moves(found)
    assert any("No channels metrics" in n for n in back.notes)
    assert back.sources["channels"]["run"] == "not found"
    assert back.sources["churn"]["data fingerprint"] == "9db2c9ff4a4998e7"
    assert back.data_fingerprint == "9db2c9ff4a4998e7"
    assert (
        summary.metrics(found=_found(None, None, None), filters={}, source="demo").data_fingerprint
        is None
    )


def test_the_runs_folder_defaults_to_beside_the_summary(tmp_path):
    assert summary.runs_folder(configured="", output=tmp_path / "90-leadership-summary") == tmp_path
    assert summary.runs_folder(configured="/x/y", output=tmp_path) == Path("/x/y")


def test_channel_table_is_empty_without_channel_costs():
    table = summary.channel_table(None)
    assert table.empty and isinstance(table, pd.DataFrame)


def test_each_channel_has_one_verdict_on_every_page():
    """The summary's move, the summary's table and the channel study's sentence name the same
    verdict for every channel, also where the cost quadrant points the other way (the dear
    trade show with LTV:CAC 8.5 grows; the cheap marketplace holds)."""
    found = _found()
    moves = summary.moves(found)
    table = summary.channel_section(found).table
    study = channels.findings(
        costs=pd.DataFrame(CHAN.costs).T.astype({"paid": bool, "cac": float}),
        ratio=pd.DataFrame(CHAN.ltv_cac).T,
    )
    assert CHAN.quadrant["trade_show"] == "wind down" and CHAN.quadrant["b2b_marketplace"] == (
        "invest more"
    )
    for code, row in CHAN.ltv_cac.items():
        name = formats.display_name(code)
        label = payback.VERDICT_LABELS[row["verdict"]]
        head = f"{label} on {name}" if row["verdict"] == "no verdict" else f"{label} {name}"
        assert [m for m in moves if name in m] == [next(m for m in moves if name in m)]
        assert next(m for m in moves if name in m).startswith(f"**{head}**:"), code
        assert table.loc[name, "verdict"] == label, code
        assert sum(s.startswith(f"{head}:") for s in study) == 1, code
        assert not any(
            s.startswith(f"{other} {name}")
            for other in ("Grow", "Hold", "Cut")
            if other != label
            for s in study
        ), code


def test_a_channel_table_without_rows_is_one_sentence():
    unpaid = {k: {**v, "paid": False} for k, v in CHAN.costs.items()}
    section = summary.channel_section(found=_found(chan=dataclasses.replace(CHAN, costs=unpaid)))
    assert section.table == Skipped(
        "the channel metrics record no paid channel", step="The channel table"
    )
    assert isinstance(section.ratios, Skipped) and section.sentence == ""


def test_the_summary_and_its_charts_import_no_survival_model():
    """Notebook 90 imports these: lifelines, the survival models and the channel study behind
    them cost ~1.5 s of every summary run, which reads recorded metrics only."""
    code = (
        "import sys; from helpers import payback, plots, reporting, summary, theme; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('lifelines', 'pymc') "
        "or m in ('helpers.survival', 'helpers.channels', 'helpers.lifetime_value')))"
    )
    env = {**os.environ, "MPLBACKEND": "Agg"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "[]"
    assert callable(payback.lifetime_values) and callable(payback.ltv_source)  # still offered
