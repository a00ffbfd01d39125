"""Shared charts: what they draw, and a skipped input shown as its sentence instead."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from helpers import plots, theme  # noqa: E402
from helpers.steps import Skipped  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_interval_bars_sorted_with_flag_colours_and_error_bars():
    table = pd.DataFrame(
        {
            "ratio": [4.0, 1.5, 2.5],
            "low": [3.0, 0.8, 2.0],
            "high": [5.0, 2.0, 3.5],
            "flag": [False, True, False],
        },
        index=["a", "b", "c"],
    )
    ax = plots.interval_bars(table, "ratio", flag="flag", reference=3, xlabel="LTV : CAC")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["b", "c", "a"]  # ascending by value
    colours = [matplotlib.colors.to_hex(p.get_facecolor()) for p in ax.patches]
    assert colours[0] == matplotlib.colors.to_hex(theme.BAD)
    assert colours[2] == matplotlib.colors.to_hex(theme.GOOD)
    assert any(line.get_xdata()[0] == 3 for line in ax.get_lines())  # reference line


def test_forest_draws_hazard_ratios_on_a_log_scale():
    table = pd.DataFrame(
        {"log_hr": [-0.5, 0.7], "low": [-0.9, 0.3], "high": [-0.1, 1.1]}, index=["x=a", "x=b"]
    )
    ax = plots.forest(table)
    assert ax.get_xscale() == "log"
    xs = ax.collections[-1].get_offsets()[:, 0]
    np.testing.assert_allclose(xs, np.exp([-0.5, 0.7]))


def test_waterfall_ends_at_start_plus_contributions():
    drivers = pd.DataFrame({"label": ["leads", "retention"], "contribution": [30.0, -10.0]})
    ax = plots.waterfall(drivers, 100.0, "Q3", "Q4")
    heights = [p.get_height() for p in ax.patches]
    assert heights == [100.0, 30.0, 10.0, 120.0]


def test_a_skipped_input_draws_nothing_and_says_why(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    assert plots.interval_bars(Skipped("no lifetime values", step="LTV")) is None
    assert plots.forest(Skipped("only 5 churn events")) is None
    assert len(shown) == 2 and "LTV is not available: no lifetime values" in shown[0].data
    assert plt.get_fignums() == []


def test_share_bars_draws_one_bar_per_share_with_percent_ticks():
    shares = pd.Series({"long tail": 0.04, "key": 0.42, "strategic": 0.36})
    ax = plots.share_bars(shares, xlabel="share of revenue", title="Revenue by value tier")
    widths = [bar.get_width() for bar in ax.patches]
    assert widths == [0.04, 0.42, 0.36]  # the series' order, bottom up
    assert [t.get_text() for t in ax.get_yticklabels()] == ["long tail", "key", "strategic"]
    assert ax.xaxis.get_major_formatter()(0.25, 0) == "25%"
    assert ax.get_xlabel() == "share of revenue"


def test_share_bars_of_a_skipped_input_draws_nothing(monkeypatch):
    monkeypatch.setattr("IPython.display.display", lambda obj: None)
    assert plots.share_bars(Skipped("no tiers", step="The tier chart")) is None
    assert plt.get_fignums() == []
