"""The comparison page of a batch's slices: one row per leadership summary, KPIs side by side,
each row linking its summary; missing values and old summaries said in words; all escaped."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from helpers.runner.compare import comparison_html, kpi_cell, summary_rows, write_comparison

KPIS = json.loads((Path(__file__).parent / "fixtures" / "compare" / "kpis.json").read_text())
SOURCES = {"churn": {"analysis date": "2025-12-31", "run": "02-churn"}}


def _summary(batch: Path, name: str, filters: dict, kpis: list | None) -> dict:
    """A summary run's folder with its metrics.json (``kpis`` left out when None) and record."""
    folder = batch / name
    folder.mkdir(parents=True)
    metrics = {"schema": "summary", "filters": filters, "sources": SOURCES}
    if kpis is not None:
        metrics |= {"schema_version": 2, "kpis": kpis}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "report.html").write_text("<html></html>")
    return {
        "name": name,
        "notebook": "90-leadership-summary",
        "status": "ok",
        "parameters": {"FILTERS": filters},
        "files": {"report": "report.html", "notebook": "notebook.ipynb"},
    }


@pytest.fixture()
def batch(tmp_path: Path) -> Path:
    """A by-region batch: north (every KPI), south (retention missing with a reason, no CAC),
    west (written before the KPI strip), a failed summary and a study run (both ignored)."""
    batch = tmp_path / "by-region"
    runs = [
        _summary(batch, "90-summary--north", {"region": "north"}, KPIS["north"]),
        _summary(batch, "90-summary--south", {"region": "south"}, KPIS["south"]),
        _summary(batch, "90-summary--west", {"region": "west <b>"}, None),
        {"name": "90-summary--east", "notebook": "90-leadership-summary", "status": "failed"},
        {"name": "02-churn--north", "notebook": "02-churn-survival", "status": "ok"},
    ]
    (batch / "runs.json").write_text(json.dumps({"batch": "by-region", "runs": runs}))
    return batch


def _rows(page: str) -> list[str]:
    return re.findall(r"<tr><td>.*?</tr>", page, re.DOTALL)


def test_one_row_per_slice_with_its_kpis_side_by_side_linking_its_summary(batch):
    page = write_comparison(batch_dir=batch).read_text()
    assert re.findall(r"<th>([^<]*)</th>", page) == [
        "slice",
        "data as of",
        "Revenue",
        "Account retention",
        "CAC",
    ]
    north, south, west = _rows(page)
    assert "<a href='90-summary--north/report.html'>region north</a>" in north
    assert "<td>31 Dec 2025</td>" in north
    assert re.findall(r"<div class='value'>([^<]*)</div>", north) == [
        "EUR 3.5M",
        "77%",
        "EUR 2,100",
    ]
    assert "2025 Q4 &middot; +6% vs 2025 Q3" in north  # period and comparison under the value
    assert "kpi-cell good" in north and "kpi-cell bad" in north
    assert "region south" in south and "region west &lt;b&gt;" in west
    assert "href='../index.html'" in page  # back to the index


def test_a_missing_value_says_why_and_an_absent_kpi_says_so(batch):
    south = _rows(write_comparison(batch_dir=batch).read_text())[1]
    assert (
        "not available: fewer than 30 accounts bought in 2025 Q3 &lt;sic&gt;" in south
    )  # the reason, escaped
    assert "not available: not in this slice’s summary" in south  # CAC: not in its strip


def test_a_summary_without_a_kpi_strip_must_be_rerun(batch):
    west = _rows(write_comparison(batch_dir=batch).read_text())[2]
    assert "colspan='3'" in west
    assert "rerun notebook 90-leadership-summary with this code" in west


def test_failed_summaries_and_study_runs_are_not_rows(batch):
    assert [r["run"] for r in summary_rows(batch_dir=batch)] == [
        "90-summary--north",
        "90-summary--south",
        "90-summary--west",
    ]


def test_no_page_for_a_batch_with_a_single_summary(tmp_path):
    batch = tmp_path / "default"
    runs = [_summary(batch, "90-leadership-summary", {}, KPIS["north"])]
    (batch / "runs.json").write_text(json.dumps({"batch": "default", "runs": runs}))
    assert write_comparison(batch_dir=batch) is None
    assert not (batch / "comparison.html").exists()


def test_everything_from_the_data_is_escaped():
    entry = {
        "key": "k",
        "label": "<script>x</script>",
        "value": 1,
        "text": "<img src=x onerror=alert(1)>",
        "period": "<i>p</i>",
        "comparison": "",
        "status": "good' onmouseover='x",
        "reason": "",
    }
    row = {
        "run": "r",
        "slice": "<s>",
        "report": "r'><script>/report.html",
        "as_of": "",
        "kpis": [entry],
    }
    page = comparison_html(batch="<b>", rows=[row])
    assert "<script>" not in page and "<img" not in page and "<i>p" not in page
    assert "onmouseover" not in kpi_cell(entry=entry)  # an unknown status is neutral
    assert "&lt;script&gt;x&lt;/script&gt;" in page


def test_after_a_batch_the_comparison_page_is_written_and_the_index_links_it(batch, monkeypatch):
    from helpers.runner.batch import pages

    monkeypatch.setenv("B2B_PDF", "0")  # no PDF here: tests/test_pdf.py prints one
    lines = pages(batch_dir=batch, reports_dir=batch.parent)
    assert lines == [f"comparison of slices: {batch / 'comparison.html'}"]
    index = (batch.parent / "index.html").read_text()
    assert '<a class="title" href="by-region/comparison.html">Slices side by side</a>' in index
