"""reports/index.html: every batch and run with links; everything from runs.json escaped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.runner.index import human_duration, human_time, index_html

OK = {
    "name": "01-seg--filters-region-north",
    "status": "ok",
    "started": "2026-01-05T10:00:00",
    "duration_s": 12.34,
    "parameters": {"FILTERS": {"region": "north"}, "OUTPUT_DIR": "/tmp/x"},
    "data_fingerprint": "abc123",
    "code_version": "0123456789ab",
    "files": {"report": "report.html", "notebook": "notebook.ipynb"},
}
FAILED = {
    "name": "02-churn",
    "status": "failed",
    "error": "ValueError: <b>bad</b> data\nTraceback line",
    "parameters": {},
    "files": {"analyst": "notebook.html#papermill-error-cell"},
}


def test_a_batch_lists_its_runs_with_links_status_and_parameters():
    html = index_html(batches=[{"batch": "by-region", "runs": [OK, FAILED]}])
    assert "Batch <code>by-region</code>: 2 runs, <span class='failed'>1 failed</span>" in html
    assert (
        '<a class="title" href="by-region/01-seg--filters-region-north/report.html">'
        "01-seg--filters-region-north</a>" in html  # no reports folder given: the run's name
    )
    assert '<a href="by-region/01-seg--filters-region-north/notebook.ipynb">notebook</a>' in html
    assert (
        '<a href="by-region/02-churn/notebook.html#papermill-error-cell">failing cell</a>' in html
    )
    assert "<code>FILTERS={&quot;region&quot;: &quot;north&quot;}</code>" in html
    assert "OUTPUT_DIR" not in html  # set by the batch: not a choice worth showing
    assert "<em>defaults</em>" in html  # the failed run has no parameters of its own
    assert "5 Jan 2026 10:00" in html and "12 s" in html
    assert "abc123" in html and "0123456789ab" in html


def test_errors_show_their_first_line_escaped():
    html = index_html(batches=[{"batch": "b", "runs": [FAILED]}])
    assert "ValueError: &lt;b&gt;bad&lt;/b&gt; data" in html
    assert "<b>bad</b>" not in html and "Traceback line" not in html


def test_names_from_runs_json_are_escaped():
    run = {**OK, "name": "<script>x</script>"}
    html = index_html(batches=[{"batch": "<i>b</i>", "runs": [run]}])
    assert "<script>x" not in html and "<i>b</i>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html


def test_no_batches_says_how_to_make_them():
    assert "No runs yet: <code>make reports</code> builds them." in index_html(batches=[])


SUMMARY = {
    "name": "90-leadership-summary",
    "notebook": "90-leadership-summary",
    "status": "ok",
    "started": "2026-11-28T10:31:00",
    "duration_s": 72.2,
    "parameters": {"DATA_SOURCE": "demo"},
    "files": {"report": "report.html", "notebook": "notebook.ipynb"},
}


def _run_folder(root: Path, batch: str, run: str, title: str, metrics: dict, *extra: str) -> None:
    folder = root / batch / run
    folder.mkdir(parents=True)
    (folder / "report.html").write_text(f"<html><head><title>{title}</title></head></html>")
    (folder / "metrics.json").write_text(json.dumps(metrics))
    for name in extra:
        (folder / name).write_text("x")


@pytest.fixture()
def reports(tmp_path: Path) -> Path:
    """A reports folder: a default batch (a churn study with its CSV list and a summary with
    its PDF) and a by-region batch with a comparison page."""
    _run_folder(
        tmp_path,
        "default",
        "02-churn",
        "Churn survival: who will leave?",
        {"analysis_date": "2025-12-31"},
        "prechurn.csv",
    )
    sources = {s: {"analysis date": "2025-12-31"} for s in ("churn", "channels")}
    _run_folder(
        tmp_path,
        "default",
        "90-leadership-summary",
        "Leadership &amp; summary",
        {"sources": sources},
        "summary.pdf",
    )
    (tmp_path / "by-region").mkdir()
    (tmp_path / "by-region" / "comparison.html").write_text("<html></html>")
    return tmp_path


def _batches() -> list[dict]:
    churn = {**OK, "name": "02-churn", "notebook": "02-churn-survival"}
    slice_summary = {
        **SUMMARY,
        "started": "2026-11-29T09:00:00",
        "parameters": {"FILTERS": {"region": "north"}},
    }
    return [
        {"batch": "by-region", "runs": [slice_summary]},
        {"batch": "default", "runs": [churn, SUMMARY]},
    ]


def test_the_index_starts_with_the_whole_companys_latest_summary_and_the_comparison(reports):
    html = index_html(batches=_batches(), reports_dir=reports)
    start = html[html.index("Start here") : html.index("Batch <code>")]
    # the whole company's summary comes first even though a slice's summary ran later
    assert (
        '<a class="title" href="default/90-leadership-summary/report.html">'
        "Leadership &amp; summary</a> (the whole company, data as of 31 Dec 2025" in start
    )
    assert '<a href="default/90-leadership-summary/summary.pdf">PDF for e-mail</a>' in start
    assert '<a class="title" href="by-region/comparison.html">Slices side by side</a>' in start


def test_runs_show_report_titles_as_of_dates_and_their_lists(reports):
    html = index_html(batches=_batches(), reports_dir=reports)
    assert (
        '<a class="title" href="default/02-churn/report.html">'
        "Churn survival: who will leave?</a>" in html
    )
    assert "<td>31 Dec 2025</td>" in html  # the data's date, read from metrics.json
    assert '<a href="default/02-churn/prechurn.csv">prechurn.csv</a>' in html
    assert "1 min 12 s" in html and "28 Nov 2026 10:31" in html


def test_without_a_comparison_page_or_pdf_nothing_links_them(tmp_path):
    html = index_html(batches=_batches(), reports_dir=tmp_path)  # an empty reports folder
    assert "comparison.html" not in html and "summary.pdf" not in html
    assert "Start here" in html  # a summary that ran still comes first


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (12.4, "12 s"), (60, "1 min"), (72.2, "1 min 12 s"), (3900, "1 h 5 min")],
)
def test_human_duration(seconds, text):
    assert human_duration(seconds=seconds) == text


def test_human_time():
    assert human_time(stamp="2026-11-28T10:31:05") == "28 Nov 2026 10:31"
    assert human_time(stamp="") == "" and human_time(stamp=None) == ""
