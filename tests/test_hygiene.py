"""Committed notebooks are clean; the checker itself catches each rule."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from helpers.config import NOTEBOOKS_DIR
from helpers.runner.hygiene import main, problems

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))


def test_there_are_notebooks():
    assert any(p.name.startswith("00-") for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_committed_notebook_is_clean(path: Path):
    assert problems(nbformat.read(path, as_version=4)) == []


def _nb(*cells):
    nb = new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {"name": "b2b-insights", "display_name": "x", "language": "python"}
    return nb


def _params(source="SEED: int = 42  # random seed"):
    cell = new_code_cell(source)
    cell.metadata["tags"] = ["parameters"]
    return cell


def test_good_notebook_passes():
    assert problems(_nb(new_markdown_cell("# T"), _params(), new_code_cell("x = 1"))) == []


def test_outputs_and_counts_are_caught():
    cell = new_code_cell("print(1)", execution_count=3)
    cell.outputs = [new_output("stream", name="stdout", text="1\n")]
    found = problems(_nb(_params(), cell))
    assert any("stored outputs" in p for p in found)
    assert any("execution count" in p for p in found)


def test_missing_and_duplicate_parameters_cells():
    assert "found 0" in problems(_nb(new_code_cell("x = 1")))[0]
    assert "found 2" in problems(_nb(_params(), _params()))[0]


def test_parameters_cell_must_come_first():
    found = problems(_nb(new_code_cell("import os"), _params()))
    assert any("not the first code cell" in p for p in found)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("SEED = 42  # seed", "add a type annotation"),
        ("seed: int = 42  # seed", "UPPER_CASE"),
        ("SEED: int = 42", "add a # comment"),
    ],
)
def test_parameter_lines(source, message):
    assert any(message in p for p in problems(_nb(_params(source))))


def test_wrong_kernel():
    nb = _nb(_params())
    nb.metadata["kernelspec"]["name"] = "python3"
    assert any("kernelspec" in p for p in problems(nb))


def test_cli_exit_codes(tmp_path, capsys):
    good, bad = tmp_path / "good.ipynb", tmp_path / "bad.ipynb"
    nbformat.write(_nb(_params()), good)
    nbformat.write(_nb(new_code_cell("x = 1")), bad)
    assert main([str(good)]) == 0
    assert main([str(good), str(bad)]) == 1
    assert "bad.ipynb: expected exactly one" in capsys.readouterr().out


def test_unescaped_report_output_is_caught():
    found = problems(
        _nb(
            _params(),
            new_code_cell('display(Markdown(f"{name} leads"))\ndf.style.format("{:.0f}")'),
            new_code_cell('reporting.say(f"{name} leads")\nreporting.styled(df, "{:.0f}")'),
        )
    )
    assert [p.split(":")[0] for p in found] == ["cell 1", "cell 1"]
    assert any("reporting.say" in p for p in found) and any("reporting.styled" in p for p in found)


def test_parameter_lines_papermill_cannot_read_are_caught():
    found = problems(
        _nb(_params('OUT: str = ""  # folder; "" = default\nN: int | None = None  # n'))
    )
    assert sum("papermill cannot parse" in p for p in found) == 2


def test_aliased_and_other_raw_html_outputs_are_caught_but_plt_style_is_not():
    found = problems(
        _nb(
            _params(),
            new_code_cell("from IPython.display import Markdown as M, HTML\nM(name)\nHTML(name)"),
            new_code_cell("df.to_html(escape=False)\ndf.to_html(escape=flag)"),
            new_code_cell(
                'plt.style.use("ggplot")\nmatplotlib.pyplot.style.use("x")\ndf.to_html()'
            ),
            new_code_cell("M(other)"),  # imported under that alias in another cell
        )
    )
    cells = [p.split(":")[0] for p in found]
    assert cells == ["cell 1", "cell 1", "cell 2", "cell 2", "cell 4"]
