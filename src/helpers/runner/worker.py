"""Runs of a batch in worker processes (:func:`serve`).

The batch (:func:`helpers.runner.pool.run_batch`) starts at most ``jobs`` workers (forked
where the system allows: no second import of papermill and nbconvert) and sends each job
through a pipe (the run, its staging and final folders, the code version, the file for the
record); a worker takes jobs until it receives None or the pipe closes. The worker

* asks to receive SIGTERM when the batch process ends, however it ends, and adopts the
  orphans of its process tree (:mod:`helpers.runner.processes`);
* executes each run into its staging folder (:func:`helpers.runner.execute.execute_staged`)
  and then writes the record as JSON to the file the job names (atomically: once the file
  exists, the run has ended); the batch swaps the folder in;
* on SIGTERM, SIGINT or SIGHUP stops its whole process tree (the kernel and whatever the kernel
  started) and exits with 128 + the signal number; it also stops what is left of the tree when
  the run has ended.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import traceback
from dataclasses import asdict
from multiprocessing.connection import Connection
from pathlib import Path

from helpers.reporting import atomic_write_text
from helpers.runner import lock, processes
from helpers.runner.execute import SOCKET_DIRS, execute_staged
from helpers.runner.records import Record
from helpers.runner.spec import Run


def _stop(signum: int, frame: object) -> None:
    """Stop every process this worker started, then end at once."""
    processes.stop(processes.descendants(os.getpid()), grace=2.0)
    for sockets in SOCKET_DIRS:
        shutil.rmtree(sockets, ignore_errors=True)
    os._exit(128 + signum)


def _execute(job: dict) -> Record:
    run = Run(**job["run"])
    try:
        return execute_staged(
            run,
            Path(job["staging"]),
            Path(job["final"]),
            job["version"],
            Path(job["notebooks_dir"]),
        )
    except Exception as exc:  # a crash in our own code: the batch records it and goes on
        record = Record(run.name, run.notebook, dict(run.parameters), code_version=job["version"])
        record.status = "failed"
        record.error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return record
    finally:
        processes.stop(processes.descendants(os.getpid()), grace=2.0)


def serve(parent: int, jobs: Connection) -> None:
    """Take jobs from ``jobs`` until None arrives or the pipe closes; ``parent``: the batch's pid
    (this process ends when that one does)."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _stop)
    # a process group of its own: Ctrl-C in the terminal reaches the batch, which decides
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    for fd in list(lock.HELD):  # copies of the batch's folder lock (forked): not ours to hold
        with contextlib.suppress(OSError):
            os.close(fd)
    lock.HELD.clear()
    processes.die_with_parent(parent)
    processes.adopt_orphans()
    while True:
        try:
            job = jobs.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        record = _execute(job)
        atomic_write_text(job["record"], json.dumps(asdict(record), default=str))
