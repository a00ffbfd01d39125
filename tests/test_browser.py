"""Every report of the default batch, and the index, open in headless Chromium with no network;
a rerun of the batch gives byte-identical metrics.

The test executes ``runs/default.yaml`` into a temporary reports folder (so it also proves that
every notebook renders in the batch), then opens each ``report.html`` and ``index.html`` from
disk in Debian's Chromium with the browser context offline, failing on any failed request,
console error or page error. A screenshot of each page is saved next to the report.

Chromium is not on a fresh machine: ``.ci/run`` installs it and sets ``B2B_REQUIRE_BROWSER=1``,
which turns a missing browser into a failure instead of a skip.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from helpers.config import RUNS_DIR
from helpers.runner.pool import run_batch
from helpers.runner.spec import read_batch

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DEFAULT = RUNS_DIR / "default.yaml"
BATCH_NAME, RUNS = read_batch(DEFAULT)
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _require_browser() -> None:
    if Path(CHROMIUM).exists():
        return
    message = f"Chromium not found at {CHROMIUM} (Debian package 'chromium')"
    if os.environ.get("B2B_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


def _default_batch(root: Path) -> Path:
    records = run_batch(DEFAULT, jobs=2, reports_dir=root)
    failed = {r.name: r.error for r in records if r.status != "ok"}
    assert not failed, f"runs of the default batch failed: {failed}"
    return root


@pytest.fixture(scope="module")
def batch_reports(tmp_path_factory) -> Path:
    """The default batch executed once into a temporary reports folder."""
    return _default_batch(tmp_path_factory.mktemp("reports"))


@pytest.fixture(scope="module")
def reports(batch_reports) -> Path:
    _require_browser()
    return batch_reports


@pytest.fixture(scope="module")
def browser():
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield instance
        instance.close()


def open_offline(browser, path: Path) -> tuple[list[str], str]:
    """Problems seen while loading ``path`` offline, and the page title; saves a screenshot."""
    context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url}"))
    page.on(
        "request",
        lambda r: (
            problems.append(f"network request: {r.url}")
            if not r.url.startswith(("file:", "data:", "about:"))
            else None
        ),
    )
    page.goto(path.as_uri(), wait_until="load")
    page.screenshot(path=str(path.with_suffix(".png")), full_page=False)
    title = page.title()
    context.close()
    return problems, title


@pytest.mark.parametrize("run", [r.name for r in RUNS])
def test_report_opens_offline(reports, browser, run):
    path = reports / BATCH_NAME / run / "report.html"
    problems, title = open_offline(browser, path)
    assert problems == []
    assert title and title != "Notebook"
    assert path.with_suffix(".png").stat().st_size > 10_000


def test_index_opens_offline_and_links_every_report(reports, browser):
    index = reports / "index.html"
    problems, _ = open_offline(browser, index)
    assert problems == []
    text = index.read_text()
    for run in RUNS:
        assert f"{BATCH_NAME}/{run.name}/report.html" in text


def test_leadership_summary_reads_every_study_of_the_batch(reports):
    import json

    from helpers.reporting import pct

    folder = reports / BATCH_NAME
    summary = json.loads((folder / "90-leadership-summary" / "metrics.json").read_text())
    assert summary["notes"] == []  # every study found, all on the same data
    assert {s["run"] for s in summary["sources"].values()} == {
        "01-customer-segmentation",
        "02-churn-survival",
        "03-channel-economics",
    }
    seg = json.loads((folder / "01-customer-segmentation" / "metrics.json").read_text())
    html = (folder / "90-leadership-summary" / "report.html").read_text()
    assert f"bring {pct(seg['top_20pct_share'])} of revenue" in html


def test_a_rerun_of_the_default_batch_gives_identical_metrics(batch_reports, tmp_path):
    """Same data, same parameters, same seeds: every run's metrics.json is byte-identical."""
    again = _default_batch(tmp_path / "again")
    for run in RUNS:
        first = (batch_reports / BATCH_NAME / run.name / "metrics.json").read_bytes()
        second = (again / BATCH_NAME / run.name / "metrics.json").read_bytes()
        assert first == second, run.name


def test_every_study_writes_declared_metrics_that_the_summary_reads(batch_reports):
    """Each study's metrics.json on the demo data reads back through its declared schema with
    nothing skipped, and the leadership helpers find all three studies (none refused)."""
    from helpers import schemas, summary

    folder = batch_reports / BATCH_NAME
    overview = schemas.read(folder / "00-data-overview", schemas.OverviewMetrics)
    assert overview.skipped == {} and overview.revenue > 0
    for study, notebook in summary.STUDIES.items():
        metrics = schemas.read(folder / notebook, summary.STUDY_SCHEMAS[study])
        assert metrics.skipped == {}, (study, metrics.skipped)
    found = summary.find_metrics(folder, {}, "demo")
    assert all(found[s].metrics is not None and not found[s].refused for s in summary.STUDIES)
    page = schemas.read(folder / "90-leadership-summary", schemas.SummaryMetrics)
    assert page.notes == [] and len(page.findings) >= 3
