"""Bar charts: intervals per row, shares, grouped bars, revenue by kind and the waterfall."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.patches import Patch

from helpers import formats, theme
from helpers.plots._base import (
    fit_category_ticks,
    legend_outside,
    money_axis,
    names_of,
    new_axes,
    reference_line,
    share_axis,
    skippable,
    spaced_ticks,
    unit_format,
    value_labels,
)
from helpers.plots.alt import describe

#: Colour of the interval lines of :func:`interval_bars`.
INTERVAL_COLOR = "#444444"


@skippable
def interval_bars(
    table: pd.DataFrame,
    value: str = "mean",
    low: str = "low",
    high: str = "high",
    *,
    flag: str | None = None,
    flag_labels: tuple[str, str] = ("flagged", "not flagged"),
    reference: float | None = None,
    reference_label: str = "",
    xlabel: str = "",
    title: str = "",
    unit: str | None = None,
    currency: str | None = None,
    names: Any = None,
    sentence: str = "",
    alt: str = "",
    ax=None,
):
    """Horizontal bars of ``value`` per row with ``[low, high]`` error bars (an interval per
    row, e.g. a 95% bootstrap interval), sorted by value, each labelled with its value
    (``unit`` as :func:`unit_format`; money in ``currency`` when given). Rows where ``flag``
    is truthy are drawn in ``theme.BAD`` and the legend names them ``flag_labels[0]``, the
    others ``theme.GOOD`` (all ``PALETTE[0]`` without a flag). ``reference`` draws a dashed
    vertical line named ``reference_label`` (default "<xlabel> = <reference>", e.g.
    "LTV : CAC = 3"). Row names are shown by their display names (``names`` overrides). The
    interval is drawn from ``low`` to ``high`` as given, also when it does not contain the
    value (a percentile interval from few draws can miss its estimate: the caller says so);
    a row without an interval has none."""
    t = table.dropna(subset=[value]).sort_values(value)
    ax = new_axes(ax, (8, 0.45 * len(t) + 1.5))
    if flag is None:
        colors: Any = theme.PALETTE[0]
    else:
        colors = [theme.BAD if bool(f) else theme.GOOD for f in t[flag]]
    values = t[value].to_numpy(float)
    lows = t[low].to_numpy(float)
    highs = t[high].to_numpy(float)
    y = np.arange(len(t))
    ax.barh(y, values, color=colors)
    # the interval is drawn from low to high as given (not as error lengths around the value:
    # matplotlib refuses a negative one, and a percentile interval may miss its estimate)
    ax.hlines(y, lows, highs, color=INTERVAL_COLOR, linewidth=1.5, label="_interval")
    ends_y = np.concatenate([y, y])
    ax.plot(np.concatenate([lows, highs]), ends_y, "|", color=INTERVAL_COLOR, markersize=6)
    ax.set_yticks(y, names_of(t.index, names))
    write = unit_format(unit, currency)
    ends = np.fmax(values, np.nan_to_num(highs, nan=-np.inf))  # labels right of both
    for yi, v, end in zip(y, values, ends, strict=True):
        ax.annotate(
            write(v), (end, yi), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8
        )
    left = min(0.0, float(np.nanmin(lows)) if np.isfinite(lows).any() else 0.0)
    right = float(np.nanmax(ends)) if len(ends) else 1.0
    ax.set_xlim(left, right + 0.2 * (right - left or 1.0))
    handles = []
    if reference is not None:
        text = reference_label or f"{xlabel or 'reference'} = {formats.number(reference)}"
        handles.append(reference_line(ax, reference, text))
    if flag is not None:
        handles += [
            Patch(color=theme.BAD, label=flag_labels[0]),
            Patch(color=theme.GOOD, label=flag_labels[1]),
        ]
    if handles:
        legend_outside(ax, handles=handles)
    if unit in (None, "money", "number", "count"):
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: write(v)))
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    spaced_ticks(ax.xaxis)
    describe(ax, title or xlabel, sentence=sentence, alt=alt)
    return ax


@skippable
def share_bars(
    shares: pd.Series,
    *,
    xlabel: str = "share",
    title: str = "",
    names: Any = None,
    sentence: str = "",
    alt: str = "",
    ax=None,
):
    """Horizontal bars of shares 0-1 (e.g. revenue share per value tier), one per index label
    in the series' order from the bottom up and by display name (``names`` overrides), each
    labelled with its percentage, with percentage tick labels."""
    ax = new_axes(ax, (8, 0.45 * len(shares) + 1.5))
    values = shares.to_numpy(float)
    bars = ax.barh(names_of(shares.index, names), values, color=theme.PALETTE[0])
    value_labels(ax, bars, [formats.share(v) for v in values])
    ax.set_xlim(0, max(float(np.nanmax(values)) if len(values) else 1.0, 0.01) * 1.15)
    share_axis(ax.xaxis)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    describe(ax, title or xlabel, sentence=sentence, alt=alt)
    return ax


@skippable
def grouped_bars(
    table: pd.DataFrame,
    *,
    ylabel: str = "",
    title: str = "",
    unit: str | None = None,
    currency: str | None = None,
    names: Any = None,
    sentence: str = "",
    alt: str = "",
    ax=None,
):
    """Bars per row (e.g. channel) grouped side by side, one colour per column (e.g.
    attribution model, in ``theme.PALETTE`` order, named in the legend), each bar labelled
    with its value (``unit`` as :func:`unit_format`); rows and columns by display name."""
    ax = new_axes(ax, (11, 4.5))
    shown = table.copy()
    shown.columns = names_of(table.columns, names)
    shown.plot.bar(ax=ax, color=theme.PALETTE[: len(table.columns)], rot=0, width=0.8)
    write = unit_format(unit, currency)
    many = table.size > 16
    for bars, column in zip(ax.containers, table.columns, strict=False):
        texts = [write(v) if formats.finite(v) else "" for v in table[column]]
        value_labels(ax, bars, texts, rotation=90 if many else 0)
    top = float(np.nanmax(table.to_numpy(float))) if table.size else 1.0
    ax.set_ylim(0, top * (1.25 if many else 1.12))
    fit_category_ticks(ax, names_of(table.index, names))
    if unit in (None, "money", "number", "count"):
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: write(v)))
    ax.set_xlabel("")
    ax.set_ylabel(ylabel)
    legend_outside(ax)
    ax.set_title(title)
    describe(ax, title or ylabel, sentence=sentence, alt=alt)
    return ax


@skippable
def revenue_by_kind(
    components: pd.DataFrame,
    *,
    as_of: Any = None,
    currency: str | None = None,
    sentence: str = "",
    alt: str = "",
    ax=None,
):
    """Stacked bars of revenue per period from existing, new and reactivated accounts
    (``components`` as :func:`helpers.decomposition.revenue_components` builds them); a
    period cut by the analysis date ``as_of`` is marked "partial". Period labels as
    :func:`helpers.formats.period` writes them, thinned so that they do not overlap."""
    ax = new_axes(ax, (9, 4.5))
    parts = components[["existing", "new", "reactivated"]]
    bottom = np.zeros(len(parts))
    x = np.arange(len(parts))
    colors = {
        "existing": theme.PALETTE[0],
        "new": theme.PALETTE[1],
        "reactivated": theme.PALETTE[4],
    }
    for name in parts.columns:
        ax.bar(x, parts[name], bottom=bottom, label=f"{name} accounts", color=colors[name])
        bottom += parts[name].to_numpy()
    for i in np.flatnonzero(~components["complete"].to_numpy()):
        ax.annotate("partial", (i, bottom[i]), ha="center", va="bottom", fontsize=8)
    ax.set_ylabel(f"revenue ({currency})" if currency else "revenue")
    money_axis(ax.yaxis, currency)
    ax.legend(loc="upper left")
    when = f" (as of {formats.date(as_of)})" if as_of is not None else ""
    title = f"Revenue by period, by kind of account{when}"
    ax.set_title(title)
    fit_category_ticks(ax, [formats.period(p) for p in parts.index], thin=True)
    describe(ax, title, sentence=sentence, alt=alt)
    return ax


def _axis_start(level: np.ndarray) -> float:
    """Where a waterfall's money axis starts: zero, unless every running total is positive
    and the moves would be slivers on a zero-based axis; then just below the smallest total."""
    lo, hi = float(level.min()), float(level.max())
    span = hi - lo
    if lo <= 0 or span <= 0:
        return min(0.0, lo)
    start = lo - 0.6 * span
    return 0.0 if start < 0.25 * hi else start


@skippable
def waterfall(
    drivers: pd.DataFrame,
    start_value: float,
    start_label: str,
    end_label: str,
    *,
    title: str = "",
    currency: str | None = None,
    sentence: str = "",
    alt: str = "",
    ax=None,
):
    """Horizontal waterfall from ``start_value`` (top) through each driver's ``contribution``
    (labelled by ``label``) to the end value (bottom): rises in ``theme.GOOD``, falls in
    ``theme.BAD``, totals grey, every bar labelled with its amount (money, ``currency``).
    When the moves are small against the totals the money axis starts just below the smallest
    running total, not at zero (the axis label says where, a "//" marks the break), so the
    moves are readable."""
    steps = drivers["contribution"].to_numpy(float)
    labels = [start_label, *drivers["label"], end_label]
    ax = new_axes(ax, (9, 0.42 * len(labels) + 1.6))
    level = start_value + np.concatenate([[0.0], np.cumsum(steps)])
    origin = _axis_start(level)
    lefts = np.concatenate([[origin], np.minimum(level[:-1], level[1:]), [origin]])
    widths = np.concatenate([[start_value - origin], np.abs(steps), [level[-1] - origin]])
    colors = [theme.NEUTRAL] + [theme.GOOD if s >= 0 else theme.BAD for s in steps]
    colors.append(theme.NEUTRAL)
    y = np.arange(len(labels))[::-1]
    bars = ax.barh(y, widths, left=lefts, color=colors, height=0.6)
    texts = [formats.money(start_value, currency)]
    texts += [("+" if s >= 0 else "") + formats.money(s, currency) for s in steps]
    texts.append(formats.money(level[-1], currency))
    value_labels(ax, bars, texts)
    span = float(level.max()) - origin
    ax.set_xlim(origin, float(level.max()) + 0.22 * (span or 1.0))
    ax.set_yticks(y, labels)
    money_axis(ax.xaxis, currency)
    where = ""
    if origin > 0:
        where = f"; the axis starts at {formats.money(origin, currency)}, not at zero"
        ax.text(
            0,
            0,
            "//",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=11,
            fontweight="bold",
            clip_on=False,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5},
        )
    ax.set_xlabel(f"revenue{f' ({currency})' if currency else ''}{where}")
    ax.grid(axis="y", visible=False)
    ax.set_title(title)
    spaced_ticks(ax.xaxis)
    describe(ax, title or "Waterfall", sentence=sentence, alt=alt)
    return ax


@skippable
def change_waterfall(
    change: Any, *, currency: str | None = None, sentence: str = "", alt: str = "", ax=None
):
    """:func:`waterfall` of a :class:`helpers.decomposition.RevenueChange`: from the earlier
    period's revenue through each factor's contribution to the later period's revenue."""
    before, after = formats.period(change.before), formats.period(change.after)
    return waterfall(
        change.drivers,
        change.revenue_before,
        before,
        after,
        title=f"What moved revenue from {before} to {after}",
        currency=currency,
        sentence=sentence,
        alt=alt,
        ax=ax,
    )
