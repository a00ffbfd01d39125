"""Every report of the default batch, the index and a comparison page open in headless Chromium
with no network, every link resolves, no raw value shows, every image has its own alt text, the
summary prints to PDF; a rerun of the batch gives byte-identical metrics (marked slow: `make
test-slow`, which `.ci/run` runs after `make test`).

The test executes ``runs/default.yaml`` into a temporary reports folder (so it also proves that
every notebook renders in the batch), then opens each ``report.html`` and ``index.html`` from
disk in Debian's Chromium with the browser context offline, failing on any failed request,
console error or page error. A screenshot of each page is saved next to the report.

The comparison page needs a batch with several summaries: rather than running
``runs/by-region.yaml`` (dozens of runs), the default batch's folder is copied as batch
``slices`` with its summary run twice, once as the region "north" (:func:`slices`). The PDF of
the summary is printed as the batch command does (:func:`summary_pdf`); it is outside the
byte-identity check, which compares ``metrics.json`` only.

Chromium is not on a fresh machine: ``.ci/run`` installs it and sets ``B2B_REQUIRE_BROWSER=1``,
which turns a missing browser into a failure instead of a skip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import urllib.parse
from pathlib import Path

import pytest
from test_kpi import nbval_summary
from test_report_text import raw_output, visible_text

from helpers import schemas, summary
from helpers.config import RUNS_DIR
from helpers.runner.pool import run_batch
from helpers.runner.spec import read_batch
from helpers.summary import kpi

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


def _default_batch(root: Path, jobs: int = 2) -> Path:
    records = run_batch(DEFAULT, jobs=jobs, reports_dir=root)
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

    from helpers.formats import share

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
    assert f"bring {share(seg['top_20pct_share'])} of revenue" in html


@pytest.mark.slow  # a second whole batch (about 2 minutes): `make test-slow`, run by .ci/run
def test_a_rerun_of_the_default_batch_gives_identical_metrics(batch_reports, tmp_path):
    """Same data, same parameters, same seeds: every run's metrics.json is byte-identical, also
    with another ``--jobs`` setting (kernels get the same thread counts whatever ``--jobs`` is,
    runner.execute.kernel_environment, so sums add in the same order)."""
    again = _default_batch(tmp_path / "again", jobs=1)
    for run in RUNS:
        first = (batch_reports / BATCH_NAME / run.name / "metrics.json").read_bytes()
        second = (again / BATCH_NAME / run.name / "metrics.json").read_bytes()
        assert first == second, run.name


def test_no_report_of_the_batch_shows_raw_output(batch_reports):
    """The HTML as written (no browser needed): no nan/inf/NaT words, reprs, dtype lines, times
    of day or six-decimal float dumps in any report's visible text; the overview shows money
    with its currency, periods by name and its data check."""
    reports = sorted((batch_reports / BATCH_NAME).glob("*/report.html"))
    assert len(reports) == len(RUNS)
    raw = {p.parent.name: raw_output(p.read_text(encoding="utf-8")) for p in reports}
    assert {name: found for name, found in raw.items() if found} == {}
    overview = visible_text(
        (batch_reports / BATCH_NAME / "00-data-overview" / "report.html").read_text(
            encoding="utf-8"
        )
    )
    assert "EUR" in overview and "2025 Q4" in overview and "No data warnings." in overview


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


# ---- pages around the reports: links, raw values, alt text, KPI strip, comparison, PDF ----

SUMMARY = "90-leadership-summary"
#: Words and fragments that are raw output, never text for a reader.
RAW_WORDS = re.compile(r"\b(nan|NaN|inf|Inf|NaT)\b")
RAW_TEXT = ("00:00:00", "object at 0x", "Timestamp(", "dtype:")
NOTEBOOK_ALT = "No description has been provided for this image"


@pytest.fixture(scope="module")
def summary_pdf(reports) -> Path:
    """The summary printed to PDF as the batch command does, and the index written again."""
    from helpers.runner.pdf import write_summary_pdfs
    from helpers.runner.records import write_index

    written = write_summary_pdfs(reports / BATCH_NAME)
    write_index(reports)
    assert written == [reports / BATCH_NAME / SUMMARY / "summary.pdf"]
    return written[0]


@pytest.fixture(scope="module")
def slices(reports) -> Path:
    """Batch ``slices``: the default batch's folder copied, its summary twice (the whole company
    and, relabelled, the region north), and its comparison page; the index written again."""
    from helpers.runner.compare import write_comparison
    from helpers.runner.records import write_index

    folder = reports / "slices"
    shutil.copytree(reports / BATCH_NAME, folder, ignore=shutil.ignore_patterns("*.lock", "*.pdf"))
    north = f"{SUMMARY}--filters-region-north"
    shutil.copytree(folder / SUMMARY, folder / north)
    metrics = json.loads((folder / north / "metrics.json").read_text())
    (folder / north / "metrics.json").write_text(
        json.dumps({**metrics, "filters": {"region": "north"}})
    )
    runs = json.loads((folder / "runs.json").read_text())
    summary = next(r for r in runs["runs"] if r["name"] == SUMMARY)
    parameters = {**summary["parameters"], "FILTERS": {"region": "north"}}
    runs["runs"].append({**summary, "name": north, "parameters": parameters})
    (folder / "runs.json").write_text(json.dumps({**runs, "batch": "slices"}))
    page = write_comparison(folder)
    write_index(reports)
    assert page == folder / "comparison.html"
    return page


@pytest.fixture(scope="module")
def pages(reports, browser, summary_pdf, slices) -> dict[str, dict]:
    """Every HTML page of the reports folder (reports, the index, the comparison page) opened
    once offline: its links, visible text, image alt texts and KPI cards, by relative path."""
    found = {}
    for path in sorted(
        [reports / "index.html", *reports.glob("*/*.html"), *reports.glob("*/*/*.html")]
    ):
        context = browser.new_context(offline=True)
        page = context.new_page()
        page.goto(path.as_uri(), wait_until="load")
        found[path.relative_to(reports).as_posix()] = {
            "path": path,
            "hrefs": page.eval_on_selector_all(
                "a[href]", "els => els.map(e => e.getAttribute('href'))"
            ),
            "ids": set(page.eval_on_selector_all("[id]", "els => els.map(e => e.id)")),
            "text": page.inner_text("body"),
            "alts": page.eval_on_selector_all("img", "els => els.map(e => e.getAttribute('alt'))"),
            "kpis": page.eval_on_selector_all(".kpi", "els => els.map(e => e.innerText)"),
        }
        context.close()
    assert "slices/comparison.html" in found and f"{BATCH_NAME}/{SUMMARY}/report.html" in found
    return found


def test_every_link_on_every_page_resolves_to_a_file_in_the_reports_folder(reports, pages):
    broken = []
    for name, page in pages.items():
        for href in page["hrefs"]:
            url = urllib.parse.urlsplit(urllib.parse.urljoin(page["path"].as_uri(), href))
            target = Path(urllib.parse.unquote(url.path))
            if url.scheme != "file" or not target.resolve().is_relative_to(reports.resolve()):
                broken.append((name, href, "outside the reports folder"))
            elif not target.is_file():
                broken.append((name, href, "no such file"))
            elif target == page["path"] and url.fragment and url.fragment not in page["ids"]:
                broken.append((name, href, "no such anchor"))
    assert broken == []


def test_the_summary_links_the_index_and_each_studys_report_and_lists(pages):
    summary = pages[f"{BATCH_NAME}/{SUMMARY}/report.html"]["hrefs"]
    assert "../../index.html" in summary
    for run in RUNS:
        if run.notebook not in (SUMMARY, "00-data-overview"):
            assert f"../{run.name}/report.html" in summary, run.name
    assert "../02-churn-survival/prechurn.csv" in summary


def test_the_index_starts_with_the_summary_and_links_reports_not_notebooks(pages):
    index = pages["index.html"]
    assert index["text"].index("Start here") < index["text"].index("Batch")
    assert index["hrefs"][0].endswith(f"/{SUMMARY}/report.html")  # the summary first
    assert f"{BATCH_NAME}/{SUMMARY}/summary.pdf" in index["hrefs"]
    assert "slices/comparison.html" in index["hrefs"]
    titles = [h for h in index["hrefs"] if h.endswith(".html")]
    assert all(f"{BATCH_NAME}/{run.name}/report.html" in titles for run in RUNS)


def test_no_page_shows_raw_values(pages):
    raw = {}
    for name, page in pages.items():
        words = sorted(set(RAW_WORDS.findall(page["text"])))
        words += [fragment for fragment in RAW_TEXT if fragment in page["text"]]
        if words:
            raw[name] = words
    assert raw == {}


def test_every_image_has_its_own_alt_text(pages):
    bad = {}
    for name, page in pages.items():
        alts = page["alts"]
        wrong = [a for a in alts if not (a or "").strip() or a == NOTEBOOK_ALT]
        repeated = sorted({a for a in alts if a and alts.count(a) > 1})
        if wrong or repeated:
            bad[name] = {"missing or default": len(wrong), "repeated": repeated}
    assert bad == {}


def test_the_kpi_strip_shows_currency_and_period(reports, pages):
    """The summary's KPI strip: one card (CSS class ``kpi``) per KPI of its metrics, each with
    its value and period; the money figures with the data's currency."""
    summary = json.loads((reports / BATCH_NAME / SUMMARY / "metrics.json").read_text())
    currency = json.loads((reports / BATCH_NAME / "00-data-overview" / "metrics.json").read_text())[
        "currency"
    ]
    cards = pages[f"{BATCH_NAME}/{SUMMARY}/report.html"]["kpis"]
    assert cards, "the summary shows no KPI strip (elements of CSS class 'kpi')"
    kpis = summary.get("kpis") or []
    assert kpis, "the summary's metrics.json has no 'kpis'"
    for entry in kpis:
        shown = [c for c in cards if entry["label"] in c]
        assert shown, entry["label"]
        if entry["value"] is not None:
            value = entry["text"].split(" (95% interval")[0]  # the interval is on its own line
            assert value in shown[0] and entry["period"] in shown[0], entry
    assert any(currency in card for card in cards)


def test_the_comparison_page_shows_each_slice_linking_its_summary(pages):
    page = pages["slices/comparison.html"]
    assert f"{SUMMARY}/report.html" in page["hrefs"]
    assert f"{SUMMARY}--filters-region-north/report.html" in page["hrefs"]
    assert "the whole company" in page["text"] and "region north" in page["text"]


def test_the_leadership_summary_is_lean(reports):
    size = (reports / BATCH_NAME / SUMMARY / "report.html").stat().st_size
    assert size < 150_000, f"the summary's report is {size // 1000} KB"


def test_the_summary_prints_to_pdf(summary_pdf):
    data = summary_pdf.read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 20_000
    assert b"/Title (Leadership summary)" in data  # the report's title in the PDF's info


# --- the leadership summary's KPI strip (issue #14), on the batch's own study runs -----------


def test_the_summary_of_the_batch_records_its_kpi_strip(batch_reports):
    studies = batch_reports / BATCH_NAME
    page = json.loads((studies / SUMMARY / "metrics.json").read_text())
    assert page["schema_version"] == 2
    kpis = {k["key"]: k for k in page["kpis"]}
    assert list(kpis) == list(kpi.LABELS)
    assert all(k["value"] is not None and k["reason"] == "" for k in kpis.values()), kpis
    assert kpis["revenue"]["period"] == "2025 Q4" and "EUR" in kpis["revenue"]["text"]
    assert " vs 2025 Q3, " in kpis["revenue"]["comparison"]
    assert kpis["revenue"]["comparison"].endswith(" vs 2024 Q4")
    assert kpis["revenue_at_risk"]["period"] == "next 90 days"
    assert "of revenue over 90 days" in kpis["revenue_at_risk"]["comparison"]
    # the demo's own overview figures, read back unchanged
    overview = schemas.read(studies / "00-data-overview", schemas.OverviewMetrics)
    assert kpis["revenue"]["value"] == overview.revenue and overview.skipped == {}
    for study in ("segmentation", "churn", "channels"):
        metrics = schemas.read(studies / summary.KPI_STUDIES[study], summary.STUDY_SCHEMAS[study])
        assert metrics.skipped == {}, (study, metrics.skipped)


def test_notebook_90_with_a_targets_file_on_the_batchs_study_runs(batch_reports, tmp_path):
    studies = batch_reports / BATCH_NAME
    targets = tmp_path / "targets.yaml"
    targets.write_text("cac: 1\nrevenue: 1000000000\nretention: 0.1\n", encoding="utf-8")
    run = nbval_summary(studies, tmp_path, TARGETS=str(targets))
    assert run.returncode == 0, run.stdout[-3000:]
    kpis = {
        k["key"]: k for k in json.loads((tmp_path / "out" / "metrics.json").read_text())["kpis"]
    }
    assert kpis["cac"]["status"] == "bad" and kpis["revenue"]["status"] == "bad"
    assert kpis["retention"]["status"] == "good"
    assert "target at most 1 EUR" in kpis["cac"]["comparison"]
