"""Notebook 02 on the data shapes companies have (issue #12): an order log alone, subscription
billing, small and odd, one account. Every code cell runs top to bottom (the order log through
papermill from an own-data YAML, as a company would run it; the other shapes in this process,
the shapes of ``test_shapes_overview_segmentation``); what the data cannot feed says so in one
sentence and its metrics field is null with the reason; no bare ``nan`` or ``inf`` is shown."""

from __future__ import annotations

import json
import re

import pytest
from test_shapes_overview_segmentation import NOTEBOOKS, dataset, run_notebook, write_source

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


#: The shape run through papermill from its own-data YAML (the others run in this process).
PAPERMILL_SHAPE = "order_log"


@pytest.mark.notebook
@pytest.mark.parametrize("shape", list(EXPECTED))
def test_churn_notebook_runs_to_the_end_on_every_shape(shape, tmp_path, monkeypatch):
    parameters, sentences, nulls = EXPECTED[shape]
    if shape == PAPERMILL_SHAPE:
        text, metrics = _papermill_run(shape, tmp_path, parameters)
    else:
        text, metrics = run_notebook(
            "02-churn-survival", dataset(shape), tmp_path, monkeypatch, parameters
        )
    for sentence in sentences:
        assert sentence in text, sentence
    for field, reason in nulls.items():
        assert metrics[field] is None and reason in metrics["skipped"][field], field
    assert set(metrics["skipped"]) <= {k for k, v in metrics.items() if v is None}
    assert not re.search(r"\b(nan|inf)\b", text, flags=re.IGNORECASE)


def _papermill_run(shape: str, folder, parameters: dict) -> tuple[str, dict]:
    """Notebook 02 executed by papermill on the shape's own-data YAML: what its outputs show
    (Markdown and plain text) and the metrics it wrote."""
    import nbformat
    import papermill

    source = write_source(shape, folder)
    out, executed = folder / "out", folder / "02-churn-survival.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOKS / "02-churn-survival.ipynb"),
        str(executed),
        parameters={"DATA_SOURCE": str(source), "OUTPUT_DIR": str(out), **parameters},
        kernel_name="b2b-insights",
        cwd=str(NOTEBOOKS),
        progress_bar=False,
    )
    shown = [
        str(output.get("data", {}).get(kind, ""))
        for cell in nbformat.read(executed, as_version=4).cells
        for output in cell.get("outputs", [])
        for kind in ("text/markdown", "text/plain")
    ]
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["source"] == str(source)  # the YAML path, not an in-process stand-in
    return "\n".join(shown), metrics
