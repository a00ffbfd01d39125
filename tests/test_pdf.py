"""The leadership summary printed to PDF by headless Chromium: which runs, what file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from helpers.runner import pdf


def _batch(tmp_path: Path) -> Path:
    """A batch folder with a summary that ran ok, a failed summary and a study run."""
    batch = tmp_path / "default"
    runs = []
    for name, notebook, status in [
        ("90-leadership-summary", "90-leadership-summary", "ok"),
        ("90-leadership-summary--filters-region-north", "90-leadership-summary", "failed"),
        ("02-churn-survival", "02-churn-survival", "ok"),
    ]:
        (batch / name).mkdir(parents=True)
        (batch / name / "report.html").write_text(
            "<html><head><title>Leadership summary</title></head><body><h1>Hello</h1></body></html>"
        )
        files = {"report": "report.html"} if status == "ok" else {}
        runs.append({"name": name, "notebook": notebook, "status": status, "files": files})
    (batch / "runs.json").write_text(json.dumps({"batch": "default", "runs": runs}))
    return batch


@pytest.fixture()
def browser() -> str:
    found = pdf.chromium()
    if found is None:
        message = "Chromium not found (Debian package 'chromium')"
        if os.environ.get("B2B_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return found


def test_only_summaries_that_ran_ok_are_printed_beside_their_report(tmp_path, browser):
    batch = _batch(tmp_path)
    written = pdf.write_summary_pdfs(batch_dir=batch, browser=browser)
    assert written == [batch / "90-leadership-summary" / "summary.pdf"]
    data = written[0].read_bytes()
    assert data.startswith(b"%PDF-") and b"/Title (Leadership summary)" in data
    assert not list(batch.rglob(".summary.pdf.*"))  # no temporary file left


def test_a_browser_that_prints_nothing_is_an_error_and_leaves_no_file(tmp_path):
    batch = _batch(tmp_path)
    with pytest.raises(RuntimeError, match="Chromium wrote no PDF"):
        pdf.write_summary_pdfs(batch_dir=batch, browser="/bin/true")
    assert not list(batch.rglob("*.pdf*"))


def test_the_command_without_a_batch_folder_says_to_make_reports(capsys):
    assert pdf.main(argv=[]) == 1
    assert "make reports" in capsys.readouterr().err
