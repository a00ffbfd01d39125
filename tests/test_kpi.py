"""The KPI strip of the leadership summary (helpers.summary.kpi), its targets file, its trends
(helpers.summary.trends) and the quarterly series they read (helpers.quarterly)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import papermill
import pytest

from helpers import quarterly, reporting, schemas, summary
from helpers.summary import kpi, trends

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
KERNEL = "b2b-insights"

COMMON = {
    "data_fingerprint": "f1",
    "analysis_date": "2025-12-31",
    "filters": {},
    "source": "demo",
    "currency": "EUR",
}

OVERVIEW = schemas.OverviewMetrics(
    **COMMON,
    rows={"orders": 10},
    period="2025Q4",
    compared_with="2025Q3",
    revenue=920_000.0,  # 92 days: 10,000 a day
    revenue_before=800_000.0,  # +15%
    revenue_change=120_000.0,
    new_accounts=90,
    retention=0.75,
    share_existing=0.8,
    share_new=0.1,
    share_reactivated=0.1,
    drivers={"retention": -1.0},
    top_driver="new_volume",
    top_driver_contribution=1.0,
    revenue_year_before=1_000_000.0,  # -8%
    revenue_change_year=-80_000.0,
    period_start="2025-10-01",
    period_end="2025-12-31",
    retention_before=0.78,  # -3 pts
    new_accounts_before=120,  # -25%
)
CHURN = schemas.ChurnMetrics(
    **COMMON,
    churn_threshold_days=180,
    threshold_derived=True,
    horizon_days=30,
    accounts=1000,
    churn_rate=0.5,
    km_median_days=400.0,
    cox_concordance=0.7,
    cox_concordance_unstratified=0.7,
    stratified_on=[],
    references=None,
    penalizer=0.0,
    log_hazard_ratios=None,
    log_hazard_ratio_intervals=None,
    backtest=None,
    prechurn_accounts=50,
    revenue_at_risk=180_000.0,  # 30 days of 10,000 a day: 300,000, so 60%
    revenue_at_risk_interval=[150_000.0, 210_000.0],
    ltv_by_tier=None,
    ltv_by_channel=None,
    ltv_definition={},
    notes=[],
    quarterly_churn={"2025Q3": 0.12, "2025Q4": 0.10},
)
CHAN = schemas.ChannelMetrics(
    **COMMON,
    costs={
        "linkedin_ads": {"spend": 300_000.0, "customers": 100, "paid": True},  # 3,000 each
        "search_ads": {"spend": 100_000.0, "customers": 100, "paid": True},  # 1,000 each
        "referral": {"spend": 0.0, "customers": 300, "paid": False},
    },
    ltv_cac=None,
    quadrant=None,
    elasticity=None,
    attribution_model="markov",
    attribution=None,
    attributed_revenue=None,
    ltv_source="",
    findings=[],
    cac_all=2_000.0,
    window_start="2022-01-01",
    window_end="2025-12-31",
    quarterly_cac={"2025Q3": 2100.0, "2025Q4": 1900.0},
)
SEG = dataclasses.replace(
    schemas.SegmentationMetrics(
        **COMMON,
        **{f: None for f in ("top_1pct_share", "top_5pct_share", "top_10pct_share", "gini")},
        top_20pct_share=0.8,
        abc_counts=None,
        tier_counts=None,
        tier_revenue_share=None,
        strategic_accounts=None,
        clusters=None,
        cluster_stability=None,
        customer_types=None,
        lead_grade_conversion=None,
        lead_score_auc=None,
        lookalike=None,
    ),
    quarterly_top20_share={"2025Q3": 0.70, "2025Q4": 0.73},
)


def _found(overview=OVERVIEW, churn=CHURN, chan=CHAN, seg=SEG) -> dict[str, summary.StudyRun]:
    studies = {"overview": overview, "segmentation": seg, "churn": churn, "channels": chan}
    return {
        s: summary.StudyRun(study=s, folder=Path(s) if m else None, metrics=m)
        for s, m in studies.items()
    }


def _targets(tmp_path: Path, text: str) -> kpi.Targets:
    path = tmp_path / "targets.yaml"
    path.write_text(text, encoding="utf-8")
    return summary.read_targets(path)


KEYS = {"key", "label", "value", "text", "period", "comparison", "status", "reason"}


def test_every_kpi_has_its_period_and_money_carries_its_currency():
    strip = summary.kpi_strip(_found())
    assert [k.key for k in strip.kpis] == list(kpi.LABELS)
    for entry in strip.records():
        assert set(entry) == KEYS
        assert entry["period"], entry
        assert entry["status"] in ("good", "bad", "neutral") and entry["reason"] == ""
    for key in ("revenue", "revenue_at_risk", "cac"):
        assert "EUR" in strip[key].text, strip[key]
    assert strip["revenue"].period == "2025 Q4"
    assert strip["revenue"].text == "920k EUR"
    assert strip["retention"].text == "75%" and strip["new_accounts"].text == "90"
    assert strip["revenue_at_risk"].period == "next 30 days"
    assert strip["revenue_at_risk"].text == "180k EUR (95% interval 150k EUR–210k EUR)"
    assert strip["cac"].period == "1 Jan 2022 – 31 Dec 2025" and strip["cac"].text == "2,000 EUR"


def test_changes_against_the_previous_period_and_a_year_earlier():
    strip = summary.kpi_strip(_found())
    assert strip["revenue"].comparison == "+15% vs 2025 Q3, -8% vs 2024 Q4"
    assert strip["revenue"].status == "good"  # up on the previous period
    assert strip["retention"].comparison == "-3 pts vs 2025 Q3"
    assert strip["retention"].status == "bad"
    assert strip["new_accounts"].comparison == "-25% vs 2025 Q3"
    assert strip["new_accounts"].status == "bad"
    # nothing to compare with: neutral
    assert strip["revenue_at_risk"].status == "neutral" and strip["cac"].status == "neutral"
    assert "previous period" in strip.basis


def test_a_change_shown_as_zero_is_neutral_not_coloured():
    flat = dataclasses.replace(OVERVIEW, retention_before=OVERVIEW.retention - 0.004)
    strip = summary.kpi_strip(_found(overview=flat))
    assert strip["retention"].comparison == "+0 pts vs 2025 Q3"
    assert strip["retention"].status == "neutral"
    down = dataclasses.replace(OVERVIEW, retention_before=OVERVIEW.retention + 0.006)
    assert summary.kpi_strip(_found(overview=down))["retention"].status == "bad"


def test_a_monthly_period_compares_with_the_same_month_a_year_earlier():
    monthly = dataclasses.replace(
        OVERVIEW, period="2025-12", compared_with="2025-11", period_start="2025-12-01"
    )
    strip = summary.kpi_strip(_found(overview=monthly))
    assert strip["revenue"].comparison == "+15% vs Nov 2025, -8% vs Dec 2024"
    assert strip["revenue"].period == "Dec 2025"


def test_revenue_at_risk_is_compared_with_revenue_scaled_to_the_horizon_days():
    # 920,000 over the 92 days of 2025 Q4 is 300,000 over 30 days; 180,000 of it is 60%
    # (without the scaling it would be 20%)
    assert kpi.risk_share(_found()).value == pytest.approx(0.6)
    assert (
        "60% of revenue over 30 days at the 2025 Q4 rate"
        in summary.kpi_strip(_found())["revenue_at_risk"].comparison
    )
    # a month of 31 days: 310,000 a month is 300,000 over 30 days, still 60%
    month = dataclasses.replace(
        OVERVIEW, period="2025-12", revenue=310_000.0, period_start="2025-12-01"
    )
    assert kpi.risk_share(_found(overview=month)).value == pytest.approx(0.6)


def test_targets_set_the_status(tmp_path):
    above = _targets(tmp_path, "cac: 1500\nrevenue: 1000000\nretention: 0.7\n")
    strip = summary.kpi_strip(_found(), above)
    assert strip["cac"].status == "bad"  # 2,000 above a 1,500 ceiling
    assert strip["cac"].comparison == "target at most 1,500 EUR"
    assert strip["revenue"].status == "bad"  # up on the quarter, but under its target
    assert strip["revenue"].comparison.endswith("; target at least 1M EUR")
    assert strip["retention"].status == "good"  # down on the quarter, but above its target
    assert strip["new_accounts"].status == "bad"  # no target: vs the previous period
    assert strip.basis.startswith(
        "Colours compare revenue, account retention and cost per new customer (paid channels) "
        "with the targets in targets.yaml, and the rest with the previous period"
    )
    below = _targets(tmp_path, "cac: 2500\nrevenue_at_risk: 100000\n")
    strip = summary.kpi_strip(_found(), below)
    assert strip["cac"].status == "good"
    assert strip["revenue_at_risk"].status == "bad"  # 180k above a 100k ceiling


def test_per_channel_cac_targets(tmp_path):
    one_over = _targets(tmp_path, "cac:\n  linkedin_ads: 2500\n  search_ads: 1200\n")
    cac = summary.kpi_strip(_found(), one_over)["cac"]
    assert cac.status == "bad"
    assert cac.comparison == "LinkedIn ads 3,000 EUR above its target 2,500 EUR"
    all_under = _targets(tmp_path, "cac:\n  linkedin_ads: 3500\n  search_ads: 1200\n")
    cac = summary.kpi_strip(_found(), all_under)["cac"]
    assert cac.status == "good" and cac.comparison == "every channel at or below its target"
    unknown = _targets(tmp_path, "cac:\n  fax_campaign: 100\n")
    cac = summary.kpi_strip(_found(), unknown)["cac"]
    assert cac.status == "neutral" and "no cost per new customer for Fax campaign" in cac.comparison


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("revnue: 100\n", "'revnue'"),
        ("cac: lots\n", "'cac'"),
        ("retention: true\n", "'retention'"),
        ("cac:\n  linkedin_ads: [1, 2]\n", "'cac.linkedin_ads'"),
        ("- cac\n", "mapping"),
    ],
)
def test_a_bad_targets_file_names_the_file_and_the_key(tmp_path, text, named):
    with pytest.raises(summary.TargetsError) as error:
        _targets(tmp_path, text)
    assert str(tmp_path / "targets.yaml") in str(error.value) and named in str(error.value)


def test_no_targets_file_means_no_targets_and_a_missing_one_is_an_error(tmp_path):
    assert summary.read_targets("") is None
    with pytest.raises(summary.TargetsError, match="nothere.yaml"):
        summary.read_targets(tmp_path / "nothere.yaml")


def test_a_skipped_input_reads_not_available_with_its_reason():
    overview = dataclasses.replace(
        OVERVIEW,
        revenue=None,
        revenue_year_before=None,
        skipped={"revenue": "the <selection> has 1 complete period(s)"},
    )
    strip = summary.kpi_strip(_found(overview=overview, chan=None))
    revenue = strip["revenue"]
    assert revenue.value is None and revenue.status == "neutral"
    assert revenue.reason == "the <selection> has 1 complete period(s)"
    assert revenue.text == "not available: the <selection> has 1 complete period(s)"
    assert strip["cac"].value is None and "no channels metrics were found" in strip["cac"].reason
    # the share of revenue needs the revenue: said, the amount still shown
    assert strip["revenue_at_risk"].value == 180_000.0
    assert "share of revenue not available" in strip["revenue_at_risk"].comparison
    page = summary.strip_html(strip).data
    assert "not available: the &lt;selection&gt; has 1 complete period(s)" in page
    assert "<selection>" not in page
    entry = strip.records()[0]
    assert entry["value"] is None and entry["reason"] and set(entry) == KEYS


def test_a_year_earlier_that_is_not_in_the_data_is_said():
    overview = dataclasses.replace(
        OVERVIEW,
        revenue_year_before=None,
        skipped={"revenue_year_before": "the data has no revenue for 2024Q4"},
    )
    revenue = summary.kpi_strip(_found(overview=overview))["revenue"]
    assert revenue.comparison == (
        "+15% vs 2025 Q3, vs a year earlier not available: the data has no revenue for 2024Q4"
    )


def test_the_html_strip_is_escaped_text_in_fixed_markup():
    strip = summary.kpi_strip(_found())
    hostile = dataclasses.replace(strip.kpis[0], label="<b onmouseover=x>Revenue</b>")
    page = summary.strip_html(summary.KpiStrip((hostile, *strip.kpis[1:]), "a & b")).data
    assert "<b onmouseover" not in page and "&lt;b onmouseover=x&gt;" in page
    assert "a &amp; b" in page
    assert page.count('class="kpi kpi-card') == 5
    assert 'class="kpi kpi-card kpi-good"' in page and 'class="kpi kpi-card kpi-bad"' in page
    assert 'class="kpi kpi-card kpi-neutral"' in page


def test_the_summary_records_the_strip_in_its_metrics(tmp_path):
    strip = summary.kpi_strip(_found())
    # the page's other sections read the three studies (the channel fixture is too thin)
    found = {s: r for s, r in _found(chan=None).items() if s in summary.STUDIES}
    written = summary.metrics(found=found, filters={}, source="demo", strip=strip)
    assert written.VERSION == 2
    reporting.write_metrics(tmp_path, written)
    back = schemas.read(tmp_path, schemas.SummaryMetrics)
    assert [k["key"] for k in back.kpis] == list(kpi.LABELS)
    assert back.kpis[0]["comparison"] == "+15% vs 2025 Q3, -8% vs 2024 Q4"


def test_trends_read_the_quarterly_series_and_say_what_is_missing():
    t = summary.quarterly_trends(_found(seg=None))
    assert list(t.series["churn"].index) == ["2025Q3", "2025Q4"]
    assert t.series["cac"].iloc[-1] == 1900.0 and t.currency == "EUR"
    assert "no segmentation metrics were found" in t.series["concentration"].reason
    assert t.sentence.startswith("Churn per quarter went from 12% in 2025 Q3 to 10% in 2025 Q4; ")
    assert "cost per new customer went from 2,100 EUR in 2025 Q3 to 1,900 EUR" in t.sentence
    fig = summary.trends_chart(t)
    axes = fig.axes
    assert [a.get_title() for a in axes] == [p[2] for p in trends.PANELS.values()]
    assert axes[1].get_ylabel() == "paid spend per deal won (EUR)"
    assert all(a.get_xlabel() == "quarter" for a in axes[:2])
    assert "not available" in axes[2].texts[0].get_text()


# --- the quarterly series on the demo data ------------------------------------------------------


def test_complete_quarters_end_on_or_before_the_analysis_date():
    assert list(map(str, quarterly.complete_quarters(pd.Timestamp("2025-12-31"), 2))) == [
        "2025Q3",
        "2025Q4",
    ]
    assert str(quarterly.complete_quarters(pd.Timestamp("2025-12-30"), 1)[0]) == "2025Q3"


def _cut(ds, day: pd.Timestamp):
    """The demo's orders, leads (stages after ``day`` unknown) and spend as known on ``day``."""
    orders = ds["orders"][ds["orders"]["order_date"] <= day]
    leads = ds["leads"][ds["leads"]["created_date"] <= day].copy()
    for column in [c for c in leads.columns if c.endswith("_date")]:
        leads[column] = leads[column].where(leads[column] <= day)
    spend = ds["channel_spend"][ds["channel_spend"]["month"] <= day]
    return orders, leads, spend


def test_a_quarter_uses_no_data_after_its_end(demo):
    """Each series' 2024 Q4 is the same computed at the end of 2025 or from the data known on
    31 Dec 2024 (a quarter that used later orders, deals or spend would differ)."""
    as_of, day = demo.analysis_date, pd.Timestamp("2024-12-31")
    orders, leads, spend = _cut(demo, day)
    channel = leads["source_channel"].astype(object)
    full_channel = demo["leads"]["source_channel"].astype(object)
    pairs = [
        (
            quarterly.churn_by_quarter(demo["orders"], 180, as_of),
            quarterly.churn_by_quarter(orders, 180, day),
        ),
        (
            quarterly.cac_by_quarter(demo["leads"], demo["channel_spend"], full_channel, as_of),
            quarterly.cac_by_quarter(leads, spend, channel, day),
        ),
        (
            quarterly.top_share_by_quarter(demo["orders"], as_of),
            quarterly.top_share_by_quarter(orders, day),
        ),
    ]
    for full, known in pairs:
        assert list(full)[-1] == "2025Q4" and list(known)[-1] == "2024Q4"
        assert full["2024Q4"] == pytest.approx(known["2024Q4"], rel=1e-12)
        assert full["2024Q3"] == pytest.approx(known["2024Q3"], rel=1e-12)


def _top_share_by_quarter_before(orders, as_of, top=0.20, n=quarterly.QUARTERS):
    """top_share_by_quarter as it was (grouping by quarter and account id text): oracle."""
    lines = orders[orders["status"].isin(["completed", "returned"])]
    lines = lines[lines["order_date"] <= pd.Timestamp(as_of)]
    quarter = lines["order_date"].dt.to_period("Q")
    revenue = lines.groupby([quarter, lines["account_id"]])["net_amount"].sum()
    out = {}
    for q in quarterly.complete_quarters(as_of, n):
        if q not in revenue.index.get_level_values(0):
            continue
        r = np.sort(revenue.loc[q].clip(lower=0).to_numpy())[::-1]
        if len(r) < 2 or r.sum() <= 0:
            continue
        out[str(q)] = float(r[: int(np.ceil(top * len(r)))].sum() / r.sum())
    return out


@pytest.mark.parametrize("dtype", [object, "str"])  # Python strings, or Arrow text as loaded
def test_top_share_by_quarter_equals_grouping_by_account_text(demo, dtype):
    rng = np.random.default_rng(5)
    orders = demo["orders"].copy()
    orders.loc[rng.random(len(orders)) < 0.02, "account_id"] = None
    orders.loc[rng.random(len(orders)) < 0.01, "status"] = None
    orders.loc[rng.random(len(orders)) < 0.01, "net_amount"] = np.nan
    orders = orders.astype({"account_id": dtype, "status": dtype})
    as_of = demo.analysis_date
    got = quarterly.top_share_by_quarter(orders, as_of)  # summed in the engine: to the last bits
    want = _top_share_by_quarter_before(orders, as_of)
    assert list(got) == list(want) and len(got) == 8
    assert got == pytest.approx(want, rel=1e-9)
    half = _top_share_by_quarter_before(orders, as_of, top=0.5, n=3)
    assert quarterly.top_share_by_quarter(orders, as_of, top=0.5, n=3) == pytest.approx(
        half, rel=1e-9
    )


def test_quarterly_churn_counts_an_account_in_the_quarter_its_silence_reached_the_threshold():
    orders = pd.DataFrame(
        {
            "account_id": ["a", "a", "b", "c"],
            "order_date": pd.to_datetime(["2025-01-15", "2025-03-01", "2025-03-20", "2025-07-10"]),
            "status": "completed",
        }
    )
    # threshold 100 days: a's silence from 1 Mar reaches it on 9 Jun (2025 Q2); b's from 20 Mar
    # on 28 Jun (Q2); c first bought in Q3, after the start of Q3
    series = quarterly.churn_by_quarter(orders, 100, pd.Timestamp("2025-09-30"), n=2)
    assert series == {"2025Q2": 1.0}  # a and b active on 1 Apr, both churned; none on 1 Jul


def _churn_by_quarter_by_text(orders, threshold_days, as_of, n=quarterly.QUARTERS):
    """The pandas group-bys on the id texts quarterly.churn_by_quarter replaced (the oracle)."""
    done = orders.loc[orders["status"] == "completed", ["account_id", "order_date"]]
    days = done.assign(day=done["order_date"].dt.normalize())[["account_id", "day"]]
    days = days[days["day"] <= pd.Timestamp(as_of)].drop_duplicates()
    days = days.sort_values(["account_id", "day"])
    threshold = pd.Timedelta(days=int(threshold_days))
    nxt = days.groupby("account_id")["day"].shift(-1)
    reached = (days["day"] + threshold).where(nxt.isna() | (nxt - days["day"] > threshold))
    days = days.assign(reached=reached)
    out = {}
    for quarter in quarterly.complete_quarters(as_of, n):
        start, end = quarter.start_time.normalize(), quarter.end_time.normalize()
        last = days[days["day"] <= start].groupby("account_id")["day"].max()
        active = last.index[start - last < threshold]
        if len(active):
            mine = days[days["account_id"].isin(active)]
            moments = mine["reached"]
            churned = mine.loc[(moments > start) & (moments <= end), "account_id"].nunique()
            out[str(quarter)] = churned / len(active)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_quarterly_churn_on_codes_equals_the_group_bys_on_texts(seed):
    """Random order logs with repeat days, cancelled lines, missing dates and account ids, and
    orders after the analysis date: the same shares, to the bit, for several thresholds."""
    rng = np.random.default_rng(seed)
    n = 3000
    days = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 1500, n), unit="D")
    orders = pd.DataFrame(
        {
            "account_id": rng.choice([f"A{i:03d}" for i in range(120)] + [None], n),
            "order_date": days + pd.to_timedelta(rng.integers(0, 86_400, n), unit="s"),
            "status": rng.choice(["completed", "completed", "cancelled"], n),
        }
    )
    orders.loc[rng.choice(n, 20, replace=False), "order_date"] = pd.NaT
    as_of = pd.Timestamp("2025-09-30")
    # the loaded data's Arrow text ids too (factorized in Arrow, then cut to the kept lines)
    arrow = orders.astype({"account_id": pd.StringDtype("pyarrow", na_value=np.nan)})
    for threshold in (30, 90, 180, 365):
        expected = _churn_by_quarter_by_text(orders, threshold, as_of)
        assert expected, "the oracle must have quarters to compare"
        assert quarterly.churn_by_quarter(orders, threshold, as_of) == expected
        assert quarterly.churn_by_quarter(arrow, threshold, as_of) == expected


def test_quarterly_churn_on_the_demo_equals_the_group_bys_on_texts(demo):
    for threshold in (90, 180):
        got = quarterly.churn_by_quarter(demo["orders"], threshold, demo.analysis_date)
        assert got == _churn_by_quarter_by_text(demo["orders"], threshold, demo.analysis_date)


# --- notebook 90 on the demo: in test_browser.py, on the study runs of its default batch ----------


def nbval_summary(studies: Path, tmp_path: Path, **parameters) -> subprocess.CompletedProcess:
    """Notebook 90 on the study runs in ``studies`` with ``parameters`` injected, run under
    nbval (a failing cell fails)."""
    prepared = tmp_path / "90-leadership-summary.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOKS / "90-leadership-summary.ipynb"),
        str(prepared),
        parameters={"METRICS_DIR": str(studies), "OUTPUT_DIR": str(tmp_path / "out"), **parameters},
        prepare_only=True,
        kernel_name=KERNEL,
    )
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--nbval-lax",
            "--nbval-kernel-name",
            KERNEL,
            str(prepared),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
