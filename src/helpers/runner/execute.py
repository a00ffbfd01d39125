"""Executing a batch with papermill: parallel, isolated, atomic, recorded.

* Runs execute in parallel worker processes (``jobs``, default: the number of cores), each with
  the ``b2b-insights`` kernel; a kernel that fails to start is retried once. Runs marked
  ``last: true`` (the leadership summary, which reads the other runs' metrics) start only after
  all the others have ended and ``runs.json`` records them.
* Each run executes in a temporary folder next to its final one; only when it has finished
  (successfully or not) is that folder renamed into place, replacing the previous result in one
  step. An interrupted batch leaves the previous results untouched (temporary folders are
  cleared at the next start).
* A failing run keeps its partially executed notebook and an HTML view of it with the code,
  whose link points at the failing cell; the other runs go on.
* ``reports/<batch>/runs.json`` records every run (parameters, status, error, duration, data
  fingerprint, code version) and ``reports/index.html`` lists all batches.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import papermill as pm
from papermill.exceptions import PapermillExecutionError
from tqdm.auto import tqdm

from helpers.config import KERNEL_NAME, NOTEBOOKS_DIR, PROJECT_ROOT, REPORTS_DIR
from helpers.reporting import atomic_write_text
from helpers.runner.index import index_html
from helpers.runner.render import render_html
from helpers.runner.spec import OUTPUT_PARAMETER, Run, check_runs, notebook_path, read_batch, select

RUNS_FILE = "runs.json"
NOTEBOOK_FILE = "notebook.ipynb"
REPORT_FILE = "report.html"
ANALYST_FILE = "notebook.html"
STAGING_PREFIX = ".staging-"

#: Thread-pool variables of NumPy/BLAS, OpenMP (scikit-learn) and DuckDB (helpers.features).
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "B2B_DUCKDB_THREADS",
)


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
    params = {**run.parameters, OUTPUT_PARAMETER: str(staging)}
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
    if isinstance(error, PapermillExecutionError):
        record.failed_cell = error.cell_index
    replace_dir(staging, final)
    return record


def _finish(record: Record, staging: Path, error: BaseException | None) -> None:
    """Status, error, data fingerprint and files of ``record``; the HTML view of the run."""
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
    if isinstance(error, PapermillExecutionError):
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


def replace_dir(staging: Path, final: Path) -> None:
    """Swap ``staging`` into ``final`` with renames (the old result disappears in one step)."""
    trash = None
    if final.exists():
        trash = final.with_name(f"{STAGING_PREFIX}old-{final.name}-{os.getpid()}")
        os.replace(final, trash)
    os.replace(staging, final)
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)


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


def _progress_line(record: Record) -> str:
    if record.status == "ok":
        return f"ok     {record.name} ({record.duration_s:.1f} s)"
    first = record.error.splitlines()[0][:160] if record.error else ""
    return f"FAILED {record.name} ({record.duration_s:.1f} s): {first}"


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
        runs = select(runs, only, source=str(path))
    check_runs(runs, notebooks_dir)
    batch_dir = reports_dir / name
    batch_dir.mkdir(parents=True, exist_ok=True)
    for leftover in batch_dir.glob(f"{STAGING_PREFIX}*"):  # from an interrupted batch
        shutil.rmtree(leftover, ignore_errors=True)
    version = code_version()
    jobs = max(1, jobs or os.cpu_count() or 1)
    records: dict[str, Record] = {}
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
                bar.write(_progress_line(record), file=sys.stderr)
                bar.update(1)
            # after each phase, so that the 'last' runs find the others' results (status,
            # parameters) in runs.json; after the last phase it is the batch's record
            write_runs(batch_dir, name, [records[r.name] for r in runs if r.name in records])
    bar.close()
    write_index(reports_dir)
    return [records[r.name] for r in runs]


def write_runs(batch_dir: Path, name: str, records: Sequence[Record]) -> Path:
    """``runs.json`` of a batch (atomic); runs not in this execution keep their old records."""
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
    batches = []
    for runs_file in sorted(reports_dir.glob(f"*/{RUNS_FILE}")):
        try:
            batches.append(json.loads(runs_file.read_text(encoding="utf-8")))
        except ValueError:
            continue
    return atomic_write_text(reports_dir / "index.html", index_html(batches))
