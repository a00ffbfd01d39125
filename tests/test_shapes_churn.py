"""Notebook 02 on the data shapes companies have (issue #12): an order log alone, subscription
billing, small and odd, one account. Every code cell runs top to bottom (in this process, the
shapes of ``test_shapes_overview_segmentation``); what the data cannot feed says so in one
sentence and its metrics field is null with the reason; no bare ``nan`` or ``inf`` is shown."""

from __future__ import annotations

import re

import pytest
from test_shapes_overview_segmentation import dataset, run_notebook

FAST = {"N_BOOT": 20}
EXPECTED = {
    "order_log": (
        FAST,
        ["The Cox model is not available: ", "no acquisition dates"],
        {"cox_concordance": "", "revenue_at_risk": ""},
    ),
    "subscription": (
        {**FAST, "COVARIATES": ["industry", "acquisition_channel"]},
        ["were customers before the export began", "delayed entry"],
        {},
    ),
    "small_odd": (
        FAST,
        ["The Cox model is not available: ", "The back-test is not available: "],
        {"backtest": ""},
    ),
    "one_account": (FAST, ["The Cox model is not available: only"], {"cox_concordance": "only"}),
}


@pytest.mark.notebook
@pytest.mark.parametrize("shape", list(EXPECTED))
def test_churn_notebook_runs_to_the_end_on_every_shape(shape, tmp_path, monkeypatch):
    parameters, sentences, nulls = EXPECTED[shape]
    text, metrics = run_notebook(
        "02-churn-survival", dataset(shape), tmp_path, monkeypatch, parameters
    )
    for sentence in sentences:
        assert sentence in text, sentence
    for field, reason in nulls.items():
        assert metrics[field] is None and reason in metrics["skipped"][field], field
    assert set(metrics["skipped"]) <= {k for k, v in metrics.items() if v is None}
    assert not re.search(r"\b(nan|inf)\b", text, flags=re.IGNORECASE)
