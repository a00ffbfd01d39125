"""``reports/index.html``: every batch and run, with links, as one self-contained page.

* It opens with **Start here**: the latest leadership summary (notebook
  ``90-leadership-summary``; the whole company's when there is one, else the latest slice's),
  its PDF when one was printed, and every batch's comparison page of slices
  (:mod:`helpers.runner.compare`).
* Each run shows its report's title (the notebook's H1) linking the HTML report, the data's
  as-of date (the run's ``analysis_date``; for a summary, the date its studies share), when it
  ran ("28 Nov 2026 10:31") and for how long ("1 min 12 s"); the executed notebook, the CSV
  lists and the PDF are secondary links.
* A run's status is ok, failed, running (its batch was executing it when the page was
  written), interrupted or cancelled (its batch was stopped; the links then lead to the
  previous result, when there is one, and the error line says so).

Every link is relative to the reports folder (``<batch>/<run>/report.html``), so a copied or
zipped reports folder keeps working; with the reports folder given, only files that exist are
linked. Everything read from ``runs.json`` or a run's files is escaped.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from helpers import formats

_CSS = """
body { font: 14px/1.5 system-ui, sans-serif; margin: 24px auto; max-width: 1200px; color: #222;
       padding: 0 16px; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; }
a { color: #1565c0; text-decoration: none; } a:hover { text-decoration: underline; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #e2e2e2; vertical-align: top; }
th { background: #f6f6f6; }
code { font-size: 12px; background: #f4f4f4; padding: 1px 4px; border-radius: 3px; }
.start { background: #eef5fd; border: 1px solid #c9def5; border-radius: 6px; padding: 8px 16px; }
.start h2 { margin-top: 8px; } .start li { margin: 4px 0; }
.title { font-weight: 600; } .name, .more { font-size: 12px; color: #666; }
.ok { color: #1a7f37; font-weight: bold; } .failed { color: #b42318; font-weight: bold; }
.running, .interrupted, .cancelled { color: #9a6700; font-weight: bold; }
.error { color: #b42318; font-size: 12px; }
"""

#: The notebook of the leadership summary (the "Start here" page).
SUMMARY_NOTEBOOK = "90-leadership-summary"
#: A batch's comparison page of slices, in its folder (:mod:`helpers.runner.compare`).
COMPARISON_FILE = "comparison.html"
#: The PDF of a leadership summary, in its run folder (:mod:`helpers.runner.pdf`).
PDF_FILE = "summary.pdf"

#: Statuses with their own colour; any other is shown as failed.
_CLASSES = {"ok", "failed", "running", "interrupted", "cancelled"}
_TITLE = re.compile(r"<title>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def _class(status: str) -> str:
    return status if status in _CLASSES else "failed"


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def human_time(stamp: str | None) -> str:
    """An ISO time for reading: ``human_time("2026-11-28T10:31:05") == "28 Nov 2026 10:31"``
    ("" when missing or unreadable)."""
    try:
        when = dt.datetime.fromisoformat(str(stamp))
    except (TypeError, ValueError):
        return ""
    return f"{when.day} {when:%b %Y %H:%M}"


def human_duration(seconds: float | None) -> str:
    """A duration in seconds for reading: ``"12 s"``, ``"1 min 12 s"``, ``"1 h 5 min"``."""
    try:
        total = round(float(seconds or 0))
    except (TypeError, ValueError):
        return ""
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def report_title(path: Path) -> str:
    """The ``<title>`` of an HTML report (its notebook's H1), "" when unreadable. Only the
    head is read: the title comes before the styles and the figures."""
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            head = fh.read(4096)
    except OSError:
        return ""
    found = _TITLE.search(head)
    return html.unescape(found.group(1)).strip() if found else ""


def as_of(metrics: Mapping[str, Any]) -> str:
    """The data's as-of date of a run (``YYYY-MM-DD``): its ``analysis_date``; for a summary,
    the analysis dates of its sources joined ("" when none is recorded)."""
    if metrics.get("analysis_date"):
        return str(metrics["analysis_date"])
    sources = metrics.get("sources") or {}
    dates = sorted(
        {str(s.get("analysis date")) for s in sources.values() if isinstance(s, Mapping)}
        - {"None", ""}
    )
    return " / ".join(dates)


def date_text(as_of_text: str) -> str:
    """:func:`as_of` for reading: ``"31 Dec 2025"`` (each date of a joined list); an
    unreadable date stays as it is."""
    out = []
    for part in filter(None, str(as_of_text).split(" / ")):
        try:
            out.append(formats.date(part, missing=part))
        except (TypeError, ValueError):
            out.append(part)
    return " / ".join(out)


def run_details(run_dir: Path) -> dict[str, Any]:
    """What the index shows of a run folder besides ``runs.json``: ``title`` (the report's),
    ``as_of`` (the data's date), ``csv`` (the CSV lists, sorted) and ``pdf`` (whether the
    summary was printed)."""
    try:
        metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        metrics = {}
    return {
        "title": report_title(run_dir / "report.html"),
        "as_of": as_of(metrics if isinstance(metrics, Mapping) else {}),
        "csv": sorted(p.name for p in run_dir.glob("*.csv")),
        "pdf": (run_dir / PDF_FILE).exists(),
    }


def _params(parameters: Mapping[str, Any]) -> str:
    shown = {k: v for k, v in parameters.items() if k != "OUTPUT_DIR"}
    if not shown:
        return "<em>defaults</em>"
    return "<br>".join(
        f"<code>{_e(k)}={_e(json.dumps(v, ensure_ascii=False, default=str))}</code>"
        for k, v in sorted(shown.items())
    )


def _href(batch: str, run: str, target: str) -> str:
    return f"{_e(batch)}/{_e(run)}/{_e(target)}"


def _links(batch: str, run: Mapping[str, Any], details: Mapping[str, Any]) -> str:
    """Secondary links of a run: the executed notebook, the failing cell, CSVs, the PDF."""
    words = {"analyst": "failing cell", "notebook": "notebook"}
    files = run.get("files") or {}
    links = [
        f'<a href="{_href(batch, run["name"], target)}">{words.get(kind, _e(kind))}</a>'
        for kind, target in files.items()
        if kind != "report"
    ]
    links += [
        f'<a href="{_href(batch, run["name"], name)}">{_e(name)}</a>'
        for name in details.get("csv", [])
    ]
    if details.get("pdf"):
        links.append(f'<a href="{_href(batch, run["name"], PDF_FILE)}">PDF</a>')
    return " &middot; ".join(links) or "&ndash;"


def _title_cell(batch: str, run: Mapping[str, Any], details: Mapping[str, Any]) -> str:
    name = run["name"]
    title = details.get("title") or name
    report = (run.get("files") or {}).get("report")
    shown = (
        f'<a class="title" href="{_href(batch, name, report)}">{_e(title)}</a>'
        if report
        else f"<span class='title'>{_e(title)}</span>"
    )
    return f"{shown}<div class='name'><code>{_e(name)}</code></div>"


def _filters(run: Mapping[str, Any]) -> str:
    filters = (run.get("parameters") or {}).get("FILTERS") or {}
    if not filters or not isinstance(filters, Mapping):
        return "the whole company"
    return ", ".join(f"{k} {v}" for k, v in sorted(filters.items()))


def _start_here(
    batches: Sequence[Mapping[str, Any]],
    details: Mapping[tuple[str, str], Mapping[str, Any]],
    comparisons: Sequence[str],
) -> str:
    """The "Start here" block: the latest leadership summary (the whole company's first), its
    PDF, and the batches' comparison pages."""
    summaries = [
        (str(b.get("batch", "?")), r)
        for b in batches
        for r in b.get("runs", [])
        if r.get("notebook") == SUMMARY_NOTEBOOK
        and r.get("status") == "ok"
        and (r.get("files") or {}).get("report")
    ]
    # the whole company's summary before a slice's, then the latest
    summaries.sort(
        key=lambda br: (
            not (br[1].get("parameters") or {}).get("FILTERS"),
            br[1].get("started", ""),
        )
    )
    items = []
    if summaries:
        batch, run = summaries[-1]
        info = details.get((batch, run["name"]), {})
        title = info.get("title") or "Leadership summary"
        date = date_text(info.get("as_of", ""))
        item = (
            f'<a class="title" href="{_href(batch, run["name"], run["files"]["report"])}">'
            f"{_e(title)}</a> ({_e(_filters(run))}"
            + (f", data as of {_e(date)}" if date else "")
            + f"; batch <code>{_e(batch)}</code>, {_e(human_time(run.get('started')))})"
        )
        if info.get("pdf"):
            item += f' &middot; <a href="{_href(batch, run["name"], PDF_FILE)}">PDF for e-mail</a>'
        items.append(f"<li>{item}</li>")
    items += [
        f'<li><a class="title" href="{_e(batch)}/{COMPARISON_FILE}">Slices side by side</a> '
        f"(batch <code>{_e(batch)}</code>: each slice's headline figures, linking its summary)"
        "</li>"
        for batch in comparisons
    ]
    if not items:
        return ""
    return (
        "<div class='start'><h2>Start here</h2><ul>" + "".join(items) + "</ul>"
        "<p class='more'>The study reports below hold the evidence behind each summary.</p></div>"
    )


def index_html(batches: Sequence[Mapping[str, Any]], reports_dir: Path | None = None) -> str:
    """The index page for ``batches`` (each the content of a ``runs.json``); all text escaped.

    ``reports_dir``: the reports folder the batches are in; the index then reads each run's
    folder (:func:`run_details`: report title, as-of date, CSVs, PDF) and links a batch's
    comparison page when it exists. Without it, runs show their names and no such links."""
    details: dict[tuple[str, str], dict[str, Any]] = {}
    comparisons: list[str] = []
    if reports_dir is not None:
        for batch in batches:
            name = str(batch.get("batch", "?"))
            for run in batch.get("runs", []):
                details[(name, run["name"])] = run_details(reports_dir / name / run["name"])
            if (reports_dir / name / COMPARISON_FILE).exists():
                comparisons.append(name)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>b2b-insights reports</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>b2b-insights reports</h1>",
    ]
    if not batches:
        parts.append("<p>No runs yet: <code>make reports</code> builds them.</p>")
    parts.append(_start_here(batches, details, comparisons))
    for batch in batches:
        name = str(batch.get("batch", "?"))
        runs = batch.get("runs", [])
        counts = Counter(str(r.get("status", "?")) for r in runs)
        parts.append(
            f"<h2>Batch <code>{_e(name)}</code>: {len(runs)} runs"
            + "".join(
                f", <span class='{_class(status)}'>{counts[status]} {_e(status)}</span>"
                for status in sorted(counts)
                if status != "ok"
            )
            + "</h2>"
        )
        parts.append(
            "<table><tr><th>report</th><th>status</th><th>data as of</th><th>ran</th>"
            "<th>took</th><th>parameters</th><th>data fingerprint</th><th>code</th>"
            "<th>also</th></tr>"
        )
        for run in runs:
            status = run.get("status", "?")
            info = details.get((name, run["name"]), {})
            error = (
                f"<div class='error'>{_e(run.get('error', '').splitlines()[0][:300])}</div>"
                if status != "ok" and run.get("error")
                else ""
            )
            date = date_text(info.get("as_of", ""))
            parts.append(
                f"<tr><td>{_title_cell(name, run, info)}</td>"
                f"<td class='{_class(status)}'>{_e(status)}{error}</td>"
                f"<td>{_e(date) or '&ndash;'}</td>"
                f"<td>{_e(human_time(run.get('started')))}</td>"
                f"<td>{_e(human_duration(run.get('duration_s')))}</td>"
                f"<td>{_params(run.get('parameters', {}))}</td>"
                f"<td><code>{_e(run.get('data_fingerprint') or 'n/a')}</code></td>"
                f"<td><code>{_e(run.get('code_version', ''))}</code></td>"
                f"<td>{_links(name, run, info)}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
