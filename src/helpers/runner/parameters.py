"""The one reader of a notebook's ``parameters`` cell, and the check of values against it.

A parameters cell holds one ``NAME: type = value  # comment`` line per parameter (a literal
value may span lines; the comment goes on its last line)::

    SEED: int = 42  # random seed
    LIMIT: Optional[int] = None  # at most this many accounts; None: all
    FILTERS: dict = {}  # e.g. {"region": "north"}

:func:`declared` reads it into :class:`Parameter` objects, :func:`problems` says what is wrong
with a set of values for it (unknown names with a did-you-mean hint, values of the wrong type),
:func:`cell_problems` says what is wrong with the cell itself (the house rules, and lines that
papermill's own parser skips). The batch checks every run with these before a kernel starts;
the hygiene check applies :func:`cell_problems` to every committed notebook.

Only the standard library is imported (a notebook file is read as JSON), so a notebook's first
code cell can import this module cheaply.
"""

from __future__ import annotations

import ast
import difflib
import io
import json
import os
import re
import tokenize
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The tag of the parameters cell (papermill's convention).
TAG = "parameters"

#: What :func:`declared` reads: a cell's source, a notebook file, or a notebook's content.
Notebook = str | os.PathLike[str] | Mapping[str, Any]


class ParameterError(ValueError):
    """A notebook has no readable parameters cell, or values do not fit it."""

    def _render_traceback_(self) -> list[str]:
        """IPython shows this instead of a traceback: the message is the whole story."""
        return [f"ParameterError: {self}"]


@dataclass(frozen=True)
class Parameter:
    """One assignment of the parameters cell.

    ``annotation`` is the annotation's source text (``"int | None"``, ``"'Union[str, int]'"``),
    ``""`` when the line has none; ``default`` the literal value; ``comment`` the text of the
    ``#`` comment on the assignment's last line (``""`` without one); ``line`` and ``end_line``
    the 1-based lines of the assignment in the cell.
    """

    name: str
    annotation: str
    default: Any
    comment: str = ""
    line: int = 1
    end_line: int = 1

    @property
    def expected(self) -> str:
        """The annotation, or the type name of the default when the line has none."""
        return self.annotation or type(self.default).__name__


# --- reading the cell -------------------------------------------------------------------------


def cell_source(notebook: os.PathLike[str] | Mapping[str, Any]) -> str:
    """The source of the one cell tagged ``parameters`` of a notebook (a file or its content).

    Raises :class:`ParameterError` when there is no such cell or more than one.
    """
    if isinstance(notebook, Mapping):
        content, label = notebook, "the notebook"
    else:
        path = Path(notebook)
        content, label = json.loads(path.read_text(encoding="utf-8")), path.name
    tagged = [
        cell
        for cell in content.get("cells", [])
        if TAG in (cell.get("metadata") or {}).get("tags", [])
    ]
    if len(tagged) != 1:
        raise ParameterError(
            f"{label}: expected exactly one cell tagged '{TAG}', found {len(tagged)}."
        )
    source = tagged[0].get("source", "")
    return source if isinstance(source, str) else "".join(source)


def _comments(source: str) -> dict[int, str]:
    """Line number -> text of the ``#`` comment on that line (real comments, not ``"#"``)."""
    found: dict[int, str] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                found[token.start[0]] = token.string[1:].strip()
    except (tokenize.TokenError, SyntaxError):
        pass  # the cell does not parse: ast.parse reports it
    return found


@dataclass(frozen=True)
class _Cell:
    """A parameters cell as read: its parameters, what stops it from being read (``errors``),
    and the lines of statements that are not parameter assignments (``others``)."""

    parameters: list[Parameter]
    errors: list[str]
    others: list[int]


def _read(source: str) -> _Cell:
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return _Cell([], [f"the parameters cell does not parse: {exc.msg} (line {exc.lineno})"], [])
    comments = _comments(source)
    cell = _Cell([], [], [])
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names, annotation = [node.target.id], ast.unparse(node.annotation)
        elif isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
            names, annotation = [t.id for t in node.targets], ""
        else:
            cell.others.append(node.lineno)
            continue
        if node.value is None:
            cell.errors.append(f"line {node.lineno}: parameter {names[0]} has no value")
            continue
        try:
            default = ast.literal_eval(node.value)
        except (ValueError, TypeError, SyntaxError, RecursionError):
            cell.errors.append(
                f"line {node.lineno}: parameter {names[0]}: the value must be a literal "
                f"(number, string, list, dict, ...), not {ast.unparse(node.value)}; derive "
                "values in the next cell"
            )
            continue
        end = node.end_lineno or node.lineno
        cell.parameters.extend(
            Parameter(name, annotation, default, comments.get(end, ""), node.lineno, end)
            for name in names
        )
    return cell


def declared(source_or_notebook: Notebook) -> dict[str, Parameter]:
    """The parameters of a notebook, by name, in the order of the cell.

    ``source_or_notebook``: the cell's source text (``str``), a notebook file (``Path``) or a
    notebook's content (a mapping such as an ``nbformat`` node). Statements other than
    assignments are ignored here (:func:`cell_problems` reports them); a cell that does not
    parse or a value that is not a literal raises :class:`ParameterError`.

    >>> declared("SEED: int = 42  # random seed")["SEED"]
    Parameter(name='SEED', annotation='int', default=42, comment='random seed', line=1, end_line=1)
    """
    if isinstance(source_or_notebook, str):
        source, label = source_or_notebook, "the parameters cell"
    elif isinstance(source_or_notebook, Mapping):
        source, label = cell_source(source_or_notebook), "the notebook"
    else:
        source, label = cell_source(source_or_notebook), Path(source_or_notebook).name
    cell = _read(source)
    if cell.errors:
        raise ParameterError(f"{label}: " + "; ".join(cell.errors))
    return {p.name: p for p in cell.parameters}


# --- checking values --------------------------------------------------------------------------

#: Annotation names this check understands, and the Python types of values that fit them
#: (``float`` takes integers too; ``bool`` only fits ``bool``).
_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "dict": (dict,),
    "list": (list,),
    "tuple": (tuple,),
    "None": (type(None),),
    "NoneType": (type(None),),
}
_ANYTHING = {"Any", "object"}


def _allowed(node: ast.expr) -> tuple[type, ...] | None:
    """The value types an annotation (as an AST) admits; None: not understood, do not check."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # quoted annotation
        return allowed_types(node.value)
    if isinstance(node, ast.Constant) and node.value is None:
        return (type(None),)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):  # int | None
        left, right = _allowed(node.left), _allowed(node.right)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.Subscript):
        base = _name(node.value)
        members = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if base in ("Union", "Optional"):
            parts = [_allowed(m) for m in members]
            if any(p is None for p in parts):
                return None
            extra: tuple[type, ...] = (type(None),) if base == "Optional" else ()
            return tuple(t for p in parts for t in p) + extra
        return _TYPES.get(base)  # dict[str, int]: a dict (element types are not checked)
    name = _name(node)
    if name in _ANYTHING:
        return (object,)
    return _TYPES.get(name)


def _name(node: ast.expr) -> str:
    """``int`` -> "int", ``typing.Optional`` -> "Optional"; "" for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def allowed_types(annotation: str) -> tuple[type, ...] | None:
    """The Python types of values that fit ``annotation`` (source text), None if not understood.

    Unions in every spelling: ``int | None``, ``Optional[int]``, ``Union[str, int]``, quoted or
    not, members split at top-level commas (``Optional[dict[str, int]]`` is dict or None).
    """
    try:
        node = ast.parse(annotation.strip(), mode="eval").body
    except SyntaxError:
        return None
    return _allowed(node)


def type_problem(annotation: str, value: Any) -> str | None:
    """Why ``value`` does not fit ``annotation`` (e.g. ``"expects int | None, got str 'ten'"``),
    or None when it fits or when the annotation is one this check does not understand."""
    allowed = allowed_types(annotation)
    if allowed is None or object in allowed:
        return None
    if isinstance(value, bool) and bool not in allowed:
        return f"expects {annotation}, got a boolean {value!r}"
    if isinstance(value, allowed):
        return None
    return f"expects {annotation}, got {type(value).__name__} {value!r}"


def problems(declared: Mapping[str, Parameter], values: Mapping[str, Any]) -> list[str]:
    """What is wrong with ``values`` for a notebook whose parameters are ``declared``.

    One sentence per problem: a name the notebook does not declare (with the closest declared
    name as a hint), or a value that does not fit the parameter's annotation (naming the
    parameter, the annotation and the value). An empty list: every value fits.
    """
    found = []
    for name, value in values.items():
        if name not in declared:
            hint = difflib.get_close_matches(name, list(declared), n=1)
            found.append(
                f"unknown parameter {name}"
                + (f" (did you mean {hint[0]}?)" if hint else "")
                + f"; the parameters are {', '.join(declared) or 'none'}"
            )
            continue
        why = type_problem(declared[name].expected, value)
        if why:
            found.append(f"parameter {name} {why}")
    return found


def check(declared: Mapping[str, Parameter], values: Mapping[str, Any]) -> None:
    """Raise :class:`ParameterError` listing every one of :func:`problems`, if there is any."""
    found = problems(declared, values)
    if found:
        raise ParameterError("Parameters that do not fit:\n  - " + "\n  - ".join(found))


#: The first line of the cell papermill injects after the parameters cell.
_INJECTED_MARK = "# Parameters"
_UPPER_NAME = re.compile(r"[A-Z][A-Z0-9_]*")


def _injected_names(namespace: Mapping[str, Any]) -> list[str]:
    """UPPER_CASE names assigned by papermill's injected cell, found in IPython's input history
    (``In``) of ``namespace``; empty outside IPython or without an injected cell."""
    history = namespace.get("In")
    if not isinstance(history, list):
        return []
    names: list[str] = []
    for source in history:
        if not isinstance(source, str) or not source.lstrip().startswith(_INJECTED_MARK):
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else []
            names += [t.id for t in targets if isinstance(t, ast.Name)]
    return [n for n in dict.fromkeys(names) if _UPPER_NAME.fullmatch(n)]


def notebook_file(notebook: str | os.PathLike[str]) -> Path:
    """The file of a notebook given by name (``"02-churn-survival"``) or path.

    A bare name is looked up in the project's ``notebooks/`` folder, then in the current
    folder (papermill and the batch run a notebook with its own folder as the current one).
    """
    path = Path(notebook)
    if path.suffix != ".ipynb":
        path = path.with_name(path.name + ".ipynb")
    if path.is_absolute() or len(path.parts) > 1:
        return path
    # helpers.config is imported lazily: it is standard library only as well
    from helpers.config import NOTEBOOKS_DIR

    project = NOTEBOOKS_DIR / path
    return project if project.exists() or not path.exists() else path.resolve()


def check_namespace(notebook: Notebook, namespace: Mapping[str, Any]) -> None:
    """Check a running notebook's parameter values with the same rules as the batch.

    ``notebook``: the notebook's name (``"02-churn-survival"``, see :func:`notebook_file`), its
    file or its content; ``namespace``: where its parameters live, normally ``globals()`` of the
    notebook. Every declared parameter found in ``namespace`` must fit its annotation, and every
    UPPER_CASE name papermill injected (``-p NAME VALUE``) must be declared. Raises
    :class:`ParameterError` naming the notebook and listing each problem in the same words as
    the batch (:func:`problems`); papermill itself would only warn, or fail later with a raw
    traceback.

    >>> check_namespace("SEED: int = 42  # seed", {"SEED": "ten"})
    Traceback (most recent call last):
    ...
    helpers.runner.parameters.ParameterError: the parameters cell: Parameters that do not fit:
      - parameter SEED expects int, got str 'ten'
    """
    if isinstance(notebook, str) and "\n" not in notebook and "=" not in notebook:
        notebook = notebook_file(notebook)
    params = declared(notebook)
    label = (
        "the parameters cell"
        if isinstance(notebook, str)
        else "the notebook"
        if isinstance(notebook, Mapping)
        else Path(notebook).name
    )
    values = {name: namespace[name] for name in params if name in namespace}
    values |= {n: namespace.get(n) for n in _injected_names(namespace) if n not in params}
    found = problems(params, values)
    if found:
        raise ParameterError(f"{label}: Parameters that do not fit:\n  - " + "\n  - ".join(found))


# --- the cell's own rules ---------------------------------------------------------------------

#: What papermill 2.x's parser reads of an annotation (``PythonTranslator.PARAMETER_PATTERN``):
#: word characters, brackets, commas and spaces, optionally in quotes; so no ``|`` and no dots.
_PAPERMILL_ANNOTATION = re.compile(r"[\"']?\w[\w\[\],\s]*[\"']?")


def _papermill_problem(parameter: Parameter, lines: list[str]) -> str:
    """Why papermill's line parser skips this assignment (it then only warns), or ""."""
    if parameter.annotation and not _PAPERMILL_ANNOTATION.fullmatch(parameter.annotation):
        return (
            f"papermill cannot read the annotation {parameter.annotation} "
            "(write Optional[int] or 'Union[str, int]' instead of int | None)"
        )
    text = "\n".join(lines[parameter.line - 1 : parameter.end_line])
    if text.count("=") > 1:
        return "papermill cannot read a line with more than one '=' (none in the comment)"
    return ""


def cell_problems(source: str) -> list[str]:
    """What is wrong with a parameters cell: it must parse; only ``NAME: type = literal  #
    comment`` assignments with UPPER_CASE names, each value fitting its annotation; every
    line readable by papermill's own parser (it skips, with a mere warning, lines with more
    than one ``=`` or an annotation such as ``int | None``)."""
    cell = _read(source)
    errors = list(cell.errors)
    errors += [f"line {n}: only `NAME: type = value  # comment` lines" for n in cell.others]
    lines = source.splitlines()
    for p in cell.parameters:
        where = f"line {p.line}: parameter {p.name}"
        if not p.annotation:
            errors.append(f"{where}: add a type annotation (NAME: type = ...)")
        if p.name != p.name.upper():
            errors.append(f"{where}: use an UPPER_CASE name")
        if not p.comment:
            errors.append(f"{where}: add a # comment saying what it is")
        why = type_problem(p.expected, p.default)
        if why:
            errors.append(f"{where}: its default {why}")
        why = _papermill_problem(p, lines)
        if why:
            errors.append(f"{where}: {why}")
    return sorted(errors, key=_line_of)


def _line_of(message: str) -> int:
    match = re.match(r"line (\d+)", message)
    return int(match.group(1)) if match else 0
