"""Executing a batch with papermill: parallel, isolated, atomic, recorded, interruptible.

* One batch at a time per reports folder: ``reports/<batch>/.lock`` names the holder
  (:mod:`helpers.runner.lock`); a second batch stops with that name, or waits (``wait=True``).
  A batch that finds the lock of a killed batch takes it over and cleans up after it
  (:func:`helpers.runner.records.recover`); the notes are printed.
* Runs execute in at most ``jobs`` worker processes (:mod:`helpers.runner.worker`, forked
  where possible and reused for the next run), each running one notebook at a time
  (:func:`helpers.runner.execute.execute_staged`). Runs marked ``last: true`` (the leadership
  summary) start only after all the others have ended.
* A run executes into a staging folder beside its final one (created with the process umask);
  when it has ended (successfully or not) the batch swaps it in atomically
  (:func:`helpers.runner.folders.swap_in`).
* ``runs.json`` and ``reports/index.html`` are rewritten whenever a run starts (``running``)
  or ends (:mod:`helpers.runner.records`). A failing run keeps its partially executed notebook
  and an HTML view whose link points at the failing cell; the other runs go on.
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
import json
import multiprocessing
import multiprocessing.context
import multiprocessing.process
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TextIO

from tqdm.auto import tqdm

from helpers.config import NOTEBOOKS_DIR, REPORTS_DIR
from helpers.runner import processes
from helpers.runner.folders import new_staging, swap_in
from helpers.runner.lock import FolderLock
from helpers.runner.records import (
    Record,
    code_version,
    read_runs,
    recover,
    unfinished,
    write_index,
    write_runs,
)
from helpers.runner.spec import Run, check_runs, read_batch, select
from helpers.runner.worker import serve

__all__ = ["BatchInterrupted", "run_batch"]

RECORD_FILE = ".record.json"
#: Seconds a worker has to stop its kernel and end after SIGTERM before it is killed.
STOP_GRACE_S = 10.0


class BatchInterrupted(RuntimeError):
    """The batch was stopped by a signal; ``records`` say what ran, what did not."""

    def __init__(self, signum: int, records: list[Record]) -> None:
        name = signal.Signals(signum).name
        super().__init__(f"the batch was stopped by {name}")
        self.signum = signum
        self.records = records


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
        records[run.name] = unfinished(run, "running", "", batch_dir, previous, version)
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
            record = unfinished(job.run, "failed", why, batch_dir, previous, version)
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
                    records[job.run.name] = unfinished(
                        job.run, "interrupted", why, batch_dir, previous, version
                    )
                    records[job.run.name].started = job.started
                    worker.job = None
                why = f"cancelled: the batch was stopped by {signame}"
                for run in runs:
                    if run.name not in records:
                        records[run.name] = unfinished(
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
