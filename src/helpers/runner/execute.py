"""Executing a batch with papermill: parallel, isolated, atomic, recorded, interruptible.

* One batch at a time per reports folder: ``reports/<batch>/.lock`` names the holder
  (:mod:`helpers.runner.lock`); a second batch stops with that name, or waits (``wait=True``).
  A batch that finds the lock of a killed batch takes it over and cleans up after it: removes
  the staging folders whose owner has ended and marks that batch's unfinished runs
  ``interrupted`` in ``runs.json`` (:func:`recover`); the notes are printed.
* Runs execute in at most ``jobs`` worker processes (:mod:`helpers.runner.worker`, forked
  where possible and reused for the next run), each with the ``b2b-insights`` kernel over IPC
  sockets (no TCP, no transport warning); a kernel that fails to start is retried once. Runs
  marked ``last: true`` (the leadership summary) start only after all the others have ended.
* Every kernel gets the same thread counts (``B2B_KERNEL_THREADS``, default 1, for BLAS,
  OpenMP and DuckDB) whatever ``jobs`` is, so results do not change in the last digits with
  ``jobs``; and it imports ``helpers`` from the same checkout as the batch (``PYTHONPATH``).
* A run executes into a staging folder beside its final one (created with the process umask);
  when it has ended (successfully or not) the batch swaps it in atomically
  (:func:`helpers.runner.folders.swap_in`). The executed notebook is normalised
  (:func:`normalise_notebook`: the final folder, not the staging one), so reruns give the same
  files but for papermill's times and the report's "executed" date.
* ``runs.json`` and ``reports/index.html`` are rewritten whenever a run starts (``running``)
  or ends. A failing run keeps its partially executed notebook and an HTML view whose link
  points at the failing cell; the other runs go on.
* SIGINT, SIGTERM or SIGHUP stop the batch: no new run starts (``cancelled``), running workers
  stop their kernels and end (``interrupted``), their staging folders are removed, the previous
  results stay in place, ``runs.json`` and the index say so, and :class:`BatchInterrupted` is
  raised. If the batch process is killed outright (SIGKILL), its workers receive SIGTERM from
  the operating system and stop the same way (:mod:`helpers.runner.processes`); the next batch
  cleans up.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import multiprocessing
import multiprocessing.context
import multiprocessing.process
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TextIO

import nbformat
import papermill as pm
from jupyter_client import AsyncKernelManager
from papermill.exceptions import PapermillExecutionError
from tqdm.auto import tqdm

import helpers
from helpers.config import KERNEL_NAME, NOTEBOOKS_DIR, PROJECT_ROOT, REPORTS_DIR
from helpers.reporting import atomic_write_text
from helpers.runner import processes
from helpers.runner.folders import STAGING_PREFIX, clear_leftovers, new_staging, swap_in
from helpers.runner.index import index_html
from helpers.runner.lock import FolderBusy, FolderLock, Holder
from helpers.runner.render import render_html
from helpers.runner.spec import OUTPUT_PARAMETER, Run, check_runs, notebook_path, read_batch, select

__all__ = ["STAGING_PREFIX", "BatchInterrupted", "Record", "execute", "run_batch"]

RUNS_FILE = "runs.json"
NOTEBOOK_FILE = "notebook.ipynb"
REPORT_FILE = "report.html"
ANALYST_FILE = "notebook.html"
INDEX_FILE = "index.html"
RECORD_FILE = ".record.json"

#: Thread-pool variables of NumPy/BLAS, OpenMP (scikit-learn) and DuckDB (helpers.features).
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "B2B_DUCKDB_THREADS",
)
#: The thread count every kernel gets for each of THREAD_VARIABLES (default 1).
THREADS_VARIABLE = "B2B_KERNEL_THREADS"
#: Seconds a worker has to stop its kernel and end after SIGTERM before it is killed.
STOP_GRACE_S = 10.0

#: What a run's status can be in runs.json and the index.
STATUSES = ("ok", "failed", "running", "interrupted", "cancelled")


@dataclass
class Record:
    """What happened to a run (written to runs.json and shown in the index).

    ``status``: ok, failed, running (the batch was executing it when runs.json was written),
    interrupted (the batch was stopped or killed while it ran), cancelled (the batch was
    stopped before it started). The last three keep the previous result's ``files`` when the
    run's folder still holds it, and ``error`` says so.
    """

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


class BatchInterrupted(RuntimeError):
    """The batch was stopped by a signal; ``records`` say what ran, what did not."""

    def __init__(self, signum: int, records: list[Record]) -> None:
        name = signal.Signals(signum).name
        super().__init__(f"the batch was stopped by {name}")
        self.signum = signum
        self.records = records


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


# --- one run ----------------------------------------------------------------------------------


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


# --- runs.json and the index ------------------------------------------------------------------


def read_runs(batch_dir: Path) -> dict[str, dict[str, Any]]:
    """The records of ``batch_dir/runs.json`` by run name ({} without a readable file)."""
    path = batch_dir / RUNS_FILE
    try:
        return {r["name"]: r for r in json.loads(path.read_text(encoding="utf-8"))["runs"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def write_runs(batch_dir: Path, name: str, records: Sequence[Record]) -> Path:
    """``runs.json`` of a batch (atomic); runs not in ``records`` keep their old records (as long
    as their folder exists, or they never produced one: running, interrupted, cancelled)."""
    previous = read_runs(batch_dir)
    for record in records:
        previous[record.name] = asdict(record)
    kept = [
        r
        for r in previous.values()
        if (batch_dir / r["name"]).exists() or r.get("status") not in ("ok", "failed")
    ]
    doc = {"batch": name, "runs": sorted(kept, key=lambda r: r["name"])}
    return atomic_write_text(batch_dir / RUNS_FILE, json.dumps(doc, indent=2, default=str) + "\n")


def write_index(reports_dir: Path = REPORTS_DIR) -> Path:
    """``reports/index.html`` from every ``reports/*/runs.json`` (atomic, self-contained).

    Batches in different folders may run at the same time: the index is rebuilt under a short
    lock (``reports/.index.lock``) so that the last writer has read every batch's newest file.
    """
    reports_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(reports_dir / ".index.lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        batches = []
        for runs_file in sorted(reports_dir.glob(f"*/{RUNS_FILE}")):
            try:
                batches.append(json.loads(runs_file.read_text(encoding="utf-8")))
            except ValueError:
                continue
        return atomic_write_text(reports_dir / INDEX_FILE, index_html(batches))
    finally:
        os.close(fd)


def _unfinished(
    run: Run | dict[str, Any],
    status: str,
    why: str,
    batch_dir: Path,
    previous: dict[str, dict[str, Any]],
    version: str = "",
) -> Record:
    """A running, interrupted or cancelled run's record: it keeps the previous result's files
    (and says so) when the run's folder still holds that result."""
    if isinstance(run, Run):
        record = Record(run.name, run.notebook, dict(run.parameters), code_version=version)
    else:
        record = Record(**run)
    record.status = status
    record.error = why
    before = previous.get(record.name)
    if before and (batch_dir / record.name).exists():
        record.files = dict(before.get("files") or {})
        record.data_fingerprint = before.get("data_fingerprint", "")
        if status != "running":
            record.error += (
                f"; the folder keeps the previous result ({before.get('status')}, executed "
                f"{before.get('started') or 'at an unknown date'})"
            )
    else:
        record.files = {}
    return record


def recover(batch_dir: Path, stale: Holder | None = None) -> list[str]:
    """Clean up after batches that were killed in ``batch_dir`` (call it holding the lock).

    ``stale``: the holder of a lock that was taken over. Removes staging folders whose owner
    has ended (:func:`helpers.runner.folders.clear_leftovers`) and marks ``running`` records of
    runs.json ``interrupted``. Returns one note per thing done (empty: nothing to clean).
    """
    notes = []
    who = f"batch pid {stale.pid} on {stale.host}" if stale else "an earlier batch"
    if stale:
        notes.append(
            f"the previous batch did not end cleanly ({stale.describe()}); its lock was taken over"
        )
    notes += clear_leftovers(batch_dir)
    previous = read_runs(batch_dir)
    left = [r for r in previous.values() if r.get("status") == "running"]
    if left:
        fixed = []
        for old in left:
            fields = {k: v for k, v in old.items() if k in Record.__dataclass_fields__}
            why = f"interrupted: {who} was killed while this run was executing"
            fixed.append(_unfinished(fields, "interrupted", why, batch_dir, {old["name"]: old}))
            fixed[-1].started = old.get("started", "")
        name = json.loads((batch_dir / RUNS_FILE).read_text(encoding="utf-8")).get("batch")
        write_runs(batch_dir, name or batch_dir.name, fixed)
        notes.append(
            "marked interrupted in runs.json: " + ", ".join(sorted(r["name"] for r in left))
        )
    return notes


def recover_all(reports_dir: Path = REPORTS_DIR) -> list[str]:
    """:func:`recover` in every batch folder of ``reports_dir`` that no batch holds now (so that
    the index stops showing runs of a killed batch as running); one note per thing done."""
    notes = []
    for runs_file in sorted(reports_dir.glob(f"*/{RUNS_FILE}")):
        lock = FolderLock(runs_file.parent)
        try:
            stale = lock.acquire()
        except FolderBusy:
            continue  # a batch is running there: it keeps its records up to date itself
        try:
            notes += [f"{runs_file.parent.name}: {n}" for n in recover(runs_file.parent, stale)]
        finally:
            lock.release()
    return notes


# --- the batch --------------------------------------------------------------------------------


@dataclass
class _Job:
    """A run given to a worker."""

    run: Run
    staging: Path
    record_file: Path
    started: str


def _context() -> multiprocessing.context.BaseContext:
    """Fork where available (workers start at once, with everything imported), else spawn."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


@dataclass
class _Worker:
    """A worker process (:func:`helpers.runner.worker.serve`), the pipe that sends it jobs and
    the run it executes (None: idle)."""

    process: multiprocessing.process.BaseProcess
    jobs: Connection
    job: _Job | None = None

    @classmethod
    def spawn(cls) -> _Worker:
        from helpers.runner.worker import serve

        context = _context()
        receive, send = context.Pipe(duplex=False)
        process = context.Process(target=serve, args=(os.getpid(), receive), daemon=False)
        process.start()
        receive.close()
        return cls(process, send)

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    def ended(self) -> bool:
        return not self.process.is_alive()

    def give(self, job: _Job, spec: dict[str, Any]) -> None:
        """Send a job (a worker that has ended is noticed by the batch's loop)."""
        self.job = job
        with contextlib.suppress(OSError):
            self.jobs.send(spec)

    def close(self) -> None:
        """No more jobs: the worker ends when it has finished the current one."""
        with contextlib.suppress(OSError):
            self.jobs.send(None)
            self.jobs.close()


class _Stop:
    """The first of SIGINT, SIGTERM, SIGHUP received while the batch runs (0: none)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.signum = 0

    def _handle(self, signum: int, frame: object) -> None:
        self.signum = self.signum or signum

    @contextlib.contextmanager
    def installed(self) -> Iterator[_Stop]:
        if threading.current_thread() is not threading.main_thread():
            yield self  # signal handlers can only be set in the main thread
            return
        previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


def run_batch(
    path: str | os.PathLike[str],
    jobs: int | None = None,
    reports_dir: Path = REPORTS_DIR,
    notebooks_dir: Path = NOTEBOOKS_DIR,
    only: Sequence[str] | None = None,
    *,
    wait: bool = False,
    log: TextIO | None = None,
) -> list[Record]:
    """Check, execute and index a batch; returns the records (see the module docstring).

    Raises :class:`helpers.runner.spec.BatchError` for an invalid batch (nothing started),
    :class:`helpers.runner.lock.FolderBusy` when another batch holds the folder (``wait``:
    wait for it instead) and :class:`BatchInterrupted` when a signal stopped the batch (after
    cleaning up). Notes (waiting, cleaning up after a killed batch) go to ``log`` (stderr).
    """
    log = log or sys.stderr
    name, runs = read_batch(path)
    if only:
        runs = select(runs, only, source=str(path))
    check_runs(runs, notebooks_dir)
    batch_dir = reports_dir / name
    batch_dir.mkdir(parents=True, exist_ok=True)
    lock = FolderLock(batch_dir)
    stale = lock.acquire(
        wait=wait,
        on_wait=lambda h: print(
            f"Waiting for the batch that writes to {batch_dir}: "
            f"{h.describe() if h else 'just starting'}",
            file=log,
            flush=True,
        ),
    )
    try:
        notes = recover(batch_dir, stale)
        if notes:
            print(f"Cleaned up in {batch_dir}:", file=log)
            print("\n".join(f"  - {n}" for n in notes), file=log, flush=True)
        return _execute_all(name, runs, batch_dir, reports_dir, notebooks_dir, jobs, log)
    finally:
        lock.release()


def _execute_all(
    name: str,
    runs: Sequence[Run],
    batch_dir: Path,
    reports_dir: Path,
    notebooks_dir: Path,
    jobs: int | None,
    log: TextIO,
) -> list[Record]:
    version = code_version()
    previous = read_runs(batch_dir)
    size = min(max(1, jobs or os.cpu_count() or 1), len(runs) or 1)
    records: dict[str, Record] = {}
    pool: list[_Worker] = []
    bar = tqdm(total=len(runs), desc=f"batch {name}", unit="run", file=log)

    def save() -> None:
        write_runs(batch_dir, name, [records[r.name] for r in runs if r.name in records])
        write_index(reports_dir)

    def start(run: Run, worker: _Worker) -> None:
        now = dt.datetime.now().isoformat(timespec="seconds")
        staging = new_staging(batch_dir, run.name)
        # the worker writes the record into the staging folder last; it is taken out before
        # the folder is swapped in (and goes with the folder if the batch is killed)
        job = _Job(run, staging, staging / RECORD_FILE, now)
        spec = {
            "run": asdict(run),
            "staging": str(job.staging),
            "final": str(batch_dir / run.name),
            "version": version,
            "notebooks_dir": str(notebooks_dir),
            "record": str(job.record_file),
        }
        records[run.name] = _unfinished(run, "running", "", batch_dir, previous, version)
        records[run.name].started = now
        save()
        worker.give(job, spec)  # a worker that has ended is found by finish()

    def finish(worker: _Worker, job: _Job) -> None:
        worker.job = None
        if job.record_file.exists():
            record = Record(**json.loads(job.record_file.read_text(encoding="utf-8")))
            job.record_file.unlink()
            swap_in(job.staging, batch_dir / job.run.name)
        else:
            pool.remove(worker)
            shutil.rmtree(job.staging, ignore_errors=True)
            code = worker.process.exitcode
            why = f"failed: its worker process ended with exit code {code} before the run ended"
            record = _unfinished(job.run, "failed", why, batch_dir, previous, version)
            record.started = job.started
        records[record.name] = record
        save()
        bar.write(_progress_line(record), file=log)
        bar.update(1)

    def busy() -> list[_Worker]:
        return [w for w in pool if w.job is not None]

    stop = _Stop()
    try:
        with stop.installed():
            for phase in ([r for r in runs if not r.last], [r for r in runs if r.last]):
                queue = list(phase)
                while (queue or busy()) and not stop.signum:
                    pool[:] = [w for w in pool if w.job is not None or not w.ended()]
                    for worker in busy():
                        assert worker.job is not None
                        if worker.job.record_file.exists() or worker.ended():
                            finish(worker, worker.job)
                    while queue and not stop.signum:
                        idle = [w for w in pool if w.job is None]
                        if not idle and len(pool) >= size:
                            break
                        if not idle:
                            pool.append(_Worker.spawn())
                            idle = pool[-1:]
                        start(queue.pop(0), idle[0])
                    time.sleep(0.05)
                if stop.signum:
                    break
            if stop.signum:
                _stop_workers(pool)
                signame = signal.Signals(stop.signum).name
                for worker in busy():
                    job = worker.job
                    assert job is not None
                    shutil.rmtree(job.staging, ignore_errors=True)
                    why = f"interrupted by {signame} while executing"
                    records[job.run.name] = _unfinished(
                        job.run, "interrupted", why, batch_dir, previous, version
                    )
                    records[job.run.name].started = job.started
                    worker.job = None
                why = f"cancelled: the batch was stopped by {signame}"
                for run in runs:
                    if run.name not in records:
                        records[run.name] = _unfinished(
                            run, "cancelled", why, batch_dir, previous, version
                        )
                save()
            else:
                for worker in pool:
                    worker.close()
                _stop_workers(pool, grace=STOP_GRACE_S, ask=False)
    finally:
        leftover = [w for w in pool if not w.ended()]
        if leftover:  # an error in the batch itself: leave no worker behind
            _stop_workers(leftover)
        for worker in pool:
            if worker.job is not None:
                shutil.rmtree(worker.job.staging, ignore_errors=True)
        bar.close()
    result = [records[r.name] for r in runs]
    if stop.signum:
        raise BatchInterrupted(stop.signum, result)
    return result


def _stop_workers(
    workers: Sequence[_Worker], grace: float = STOP_GRACE_S, ask: bool = True
) -> None:
    """Stop worker processes and every process of their trees: SIGTERM to each worker (``ask``;
    it stops its kernel and ends), SIGKILL to whatever of the trees still runs after ``grace``
    seconds. Every process of the trees has ended when this returns."""
    trees = [processes.tree(w.pid) for w in workers]
    if ask:
        for worker in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for worker in workers:
        worker.process.join(timeout=max(0.1, deadline - time.monotonic()))
    left = [p for pids in trees for p in pids if processes.running(p)]
    processes.stop(left, grace=1.0)
    for worker in workers:
        worker.process.join()


def _progress_line(record: Record) -> str:
    if record.status == "ok":
        return f"ok     {record.name} ({record.duration_s:.1f} s)"
    first = record.error.splitlines()[0][:160] if record.error else ""
    return f"FAILED {record.name} ({record.duration_s:.1f} s): {first}"
