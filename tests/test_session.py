"""The first cell of every study notebook: data, slice, as-of date and output folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from helpers import session
from helpers.config import KERNEL_NAME


def test_start_loads_filters_and_resolves_the_date_and_folder(demo_dir, tmp_path):
    ds, as_of, out = session.start(
        "02-churn-survival", "demo", {"region": "north"}, "", str(tmp_path / "run")
    )
    assert as_of == ds.analysis_date == pd.Timestamp("2025-12-31")
    assert set(ds["accounts"]["region"]) == {"north"}
    assert out == tmp_path / "run" and out.is_dir()
    _, earlier, _ = session.start("02-churn-survival", "demo", {}, "2024-06-30", str(tmp_path))
    assert earlier == pd.Timestamp("2024-06-30")


def test_a_notebook_checks_its_parameters_before_loading_data(tmp_path):
    """papermill run by hand with a wrong type and a misspelt name: the first cell stops with
    the batch's sentences, before the (missing) data source is read."""
    fixtures = Path(__file__).parent / "fixtures" / "notebooks"
    src = Path(__file__).resolve().parents[1] / "src"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "papermill",
            str(fixtures / "check-parameters.ipynb"),
            str(tmp_path / "out.ipynb"),
            "-k",
            KERNEL_NAME,
            "--cwd",
            str(fixtures),
            "-p",
            "CHURN_THRESHOLD_DAYS",
            "ninety",
            "-p",
            "CHURN_TRESHOLD_DAYS",
            "90",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode != 0
    assert (
        "ParameterError: check-parameters.ipynb: Parameters that do not fit:\n"
        "  - parameter CHURN_THRESHOLD_DAYS expects int, got str 'ninety'\n"
        "  - unknown parameter CHURN_TRESHOLD_DAYS (did you mean CHURN_THRESHOLD_DAYS?)"
    ) in done.stderr
    assert "nonexistent" not in done.stderr  # the data source was never opened
    cells = json.loads((tmp_path / "out.ipynb").read_text())["cells"]
    assert cells[-1]["outputs"] == []  # nothing after the first cell ran
