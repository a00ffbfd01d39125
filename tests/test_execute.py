"""Executing a batch: isolation of failures, atomic outputs, records, retries, the index."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import papermill
import pytest

from helpers.runner.execute import execute, replace_dir, run_batch
from helpers.runner.spec import Run

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """One batch with two good runs and a failing one (2 jobs), then a rerun of the good ones."""
    root = tmp_path_factory.mktemp("batch")
    spec = root / "fixture.yaml"
    spec.write_text(
        "name: fixture\nruns:\n"
        "  - notebook: ok\n    matrix: {SCALE: [1.0, 2.5]}\n"
        "  - notebook: fail\n"
        "  - notebook: ok\n    name: summary\n    last: true\n    parameters: {SCALE: 9.0}\n"
    )
    reports = root / "reports"
    (reports / "fixture" / ".staging-ok--scale-1-0-interrupted").mkdir(parents=True)
    first = run_batch(path=spec, jobs=2, reports_dir=reports, notebooks_dir=FIXTURES)
    metrics_before = (reports / "fixture" / "ok--scale-2-5" / "metrics.json").read_bytes()
    second = run_batch(
        path=spec, jobs=1, reports_dir=reports, notebooks_dir=FIXTURES, only=["ok--scale-2-5"]
    )
    return reports, first, second, metrics_before


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


def test_rerun_gives_identical_metrics_and_replaces_cleanly(executed):
    reports, _, second, before = executed
    assert [(r.name, r.status) for r in second] == [("ok--scale-2-5", "ok"), ("summary", "ok")]
    after = (reports / "fixture" / "ok--scale-2-5" / "metrics.json").read_bytes()
    assert after == before
    assert json.loads(after)["value"] == 5.0
    # the interrupted run's staging folder was cleared, no temporary folder is left behind
    assert not list((reports / "fixture").glob(".staging-*"))
    # the other runs of the batch keep their records
    runs = json.loads((reports / "fixture" / "runs.json").read_text())["runs"]
    assert len(runs) == 4


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
