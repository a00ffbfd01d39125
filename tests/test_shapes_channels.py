"""Notebook 03 (channel economics) and notebook 90 (leadership summary) on the data shapes
companies actually have (issue #12).

Notebook 03 runs top to bottom, in this process, on (3) a lead funnel only: leads with a
creation and a won date, no intermediate stage dates, no lost dates, some empty source
channels, won leads linked to accounts, no orders and no spend; (4) the one-channel CRM export
of a direct sales team (opportunities engaged, won or lost, one source channel); and the demo
company without its spend table. Notebook 90 then summarises the study runs made on each
shape (1-5: the order log, subscription billing, the lead funnel, small and odd, one account,
the CRM case, and the European ERP export loaded from its files). What the data cannot feed says so in one sentence, its metrics field is ``null`` with
the reason, and no displayed text (sentences, tables rendered as HTML) shows a bare ``nan`` or
``inf``.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixtures.exports import shapes
from test_shapes_overview_segmentation import AS_OF, SHAPES, dataset, run_notebook

from helpers.contract import TABLES
from helpers.loading import Dataset, load_dataset
from helpers.loading.clean import complete_columns

#: Small resampling so a run takes seconds.
FAST = {"N_BOOT": 20, "N_REFITS": 5}


# --- the shapes -----------------------------------------------------------------------------------


def lead_funnel_accounts(n: int = 300, seed: int = 3) -> dict[str, pd.DataFrame]:
    """Shape 3: the lead funnel of ``SHAPES["lead_funnel"]`` (creation and won dates only,
    some empty source channels) with an accounts table for the won leads; no orders, no
    spend, no touchpoints."""
    leads = SHAPES["lead_funnel"](n=n, seed=seed)["leads"]
    won = leads.dropna(subset=["account_id"])
    accounts = pd.DataFrame(
        {
            "account_id": won["account_id"].to_numpy(),
            "account_name": won["account_id"].to_numpy(),
            "acquisition_channel": won["source_channel"].fillna("unknown").to_numpy(),
            "acquired_date": won["won_date"].to_numpy(),
        }
    )
    return {"leads": leads, "accounts": accounts}


def direct_sales(n: int = 120, seed: int = 5) -> dict[str, pd.DataFrame]:
    """Shape 4, the CRM case: the opportunities of a direct sales team over nine months, one
    source channel; each engaged (the intent stage) or not, then won, lost or still open."""
    rng = np.random.default_rng(seed)
    created = AS_OF - pd.to_timedelta(rng.integers(5, 270, n), unit="D")
    engaged = rng.random(n) < 0.7
    outcome = rng.choice(["won", "lost", "open"], n, p=[0.3, 0.5, 0.2])
    closed = created + pd.to_timedelta(rng.integers(10, 90, n), unit="D")
    closed = closed.where(closed <= AS_OF, AS_OF)

    def dated(mask: np.ndarray, dates: pd.DatetimeIndex) -> pd.Series:
        return pd.Series(dates).where(mask)

    return {
        "leads": pd.DataFrame(
            {
                "lead_id": [f"OPP{i:04d}" for i in range(n)],
                "source_channel": "direct_sales",
                "created_date": created,
                "intent_date": dated(engaged, created + pd.Timedelta(days=3)),
                "won_date": dated(engaged & (outcome == "won"), closed),
                "lost_date": dated(~engaged | (outcome == "lost"), closed),
            }
        )
    }


def lead_funnel_with_spend() -> dict[str, pd.DataFrame]:
    """Shape 3 with a monthly spend export for its two paid channels, and its empty source
    channels filled with ``unknown`` as the own-data YAML's ``fill`` does; still no orders."""
    tables = lead_funnel_accounts()
    tables["leads"]["source_channel"] = tables["leads"]["source_channel"].fillna("unknown")
    months = pd.date_range(AS_OF - pd.DateOffset(months=36), AS_OF, freq="MS")
    tables["channel_spend"] = pd.DataFrame(
        [
            {"channel": ch, "month": m, "spend": 800.0 + 50.0 * (i % 7)}
            for ch in ("web", "fair")
            for i, m in enumerate(months)
        ]
    )
    return tables


CHANNEL_SHAPES = {
    "lead_funnel": lead_funnel_accounts,
    "direct_sales": direct_sales,
    "lead_funnel_with_spend": lead_funnel_with_spend,
}


def channel_dataset(name: str) -> Dataset:
    """A channel shape's tables completed to the contract, as a loaded data set."""
    tables = {k: complete_columns(v.copy(), TABLES[k]) for k, v in CHANNEL_SHAPES[name]().items()}
    return Dataset(tables=tables, source=f"shape {name}", analysis_date=AS_OF, fingerprint="x")


def demo_without_spend() -> Dataset:
    """The demo company as if it exported no channel spend."""
    ds = load_dataset("demo")
    return dataclasses.replace(
        ds, tables={k: v for k, v in ds.tables.items() if k != "channel_spend"}
    )


def _clean(text: str) -> None:
    """No bare nan or inf anywhere in what the notebook showed."""
    assert not re.search(r"\b(nan|inf)\b", text, flags=re.IGNORECASE), re.search(
        r".{0,80}\b(nan|inf)\b.{0,80}", text, flags=re.IGNORECASE | re.DOTALL
    ).group(0)


# --- notebook 03 -----------------------------------------------------------------------------------

NO_SPEND = "the data has no channel_spend table"
NO_TOUCHES = "the data has no touchpoints table"
NO_ORDERS = "the data has no orders table"

#: Per case: sentences the run must show, and metrics fields that must be null with a reason
#: containing the given words.
NO_LEADS = "the data has no leads table"
EXPECTED = {
    "lead_funnel": (
        [
            f"Spend and cost per channel is not available: {NO_SPEND}",
            "The data dates no negotiation: mature leads from",
            "count as reached because a later stage is dated",
            "The data has no lost dates: time to decision is time to won",
            "not reached",
            f"Attribution is not available: {NO_TOUCHES}",
            f"Lifetime value by channel is not available: {NO_ORDERS}",
        ],
        {
            "costs": NO_SPEND,
            "quadrant": NO_SPEND,
            "elasticity": NO_SPEND,
            "attribution": NO_TOUCHES,
            "ltv_cac": NO_ORDERS,
        },
    ),
    "direct_sales": (
        [
            f"Spend and cost per channel is not available: {NO_SPEND}",
            "Median time to decision: ",
            "Rates count leads at least 89 days old (a third of the 269-day lead history)",
            "mature leads from Direct sales are won (",
            f"Attribution is not available: {NO_TOUCHES}",
        ],
        {"costs": NO_SPEND, "attribution": NO_TOUCHES, "ltv_cac": NO_ORDERS},
    ),
    "lead_funnel_with_spend": (
        ["Reporting period: the 48 months to 31 Dec 2025, 300 leads; ", "The data dates no"],
        {"ltv_cac": NO_ORDERS},
    ),
    "order_log": (
        ["The channel study is not available: the data has no leads table"],
        {f: NO_LEADS for f in ("costs", "attribution", "ltv_cac", "spend_allocation")},
    ),
    "demo_without_spend": (
        [
            f"no costs: {NO_SPEND}",
            f"Spend and cost per channel is not available: {NO_SPEND}",
            f"Spend per attributed conversion is not available: {NO_SPEND}",
            f"LTV:CAC is not available: {NO_SPEND}",
            "Median time to decision ranges from",
        ],
        {"costs": NO_SPEND, "quadrant": NO_SPEND, "elasticity": NO_SPEND, "ltv_cac": NO_SPEND},
    ),
}


def _case(name: str) -> Dataset:
    if name == "order_log":  # no question for the channel study: it must still end cleanly
        return dataset(name)
    return demo_without_spend() if name == "demo_without_spend" else channel_dataset(name)


@pytest.mark.filterwarnings("ignore:.*counted as reached")
@pytest.mark.parametrize("case", list(EXPECTED))
def test_channel_notebook_runs_to_the_end(case, tmp_path, monkeypatch):
    text, metrics = run_notebook("03-channel-economics", _case(case), tmp_path, monkeypatch, FAST)
    sentences, nulls = EXPECTED[case]
    for sentence in sentences:
        assert sentence in text, sentence
    for field, reason in nulls.items():
        assert metrics[field] is None and reason in metrics["skipped"][field], field
    # every null field has its reason, except the currency: null when the source names none
    nulls_found = {k for k, v in metrics.items() if v is None} - {"currency"}
    assert set(metrics["skipped"]) == nulls_found
    assert " 0 per " not in text  # no cost shown as 0 without spend
    _clean(text)
    if case == "lead_funnel_with_spend":  # costs need no orders
        assert metrics["costs"] and "costs" not in metrics["skipped"]
    if case == "demo_without_spend":  # what needs no spend keeps its numbers
        assert metrics["attribution"] and metrics["attributed_revenue"]


# --- notebook 90 on the study runs of each shape ---------------------------------------------------

#: The studies the leadership page summarises, run on each shape: every one that has a
#: question for it (issue #12), the churn study on two shapes only (it is the slow one, and
#: its shapes have their own file).
STUDY_RUNS = {
    "order_log": ("01-customer-segmentation",),
    "subscription": ("01-customer-segmentation",),
    "lead_funnel": ("01-customer-segmentation", "03-channel-economics"),
    "small_odd": ("01-customer-segmentation",),
    "one_account": ("01-customer-segmentation", "02-churn-survival"),
    "direct_sales": ("03-channel-economics",),
    "european_erp": ("00-data-overview", "01-customer-segmentation"),
}
STUDIES = {
    "segmentation": "01-customer-segmentation",
    "churn": "02-churn-survival",
    "channels": "03-channel-economics",
}
#: Per shape, notes the page must carry from the studies' skipped sections.
SUMMARY_NOTES = {
    "lead_funnel": [
        f"From the channels study, costs, cost quadrant, elasticity, cost per new customer of "
        f"paid channels and cost per new customer by quarter are not available: {NO_SPEND}"
    ],
    "direct_sales": [f"From the channels study, LTV:CAC is not available: {NO_ORDERS}"],
}


def _erp_export(folder: Path) -> Dataset:
    """Shape 5: the European ERP export of ``tests/fixtures/exports/shapes.py`` (``;``, decimal
    commas, cp1252, title rows, a total row, Excel dates, time-zone stamps), loaded."""
    return load_dataset(shapes.write_shape5(folder))


def _shape(name: str, folder: Path) -> Dataset:
    if name == "european_erp":
        return _erp_export(folder)
    return channel_dataset(name) if name in CHANNEL_SHAPES else dataset(name)


@pytest.mark.filterwarnings("ignore:.*counted as reached")
@pytest.mark.parametrize("shape", list(STUDY_RUNS))
def test_leadership_summary_runs_on_the_study_runs_of_each_shape(shape, tmp_path, monkeypatch):
    # the runner sets DATA_SOURCE="shape" in every notebook: the runs record that source
    (tmp_path / "export").mkdir()
    ds = dataclasses.replace(_shape(shape, tmp_path / "export"), source="shape")
    for notebook in STUDY_RUNS[shape]:
        with monkeypatch.context() as patch:
            run_notebook(notebook, ds, tmp_path / "runs" / notebook, patch, FAST)
    text, metrics = run_notebook(
        "90-leadership-summary",
        ds,
        tmp_path / "summary",
        monkeypatch,
        {"METRICS_DIR": str(tmp_path / "runs")},
    )
    assert metrics["source"] == "shape"
    for study, notebook in STUDIES.items():
        ran = notebook in STUDY_RUNS[shape]
        assert metrics["sources"][study]["run"] == (notebook if ran else "not found"), study
        missing = f"No {study} metrics found (notebook {notebook} has not run on this selection)"
        assert (missing in text) is not ran, study
    for note in SUMMARY_NOTES.get(shape, []):
        assert any(note in n for n in metrics["notes"]) and note in text
    assert set(metrics.get("skipped", {})) <= {k for k, v in metrics.items() if v is None}
    _clean(text)


# --- a failing lifetime-value fit --------------------------------------------------------------


def test_a_failing_lifetime_value_fit_is_a_skipped_step_not_a_traceback(monkeypatch):
    from helpers import payback, survival
    from helpers.steps import Skipped

    def fails(*args, **kwargs):
        raise ValueError("matrix is singular")

    monkeypatch.setattr(survival, "churn_model", fails)
    ltv = payback.lifetime_values(dataset("small_odd"), AS_OF, n_refits=0)
    assert isinstance(ltv, Skipped) and "matrix is singular" in ltv.sentence()
