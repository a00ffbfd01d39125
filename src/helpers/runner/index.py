"""``reports/index.html``: every batch and run, with links, as one self-contained page.

A run's status is ok, failed, running (its batch was executing it when the page was written),
interrupted or cancelled (its batch was stopped; the links then lead to the previous result,
when there is one, and the error line says so).
"""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

_CSS = """
body { font: 14px/1.5 system-ui, sans-serif; margin: 24px auto; max-width: 1200px; color: #222; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #e2e2e2; vertical-align: top; }
th { background: #f6f6f6; }
code { font-size: 12px; background: #f4f4f4; padding: 1px 4px; border-radius: 3px; }
.ok { color: #1a7f37; font-weight: bold; } .failed { color: #b42318; font-weight: bold; }
.running, .interrupted, .cancelled { color: #9a6700; font-weight: bold; }
.error { color: #b42318; font-size: 12px; }
"""


#: Statuses with their own colour; any other is shown as failed.
_CLASSES = {"ok", "failed", "running", "interrupted", "cancelled"}


def _class(status: str) -> str:
    return status if status in _CLASSES else "failed"


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _params(parameters: Mapping[str, Any]) -> str:
    shown = {k: v for k, v in parameters.items() if k != "OUTPUT_DIR"}
    if not shown:
        return "<em>defaults</em>"
    return "<br>".join(
        f"<code>{_e(k)}={_e(json.dumps(v, ensure_ascii=False, default=str))}</code>"
        for k, v in sorted(shown.items())
    )


def _links(batch: str, run: Mapping[str, Any]) -> str:
    words = {"report": "report", "analyst": "failing cell", "notebook": "notebook"}
    files = run.get("files") or {}
    links = [
        f'<a href="{_e(batch)}/{_e(run["name"])}/{_e(target)}">{words.get(kind, kind)}</a>'
        for kind, target in files.items()
    ]
    return " &middot; ".join(links) or "&ndash;"


def index_html(batches: Sequence[Mapping[str, Any]]) -> str:
    """The index page for ``batches`` (each the content of a ``runs.json``); all text escaped."""
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>b2b-insights reports</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>b2b-insights reports</h1>",
    ]
    if not batches:
        parts.append("<p>No runs yet: <code>make reports</code> builds them.</p>")
    for batch in batches:
        name = batch.get("batch", "?")
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
            "<table><tr><th>run</th><th>status</th><th>date</th><th>duration</th>"
            "<th>parameters</th><th>data fingerprint</th><th>code</th><th>open</th></tr>"
        )
        for run in runs:
            status = run.get("status", "?")
            error = (
                f"<div class='error'>{_e(run.get('error', '').splitlines()[0][:300])}</div>"
                if status != "ok" and run.get("error")
                else ""
            )
            parts.append(
                f"<tr><td><code>{_e(run['name'])}</code></td>"
                f"<td class='{_class(status)}'>{_e(status)}{error}</td>"
                f"<td>{_e(run.get('started', ''))}</td>"
                f"<td>{float(run.get('duration_s', 0)):.1f} s</td>"
                f"<td>{_params(run.get('parameters', {}))}</td>"
                f"<td><code>{_e(run.get('data_fingerprint') or 'n/a')}</code></td>"
                f"<td><code>{_e(run.get('code_version', ''))}</code></td>"
                f"<td>{_links(name, run)}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
