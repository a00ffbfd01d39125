"""reports/index.html: every batch and run with links; everything from runs.json escaped."""

from __future__ import annotations

from helpers.runner.index import index_html

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
    assert '<a href="by-region/01-seg--filters-region-north/report.html">report</a>' in html
    assert (
        '<a href="by-region/02-churn/notebook.html#papermill-error-cell">failing cell</a>' in html
    )
    assert "<code>FILTERS={&quot;region&quot;: &quot;north&quot;}</code>" in html
    assert "OUTPUT_DIR" not in html  # set by the batch: not a choice worth showing
    assert "<em>defaults</em>" in html  # the failed run has no parameters of its own
    assert "12.3 s" in html and "abc123" in html and "0123456789ab" in html


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
