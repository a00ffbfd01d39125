"""Batch files: matrix expansion, run names, bad entries, --only, parameter checks of runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.runner.spec import BatchError, Run, check_runs, expand, read_batch, run_name, select

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"


def test_matrix_expansion_and_names():
    name, runs = expand(
        spec={
            "name": "b",
            "parameters": {"DATA_SOURCE": "demo"},
            "runs": [
                "00-data-overview",
                {
                    "notebook": ["01-a", "02-b"],
                    "matrix": {"FILTERS": [{"region": "north"}, {"region": "south"}]},
                },
                {
                    "notebook": "02-b",
                    "matrix": {"CHURN_THRESHOLD_DAYS": [60, 90]},
                    "parameters": {"SEED": 1},
                },
            ],
        }
    )
    assert name == "b"
    assert [r.name for r in runs] == [
        "00-data-overview",
        "01-a--filters-region-north",
        "01-a--filters-region-south",
        "02-b--filters-region-north",
        "02-b--filters-region-south",
        "02-b--churn_threshold_days-60--seed-1",
        "02-b--churn_threshold_days-90--seed-1",
    ]
    assert runs[1].parameters == {"DATA_SOURCE": "demo", "FILTERS": {"region": "north"}}


def test_an_explicit_name_is_kept_or_suffixed_when_it_covers_several_runs():
    _, runs = expand(
        spec={
            "runs": [
                {"notebook": "02-b", "name": "quarterly", "parameters": {"DAYS": 90}},
                {"notebook": "02-b", "name": "grid", "matrix": {"DAYS": [30, 60]}, "last": True},
            ]
        }
    )
    assert [(r.name, r.last) for r in runs] == [
        ("quarterly", False),
        ("grid--02-b--days-30", True),
        ("grid--02-b--days-60", True),
    ]


def test_run_name_keeps_only_parameters_that_differ_from_the_defaults():
    name = run_name(
        notebook="02-churn-survival.ipynb",
        parameters={"SEED": 42, "FILTERS": {"region": "North East"}},
        defaults={"SEED": 42},
    )
    assert name == "02-churn-survival--filters-region-north-east"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"runs": ["x", "x"]}, "same name"),
        ({"runs": [{"notebook": "x", "params": {}}]}, "unknown key"),
        ({"runs": [{"notebook": "x", "matrix": {"SEED": 3}}]}, "matrix 'SEED' must be a non-empty"),
        ({"runs": [{"notebook": "x", "last": "yes"}]}, "'last' must be true or false"),
        ({"runs": [{"parameters": {}}]}, "Run 1: needs a 'notebook:'"),
        ({"parameters": {}}, "needs a 'runs:' list"),
    ],
)
def test_bad_entries_are_rejected(spec, message):
    with pytest.raises(BatchError, match=message):
        expand(spec=spec)


def test_read_batch_names_the_batch_after_the_file_and_reports_bad_files(tmp_path):
    path = tmp_path / "by-region.yaml"
    path.write_text("runs:\n  - notebook: ok\n")
    assert read_batch(path=path) == ("by-region", [Run("ok", "ok", {})])
    with pytest.raises(BatchError, match="does not exist"):
        read_batch(path=tmp_path / "missing.yaml")
    path.write_text("runs: [ok\n")
    with pytest.raises(BatchError, match="not valid YAML"):
        read_batch(path=path)


def test_select_keeps_the_named_runs_and_the_last_ones():
    runs = [
        Run("a--x-1", "a", {}),
        Run("a--x-2", "a", {}),
        Run("b", "b", {}),
        Run("s", "s", {}, True),
    ]
    assert [r.name for r in select(runs=runs, only=["b"])] == ["b", "s"]
    assert [r.name for r in select(runs=runs, only=["a"])] == ["a--x-1", "a--x-2", "s"]
    with pytest.raises(BatchError, match="no run or notebook named okk in b.yaml"):
        select(runs=runs, only=["okk"], source="b.yaml")


def test_parameters_are_checked_before_any_kernel_starts():
    runs = [
        Run("r1", "ok", {"NAME": "x", "SCALEE": 2.0}),
        Run("r2", "ok", {"LIMIT": "ten"}),
        Run("r3", "missing", {}),
        Run("r4", "ok", {"OUTPUT_DIR": "/tmp/x"}),
        Run("r5", "ok", {"LIMIT": None, "SCALE": 2, "FILTERS": {"region": "north"}}),
    ]
    with pytest.raises(BatchError) as info:
        check_runs(runs=runs, notebooks_dir=FIXTURES)
    text = str(info.value)
    assert "r1: ok.ipynb: unknown parameter SCALEE (did you mean SCALE?)" in text
    assert "r2: ok.ipynb: parameter LIMIT expects int | None, got str 'ten'" in text
    assert (
        "r3: notebook missing.ipynb does not exist (known: check-parameters, fail, ok, slow-exit, wait)"
        in text
    )
    assert "r4: OUTPUT_DIR is set by the batch" in text
    assert "r5" not in text  # valid values, including None for int | None and an int for float


def test_a_notebook_without_a_readable_parameters_cell_is_reported(tmp_path):
    (tmp_path / "bare.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4}')
    with pytest.raises(BatchError, match="r: bare.ipynb: expected exactly one cell tagged"):
        check_runs(runs=[Run("r", "bare", {})], notebooks_dir=tmp_path)
