"""Notebook hygiene: committed notebooks carry no outputs and one proper ``parameters`` cell.

``python -m helpers.hygiene notebooks/*.ipynb`` exits non-zero and lists the problems; the
test suite runs the same check, and ``.pre-commit-config.yaml`` offers it as a hook. Rules:

* no outputs and no execution counts in any code cell;
* exactly one code cell tagged ``parameters``, and it is the first code cell;
* each of its assignments is an UPPER_CASE name with a type annotation and a ``#`` comment;
* the kernelspec is the project's kernel (``b2b-insights``).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Sequence
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
