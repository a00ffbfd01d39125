"""The one reader of a parameters cell: declared parameters, value checks, the cell's rules."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from nbformat.v4 import new_code_cell
from papermill.translators import PythonTranslator

from helpers.config import NOTEBOOKS_DIR
from helpers.runner.parameters import (
    Parameter,
    ParameterError,
    allowed_types,
    cell_problems,
    check,
    check_namespace,
    declared,
    notebook_file,
    problems,
    type_problem,
)

CELL = """\
SEED: int = 42  # random seed
LIMIT: int | None = None  # at most this many; None: all
MODE: 'Union[str, int]' = "auto"  # a name or a number
WEIGHTS: dict = {
    "revenue": 0.6,  # not the parameter's comment
    "margin": 0.4,
}  # tier score weights
SCALE = 1.5  # unannotated
"""


def test_declared_reads_names_annotations_defaults_and_comments():
    found = declared(source_or_notebook=CELL)
    assert list(found) == ["SEED", "LIMIT", "MODE", "WEIGHTS", "SCALE"]
    assert found["SEED"] == Parameter("SEED", "int", 42, "random seed", 1, 1)
    assert found["LIMIT"].annotation == "int | None" and found["LIMIT"].default is None
    assert found["MODE"].annotation == "'Union[str, int]'"
    weights = found["WEIGHTS"]
    assert weights.default == {"revenue": 0.6, "margin": 0.4}
    assert (weights.comment, weights.line, weights.end_line) == ("tier score weights", 4, 7)
    assert found["SCALE"].annotation == "" and found["SCALE"].expected == "float"


def test_declared_reads_a_notebook_file_or_its_content(tmp_path):
    cell = new_code_cell("A: int = 1  # a")
    cell.metadata["tags"] = ["parameters"]
    content = {"cells": [{"cell_type": "markdown", "source": "# T", "metadata": {}}, cell]}
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps(content))
    assert declared(source_or_notebook=content) == declared(source_or_notebook=path)
    assert declared(source_or_notebook=path)["A"].default == 1
    cell["source"] = ["A: int = 1  # a\n", "B: str = 'x'  # b"]  # as stored on disk: lines
    assert list(declared(source_or_notebook=content)) == ["A", "B"]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("A: int = (", "the parameters cell does not parse"),
        ("A: int = len('x')  # a", "parameter A: the value must be a literal"),
        ("A: int  # a", "parameter A has no value"),
    ],
)
def test_an_unreadable_cell_raises(source, message):
    with pytest.raises(ParameterError, match=message):
        declared(source_or_notebook=source)


def test_a_notebook_needs_exactly_one_parameters_cell(tmp_path):
    path = tmp_path / "bare.ipynb"
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": "", "metadata": {}}]}))
    with pytest.raises(ParameterError, match="bare.ipynb: expected exactly one cell tagged"):
        declared(source_or_notebook=path)


def test_every_committed_notebook_declares_its_parameters():
    for path in sorted(NOTEBOOKS_DIR.glob("*.ipynb")):
        found = declared(source_or_notebook=path)
        assert "OUTPUT_DIR" in found, path.name
        assert all(type_problem(p.expected, p.default) is None for p in found.values())


@pytest.mark.parametrize(
    ("annotation", "value", "ok"),
    [
        ("int", 3, True),
        ("int", "3", False),
        ("float", 3, True),
        ("float", 2.5, True),
        ("int", True, False),
        ("float", False, False),
        ("bool", True, True),
        ("bool", 1, False),
        ("str", None, False),
        ("dict", {"a": 1}, True),
        ("dict", "region=north", False),
        ("list", ["a"], True),
        ("list[str]", "a", False),
        ("int | None", None, True),
        ("int | None", 3, True),
        ("int | None", "ten", False),
        ("None | str", "x", True),
        ("'Union[str, int]'", 4, True),
        ("'Union[str, int]'", "auto", True),
        ("'Union[str, int]'", 1.5, False),
        ("Union[str, int]", 1.5, False),
        ("Optional[int]", None, True),
        ("Optional[int]", "x", False),
        ("'Optional[int]'", None, True),
        ("typing.Optional[int]", 2, True),
        ("Optional[dict[str, int]]", {"a": 1}, True),
        ("Optional[dict[str, int]]", 3, False),
        ("dict[str, int] | None", "x", False),
        ("Union[dict[str, int], list[int], None]", [1], True),
        ("Union[dict[str, int], list[int], None]", 1, False),
        ("'int | None'", None, True),
        ("NoneType", None, True),
        ("Any", object(), True),
    ],
)
def test_type_checks(annotation, value, ok):
    assert (type_problem(annotation, value) is None) == ok


@pytest.mark.parametrize(
    "annotation", ["Path", "Literal['a', 'b']", "int | Path", "Optional[Path]", "not valid ("]
)
def test_annotations_not_understood_are_not_guessed(annotation):
    assert allowed_types(annotation) is None
    assert type_problem(annotation, object()) is None


def test_type_problem_names_the_annotation_and_the_value():
    assert type_problem("int | None", "ten") == "expects int | None, got str 'ten'"
    assert type_problem("int", True) == "expects int, got a boolean True"


def test_problems_name_unknown_parameters_with_a_hint_and_wrong_types():
    found = problems(
        declared=declared(source_or_notebook=CELL),
        values={"SEEDS": 1, "LIMIT": "ten", "WEIGHTS": {}, "SCALE": 2, "ZZZ": 0},
    )
    assert found == [
        "unknown parameter SEEDS (did you mean SEED?); the parameters are SEED, LIMIT, MODE, "
        "WEIGHTS, SCALE",
        "parameter LIMIT expects int | None, got str 'ten'",
        "unknown parameter ZZZ; the parameters are SEED, LIMIT, MODE, WEIGHTS, SCALE",
    ]
    assert problems(declared=declared(source_or_notebook=CELL), values={"SCALE": 2.5}) == []
    assert problems(declared=declared(source_or_notebook=CELL), values={"SCALE": "x"}) == [
        "parameter SCALE expects float, got str 'x'"
    ]


def test_check_raises_with_every_problem():
    params = declared(source_or_notebook=CELL)
    check(declared=params, values={"SEED": 7})
    with pytest.raises(ParameterError, match="parameter SEED expects int, got str 'x'"):
        check(declared=params, values={"SEED": "x"})


def test_check_namespace_checks_declared_values_in_a_notebooks_globals():
    check_namespace(notebook=CELL, namespace={"SEED": 7, "LIMIT": None, "other": object()})
    with pytest.raises(ParameterError) as raised:
        check_namespace(notebook=CELL, namespace={"SEED": "ninety", "LIMIT": 3, "x": "y"})
    # the same sentence as the batch's check (problems) gives
    assert str(raised.value) == (
        "the parameters cell: Parameters that do not fit:\n"
        "  - parameter SEED expects int, got str 'ninety'"
    )
    # IPython shows the message alone, not a traceback through the helpers
    assert raised.value._render_traceback_() == [f"ParameterError: {raised.value}"]


def test_check_namespace_finds_unknown_names_papermill_injected():
    history = ["", CELL, "# Parameters\nSEEDS = 3\nLIMIT = 2\nlower = 1\n", "x = 1"]
    with pytest.raises(ParameterError, match=r"unknown parameter SEEDS \(did you mean SEED\?\)"):
        check_namespace(notebook=CELL, namespace={"In": history, "SEEDS": 3, "LIMIT": 2})
    # outside IPython (no input history) only the declared names are checked
    check_namespace(notebook=CELL, namespace={"SEEDS": 3, "LIMIT": 2})


def test_check_namespace_reads_a_notebook_by_name_or_path(tmp_path, monkeypatch):
    cell = new_code_cell("SEED: int = 1  # seed")
    cell.metadata["tags"] = ["parameters"]
    nb = tmp_path / "own.ipynb"
    nb.write_text(json.dumps({"cells": [cell]}))
    with pytest.raises(ParameterError, match=r"^own.ipynb: (.|\n)*parameter SEED expects int"):
        check_namespace(notebook=nb, namespace={"SEED": 1.5})
    monkeypatch.chdir(tmp_path)  # a bare name not in notebooks/ is looked up where it runs
    assert notebook_file("own") == nb
    assert notebook_file("02-churn-survival") == NOTEBOOKS_DIR / "02-churn-survival.ipynb"
    check_namespace(notebook="own", namespace={"SEED": 2})


def test_a_good_cell_has_no_problems():
    assert cell_problems(source='SEED: int = 42  # seed\nMODE: str = "a#b"  # mode') == []


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("SEED = 42  # seed", "line 1: parameter SEED: add a type annotation (NAME: type = ...)"),
        ("seed: int = 42  # seed", "line 1: parameter seed: use an UPPER_CASE name"),
        ("SEED: int = 42", "line 1: parameter SEED: add a # comment saying what it is"),
        ('MODE: str = "a#b"', "line 1: parameter MODE: add a # comment saying what it is"),
        ("SEED: int = 'x'  # seed", "line 1: parameter SEED: its default expects int, got str"),
        ("import os", "line 1: only `NAME: type = value  # comment` lines"),
        ("A, B = 1, 2  # two", "line 1: only `NAME: type = value  # comment` lines"),
        ("A: int = (", "the parameters cell does not parse"),
        ("X: int = 1  # x\nA: str = f()  # a", "line 2: parameter A: the value must be a literal"),
        (
            "N: int | None = None  # n",
            "line 1: parameter N: papermill cannot read the annotation int | None",
        ),
        (
            'OUT: str = ""  # folder; "" = default',
            "line 1: parameter OUT: papermill cannot read a line with more than one '='",
        ),
    ],
)
def test_cell_problems(source, message):
    assert message in "\n".join(cell_problems(source=source))


@pytest.mark.parametrize(
    "line",
    [
        "A: int = 1  # fine",
        "A: Optional[int] = None  # fine",
        "A: 'Union[str, int]' = 'x'  # fine",
        "A: dict[str, int] = {}  # fine",
        "A: int | None = None  # a union",
        "A: typing.Optional[int] = None  # a dotted name",
        'A: str = ""  # "" = default',
        'A: str = "a=b"  # an = in the value',
    ],
)
def test_papermill_rule_agrees_with_papermills_own_parser(line):
    seen = {p.name for p in PythonTranslator.inspect(new_code_cell(line))}
    flagged = any("papermill cannot" in p for p in cell_problems(source=line))
    assert flagged == ("A" not in seen)


def test_importing_the_module_loads_no_third_party_package():
    code = (
        "import sys, helpers.runner.parameters; "
        "print(sorted(m for m in ('nbformat', 'papermill', 'yaml', 'pandas', 'numpy') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
