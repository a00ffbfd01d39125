"""What happened to the runs of a batch: records, ``runs.json``, the index, recovery.

* A :class:`Record` says what happened to one run; ``runs.json`` in the batch's folder holds
  the records of its runs (:func:`read_runs`, :func:`write_runs`), and ``reports/index.html``
  shows every batch's (:func:`write_index`).
* A batch that finds the lock of a killed batch takes it over and cleans up after it: removes
  the staging folders whose owner has ended and marks that batch's unfinished runs
  ``interrupted`` in ``runs.json`` (:func:`recover`; :func:`recover_all` for every folder).
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from helpers.config import PROJECT_ROOT, REPORTS_DIR
from helpers.reporting import atomic_write_text
from helpers.runner.folders import clear_leftovers
from helpers.runner.index import index_html
from helpers.runner.lock import FolderBusy, FolderLock, Holder
from helpers.runner.spec import Run

__all__ = [
    "STATUSES",
    "Record",
    "code_version",
    "read_runs",
    "recover",
    "recover_all",
    "unfinished",
    "write_index",
    "write_runs",
]

RUNS_FILE = "runs.json"
INDEX_FILE = "index.html"

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
        return atomic_write_text(reports_dir / INDEX_FILE, index_html(batches, reports_dir))
    finally:
        os.close(fd)


def unfinished(
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
            fixed.append(unfinished(fields, "interrupted", why, batch_dir, {old["name"]: old}))
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
