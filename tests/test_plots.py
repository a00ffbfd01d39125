"""Shared charts: what they draw, and a skipped input shown as its sentence."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd

from helpers import plots
from helpers.steps import Skipped


def test_share_bars_draws_one_bar_per_share_with_percent_ticks():
    shares = pd.Series({"long tail": 0.04, "key": 0.42, "strategic": 0.36})
    ax = plots.share_bars(shares, xlabel="share of revenue", title="Revenue by value tier")
    widths = [bar.get_width() for bar in ax.patches]
    assert widths == [0.04, 0.42, 0.36]  # the series' order, bottom up
    assert [t.get_text() for t in ax.get_yticklabels()] == ["long tail", "key", "strategic"]
    assert ax.xaxis.get_major_formatter()(0.25, 0) == "25%"
    assert ax.get_xlabel() == "share of revenue"
    plt.close("all")


def test_share_bars_of_a_skipped_input_draws_nothing():
    assert plots.share_bars(Skipped("no tiers", step="The tier chart")) is None
    assert plt.get_fignums() == []
