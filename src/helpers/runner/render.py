"""Render an executed notebook to a self-contained HTML report for leadership.

* No code, no prompts: ``exclude_input`` and the prompt flags of nbconvert's ``HTMLExporter``;
  the ``parameters`` and papermill's ``injected-parameters`` cells are removed entirely, as are
  cells tagged ``remove_cell`` (``remove_input`` / ``remove_output`` tags work too).
* No network: the ``b2b_report`` template (``helpers/runner/templates``) extends nbconvert's ``lab``
  template with the require.js, MathJax, Mermaid and widget script blocks emptied (the stock
  template loads them from CDNs); figures are inline base64 PNGs. ``tests/test_render.py`` and
  the headless-browser test check it.
* Lean: instead of the ~257 KB of JupyterLab CSS the stock template inlines, the page carries
  the template's own ``report.css`` (a few KB: Markdown, tables, outputs, images, header), plus
  the code-highlighting CSS in the analyst view only.
* Warnings printed to stderr are dropped from the report (they stay in the executed notebook).
* A header with a link to the reports' index (``reports/index.html``, relative: a report lives
  in ``reports/<batch>/<run>/``, so the link is ``../../index.html`` and works in a copied or
  zipped reports folder), the run's parameters, date and data fingerprint, and a table of
  contents built from the report's own ``h2`` headings (ids as nbconvert generates them).
* Key findings first: a notebook computes its findings at the end (a ``## Key findings``
  heading, then a code cell tagged ``findings``); the report shows them right after the title
  (:func:`findings_first`). The notebook file is not changed, nor the analyst's view.

Text that comes from data (account or channel names) reaches the HTML through pandas'
``to_html`` and nbconvert's Markdown renderer, both of which escape it; what this module adds
itself is escaped with :func:`html.escape`.
"""

from __future__ import annotations

import copy
import html
import json
import re
from collections.abc import Mapping
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import TagRemovePreprocessor
from traitlets.config import Config

TEMPLATES = Path(__file__).resolve().parent / "templates"
REMOVE_CELL_TAGS = {"parameters", "injected-parameters", "remove_cell"}
TOC_MARK = "<!--B2B-TOC-->"
#: The tag of the code cell that shows a study's key findings.
FINDINGS_TAG = "findings"
#: Where the reports' index is from a report (``reports/<batch>/<run>/report.html``).
INDEX_HREF = "../../index.html"
_FINDINGS_HEADING = re.compile(r"##\s+key findings\s*", re.IGNORECASE)


def _exporter(show_code: bool) -> HTMLExporter:
    exporter = HTMLExporter(
        # the lab template's pygments CSS only where code is shown (resources.b2b.code_css)
        config=Config({"CSSHTMLHeaderPreprocessor": {"enabled": False}}),
        template_name="b2b_report",
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=not show_code,
        exclude_input_prompt=not show_code,
        exclude_output_prompt=True,
        embed_images=True,
    )
    remover = TagRemovePreprocessor(
        remove_cell_tags=set() if show_code else REMOVE_CELL_TAGS,
        remove_input_tags={"remove_input"},
        remove_all_outputs_tags={"remove_output"},
        enabled=True,
    )
    exporter.register_preprocessor(remover, enabled=True)
    return exporter


def _strip_stderr(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell.outputs = [
                o
                for o in cell.get("outputs", [])
                if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
            ]
    return nb


class _Headings(HTMLParser):
    """Collects (id, text) of ``h2`` elements."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[tuple[str, str]] = []
        self._id: str | None = None
        self._text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "h2":
            self._id = dict(attrs).get("id") or ""
            self._text = []
        elif tag == "a" and self._id is not None and ("class", "anchor-link") in attrs:
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._skip:
            self._skip -= 1
        elif tag == "h2" and self._id is not None:
            self.items.append((self._id, "".join(self._text).strip()))
            self._id = None

    def handle_data(self, data: str) -> None:
        if self._id is not None and not self._skip:
            self._text.append(data)


def table_of_contents(body: str) -> str:
    """An ordered list linking every ``h2`` of ``body`` (HTML); empty when there is none."""
    parser = _Headings()
    parser.feed(body)
    if not parser.items:
        return ""
    items = "".join(
        f'<li><a href="#{html.escape(i, quote=True)}">{html.escape(t)}</a></li>'
        for i, t in parser.items
    )
    return f"<strong>Contents</strong><ul>{items}</ul>"


def home_html(href: str | None) -> str:
    """The header's link to the reports' index (empty without ``href``), escaped."""
    if not href:
        return ""
    return f'<a class="b2b-home" href="{html.escape(href, quote=True)}">All reports</a>'


def _code_css() -> str:
    """The pygments CSS for highlighted code (the analyst view shows code)."""
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(style="default").get_style_defs(".highlight")


def meta_html(meta: Mapping[str, Any]) -> str:
    """The report header line: each key and value escaped, values JSON-like for dicts."""
    parts = []
    for key, value in meta.items():
        text = (
            value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
        )
        parts.append(f"{html.escape(str(key))}: <code>{html.escape(text)}</code>")
    return " &middot; ".join(parts)


def _title(nb: nbformat.NotebookNode) -> str:
    """The first Markdown H1 of the notebook (the report's browser title)."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return "b2b-insights report"


def _is_findings_heading(cell: nbformat.NotebookNode) -> bool:
    lines = cell.source.strip().splitlines()
    return (
        cell.cell_type == "markdown"
        and bool(lines)
        and bool(_FINDINGS_HEADING.fullmatch(lines[0].strip()))
    )


def findings_first(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose code cells tagged ``findings``, each with the ``## Key findings``
    Markdown cell just before it (when there is one), come right after the first Markdown cell
    (the title), in their order; every other cell keeps its place. Without a title they come
    first."""
    nb = copy.deepcopy(nb)
    cells = nb.cells
    moved: list[int] = []
    for i, cell in enumerate(cells):
        if cell.cell_type == "code" and FINDINGS_TAG in cell.get("metadata", {}).get("tags", []):
            heading = i > 0 and i - 1 not in moved and _is_findings_heading(cells[i - 1])
            moved += [i - 1, i] if heading else [i]
    if not moved:
        return nb
    title = next((i for i, c in enumerate(cells) if c.cell_type == "markdown"), None)
    rest = [c for i, c in enumerate(cells) if i not in moved]
    at = 0 if title is None or title in moved else sum(i not in moved for i in range(title + 1))
    nb.cells = rest[:at] + [cells[i] for i in moved] + rest[at:]
    return nb


def render_html(
    nb: nbformat.NotebookNode,
    meta: Mapping[str, Any] | None = None,
    failed: str | None = None,
    show_code: bool = False,
    index_href: str | None = INDEX_HREF,
) -> str:
    """The HTML text of ``nb`` as a report (``show_code=True``: the analyst's full view).

    ``index_href``: the header's link to the reports' index, relative to the report's folder
    (None: no link)."""
    resources = {
        "b2b": {
            "home_html": home_html(index_href),
            "meta_html": meta_html(meta or {}),
            "failed_html": html.escape(failed) if failed else "",
            "code_css": _code_css() if show_code else "",
        }
    }
    nb = _strip_stderr(nb if show_code else findings_first(nb))
    nb.metadata["title"] = _title(nb)
    body, _ = _exporter(show_code).from_notebook_node(nb, resources=resources)
    return body.replace(TOC_MARK, table_of_contents(body), 1)
