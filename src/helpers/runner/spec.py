"""Batch files: which notebooks to run with which parameters, checked before anything runs.

A batch is a YAML file under ``runs/``::

    name: by-region                   # reports go to reports/<name>/ (default: the file's stem)
    parameters:                       # defaults for every run
      DATA_SOURCE: demo
    runs:
      - notebook: 00-data-overview    # notebooks/<notebook>.ipynb
      - notebook: [01-customer-segmentation, 02-churn-survival]
        matrix:                       # every combination of these values is one run
          FILTERS: [{region: north}, {region: south}]
      - notebook: 02-churn-survival
        name: churn-quarterly         # optional explicit run name
        parameters: {CHURN_THRESHOLD_DAYS: 90}
      - notebook: 90-leadership-summary
        last: true                    # starts once every other run has finished

Run names derive from the notebook and the parameters that differ from the batch defaults, e.g.
``02-churn-survival--churn_threshold_days-90``, so a rerun of the same batch replaces the same
folders. :func:`check_runs` checks every run's parameters against its notebook's ``parameters``
cell (:mod:`helpers.runner.parameters`): unknown names (with a close-match hint) and values of
the wrong type are errors, all reported at once (papermill itself would only warn).
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from helpers.config import NOTEBOOKS_DIR
from helpers.runner import parameters
from helpers.runner.parameters import Parameter, ParameterError

#: Set by the batch for each run (its staging folder), never by a batch file.
OUTPUT_PARAMETER = "OUTPUT_DIR"


class BatchError(ValueError):
    """A batch file or a run's parameters are invalid; the message lists every problem."""


@dataclass(frozen=True)
class Run:
    """One notebook execution: which notebook, with which parameters, into which folder."""

    name: str
    notebook: str
    parameters: dict[str, Any]
    last: bool = False  # start only after every run without this flag has ended


def notebook_path(notebook: str, notebooks_dir: Path = NOTEBOOKS_DIR) -> Path:
    """``notebooks/<name>.ipynb`` for a name with or without the suffix."""
    name = notebook if notebook.endswith(".ipynb") else f"{notebook}.ipynb"
    return notebooks_dir / name


def _slug(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return re.sub(r"[^a-z0-9_]+", "-", text.lower()).strip("-")[:40] or "x"


def run_name(notebook: str, parameters: Mapping[str, Any], defaults: Mapping[str, Any]) -> str:
    """Deterministic run name: the notebook stem plus the parameters that differ from defaults."""
    stem = Path(notebook).stem
    parts = [
        f"{_slug(k)}-{_slug(v)}"
        for k, v in sorted(parameters.items())
        if k not in defaults or defaults[k] != v
    ]
    return "--".join([stem, *parts])


def _entry(i: int, entry: Any) -> Mapping[str, Any]:
    """One item of ``runs:`` checked for its keys (a bare string is a notebook name)."""
    if isinstance(entry, str):
        entry = {"notebook": entry}
    if not isinstance(entry, Mapping) or "notebook" not in entry:
        raise BatchError(f"Run {i}: needs a 'notebook:' (got {entry!r}).")
    unknown = set(entry) - {"notebook", "parameters", "matrix", "name", "last"}
    if unknown:
        raise BatchError(
            f"Run {i}: unknown key(s) {sorted(unknown)}; use notebook, "
            "parameters, matrix, name, last."
        )
    if not isinstance(entry.get("last", False), bool):
        raise BatchError(f"Run {i}: 'last' must be true or false (got {entry['last']!r}).")
    for key, values in dict(entry.get("matrix") or {}).items():
        if not isinstance(values, list) or not values:
            raise BatchError(f"Run {i}: matrix '{key}' must be a non-empty list.")
    return entry


def expand(spec: Mapping[str, Any]) -> tuple[str | None, list[Run]]:
    """Parse a batch mapping (the YAML) into runs: notebook lists x matrix combinations."""
    if not isinstance(spec, Mapping) or not isinstance(spec.get("runs"), list):
        raise BatchError("A batch file needs a 'runs:' list (see helpers.runner.spec).")
    defaults = dict(spec.get("parameters") or {})
    runs: list[Run] = []
    for i, raw in enumerate(spec["runs"], start=1):
        entry = _entry(i, raw)
        notebooks = entry["notebook"]
        notebooks = [notebooks] if isinstance(notebooks, str) else list(notebooks)
        matrix = dict(entry.get("matrix") or {})
        combos = [
            dict(zip(matrix, values, strict=True)) for values in itertools.product(*matrix.values())
        ] or [{}]
        for notebook in notebooks:
            for combo in combos:
                params = {**defaults, **dict(entry.get("parameters") or {}), **combo}
                name = entry.get("name")
                if name and (len(notebooks) > 1 or len(combos) > 1):
                    name = f"{name}--{run_name(notebook, combo, {})}"
                name = name or run_name(notebook, params, defaults)
                runs.append(Run(name, notebook, params, entry.get("last", False)))
    names = [r.name for r in runs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise BatchError(f"Runs with the same name (same notebook and parameters): {dupes}.")
    return spec.get("name"), runs


def read_batch(path: str | os.PathLike[str]) -> tuple[str, list[Run]]:
    """(batch name, runs) from a YAML batch file."""
    path = Path(path)
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BatchError(f"Batch file {path} does not exist.") from None
    except yaml.YAMLError as exc:
        raise BatchError(f"{path}: not valid YAML: {exc}") from None
    name, runs = expand(spec)
    return name or path.stem, runs


def select(runs: Sequence[Run], only: Sequence[str], source: str = "the batch") -> list[Run]:
    """The runs named in ``only`` (run names or notebooks), plus every ``last`` run: those (the
    summary) read the other runs' results, so they are rerun too."""
    unknown = sorted(set(only) - {r.name for r in runs} - {r.notebook for r in runs})
    if unknown:
        raise BatchError(f"--only: no run or notebook named {', '.join(unknown)} in {source}.")
    return [r for r in runs if r.name in set(only) or r.notebook in set(only) or r.last]


def check_runs(runs: Sequence[Run], notebooks_dir: Path = NOTEBOOKS_DIR) -> None:
    """Raise :class:`BatchError` listing every unknown notebook, parameter or wrong type."""
    problems: list[str] = []
    cache: dict[str, dict[str, Parameter]] = {}
    for run in runs:
        path = notebook_path(run.notebook, notebooks_dir)
        if not path.exists():
            known = sorted(p.stem for p in notebooks_dir.glob("*.ipynb"))
            problems.append(
                f"{run.name}: notebook {path.name} does not exist (known: {', '.join(known)})."
            )
            continue
        if run.notebook not in cache:
            try:
                cache[run.notebook] = parameters.declared(path)
            except ParameterError as exc:
                problems.append(f"{run.name}: {exc}")
                continue
        if OUTPUT_PARAMETER in run.parameters:
            problems.append(f"{run.name}: {OUTPUT_PARAMETER} is set by the batch, not by the file.")
        values = {k: v for k, v in run.parameters.items() if k != OUTPUT_PARAMETER}
        problems += [
            f"{run.name}: {path.name}: {p}."
            for p in parameters.problems(cache[run.notebook], values)
        ]
    if problems:
        raise BatchError("The batch was not started:\n  - " + "\n  - ".join(problems))
