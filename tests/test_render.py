"""The leadership report: findings first, no code, no stderr, escaped names, no network."""

from __future__ import annotations

import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from helpers import reporting
from helpers.runner.render import findings_first, meta_html, render_html, table_of_contents


def _display(markdown: str) -> nbformat.NotebookNode:
    return new_output("display_data", data={"text/markdown": markdown, "text/plain": "x"})


def _code(source: str, *outputs, tags=()) -> nbformat.NotebookNode:
    cell = new_code_cell(source, outputs=list(outputs), execution_count=1)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def _executed() -> nbformat.NotebookNode:
    """A study as executed: findings computed at the end, a warning on stderr."""
    warning = new_output("stream", name="stderr", text="UserWarning: not for leadership\n")
    nb = new_notebook(
        cells=[
            new_markdown_cell("# Churn study\n\nWho leaves, and when."),
            _code("SEED: int = 42  # seed", tags=["parameters"]),
            _code("SEED = 7", tags=["injected-parameters"]),
            new_markdown_cell("## 1. Volumes"),
            _code("volumes_step()", _display("Volume sentence."), warning),
            new_markdown_cell("## 2. Survival"),
            _code("survival_step()", _display("Survival sentence.")),
            new_markdown_cell("## Key findings"),
            _code("show_findings(x)", _display("- Finding sentence."), tags=["findings"]),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "b2b-insights", "display_name": "x", "language": "python"}
    return nbformat.from_dict(nb)


def _headings(html: str) -> list[str]:
    """Ids of the report's h1/h2 headings in document order."""
    return re.findall(r'<h[12] id="([^"]+)"', html)


def test_the_report_shows_key_findings_right_after_the_title():
    nb = _executed()
    html = render_html(nb=nb, meta={"run": "r"})
    assert _headings(html) == ["Churn-study", "Key-findings", "1.-Volumes", "2.-Survival"]
    findings, volumes = html.index("Finding sentence"), html.index("Volume sentence")
    assert html.index('id="Key-findings"') < findings < html.index('id="1.-Volumes"') < volumes
    toc = re.findall(r'<li><a href="#([^"]+)">', html)
    assert toc == ["Key-findings", "1.-Volumes", "2.-Survival"]
    assert nb.cells[-1].metadata["tags"] == ["findings"]  # the notebook itself is unchanged


def test_the_analysts_view_keeps_the_notebooks_order():
    html = render_html(nb=_executed(), failed="This run failed: x", show_code=True)
    assert _headings(html) == ["Churn-study", "1.-Volumes", "2.-Survival", "Key-findings"]
    assert "volumes_step" in html and "This run failed: x" in html


def test_the_report_has_no_code_no_parameters_no_stderr_and_no_network():
    html = render_html(nb=_executed(), meta={"parameters": {"SEED": 7}})
    assert "volumes_step" not in html and "SEED = 7" not in html and "SEED: int" not in html
    assert "not for leadership" not in html
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=\"https?:", html)
    assert 'parameters: <code>{"SEED": 7}</code>' in html


def _moved(*cells) -> list[str]:
    nb = nbformat.from_dict(new_notebook(cells=list(cells)))
    return [c.source for c in findings_first(nb=nb).cells]


def test_findings_first_moves_only_a_key_findings_heading_with_its_cell():
    assert _moved(
        new_markdown_cell("# T"),
        new_markdown_cell("## 1. A"),
        new_markdown_cell("Some text."),  # not a Key findings heading: stays
        _code("f()", tags=["findings"]),
        new_markdown_cell("## 2. B"),
    ) == ["# T", "f()", "## 1. A", "Some text.", "## 2. B"]


def test_findings_first_without_findings_or_without_a_title():
    cells = [new_markdown_cell("# T"), _code("a()"), new_markdown_cell("## Key findings")]
    assert _moved(*cells) == ["# T", "a()", "## Key findings"]  # no cell tagged findings
    assert _moved(
        _code("a()"), new_markdown_cell("## key findings"), _code("f()", tags=["findings"])
    ) == [
        "## key findings",
        "f()",
        "a()",
    ]


@pytest.mark.parametrize(
    ("body", "toc"),
    [
        ("<p>x</p>", ""),
        (
            '<h2 id="A-&amp;-B">A &amp; B<a class="anchor-link" href="#A">¶</a></h2>',
            '<strong>Contents</strong><ul><li><a href="#A-&amp;-B">A &amp; B</a></li></ul>',
        ),
    ],
)
def test_table_of_contents(body, toc):
    assert table_of_contents(body=body) == toc


def test_meta_html_escapes_keys_and_values():
    assert meta_html(meta={"<k>": {"a": "<b>"}}) == (
        "&lt;k&gt;: <code>{&quot;a&quot;: &quot;&lt;b&gt;&quot;}</code>"
    )


def test_names_from_the_data_cannot_become_links_or_images_in_the_report():
    name = "Acme [click](javascript:alert(1)) ![x](/path) <script>alert(2)</script> \\[y](z)"
    cell = new_code_cell("x")
    for text in (reporting.say(f"**{name}** leads").data, reporting.findings_markdown([name])):
        cell.outputs.append(_display(text))
    nb = new_notebook(cells=[cell])
    nb.metadata["kernelspec"] = {"name": "b2b-insights", "display_name": "x", "language": "python"}
    html = render_html(nb=nbformat.from_dict(nb))
    assert 'href="javascript' not in html and 'src="/path"' not in html
    assert "<script>alert(2)" not in html
    assert "[click](javascript:alert(1))" in html  # shown as the text it is
    assert "<strong>Acme" in html  # our own emphasis still works


def test_every_report_links_the_index_of_the_reports_folder():
    html = render_html(nb=_executed(), meta={"run": "r"})
    assert '<a class="b2b-home" href="../../index.html">All reports</a>' in html
    assert "b2b-home" not in render_html(nb=_executed(), index_href=None).split("<body")[1]


def test_the_report_carries_only_its_own_css():
    """No JupyterLab CSS (~257 KB in the stock template): the head stays a few KB; code
    highlighting only in the analyst view, which shows code."""
    report = render_html(nb=_executed(), meta={"run": "r"})
    head = report.split("<body")[0]
    assert len(head.encode()) < 12_000
    assert "--jp-layout-color0" not in report and "/* Keyword */" not in head
    assert ".jp-RenderedHTMLCommon table" in head  # tables are still styled
    analyst = render_html(nb=_executed(), show_code=True).split("<body")[0]
    assert "/* Keyword */" in analyst and len(analyst.encode()) < 20_000
