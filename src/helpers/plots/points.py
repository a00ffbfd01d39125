"""Point charts and maps: hazard ratios, the cost quadrant, clusters and heat maps."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.lines import Line2D

from helpers import formats, theme
from helpers.plots._base import (
    legend_outside,
    log_axis,
    names_of,
    new_axes,
    place_labels,
    reference_line,
    skippable,
    unit_format,
)
from helpers.plots.alt import describe


def _level_name(label: str) -> str:
    """``acquisition_channel=b2b_marketplace`` -> "Acquisition channel: B2B marketplace"."""
    if "=" not in label:
        return formats.display_name(label)
    column, level = label.split("=", 1)
    return f"{formats.display_name(column)}: {formats.display_name(level)}"


@skippable
def forest(
    table: pd.DataFrame,
    *,
    title: str = "Hazard ratios (95% intervals)",
    sentence: str = "",
    alt: str = "",
    ax=None,
):
    """Hazard ratios on a log scale with their 95% intervals (1 = same hazard as the
    reference level, a labelled line); ``table`` as :func:`helpers.survival.cox.forest_table`
    builds it. Few log ticks with plain labels (``0.5``, ``1``, ``2``)."""
    ax = new_axes(ax, (8, 0.3 * len(table) + 1.8))
    y = np.arange(len(table))
    hr = np.exp(table["log_hr"].to_numpy(float))
    low, high = np.exp(table["low"].to_numpy(float)), np.exp(table["high"].to_numpy(float))
    colors = [theme.BAD if v > 0 else theme.GOOD for v in table["log_hr"]]
    ax.errorbar(hr, y, fmt="none", ecolor="#999999", xerr=[hr - low, high - hr])
    ax.scatter(hr, y, color=colors, zorder=3)
    line = reference_line(ax, 1.0, "1 = same hazard as the reference level", color="#444444")
    ax.set_xscale("log")
    lo = float(np.nanmin(np.r_[low, 1.0])) / 1.15
    hi = float(np.nanmax(np.r_[high, 1.0])) * 1.15
    ax.set_xlim(lo, hi)
    log_axis(ax.xaxis, lo, hi)
    ax.set_yticks(y, [_level_name(str(i)) for i in table.index])
    ax.set_xlabel("hazard ratio vs reference level (log scale; > 1 = higher churn hazard)")
    handles = [
        line,
        Line2D([], [], marker="o", ls="", color=theme.BAD, label="higher churn hazard"),
        Line2D([], [], marker="o", ls="", color=theme.GOOD, label="lower churn hazard"),
    ]
    legend_outside(ax, handles=handles)
    ax.set_title(title)
    describe(ax, title, sentence=sentence, alt=alt)
    return ax


def _log_limits(values: np.ndarray, margin: float = 0.3) -> tuple[float, float]:
    """Log-axis limits around positive ``values`` with ``margin`` of the log range each side
    (at least 0.15 decade): room for corner notes and point labels."""
    logs = np.log10(values[values > 0])
    lo, hi = float(logs.min()), float(logs.max())
    pad = max(margin * (hi - lo), 0.15)
    return 10 ** (lo - pad), 10 ** (hi + pad)


@skippable
def quadrant(
    table: pd.DataFrame,
    strategies: Mapping[tuple[bool, bool], str],
    *,
    title: str = "Cost quadrant (a diagnostic of costs, not a verdict)",
    currency: str | None = None,
    names: Any = None,
    sentence: str = "",
    alt: str = "",
    ax=None,
):
    """Channels as labelled points by cost per lead (x) and cost per new customer (y), both
    log scales with money ticks (``currency``), the cuts (``table.attrs['x_cut']``,
    ``['y_cut']``) as dashed lines named in the legend, and each corner named by
    ``strategies[(high x, high y)]``. The axes leave room so that the corner notes sit clear
    of the points, and each point's label is placed where it overlaps no point, no corner
    note and no other label."""
    ax = new_axes(ax, (8, 6))
    colors = theme.channel_colors(table.index)
    x = table["cost_per_lead"].to_numpy(float)
    y = table["cac"].to_numpy(float)
    ax.scatter(x, y, s=120, color=[colors[c] for c in table.index], zorder=3)
    x_cut, y_cut = table.attrs["x_cut"], table.attrs["y_cut"]
    money = lambda v: formats.money(v, currency)  # noqa: E731
    reference_line(ax, x_cut, f"cut: cost per lead {money(x_cut)}")
    reference_line(ax, y_cut, f"cut: cost per new customer {money(y_cut)}", vertical=False)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(*_log_limits(np.r_[x, x_cut]))
    ax.set_ylim(*_log_limits(np.r_[y, y_cut]))
    log_axis(ax.xaxis, *ax.get_xlim(), fmt=money)
    log_axis(ax.yaxis, *ax.get_ylim(), fmt=money)
    notes = [
        ax.text(
            0.98 if hx else 0.02,
            0.98 if hy else 0.02,
            text,
            transform=ax.transAxes,
            ha="right" if hx else "left",
            va="top" if hy else "bottom",
            fontsize=9,
            color="#555555",
            style="italic",
        )
        for (hx, hy), text in strategies.items()
    ]
    ax.set_xlabel(f"acquisition cost: cost per lead{f' ({currency})' if currency else ''}, log")
    ax.set_ylabel(
        f"conversion cost: cost per new customer{f' ({currency})' if currency else ''}, log"
    )
    ax.set_title(title)
    legend_outside(ax)
    place_labels(ax, x, y, names_of(table.index, names), obstacles=notes, fontsize=9)
    describe(ax, title, sentence=sentence, alt=alt)
    return ax


def _pc_label(number: int, explained: Any) -> str:
    if explained is not None and len(explained) >= number:
        return f"PC{number} ({formats.share(explained[number - 1])} of variance)"
    return f"PC{number} (principal component {number})"


@skippable
def cluster_scatter(
    points: pd.DataFrame,
    *,
    title: str = "Clusters in the first two principal components",
    sentence: str = "",
    alt: str = "",
    ax=None,
):
    """Points ``pc1`` (x) and ``pc2`` (y), one colour per ``cluster`` (sorted names take
    :data:`helpers.theme.PALETTE` in order); the axes say how much of the variance each
    component explains when ``points.attrs['explained']`` holds the shares (0-1)."""
    ax = new_axes(ax)
    for i, name in enumerate(sorted(points["cluster"].unique())):
        group = points[points["cluster"] == name]
        color = theme.PALETTE[i % len(theme.PALETTE)]
        ax.scatter(group["pc1"], group["pc2"], s=6, label=name, color=color)
    explained = points.attrs.get("explained")
    ax.set_xlabel(_pc_label(1, explained))
    ax.set_ylabel(_pc_label(2, explained))
    legend_outside(ax, markerscale=3)
    ax.set_title(title)
    describe(ax, title, sentence=sentence, alt=alt)
    return ax


@skippable
def heatmap(
    table: pd.DataFrame,
    *,
    title: str = "",
    fmt: str | None = None,
    unit: str | None = None,
    currency: str | None = None,
    sentence: str = "",
    alt: str = "",
    ax=None,
):
    """A table as an annotated heat map in the sequential colour map (rows top to bottom in
    the table's order); cells and colour bar written as ``unit`` (see :func:`unit_format`:
    money in ``currency`` when given, else a number with thousands separators), or with the
    format spec ``fmt`` when given."""
    import seaborn as sns

    ax = new_axes(ax)
    write = unit_format(unit, currency)
    if fmt is None:
        annot: Any = table.map(lambda v: write(v) if formats.finite(v) else "").to_numpy()
        sns.heatmap(table, cmap=theme.SEQUENTIAL, annot=annot, fmt="", ax=ax)
        colorbar = ax.collections[0].colorbar
        if colorbar is not None:
            colorbar.formatter = ticker.FuncFormatter(lambda v, _: write(v))
            colorbar.update_ticks()
    else:
        sns.heatmap(table, cmap=theme.SEQUENTIAL, annot=True, fmt=fmt, ax=ax)
    ax.set_title(title)
    describe(ax, title or "Heat map", sentence=sentence, alt=alt)
    return ax
