"""Notebook hygiene: committed notebooks carry no outputs, one proper ``parameters`` cell, and
short cells without decision logic.

``python -m helpers.runner.hygiene notebooks/*.ipynb`` exits non-zero and lists the problems,
each naming the notebook and the cell; the test suite runs the same check, and
``.pre-commit-config.yaml`` offers it as a hook. Rules:

* no outputs and no execution counts in any code cell;
* exactly one code cell tagged ``parameters``, and it is the first code cell;
* that cell follows :func:`helpers.runner.parameters.cell_problems`: ``NAME: type = literal  #
  comment`` lines with UPPER_CASE names, defaults that fit their annotations, every line
  readable by papermill's own parser;
* the kernelspec is the project's kernel (``b2b-insights``);
* no direct ``Markdown(...)`` or ``DataFrame.style``: both pass account and channel names into
  the report as raw HTML; ``reporting.say`` and ``reporting.styled`` escape them;
* no code cell longer than 15 lines, and no decision logic in code cells (``if``, ``for``,
  ``while``, ``match``, comprehensions, ``x if c else y``): a notebook calls helper steps and
  shows their results; logic lives in ``helpers``, where it is tested. The parameters cell is
  exempt from both.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import nbformat

from helpers.config import KERNEL_NAME
from helpers.runner import parameters

#: The longest code cell a notebook may have (lines of source).
MAX_CELL_LINES = 15

#: Statements and expressions that make a decision or loop, as named in the messages.
_LOGIC: dict[type, str] = {
    ast.If: "an `if` statement",
    ast.For: "a `for` loop",
    ast.AsyncFor: "a `for` loop",
    ast.While: "a `while` loop",
    ast.Match: "a `match` statement",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a comprehension",
    ast.IfExp: "a conditional expression (`x if c else y`)",
}


def problems(nb: nbformat.NotebookNode, name: str = "notebook") -> list[str]:
    """Every hygiene problem of one notebook (empty list: clean); ``name`` starts each message."""
    found: list[str] = []
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    for i, cell in code:
        if cell.get("outputs"):
            found.append(f"cell {i}: has stored outputs (clear them before committing)")
        if cell.get("execution_count") is not None:
            found.append(f"cell {i}: has an execution count (clear outputs before committing)")
    tagged = [(i, c) for i, c in code if parameters.TAG in c.metadata.get("tags", [])]
    if len(tagged) != 1:
        found.append(f"expected exactly one code cell tagged 'parameters', found {len(tagged)}")
    elif code[0][0] != tagged[0][0]:
        found.append(f"the 'parameters' cell (cell {tagged[0][0]}) is not the first code cell")
    if len(tagged) == 1:
        index, cell = tagged[0]
        found += [f"cell {index}: {p}" for p in parameters.cell_problems(cell.source)]
    aliases = _display_aliases([c.source for _, c in code])
    for i, cell in code:
        found += [f"cell {i}: {p}" for p in _unescaped_output(cell.source, aliases)]
    exempt = {i for i, _ in tagged}
    for i, cell in code:
        if i not in exempt:
            found += [f"cell {i}: {p}" for p in cell_rules(cell.source)]
    kernel = nb.metadata.get("kernelspec", {}).get("name")
    if kernel != KERNEL_NAME:
        found.append(f"kernelspec is {kernel!r}, expected {KERNEL_NAME!r}")
    return [f"{name}: {p}" for p in found]


def cell_rules(source: str) -> list[str]:
    """The rules of an ordinary code cell: at most :data:`MAX_CELL_LINES` lines, no decision
    logic (a cell that does not parse, e.g. a cell magic, is only measured)."""
    found = []
    lines = len(source.rstrip().splitlines())
    if lines > MAX_CELL_LINES:
        found.append(
            f"{lines} lines, more than {MAX_CELL_LINES}: move the work into a helper step "
            "and call it"
        )
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return found
    logic = [n for n in ast.walk(tree) if type(n) in _LOGIC]
    found += [
        f"line {n.lineno}: {_LOGIC[type(n)]}: move the logic into a helper (a notebook calls "
        "steps and shows their results)"
        for n in sorted(logic, key=lambda n: (n.lineno, n.col_offset))
    ]
    return found


#: Display calls that pass text into the report unescaped, and what to use instead.
_RAW_DISPLAY = {"Markdown": "reporting.say", "HTML": "reporting.say or reporting.styled"}
#: Modules whose ``.style`` is not a DataFrame Styler.
_STYLE_MODULES = {"plt", "mpl", "matplotlib", "sns", "seaborn"}


def _display_aliases(sources: Sequence[str]) -> dict[str, str]:
    """Names under which ``Markdown`` / ``HTML`` were imported anywhere in the notebook."""
    aliases = {}
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                for a in node.names:
                    if a.name in _RAW_DISPLAY:
                        aliases[a.asname or a.name] = a.name
    return aliases


def _root(node: ast.expr) -> str:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def _unescaped_output(source: str, aliases: Mapping[str, str]) -> list[str]:
    """Raw-HTML outputs in one cell; ``aliases`` from :func:`_display_aliases` of the notebook."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # cell magics and the like: nothing to check
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = (
                f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            )
            name = aliases.get(name, name)
            if name in _RAW_DISPLAY:
                found.append(
                    f"line {node.lineno}: {name}(...) does not escape data; use {_RAW_DISPLAY[name]}"
                )
            if name == "to_html" and any(
                k.arg == "escape"
                and not (isinstance(k.value, ast.Constant) and k.value.value is True)
                for k in node.keywords
            ):
                found.append(f"line {node.lineno}: to_html(escape=...) may let data become HTML")
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "style"
            and _root(node.value) not in _STYLE_MODULES
        ):
            found.append(f"line {node.lineno}: .style does not escape data; use reporting.styled")
    return found


def main(paths: Sequence[str]) -> int:
    """Check the notebooks at ``paths``; print problems; 1 if any, else 0."""
    bad = 0
    for path in paths:
        for problem in problems(nbformat.read(Path(path), as_version=4), name=str(path)):
            print(problem)
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
