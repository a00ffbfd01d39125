"""The first cell of every study notebook: data, slice, as-of date and output folder."""

from __future__ import annotations

import pandas as pd

from helpers import session


def test_start_loads_filters_and_resolves_the_date_and_folder(demo_dir, tmp_path):
    ds, as_of, out = session.start(
        "02-churn-survival", "demo", {"region": "north"}, "", str(tmp_path / "run")
    )
    assert as_of == ds.analysis_date == pd.Timestamp("2025-12-31")
    assert set(ds["accounts"]["region"]) == {"north"}
    assert out == tmp_path / "run" and out.is_dir()
    _, earlier, _ = session.start("02-churn-survival", "demo", {}, "2024-06-30", str(tmp_path))
    assert earlier == pd.Timestamp("2024-06-30")
