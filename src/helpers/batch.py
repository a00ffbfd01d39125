"""Batch reruns of the notebooks with papermill: parallel, checked, isolated, atomic.

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

Run it with ``python -m helpers.batch run runs/by-region.yaml --jobs 2`` (or ``make reports
BATCH=runs/by-region.yaml``). What happens:

1. Every run's parameters are checked against its notebook's ``parameters`` cell before any
   kernel starts: unknown names (with a close-match hint) and values of the wrong type are
   errors, all reported at once (papermill itself would only warn).
2. Runs execute in parallel worker processes (``--jobs``, default: the number of cores), each
   with the ``b2b-insights`` kernel; a kernel that fails to start is retried once. One progress
   bar for the batch and one line per finished run. Runs marked ``last: true`` (the leadership
   summary, which reads the other runs' metrics) start only after all the others have ended
   and ``runs.json`` records them; ``--only`` always includes them.
3. Each run executes in a temporary folder next to its final one; only when it has finished
   (successfully or not) is that folder renamed into place, replacing the previous result in
   one step. An interrupted batch leaves the previous results untouched (temporary folders are
   cleared at the next start).
4. A failing run keeps its partially executed notebook and an HTML view of it with the code,
   whose link points at the failing cell; the other runs go on; the batch exits non-zero.
5. ``reports/<batch>/runs.json`` records every run (parameters, status, error, duration, data
   fingerprint, code version) and ``reports/index.html`` lists all batches.

Run names derive from the notebook and the parameters that differ from the batch defaults, e.g.
``02-churn-survival--churn_threshold_days-90``, so a rerun of the same batch replaces the same
folders.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures as cf
import datetime as dt
import difflib
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from helpers.config import KERNEL_NAME, NOTEBOOKS_DIR, PROJECT_ROOT, REPORTS_DIR

RUNS_FILE = "runs.json"
NOTEBOOK_FILE = "notebook.ipynb"
REPORT_FILE = "report.html"
ANALYST_FILE = "notebook.html"
STAGING_PREFIX = ".staging-"


class BatchError(ValueError):
    """A batch file or a run's parameters are invalid; the message lists every problem."""


@dataclass(frozen=True)
class Run:
    """One notebook execution: which notebook, with which parameters, into which folder."""

    name: str
    notebook: str
    parameters: dict[str, Any]
    last: bool = False  # start only after every run without this flag has ended


@dataclass
class Record:
    """What happened to a run (written to runs.json and shown in the index)."""

    name: str
    notebook: str
    parameters: dict[str, Any]
    status: str = "pending"
    error: str = ""
    failed_cell: int | None = None
    started: str = ""
    duration_s: float = 0.0
    attempts: int = 0
    data_fingerprint: str = ""
    code_version: str = ""
    files: dict[str, str] = field(default_factory=dict)


# --- reading a batch --------------------------------------------------------------------------


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


def expand(spec: Mapping[str, Any]) -> tuple[str | None, list[Run]]:
    """Parse a batch mapping (the YAML) into runs: notebook lists x matrix combinations."""
    if not isinstance(spec, Mapping) or not isinstance(spec.get("runs"), list):
        raise BatchError("A batch file needs a 'runs:' list (see helpers.batch docstring).")
    defaults = dict(spec.get("parameters") or {})
    runs: list[Run] = []
    for i, entry in enumerate(spec["runs"], start=1):
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
        last = entry.get("last", False)
        if not isinstance(last, bool):
            raise BatchError(f"Run {i}: 'last' must be true or false (got {last!r}).")
        notebooks = entry["notebook"]
        notebooks = [notebooks] if isinstance(notebooks, str) else list(notebooks)
        matrix = dict(entry.get("matrix") or {})
        for key, values in matrix.items():
            if not isinstance(values, list) or not values:
                raise BatchError(f"Run {i}: matrix '{key}' must be a non-empty list.")
        combos = [
            dict(zip(matrix, values, strict=True)) for values in itertools.product(*matrix.values())
        ] or [{}]
        for notebook in notebooks:
            for combo in combos:
                params = {**defaults, **dict(entry.get("parameters") or {}), **combo}
                name = entry.get("name")
                if name and (len(notebooks) > 1 or len(combos) > 1):
                    name = f"{name}--{run_name(notebook, combo, {})}"
                runs.append(
                    Run(name or run_name(notebook, params, defaults), notebook, params, last)
                )
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


# --- checking parameters ----------------------------------------------------------------------


def declared_parameters(notebook: Path) -> dict[str, str]:
    """Names and annotations (as source text) of the notebook's ``parameters`` cell.

    Unannotated assignments get the type name of their default value.
    """
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise BatchError(
            f"{notebook.name}: expected exactly one cell tagged 'parameters', found {len(cells)}."
        )
    declared: dict[str, str] = {}
    for node in ast.parse(cells[0].source).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            declared[node.target.id] = ast.unparse(node.annotation)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    value = ast.literal_eval(node.value)
                    declared[target.id] = type(value).__name__
    return declared


_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "dict": (dict,),
    "list": (list,),
    "None": (type(None),),
    "NoneType": (type(None),),
}


def _union_parts(annotation: str) -> list[str]:
    """``"int | None"``, ``"'Union[str, int]'"`` (quoted: papermill cannot parse ``|``) or
    ``"Optional[int]"`` as its member type names."""
    text = annotation.strip().strip("'\"").strip()
    for prefix, extra in (("Union[", []), ("Optional[", ["None"])):
        if text.startswith(prefix) and text.endswith("]"):
            return _top_level(text[len(prefix) : -1], ",") + extra
    return _top_level(text, "|")


def _top_level(text: str, sep: str) -> list[str]:
    """``text`` split at ``sep`` outside brackets (``dict[str, int] | None`` -> 2 parts)."""
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += (ch == "[") - (ch == "]")
        if ch == sep and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    return [*parts, current.strip()]


def type_problem(annotation: str, value: Any) -> str | None:
    """Why ``value`` does not fit ``annotation`` (``"int | None"``, ``"dict"``, ...), or None."""
    allowed: list[type] = []
    for part in _union_parts(annotation):
        base = part.split("[")[0].strip()
        if base not in _TYPES:
            return None  # an annotation we do not understand: do not guess
        allowed.extend(_TYPES[base])
    if isinstance(value, bool) and bool not in allowed:
        return f"expects {annotation}, got a boolean {value!r}"
    if isinstance(value, tuple(allowed)):
        return None
    return f"expects {annotation}, got {type(value).__name__} {value!r}"


def check_runs(runs: Sequence[Run], notebooks_dir: Path = NOTEBOOKS_DIR) -> None:
    """Raise :class:`BatchError` listing every unknown notebook, parameter or wrong type."""
    problems: list[str] = []
    cache: dict[str, dict[str, str]] = {}
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
                cache[run.notebook] = declared_parameters(path)
            except BatchError as exc:
                problems.append(str(exc))
                continue
        declared = cache[run.notebook]
        for key, value in run.parameters.items():
            if key == "OUTPUT_DIR":
                problems.append(f"{run.name}: OUTPUT_DIR is set by the batch, not by the file.")
            elif key not in declared:
                hint = difflib.get_close_matches(key, list(declared), n=1)
                problems.append(
                    f"{run.name}: {path.name} has no parameter {key}"
                    + (f" (did you mean {hint[0]}?)" if hint else "")
                    + f"; its parameters: {', '.join(declared)}."
                )
            else:
                why = type_problem(declared[key], value)
                if why:
                    problems.append(f"{run.name}: parameter {key} {why}.")
    if problems:
        raise BatchError("The batch was not started:\n  - " + "\n  - ".join(problems))


# --- executing --------------------------------------------------------------------------------


def code_version() -> str:
    """The git commit of the code (``+dirty`` with uncommitted changes), or ``unknown``."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _is_kernel_start_failure(exc: BaseException) -> bool:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        return False
    text = f"{type(exc).__name__}: {exc}".lower()
    return isinstance(exc, (TimeoutError, RuntimeError)) and (
        "kernel" in text or "timeout" in text or "timed out" in text
    )


def execute(
    run: Run,
    batch_dir: Path,
    version: str,
    notebooks_dir: Path = NOTEBOOKS_DIR,
    start_timeout: int = 60,
) -> Record:
    """Execute one run into ``batch_dir/<run.name>/`` atomically; never raises for run errors."""
    import logging

    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    # papermill's own parameter inspection cannot parse annotations like `int | None` and warns
    # "Unable to parse line" / "unknown parameter"; check_runs has done that check properly.
    logging.getLogger("papermill").setLevel(logging.ERROR)

    record = Record(run.name, run.notebook, dict(run.parameters), code_version=version)
    record.started = dt.datetime.now().isoformat(timespec="seconds")
    final = batch_dir / run.name
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{run.name}-", dir=batch_dir))
    executed = staging / NOTEBOOK_FILE
    # The notebook writes its own outputs (metrics, CSVs) into OUTPUT_DIR: the staging folder,
    # which becomes the final folder by a rename once the run is over.
    params = {**run.parameters, "OUTPUT_DIR": str(staging)}
    clock = time.perf_counter()
    error: BaseException | None = None
    for attempt in (1, 2):
        record.attempts = attempt
        try:
            pm.execute_notebook(
                str(notebook_path(run.notebook, notebooks_dir)),
                str(executed),
                parameters=params,
                kernel_name=KERNEL_NAME,
                cwd=str(notebooks_dir),
                progress_bar=False,
                start_timeout=start_timeout,
            )
            error = None
            break
        except BaseException as exc:  # noqa: BLE001 - every failure is recorded, not raised
            error = exc
            if attempt == 1 and _is_kernel_start_failure(exc):
                continue
            break
    record.duration_s = round(time.perf_counter() - clock, 2)
    try:
        _finish(record, staging, error)
    except Exception as exc:  # rendering failed: still keep what we have
        record.status = "failed"
        record.error = record.error or f"rendering failed: {type(exc).__name__}: {exc}"
    if error is not None and isinstance(error, PapermillExecutionError):
        record.failed_cell = error.cell_index
    _replace_dir(staging, final)
    return record


def _finish(record: Record, staging: Path, error: BaseException | None) -> None:
    import nbformat

    from helpers.render import render_html

    executed = staging / NOTEBOOK_FILE
    metrics = staging / "metrics.json"
    if metrics.exists():
        record.data_fingerprint = json.loads(metrics.read_text()).get("data_fingerprint", "")
    meta = {
        "run": record.name,
        "notebook": record.notebook,
        "parameters": record.parameters,
        "data fingerprint": record.data_fingerprint or "n/a",
        "code": record.code_version,
        "executed": record.started,
    }
    if error is None:
        record.status = "ok"
        nb = nbformat.read(executed, as_version=4)
        _write(staging / REPORT_FILE, render_html(nb, meta))
        record.files = {"report": REPORT_FILE, "notebook": NOTEBOOK_FILE}
        return
    record.status = "failed"
    if hasattr(error, "ename") and hasattr(error, "cell_index"):  # PapermillExecutionError
        record.error = (
            f"{error.ename}: {error.evalue} (cell {error.cell_index} of the executed notebook)"
        )
    else:
        record.error = f"{type(error).__name__}: {error}".strip()[:2000]
    record.files = {}
    if executed.exists():
        nb = nbformat.read(executed, as_version=4)
        note = f"This run failed: {record.error.splitlines()[0][:300]}"
        _write(staging / ANALYST_FILE, render_html(nb, meta, failed=note, show_code=True))
        # papermill marks the failing cell with an anchor of this id
        record.files = {
            "analyst": f"{ANALYST_FILE}#papermill-error-cell",
            "notebook": NOTEBOOK_FILE,
        }


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def _replace_dir(staging: Path, final: Path) -> None:
    """Swap ``staging`` into ``final`` with renames (the old result disappears in one step)."""
    trash = None
    if final.exists():
        trash = final.with_name(f"{STAGING_PREFIX}old-{final.name}-{os.getpid()}")
        os.replace(final, trash)
    os.replace(staging, final)
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)


#: Thread-pool variables of NumPy/BLAS, OpenMP (scikit-learn) and DuckDB (helpers.features).
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "B2B_DUCKDB_THREADS",
)


def _limit_threads(jobs: int) -> None:
    """Give each parallel kernel its share of the cores: without this every kernel starts a
    thread pool as wide as the machine and ``jobs`` kernels just fight over the same cores
    (measured: 2 jobs were no faster than 1). Kernels inherit the worker's environment."""
    share = str(max(1, (os.cpu_count() or 1) // max(jobs, 1)))
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, share)


def _execute_safely(run: Run, batch_dir: Path, version: str, notebooks_dir: Path) -> Record:
    try:
        return execute(run, batch_dir, version, notebooks_dir)
    except BaseException as exc:  # noqa: BLE001 - a crash in our own code must not stop others
        record = Record(run.name, run.notebook, dict(run.parameters), code_version=version)
        record.status = "failed"
        record.error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return record


def run_batch(
    path: str | os.PathLike[str],
    jobs: int | None = None,
    reports_dir: Path = REPORTS_DIR,
    notebooks_dir: Path = NOTEBOOKS_DIR,
    only: Sequence[str] | None = None,
) -> list[Record]:
    """Check, execute and index a batch; returns the records (see the module docstring)."""
    name, runs = read_batch(path)
    if only:
        unknown = sorted(set(only) - {r.name for r in runs} - {r.notebook for r in runs})
        if unknown:
            raise BatchError(f"--only: no run or notebook named {', '.join(unknown)} in {path}.")
        # the 'last' runs (the summary) read the others' results: rerun them too
        runs = [r for r in runs if r.name in set(only) or r.notebook in set(only) or r.last]
    check_runs(runs, notebooks_dir)
    batch_dir = reports_dir / name
    batch_dir.mkdir(parents=True, exist_ok=True)
    for leftover in batch_dir.glob(f"{STAGING_PREFIX}*"):  # from an interrupted batch
        shutil.rmtree(leftover, ignore_errors=True)
    version = code_version()
    jobs = max(1, jobs or os.cpu_count() or 1)
    records: dict[str, Record] = {}
    from tqdm.auto import tqdm

    bar = tqdm(total=len(runs), desc=f"batch {name}", unit="run", file=sys.stderr)
    workers = min(jobs, len(runs) or 1)
    with cf.ProcessPoolExecutor(
        max_workers=workers, initializer=_limit_threads, initargs=(workers,)
    ) as pool:
        for phase in ([r for r in runs if not r.last], [r for r in runs if r.last]):
            futures = [
                pool.submit(_execute_safely, r, batch_dir, version, notebooks_dir) for r in phase
            ]
            for future in cf.as_completed(futures):
                record = future.result()
                records[record.name] = record
                mark = "ok    " if record.status == "ok" else "FAILED"
                line = f"{mark} {record.name} ({record.duration_s:.1f} s)"
                if record.status != "ok":
                    line += f": {record.error.splitlines()[0][:160] if record.error else ''}"
                bar.write(line, file=sys.stderr)
                bar.update(1)
            # after each phase, so that the 'last' runs find the others' results (status,
            # parameters) in runs.json; after the last phase it is the batch's record
            write_runs(batch_dir, name, [records[r.name] for r in runs if r.name in records])
    bar.close()
    ordered = [records[r.name] for r in runs]
    write_index(reports_dir)
    return ordered


def write_runs(batch_dir: Path, name: str, records: Sequence[Record]) -> Path:
    """``runs.json`` of a batch (atomic); runs not in this execution keep their old records."""
    from helpers.reporting import atomic_write_text

    path = batch_dir / RUNS_FILE
    previous: dict[str, Any] = {}
    if path.exists():
        try:
            previous = {r["name"]: r for r in json.loads(path.read_text())["runs"]}
        except (ValueError, KeyError):
            previous = {}
    for record in records:
        previous[record.name] = asdict(record)
    kept = [r for r in previous.values() if (batch_dir / r["name"]).exists()]
    doc = {"batch": name, "runs": sorted(kept, key=lambda r: r["name"])}
    return atomic_write_text(path, json.dumps(doc, indent=2, default=str) + "\n")


def write_index(reports_dir: Path = REPORTS_DIR) -> Path:
    """``reports/index.html`` from every ``reports/*/runs.json`` (atomic, self-contained)."""
    from helpers.index import index_html
    from helpers.reporting import atomic_write_text

    batches = []
    for runs_file in sorted(reports_dir.glob(f"*/{RUNS_FILE}")):
        try:
            batches.append(json.loads(runs_file.read_text(encoding="utf-8")))
        except ValueError:
            continue
    return atomic_write_text(reports_dir / "index.html", index_html(batches))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m helpers.batch run runs/x.yaml [--jobs N] [--only NAME ...]``."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.batch", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="check and execute a batch file")
    run.add_argument("batch", type=Path)
    run.add_argument("--jobs", type=int, default=None, help="parallel runs (default: cores)")
    run.add_argument("--only", nargs="*", help="run names or notebooks to run")
    check = sub.add_parser("check", help="check a batch file without running it")
    check.add_argument("batch", type=Path)
    sub.add_parser("index", help="rebuild reports/index.html")
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            name, runs = read_batch(args.batch)
            check_runs(runs)
            print(f"{args.batch}: {len(runs)} runs, all parameters valid")
            for r in runs:
                print(f"  {r.name}")
            return 0
        if args.command == "index":
            print(write_index())
            return 0
        records = run_batch(args.batch, args.jobs, only=args.only)
    except BatchError as exc:
        print(exc, file=sys.stderr)
        return 2
    failed = [r for r in records if r.status != "ok"]
    print(
        f"{len(records) - len(failed)} of {len(records)} runs ok; index: "
        f"{REPORTS_DIR / 'index.html'}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
