"""Executing a batch: isolation of failures, atomic outputs, records, retries, the index."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import papermill
import pytest

from helpers.runner.execute import execute, replace_dir
from helpers.runner.pool import run_batch
from helpers.runner.spec import Run

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"


def _dead_pid() -> int:
    """The pid of a process that has ended."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout)


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


#: The timestamps a rerun may change: papermill's and nbclient's times in the executed notebook,
#: the "executed" date in the report's header.
TIMESTAMPS = [
    re.compile(rb'"(start_time|end_time|duration|iopub\.[a-z_.]+|shell\.[a-z_.]+)": [^,\n]+'),
    re.compile(rb"executed: <code>[^<]*</code>"),
]


def _without_timestamps(data: bytes) -> bytes:
    for pattern in TIMESTAMPS:
        data = pattern.sub(b"<timestamp>", data)
    return data


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """One batch with two good runs and a failing one (2 jobs), then a rerun of a good one
    (1 job); staging folders left by an older batch, by a killed one and by a running one."""
    root = tmp_path_factory.mktemp("batch")
    spec = root / "fixture.yaml"
    spec.write_text(
        "name: fixture\nruns:\n"
        "  - notebook: ok\n    matrix: {SCALE: [1.0, 2.5]}\n"
        "  - notebook: fail\n"
        "  - notebook: ok\n    name: summary\n    last: true\n    parameters: {SCALE: 9.0}\n"
    )
    reports = root / "reports"
    host = socket.gethostname()
    (reports / "fixture" / ".staging-ok--scale-1-0-interrupted").mkdir(parents=True)
    (reports / "fixture" / f".staging-{_dead_pid()}@{host}@fail@0a1b2c3d").mkdir()
    (reports / "fixture" / f".staging-{os.getppid()}@{host}@fail@0a1b2c3d").mkdir()
    first = run_batch(path=spec, jobs=2, reports_dir=reports, notebooks_dir=FIXTURES)
    before = _files(reports / "fixture" / "ok--scale-2-5")
    second = run_batch(
        path=spec, jobs=1, reports_dir=reports, notebooks_dir=FIXTURES, only=["ok--scale-2-5"]
    )
    return reports, first, second, before


def test_failing_run_is_isolated_and_kept(executed):
    reports, first, _, _ = executed
    status = {r.name: r.status for r in first}
    assert status == {
        "ok--scale-1-0": "ok",
        "ok--scale-2-5": "ok",
        "fail": "failed",
        "summary": "ok",
    }
    failed = next(r for r in first if r.name == "fail")
    assert failed.error.startswith("ValueError: planned failure in the third cell (cell 4 of")
    assert failed.failed_cell == 4  # third code cell, after the title and papermill's cell
    folder = reports / "fixture" / "fail"
    assert (folder / "notebook.ipynb").exists()  # the partial notebook is the log
    analyst = (folder / "notebook.html").read_text()
    assert 'id="papermill-error-cell"' in analyst and "This run failed" in analyst
    assert failed.files["analyst"] == "notebook.html#papermill-error-cell"


def test_index_lists_runs_with_links_and_escapes(executed):
    reports, *_ = executed
    index = (reports / "index.html").read_text()
    assert "fixture/ok--scale-2-5/report.html" in index
    assert "fixture/fail/notebook.html#papermill-error-cell" in index
    assert "planned failure" in index and "fixture0" in index
    runs = json.loads((reports / "fixture" / "runs.json").read_text())["runs"]
    assert {r["name"] for r in runs} == {"ok--scale-1-0", "ok--scale-2-5", "fail", "summary"}
    assert all(r["code_version"] for r in runs)


def test_report_has_no_code_and_escapes_user_strings(executed):
    reports, *_ = executed
    html = (reports / "fixture" / "ok--scale-1-0" / "report.html").read_text()
    assert "Smith &amp; Sons &lt;b&gt;bold&lt;/b&gt;" in html
    assert "<b>bold</b>" not in html
    assert "reporting.output_dir" not in html and "injected-parameters" not in html
    assert "this warning must not reach the report" not in html
    assert 'href="#Key-findings"' in html


def test_rerun_gives_identical_files_and_replaces_cleanly(executed):
    reports, _, second, before = executed
    assert [(r.name, r.status) for r in second] == [("ok--scale-2-5", "ok"), ("summary", "ok")]
    after = _files(reports / "fixture" / "ok--scale-2-5")
    assert json.loads(after["metrics.json"])["value"] == 5.0
    # every file is the same but for the named timestamps, although the first run had 2 jobs
    # and the rerun 1: the same thread counts, the same table ids, the final folder's path
    assert sorted(after) == sorted(before) == ["metrics.json", "notebook.ipynb", "report.html"]
    assert after["metrics.json"] == before["metrics.json"]
    for name in after:
        assert _without_timestamps(after[name]) == _without_timestamps(before[name]), name
    assert b"T_b2b1" in after["report.html"] and b".staging-" not in after["notebook.ipynb"]
    threads = json.loads(after["metrics.json"])["threads"]
    assert threads == {"OMP_NUM_THREADS": "1", "B2B_DUCKDB_THREADS": "1"}
    # staging folders of the older and the killed batch were removed, the running one's kept
    left = [p.name for p in (reports / "fixture").glob(".staging-*")]
    assert left == [f".staging-{os.getppid()}@{socket.gethostname()}@fail@0a1b2c3d"]
    # the other runs of the batch keep their records
    runs = json.loads((reports / "fixture" / "runs.json").read_text())["runs"]
    assert len(runs) == 4


def test_run_folders_get_the_process_umask(executed):
    reports, *_ = executed
    umask = os.umask(0)
    os.umask(umask)
    for folder in (reports / "fixture").iterdir():
        if folder.is_dir() and not folder.name.startswith("."):
            assert folder.stat().st_mode & 0o777 == 0o777 & ~umask, folder.name


def test_replace_dir_never_leaves_a_moment_without_the_folder(tmp_path):
    final = tmp_path / "run"
    final.mkdir()
    (final / "report.html").write_text("0")
    missing, done = [], threading.Event()

    def read() -> None:
        while not done.is_set():
            if not (final / "report.html").exists():
                missing.append(1)

    reader = threading.Thread(target=read)
    reader.start()
    for i in range(1, 200):
        staging = tmp_path / f".staging-{i}"
        staging.mkdir()
        (staging / "report.html").write_text(str(i))
        replace_dir(staging=staging, final=final)
    done.set()
    reader.join()
    assert missing == [] and (final / "report.html").read_text() == "199"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_replace_dir_is_a_rename(tmp_path):
    final, staging = tmp_path / "run", tmp_path / ".staging-run"
    final.mkdir()
    (final / "old.txt").write_text("old")
    staging.mkdir()
    (staging / "new.txt").write_text("new")
    replace_dir(staging=staging, final=final)
    assert sorted(p.name for p in final.iterdir()) == ["new.txt"]
    assert not staging.exists() and len(list(tmp_path.iterdir())) == 1


def test_last_runs_start_after_every_other_run_has_ended(executed):
    _, first, _, _ = executed

    def start(r):
        return dt.datetime.fromisoformat(r.started)

    summary = next(r for r in first if r.name == "summary")
    others = [r for r in first if r.name != "summary"]
    # `started` has whole seconds: allow one second of rounding
    assert all(start(summary) >= start(r) + dt.timedelta(seconds=r.duration_s - 1) for r in others)


def _flaky_start(monkeypatch, error: BaseException):
    """papermill.execute_notebook that fails once with ``error``, then works."""
    real, calls = papermill.execute_notebook, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(papermill, "execute_notebook", flaky)
    return calls


def test_a_kernel_that_fails_to_start_is_retried_once(monkeypatch, tmp_path):
    calls = _flaky_start(monkeypatch, RuntimeError("Kernel didn't respond in 60 seconds"))
    record = execute(
        run=Run("r", "ok", {"SCALE": 3.0}), batch_dir=tmp_path, version="v", notebooks_dir=FIXTURES
    )
    assert record.status == "ok" and record.attempts == 2 and len(calls) == 2
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["value"] == 6.0


def test_other_errors_are_not_retried(monkeypatch, tmp_path):
    calls = _flaky_start(monkeypatch, ValueError("bad input"))
    record = execute(
        run=Run("r", "ok", {}), batch_dir=tmp_path, version="v", notebooks_dir=FIXTURES
    )
    assert record.status == "failed" and record.attempts == 1 and len(calls) == 1
    assert record.error == "ValueError: bad input"
    assert not list(tmp_path.glob(".staging-*"))  # the staging folder became the run's folder


def test_kernels_get_the_same_thread_counts_whatever_the_parent_has():
    """A parent with wide pools (make test sets 1, a laptop may set 8) still starts kernels with
    ``B2B_KERNEL_THREADS`` (default 1) threads in every pool: sums add in the same order."""
    from helpers.runner.execute import THREAD_VARIABLES, kernel_environment

    wide = dict.fromkeys(THREAD_VARIABLES, "8")
    assert set(kernel_environment(wide)[v] for v in THREAD_VARIABLES) == {"1"}
    chosen = kernel_environment({**wide, "B2B_KERNEL_THREADS": "2"})
    assert set(chosen[v] for v in THREAD_VARIABLES) == {"2"}


def test_the_kernel_is_killed_after_the_last_cell_not_waited_for(tmp_path):
    """The fixture's exit handlers would write a mark and then hold an orderly exit for a
    minute (nbclient's graceful shutdown waits seconds, then signals): the run must end without
    running them, and still be complete (the kernel's heap is not worth the wait)."""
    record = execute(
        run=Run("r", "slow-exit", {}), batch_dir=tmp_path, version="v", notebooks_dir=FIXTURES
    )
    assert record.status == "ok", record.error
    assert (tmp_path / "r" / "report.html").is_file()
    assert not (tmp_path / "r" / "exited.txt").exists()
    assert record.duration_s < 30
