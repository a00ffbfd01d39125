"""Notebooks on partial exports: a missing optional table skips its own sections with a
sentence that names it, and everything else still runs and writes its metrics."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import papermill as pm
import pytest
import yaml

from helpers.config import KERNEL_NAME, NOTEBOOKS_DIR

ALL_TABLES = ("orders", "accounts", "leads", "touchpoints", "channel_spend")
#: Smaller bootstraps and refits: these runs check which sections are skipped, not intervals.
FAST = {"N_BOOT": 20, "N_REFITS": 5}


def _source_without(tmp_path: Path, demo_dir: Path, truth: dict, missing: str) -> Path:
    """An own-data YAML over the demo Parquet files, leaving out one table."""
    spec = {
        "analysis_date": truth["as_of"],
        "tables": {t: str(demo_dir / f"{t}.parquet") for t in ALL_TABLES if t != missing},
    }
    path = tmp_path / "source.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def _shown_text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            parts.append(str(data.get("text/markdown", "")) + str(data.get("text/plain", "")))
    return "\n".join(parts)


# The same skip without touchpoints runs in-process in the shapes matrix (test_shapes_channels'
# lead funnel has no touchpoints table) and the own-data YAML path through papermill in
# test_shapes_overview_segmentation: this whole-notebook run (~30 s) is in `make test-slow`.
@pytest.mark.slow
@pytest.mark.parametrize(
    ("notebook", "missing", "parameters", "skipped"),
    [
        # notebook 01 without leads and notebook 03 without spend are in the shapes matrix
        # (test_shapes_overview_segmentation's order-log run through papermill,
        # test_shapes_channels' demo_without_spend): one papermill run of 03 here
        ("03-channel-economics", "touchpoints", FAST, "Attribution"),
    ],
)
def test_notebook_runs_without_an_optional_table(
    tmp_path, demo_dir, truth, notebook, missing, parameters, skipped
):
    source = _source_without(tmp_path, demo_dir, truth, missing)
    out = tmp_path / "out"
    executed = tmp_path / f"{notebook}.ipynb"
    pm.execute_notebook(
        str(NOTEBOOKS_DIR / f"{notebook}.ipynb"),
        str(executed),
        parameters={"DATA_SOURCE": str(source), "OUTPUT_DIR": str(out), **parameters},
        kernel_name=KERNEL_NAME,
        progress_bar=False,
        cwd=str(NOTEBOOKS_DIR),
    )
    text = _shown_text(nbformat.read(executed, as_version=4))
    assert skipped in text and missing in text  # the section says why it is empty
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["source"] and metrics["data_fingerprint"]
