"""Executing one notebook with papermill into a staging folder, and what the run leaves there.

* The kernel (``b2b-insights``) talks over IPC sockets (no TCP, no transport warning); a kernel
  that fails to start is retried once.
* Every kernel gets the same thread counts (``B2B_KERNEL_THREADS``, default 1, for BLAS,
  OpenMP and DuckDB) whatever the batch's ``jobs`` is, so results do not change in the last
  digits with ``jobs``; and it imports ``helpers`` from the same checkout as the batch
  (``PYTHONPATH``).
* The executed notebook is normalised (:func:`normalise_notebook`: the final folder, not the
  staging one), so reruns give the same files but for papermill's times and the report's
  "executed" date. A failing run keeps its partially executed notebook and an HTML view whose
  link points at the failing cell.
* Once the last cell has ended, the kernel is killed rather than asked to exit
  (:data:`KERNEL_SHUTDOWN`): every file a notebook writes is written, atomically, by its cells
  before that, and an orderly exit only frees the kernel's heap (2.4 s of a 100k-account run
  of notebook 01, the data set held as Python objects). What the kernel started is stopped
  with it (:mod:`helpers.runner.worker`).
* The batch (:func:`helpers.runner.pool.run_batch`) runs :func:`execute_staged` in worker
  processes (:mod:`helpers.runner.worker`); :func:`execute` runs one notebook in this process.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
import papermill as pm
from jupyter_client import AsyncKernelManager
from papermill.exceptions import PapermillExecutionError

import helpers
from helpers.config import KERNEL_NAME, NOTEBOOKS_DIR
from helpers.runner.folders import new_staging, swap_in
from helpers.runner.records import Record
from helpers.runner.render import render_html
from helpers.runner.spec import OUTPUT_PARAMETER, Run, notebook_path

__all__ = ["execute", "execute_staged", "kernel_environment", "normalise_notebook"]

NOTEBOOK_FILE = "notebook.ipynb"
REPORT_FILE = "report.html"
ANALYST_FILE = "notebook.html"

#: Thread-pool variables of NumPy/BLAS, OpenMP (scikit-learn) and DuckDB (helpers.features).
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "B2B_DUCKDB_THREADS",
)
#: How nbclient ends the kernel after the last cell: ``"immediate"`` kills it (see the module
#: docstring; nbclient's default, ``"graceful"``, waits for the kernel to exit by itself).
KERNEL_SHUTDOWN = "immediate"
#: The thread count every kernel gets for each of THREAD_VARIABLES (default 1).
THREADS_VARIABLE = "B2B_KERNEL_THREADS"


def _is_kernel_start_failure(exc: BaseException) -> bool:
    if isinstance(exc, PapermillExecutionError):
        return False
    text = f"{type(exc).__name__}: {exc}".lower()
    return isinstance(exc, (TimeoutError, RuntimeError)) and (
        "kernel" in text or "timeout" in text or "timed out" in text
    )


def source_root() -> Path:
    """The folder ``helpers`` is imported from (``src/`` of this checkout)."""
    return Path(helpers.__file__).resolve().parents[1]


def with_source_path(env: dict[str, str]) -> dict[str, str]:
    """``env`` with :func:`source_root` first on ``PYTHONPATH``: a child process (worker,
    kernel) imports the same ``helpers`` as this process, whatever the virtualenv points to."""
    root = str(source_root())
    rest = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != root]
    return {**env, "PYTHONPATH": os.pathsep.join([root, *rest])}


def kernel_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a run's kernel: ``base`` (default: this process's), this checkout's
    sources first on ``PYTHONPATH``, and the same thread count in every variable of
    :data:`THREAD_VARIABLES` (``B2B_KERNEL_THREADS``, default 1): the same for ``--jobs 1`` and
    ``--jobs 2``, so that sums in BLAS and DuckDB add in the same order and give the same last
    digits."""
    env = with_source_path(dict(os.environ if base is None else base))
    threads = env.get(THREADS_VARIABLE, "1")
    return env | dict.fromkeys(THREAD_VARIABLES, threads)


def _kernel_manager(sockets: Path) -> type[AsyncKernelManager]:
    """A kernel manager class whose kernels talk over IPC sockets in ``sockets`` (no TCP: no
    open ports, and no "running over TCP without encryption" warning in the batch's output),
    with :func:`kernel_environment`."""

    class _IpcKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.transport = "ipc"
            self.ip = str(sockets / "kernel")

        async def _async_pre_start_kernel(self, **kw: Any) -> Any:
            kw["env"] = kernel_environment(kw.get("env"))
            return await super()._async_pre_start_kernel(**kw)

    return _IpcKernelManager


#: Socket folders of kernels running in this process (removed even when a worker is stopped).
SOCKET_DIRS: list[Path] = []


def execute_staged(
    run: Run,
    staging: Path,
    final: Path,
    version: str,
    notebooks_dir: Path = NOTEBOOKS_DIR,
    start_timeout: int = 60,
) -> Record:
    """Execute one run into the folder ``staging`` that will become ``final``; never raises for
    run errors. The notebook's ``OUTPUT_DIR`` is ``staging`` while it runs; the executed
    notebook names ``final`` instead."""
    # papermill's own parameter inspection cannot parse annotations like `int | None` and warns
    # "Unable to parse line" / "unknown parameter"; check_runs has done that check properly.
    logging.getLogger("papermill").setLevel(logging.ERROR)

    record = Record(run.name, run.notebook, dict(run.parameters), code_version=version)
    record.started = dt.datetime.now().isoformat(timespec="seconds")
    executed = staging / NOTEBOOK_FILE
    # The notebook writes its own outputs (metrics, CSVs) into OUTPUT_DIR: the staging folder,
    # which becomes the final folder once the run is over.
    params = {**run.parameters, OUTPUT_PARAMETER: str(staging)}
    clock = time.perf_counter()
    error: BaseException | None = None
    sockets = Path(tempfile.mkdtemp(prefix="b2b-kernel-"))
    SOCKET_DIRS.append(sockets)
    try:
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
                    kernel_manager_class=_kernel_manager(sockets),
                    shutdown_kernel=KERNEL_SHUTDOWN,
                )
                error = None
                break
            except Exception as exc:  # every failure is recorded, not raised
                error = exc
                if attempt == 1 and _is_kernel_start_failure(exc):
                    continue
                break
    finally:
        shutil.rmtree(sockets, ignore_errors=True)
        SOCKET_DIRS.remove(sockets)
    record.duration_s = round(time.perf_counter() - clock, 2)
    try:
        normalise_notebook(executed, staging, final)
        _finish(record, staging, error)
    except Exception as exc:  # rendering failed: still keep what we have
        record.status = "failed"
        record.error = record.error or f"rendering failed: {type(exc).__name__}: {exc}"
    if isinstance(error, PapermillExecutionError):
        record.failed_cell = error.cell_index
    return record


#: What differs between two executions of the same notebook besides times: the kernel's pid in
#: IPython's cell file names (in warnings and tracebacks), object addresses in reprs.
_VOLATILE = (
    (re.compile(r"ipykernel_\d+([/\\])"), r"ipykernel_<pid>\1"),
    (re.compile(r"(<[\w.]+ (?:object )?)at 0x[0-9a-fA-F]+>"), r"\1at 0x...>"),
)


def normalise_notebook(executed: Path, staging: Path, final: Path) -> None:
    """Make the executed notebook the same on every rerun (but for papermill's and nbclient's
    times): the final folder's path instead of the staging one (injected ``OUTPUT_DIR``,
    papermill's metadata, any output that printed it), a fixed id for papermill's injected
    cell, and the kernel pid and object addresses masked (see ``_VOLATILE``)."""
    if not executed.exists():
        return
    text = executed.read_text(encoding="utf-8").replace(str(staging), str(final))
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    nb = nbformat.reads(text, as_version=4)
    for i, cell in enumerate(nb.cells):
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell["id"] = f"injected-parameters-{i}"
    nbformat.write(nb, str(executed))


def execute(
    run: Run,
    batch_dir: Path,
    version: str,
    notebooks_dir: Path = NOTEBOOKS_DIR,
    start_timeout: int = 60,
) -> Record:
    """Execute one run into ``batch_dir/<run.name>/`` atomically, in this process; never raises
    for run errors (the batch runs each run in a worker process instead)."""
    staging = new_staging(batch_dir, run.name)
    try:
        record = execute_staged(
            run, staging, batch_dir / run.name, version, notebooks_dir, start_timeout
        )
        swap_in(staging, batch_dir / run.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
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
    """Swap the complete folder ``staging`` in as ``final`` in one step (see
    :func:`helpers.runner.folders.swap_in`)."""
    swap_in(staging, final)
