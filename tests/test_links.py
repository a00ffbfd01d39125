"""The summary's links to the study reports and CSV lists: relative, existing, escaped."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from helpers import reporting
from helpers.runner.render import render_html
from helpers.steps import Skipped
from helpers.summary import StudyRun, links

#: Stands in for a study's schema object: links only asks whether the metrics were read.
READ = object()


def _run(batch: Path, name: str, title: str | None, *csvs: str) -> Path:
    folder = batch / name
    folder.mkdir(parents=True)
    if title is not None:
        (folder / "report.html").write_text(f"<html><head><title>{title}</title></head></html>")
    for csv in csvs:
        (folder / csv).write_text("account_id\n1\n")
    return folder


@pytest.fixture()
def batch(tmp_path: Path) -> Path:
    """A batch folder: a segmentation run with its report, a churn run with its report and
    pre-churn list, and the summary's own (staging) folder beside them."""
    batch = tmp_path / "reports" / "default"
    _run(batch, "01-seg", "Customer segmentation &amp; value", "lookalikes.csv")
    _run(batch, "02-churn", "Churn survival", "prechurn.csv", "a](javascript:x).csv")
    (batch / ".staging-1@h@90-leadership-summary@ab").mkdir()
    return batch


def _found(batch: Path) -> dict[str, StudyRun]:
    return {
        "segmentation": StudyRun("segmentation", batch / "01-seg", READ),
        "churn": StudyRun("churn", batch / "02-churn", READ),
        "channels": StudyRun("channels", None, None),  # not found: the notes name it
    }


def test_the_summary_links_each_study_report_and_each_list_relative_to_its_folder(batch):
    out = batch / ".staging-1@h@90-leadership-summary@ab"
    found = links(found=_found(batch), out=out)
    assert [(link.text, link.href) for link in found] == [
        ("Customer segmentation & value", "../01-seg/report.html"),
        ("lookalikes.csv", "../01-seg/lookalikes.csv"),
        ("Churn survival", "../02-churn/report.html"),
        ("a](javascript:x).csv", "../02-churn/a](javascript:x).csv"),
        ("prechurn.csv", "../02-churn/prechurn.csv"),
    ]
    assert all((out / link.href).resolve().exists() for link in found)  # every link resolves
    assert found[4].note == "list written by the churn study"


def test_a_study_without_an_html_report_is_named_and_its_lists_still_linked(tmp_path):
    folder = _run(tmp_path / "interactive", "02-churn-survival", None, "prechurn.csv")
    out = tmp_path / "interactive" / "90-leadership-summary"
    found = links(found={"churn": StudyRun("churn", folder, READ)}, out=out)
    assert [(link.text, link.href) for link in found] == [
        ("The churn study", None),
        ("prechurn.csv", "../02-churn-survival/prechurn.csv"),
    ]


def test_no_study_found_is_a_skipped_step(tmp_path):
    found = links(found={"churn": StudyRun("churn", None, None)}, out=tmp_path)
    assert isinstance(found, Skipped)
    assert found.sentence() == (
        "Links to the study reports is not available: no study run was found (run the "
        "studies before the summary)."
    )


def test_the_rendered_summary_shows_working_links_and_no_injected_ones(batch):
    out = batch / ".staging-1@h@90-leadership-summary@ab"
    markdown = reporting.show_links(links(found=_found(batch), out=out)).data
    cell = new_code_cell(
        "x", outputs=[new_output("display_data", data={"text/markdown": markdown})]
    )
    nb = new_notebook(cells=[cell])
    nb.metadata["kernelspec"] = {"name": "b2b-insights", "display_name": "x", "language": "python"}
    page = render_html(nb=nbformat.from_dict(nb))
    hrefs = re.findall(r'<a href="([^"#]+)"', page)
    assert "../02-churn/prechurn.csv" in hrefs and "../01-seg/report.html" in hrefs
    assert "../02-churn/a%5D%28javascript%3Ax%29.csv" in hrefs
    assert not any(h.startswith("javascript") for h in hrefs)
    assert ">Customer segmentation &amp; value</a>" in page
