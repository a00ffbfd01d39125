"""Notebook hygiene: committed notebooks carry no outputs and one proper ``parameters`` cell.

``python -m helpers.runner.hygiene notebooks/*.ipynb`` exits non-zero and lists the problems; the
test suite runs the same check, and ``.pre-commit-config.yaml`` offers it as a hook. Rules:

* no outputs and no execution counts in any code cell;
* exactly one code cell tagged ``parameters``, and it is the first code cell;
* each of its assignments is an UPPER_CASE name with a type annotation and a ``#`` comment,
  on a line papermill's own parser reads (it skips, with a mere warning, lines whose comment
  holds ``=`` or whose annotation is a union such as ``int | None``);
* the kernelspec is the project's kernel (``b2b-insights``);
* no direct ``Markdown(...)`` or ``DataFrame.style``: both pass account and channel names into
  the report as raw HTML; ``reporting.say`` and ``reporting.styled`` escape them.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import nbformat

from helpers.config import KERNEL_NAME


def problems(nb: nbformat.NotebookNode) -> list[str]:
    """Every hygiene problem of one notebook (empty list: clean)."""
    found: list[str] = []
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    for i, cell in code:
        if cell.get("outputs"):
            found.append(f"cell {i}: has stored outputs (clear them before committing)")
        if cell.get("execution_count") is not None:
            found.append(f"cell {i}: has an execution count (clear outputs before committing)")
    tagged = [(i, c) for i, c in code if "parameters" in c.metadata.get("tags", [])]
    if len(tagged) != 1:
        found.append(f"expected exactly one code cell tagged 'parameters', found {len(tagged)}")
    elif code[0][0] != tagged[0][0]:
        found.append(f"the 'parameters' cell (cell {tagged[0][0]}) is not the first code cell")
    if len(tagged) == 1:
        found += _parameter_problems(tagged[0][1].source)
    aliases = _display_aliases([c.source for _, c in code])
    for i, cell in code:
        found += [f"cell {i}: {p}" for p in _unescaped_output(cell.source, aliases)]
    kernel = nb.metadata.get("kernelspec", {}).get("name")
    if kernel != KERNEL_NAME:
        found.append(f"kernelspec is {kernel!r}, expected {KERNEL_NAME!r}")
    return found


def _parameter_problems(source: str) -> list[str]:
    found = []
    lines = source.splitlines()
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return [f"parameters cell does not parse: {exc}"]
    seen_by_papermill = {p.name for p in _papermill_parameters(source)}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            found.append(f"parameter {', '.join(names)}: add a type annotation (NAME: type = ...)")
            continue
        if not isinstance(node, ast.AnnAssign) or not isinstance(node.target, ast.Name):
            found.append(f"parameters cell line {node.lineno}: only `NAME: type = value` lines")
            continue
        name = node.target.id
        if name != name.upper():
            found.append(f"parameter {name}: use an UPPER_CASE name")
        last = lines[(node.end_lineno or node.lineno) - 1]
        if "#" not in last:
            found.append(f"parameter {name}: add a # comment saying what it is")
        elif name not in seen_by_papermill:
            found.append(
                f"parameter {name}: papermill cannot parse its line (no '=' in the comment, "
                "no union types)"
            )
    return found


def _papermill_parameters(source: str) -> list:
    import logging

    from nbformat.v4 import new_code_cell
    from papermill.translators import PythonTranslator

    log = logging.getLogger("papermill.translators")
    level = log.level
    log.setLevel(logging.ERROR)  # the warnings are what this check reports
    try:
        return PythonTranslator.inspect(new_code_cell(source))
    finally:
        log.setLevel(level)


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
        for problem in problems(nbformat.read(Path(path), as_version=4)):
            print(f"{path}: {problem}")
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
