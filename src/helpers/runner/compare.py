"""``<batch folder>/comparison.html``: the slices of a batch side by side on the KPI strip.

A batch with several leadership summaries (``runs/by-region.yaml``: one per region and per
business line) gets one page with a row per slice: its KPI strip's values side by side, each
row linking to that slice's summary (``<run>/report.html``, relative: the page works in a
copied or zipped reports folder). The batch command writes it after the batch's last runs
(:func:`write_comparison`); a batch with fewer than two summaries gets none.

The values are read from each summary run's ``metrics.json`` field ``kpis`` (summary schema 2):
a list of entries ``{"key", "label", "value", "text", "period", "comparison", "status",
"reason"}``, ``status`` one of good, bad, neutral. An entry whose value is missing reads "not
available: <reason>"; a KPI another slice has but this one's strip lacks reads "not available:
not in this slice's summary"; a summary written before the KPI strip existed (no ``kpis``) says
it must be rerun. Everything read from the files is escaped.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from helpers.reporting import atomic_write_text
from helpers.runner.index import COMPARISON_FILE, SUMMARY_NOTEBOOK, date_text

__all__ = ["COMPARISON_FILE", "comparison_html", "kpi_cell", "summary_rows", "write_comparison"]
_STATUSES = {"good", "bad", "neutral"}

_CSS = """
body { font: 14px/1.5 system-ui, sans-serif; margin: 24px auto; max-width: 1400px; color: #222;
       padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; } .lead { color: #555; margin-top: 0; }
a { color: #1565c0; text-decoration: none; } a:hover { text-decoration: underline; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #e2e2e2; vertical-align: top; }
th { background: #f6f6f6; } td.kpi-cell { border-left: 4px solid transparent; }
td.good { border-left-color: #2e7d32; } td.bad { border-left-color: #c62828; }
.value { font-weight: 600; font-size: 15px; } .small { font-size: 12px; color: #666; }
.missing { color: #8a6d00; font-size: 12px; } .home { float: right; font-weight: 600; }
@media print { .home { display: none; } }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def slice_label(filters: Mapping[str, Any] | None) -> str:
    """A slice's name for reading: ``{"region": "north"}`` -> ``"region north"``; no filter
    -> ``"the whole company"``."""
    if not filters:
        return "the whole company"
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(filters.items()))


def summary_rows(batch_dir: Path) -> list[dict[str, Any]]:
    """The batch's leadership summaries that ran ok, from its ``runs.json``: ``run`` (folder
    name), ``slice`` (:func:`slice_label`), ``report`` (relative href or None), ``as_of`` and
    ``kpis`` (the list from metrics.json, or None when the file has none), sorted by slice."""
    try:
        runs = json.loads((batch_dir / "runs.json").read_text(encoding="utf-8"))["runs"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    rows = []
    for run in runs:
        if run.get("notebook") != SUMMARY_NOTEBOOK or run.get("status") != "ok":
            continue
        try:
            metrics = json.loads((batch_dir / run["name"] / "metrics.json").read_text("utf-8"))
        except (OSError, ValueError):
            metrics = {}
        filters = metrics.get("filters", (run.get("parameters") or {}).get("FILTERS"))
        report = (run.get("files") or {}).get("report")
        dates = sorted(
            {
                str(s.get("analysis date"))
                for s in (metrics.get("sources") or {}).values()
                if isinstance(s, Mapping) and s.get("analysis date")
            }
        )
        kpis = metrics.get("kpis")
        rows.append(
            {
                "run": run["name"],
                "slice": slice_label(filters if isinstance(filters, Mapping) else None),
                "report": f"{run['name']}/{report}" if report else None,
                "as_of": " / ".join(dates),
                "kpis": kpis if isinstance(kpis, list) else None,
            }
        )
    # the whole company first, then the slices by name
    return sorted(rows, key=lambda r: (r["slice"] != "the whole company", r["slice"]))


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(key, label) of every KPI any slice has, in the order they first appear."""
    seen: dict[str, str] = {}
    for row in rows:
        for entry in row["kpis"] or []:
            if isinstance(entry, Mapping) and entry.get("key") not in seen:
                seen[str(entry.get("key"))] = str(entry.get("label") or entry.get("key"))
    return list(seen.items())


def _missing(reason: str) -> str:
    return f"<span class='missing'>not available: {_e(reason)}</span>"


def kpi_cell(entry: Mapping[str, Any] | None) -> str:
    """One slice's value of one KPI as a table cell: its text (status colour on the left), its
    period and comparison below; "not available: <reason>" when it has no value."""
    if entry is None:
        return f"<td class='kpi-cell'>{_missing('not in this slice’s summary')}</td>"
    status = entry.get("status") if entry.get("status") in _STATUSES else "neutral"
    if entry.get("value") is None or not entry.get("text"):
        reason = entry.get("reason") or "the summary recorded no reason"
        return f"<td class='kpi-cell neutral'>{_missing(reason)}</td>"
    small = " &middot; ".join(_e(entry[k]) for k in ("period", "comparison") if entry.get(k))
    return (
        f"<td class='kpi-cell {status}'><div class='value'>{_e(entry['text'])}</div>"
        + (f"<div class='small'>{small}</div>" if small else "")
        + "</td>"
    )


def comparison_html(batch: str, rows: Sequence[Mapping[str, Any]]) -> str:
    """The comparison page of ``batch`` for ``rows`` (:func:`summary_rows`)."""
    columns = _columns(rows)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Slices side by side: {_e(batch)}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<a class='home' href='../index.html'>All reports</a>",
        f"<h1>Slices side by side: batch <code>{_e(batch)}</code></h1>",
        "<p class='lead'>Each slice's headline figures from its leadership summary; a slice's "
        "name opens its summary, which explains every figure and links the study reports. A "
        "green bar marks a figure on target (or better than the period before when no targets "
        "were given), a red one a figure off target (or worse).</p>",
        "<table><tr><th>slice</th><th>data as of</th>"
        + "".join(f"<th>{_e(label)}</th>" for _, label in columns)
        + "</tr>",
    ]
    for row in rows:
        name = (
            f"<a href='{_e(row['report'])}'>{_e(row['slice'])}</a>"
            if row["report"]
            else _e(row["slice"])
        )
        head = f"<tr><td>{name}</td><td>{_e(date_text(row['as_of'])) or '&ndash;'}</td>"
        if row["kpis"] is None:
            why = (
                "this summary has no KPI strip: rerun notebook 90-leadership-summary with this "
                "code (batch file with this slice) to compare it"
            )
            parts.append(f"{head}<td colspan='{max(len(columns), 1)}'>{_missing(why)}</td></tr>")
            continue
        entries = {
            str(e.get("key")): e for e in row["kpis"] if isinstance(e, Mapping) and e.get("key")
        }
        parts.append(head + "".join(kpi_cell(entries.get(key)) for key, _ in columns) + "</tr>")
    parts.append("</table></body></html>\n")
    return "\n".join(parts)


def write_comparison(batch_dir: Path) -> Path | None:
    """Write ``batch_dir/comparison.html`` when the batch has two or more leadership summaries
    that ran ok (atomic); returns its path, or None (no page: nothing to compare)."""
    rows = summary_rows(batch_dir)
    if len(rows) < 2:
        return None
    return atomic_write_text(batch_dir / COMPARISON_FILE, comparison_html(batch_dir.name, rows))
