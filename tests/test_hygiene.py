"""Committed notebooks are clean; the checker itself catches each rule."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from helpers.config import NOTEBOOKS_DIR
from helpers.runner.hygiene import MAX_CELL_LINES, cell_rules, main, problems

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))


def test_there_are_notebooks():
    assert any(p.name.startswith("00-") for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_committed_notebook_is_clean(path: Path):
    assert problems(nb=nbformat.read(path, as_version=4), name=path.name) == []


def _nb(*cells):
    nb = new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {"name": "b2b-insights", "display_name": "x", "language": "python"}
    return nb


def _params(source="SEED: int = 42  # random seed"):
    cell = new_code_cell(source)
    cell.metadata["tags"] = ["parameters"]
    return cell


def test_good_notebook_passes():
    assert problems(nb=_nb(new_markdown_cell("# T"), _params(), new_code_cell("x = 1"))) == []


def test_outputs_and_counts_are_caught():
    cell = new_code_cell("print(1)", execution_count=3)
    cell.outputs = [new_output("stream", name="stdout", text="1\n")]
    found = problems(nb=_nb(_params(), cell), name="n.ipynb")
    assert "n.ipynb: cell 1: has stored outputs (clear them before committing)" in found
    assert "n.ipynb: cell 1: has an execution count (clear outputs before committing)" in found


def test_missing_and_duplicate_parameters_cells():
    assert "found 0" in problems(nb=_nb(new_code_cell("x = 1")))[0]
    assert "found 2" in problems(nb=_nb(_params(), _params()))[0]


def test_parameters_cell_must_come_first():
    found = problems(nb=_nb(new_code_cell("import os"), _params()))
    assert "notebook: the 'parameters' cell (cell 1) is not the first code cell" in found


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("SEED = 42  # seed", "cell 0: line 1: parameter SEED: add a type annotation"),
        ("seed: int = 42  # seed", "cell 0: line 1: parameter seed: use an UPPER_CASE name"),
        ("SEED: int = 42", "cell 0: line 1: parameter SEED: add a # comment"),
        ("SEED: int = 'x'  # seed", "cell 0: line 1: parameter SEED: its default expects int"),
    ],
)
def test_parameter_lines(source, message):
    assert any(message in p for p in problems(nb=_nb(_params(source))))


def test_wrong_kernel():
    nb = _nb(_params())
    nb.metadata["kernelspec"]["name"] = "python3"
    assert "notebook: kernelspec is 'python3', expected 'b2b-insights'" in problems(nb=nb)


def test_cli_exit_codes(tmp_path, capsys):
    good, bad = tmp_path / "good.ipynb", tmp_path / "bad.ipynb"
    nbformat.write(_nb(_params()), good)
    nbformat.write(_nb(new_code_cell("x = 1")), bad)
    assert main(paths=[str(good)]) == 0
    assert main(paths=[str(good), str(bad)]) == 1
    assert f"{bad}: expected exactly one" in capsys.readouterr().out


def test_unescaped_report_output_is_caught():
    found = problems(
        nb=_nb(
            _params(),
            new_code_cell('display(Markdown(f"{name} leads"))\ndf.style.format("{:.0f}")'),
            new_code_cell('reporting.say(f"{name} leads")\nreporting.styled(df, "{:.0f}")'),
        )
    )
    assert [p.split(":")[1].strip() for p in found] == ["cell 1", "cell 1"]
    assert any("reporting.say" in p for p in found) and any("reporting.styled" in p for p in found)


def test_parameter_lines_papermill_cannot_read_are_caught():
    found = problems(
        nb=_nb(_params('OUT: str = ""  # folder; "" = default\nN: int | None = None  # n'))
    )
    assert sum("papermill cannot read" in p for p in found) == 2


def test_aliased_and_other_raw_html_outputs_are_caught_but_plt_style_is_not():
    found = problems(
        nb=_nb(
            _params(),
            new_code_cell("from IPython.display import Markdown as M, HTML\nM(name)\nHTML(name)"),
            new_code_cell("df.to_html(escape=False)\ndf.to_html(escape=flag)"),
            new_code_cell(
                'plt.style.use("ggplot")\nmatplotlib.pyplot.style.use("x")\ndf.to_html()'
            ),
            new_code_cell("M(other)"),  # imported under that alias in another cell
        )
    )
    cells = [p.split(":")[1].strip() for p in found]
    assert cells == ["cell 1", "cell 1", "cell 2", "cell 2", "cell 4"]


def test_a_code_cell_over_15_lines_is_caught_but_not_the_parameters_cell():
    long = "\n".join(f"x{i} = {i}" for i in range(MAX_CELL_LINES + 1))
    at_limit = "\n".join(f"y{i} = {i}" for i in range(MAX_CELL_LINES)) + "\n\n"
    params = "\n".join(f"P{i}: int = {i}  # p" for i in range(MAX_CELL_LINES + 5))
    found = problems(
        nb=_nb(
            new_markdown_cell("# T"), _params(params), new_code_cell(long), new_code_cell(at_limit)
        ),
        name="01-x.ipynb",
    )
    assert found == [
        "01-x.ipynb: cell 2: 16 lines, more than 15: move the work into a helper step and call it"
    ]


@pytest.mark.parametrize(
    ("source", "what"),
    [
        ("if x:\n    y = 1", "an `if` statement"),
        ("for a in b:\n    print(a)", "a `for` loop"),
        ("while x:\n    x -= 1", "a `while` loop"),
        ("ys = [f(x) for x in xs]", "a comprehension"),
        ("ys = {k: v for k, v in d.items()}", "a comprehension"),
        ("n = sum(1 for x in xs)", "a comprehension"),
        ("label = 'a' if big else 'b'", "a conditional expression (`x if c else y`)"),
        ("match x:\n    case 1:\n        pass", "a `match` statement"),
    ],
)
def test_decision_logic_in_a_code_cell_is_caught(source, what):
    found = problems(nb=_nb(_params(), new_code_cell("x = 1\n" + source)), name="02-y.ipynb")
    assert found == [
        f"02-y.ipynb: cell 1: line 2: {what}: move the logic into a helper (a notebook calls "
        "steps and shows their results)"
    ]


def test_the_parameters_cell_and_plain_calls_are_not_logic():
    found = problems(
        nb=_nb(
            _params("SEED: int = 42  # seed\nN: int = 3  # n"),
            new_code_cell("result = segmentation.tiers(data, weights=TIER_WEIGHTS)\nshow(result)"),
        )
    )
    assert found == []


def test_cell_rules_list_every_decision_in_order():
    found = cell_rules(source="a = [x for x in y if x]\nif a:\n    b = 1 if a else 2")
    assert [p.split(":")[0] for p in found] == ["line 1", "line 2", "line 3"]
    assert cell_rules(source="%%time\nfor x in y: pass") == []  # a cell magic: not parsed
