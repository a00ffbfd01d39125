"""Charts drawn in more than one notebook, in the house theme (:mod:`helpers.theme`).

Every function draws on ``ax`` (a new figure when None), returns the axes and accepts a
:class:`helpers.steps.Skipped` in place of its data: then it draws nothing and displays the
skip sentence instead (so a notebook cell stays one visible call either way). Money axes use
:func:`helpers.reporting.money` for tick labels.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.plotting import add_at_risk_counts

from helpers import theme
from helpers.reporting import money, say
from helpers.steps import Skipped


def _skippable(func: Callable[..., Any]) -> Callable[..., Any]:
    """Display the sentence of a skipped input instead of drawing."""

    @functools.wraps(func)
    def wrapper(data: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(data, Skipped):
            from IPython.display import display

            display(say(data))
            return None
        return func(data, *args, **kwargs)

    return wrapper


def _axes(ax, figsize: tuple[float, float] | None = None):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def money_axis(axis) -> None:
    """Tick labels of a money axis as ``money`` strings (``1.2M``, ``350k``)."""
    axis.set_major_formatter(plt.FuncFormatter(lambda v, _: money(v)))


@_skippable
def interval_bars(
    table: pd.DataFrame,
    value: str = "mean",
    low: str = "low",
    high: str = "high",
    *,
    flag: str | None = None,
    reference: float | None = None,
    xlabel: str = "",
    title: str = "",
    ax=None,
):
    """Horizontal bars of ``value`` per row with ``[low, high]`` error bars (an interval per
    row, e.g. a 95% bootstrap interval), sorted by value. Rows where ``flag`` is truthy are
    drawn in ``theme.BAD``, the others in ``theme.GOOD`` (all ``PALETTE[0]`` without a flag);
    ``reference`` draws a dashed vertical line (e.g. LTV:CAC = 3)."""
    t = table.dropna(subset=[value]).sort_values(value)
    ax = _axes(ax, (8, 0.45 * len(t) + 1.5))
    if flag is None:
        colors: Any = theme.PALETTE[0]
    else:
        colors = [theme.BAD if bool(f) else theme.GOOD for f in t[flag]]
    err = np.vstack([(t[value] - t[low]).to_numpy(float), (t[high] - t[value]).to_numpy(float)])
    ax.barh([str(i) for i in t.index], t[value], xerr=np.nan_to_num(err), color=colors)
    if reference is not None:
        ax.axvline(reference, color=theme.NEUTRAL, ls="--")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return ax


@_skippable
def forest(table: pd.DataFrame, *, title: str = "Hazard ratios (95% intervals)", ax=None):
    """Hazard ratios on a log scale with their 95% intervals (1 = same hazard as the
    reference level); ``table`` as :func:`helpers.survival.cox.forest_table` builds it."""
    ax = _axes(ax, (8, 0.3 * len(table) + 1.5))
    y = np.arange(len(table))
    hr = np.exp(table["log_hr"])
    colors = [theme.BAD if v > 0 else theme.GOOD for v in table["log_hr"]]
    ax.errorbar(
        hr,
        y,
        fmt="none",
        ecolor="#999999",
        xerr=[hr - np.exp(table["low"]), np.exp(table["high"]) - hr],
    )
    ax.scatter(hr, y, color=colors, zorder=3)
    ax.axvline(1.0, color="#444444", lw=1)
    ax.set_xscale("log")
    ax.set_yticks(y, table.index)
    ax.set_xlabel("hazard ratio vs reference level (log scale; > 1 = higher churn hazard)")
    ax.set_title(title)
    return ax


@_skippable
def quadrant(table: pd.DataFrame, strategies: Mapping[tuple[bool, bool], str], *, ax=None):
    """Channels as labelled points by cost per lead (x) and cost per new customer (y), both
    log scales, the cuts (``table.attrs['x_cut']``, ``['y_cut']``) as dashed lines and each
    corner named by ``strategies[(high x, high y)]``."""
    ax = _axes(ax, (8, 6))
    colors = theme.channel_colors(table.index)
    for ch, row in table.iterrows():
        ax.scatter(row["cost_per_lead"], row["cac"], s=120, color=colors[ch], zorder=3)
        ax.annotate(
            ch, (row["cost_per_lead"], row["cac"]), xytext=(6, 6), textcoords="offset points"
        )
    ax.axvline(table.attrs["x_cut"], color=theme.NEUTRAL, ls="--")
    ax.axhline(table.attrs["y_cut"], color=theme.NEUTRAL, ls="--")
    ax.set_xscale("log")
    ax.set_yscale("log")
    for (hx, hy), text in strategies.items():
        ax.text(
            0.98 if hx else 0.02,
            0.98 if hy else 0.02,
            text,
            transform=ax.transAxes,
            ha="right" if hx else "left",
            va="top" if hy else "bottom",
            fontsize=9,
            color="#555555",
            wrap=True,
        )
    ax.set_xlabel("acquisition cost: cost per lead (log)")
    ax.set_ylabel("conversion cost: cost per new customer (log)")
    return ax


@_skippable
def waterfall(
    drivers: pd.DataFrame,
    start_value: float,
    start_label: str,
    end_label: str,
    *,
    title: str = "",
    ax=None,
):
    """Waterfall from ``start_value`` through each driver's ``contribution`` (labelled by
    ``label``) to the end value: rises in ``theme.GOOD``, falls in ``theme.BAD``, totals grey."""
    ax = _axes(ax, (9, 4.5))
    labels = [start_label, *drivers["label"], end_label]
    steps = drivers["contribution"].to_numpy()
    level = start_value + np.concatenate([[0.0], np.cumsum(steps)])
    bottoms = np.concatenate([[0.0], np.minimum(level[:-1], level[1:]), [0.0]])
    heights = np.concatenate([[start_value], np.abs(steps), [level[-1]]])
    colors = [theme.NEUTRAL] + [theme.GOOD if s >= 0 else theme.BAD for s in steps]
    colors.append(theme.NEUTRAL)
    ax.bar(range(len(labels)), heights, bottom=bottoms, color=colors)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_ylabel("revenue")
    money_axis(ax.yaxis)
    ax.set_title(title)
    return ax


@_skippable
def survival_curves(
    fits: Mapping[str, KaplanMeierFitter],
    *,
    title: str = "",
    xlabel: str = "days since first order",
    ylabel: str = "share still buying",
    at_risk: bool = False,
    ci: bool = True,
    colors: Mapping[str, str] | None = None,
    xlim: float | None = None,
    ax=None,
):
    """Kaplan-Meier curves (one per fitted group, 95% bands unless ``ci=False``); with
    ``at_risk`` the numbers at risk under the axis (one curve only reads well)."""
    ax = _axes(ax)
    for i, (name, km) in enumerate(fits.items()):
        color = (colors or {}).get(name, theme.PALETTE[i % len(theme.PALETTE)])
        km.plot_survival_function(ax=ax, color=color, ci_show=ci, ci_alpha=0.1, label=name)
    if at_risk:
        add_at_risk_counts(*fits.values(), ax=ax)
    if xlim is not None:
        ax.set_xlim(0, xlim)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return ax


@_skippable
def gap_histogram(gaps: pd.Series, threshold: int, *, ax=None):
    """Histogram of the days between consecutive orders (clipped at the 99.9th percentile)
    with the churn threshold (days) as a vertical line."""
    ax = _axes(ax)
    gaps.clip(upper=gaps.quantile(0.999)).plot.hist(bins=60, color=theme.PALETTE[0], ax=ax)
    ax.axvline(threshold, color=theme.BAD, lw=2, label=f"churn threshold: {threshold} days")
    ax.set_xlabel("days between consecutive orders of an account")
    ax.set_ylabel("gaps")
    ax.set_title(f"Order gaps; churn threshold = {threshold} days")
    ax.legend()
    return ax


@_skippable
def calibration(table: pd.DataFrame, horizon_days: int, *, ax=None):
    """Observed share churned against the mean predicted probability, by decile of predicted
    risk (``predicted``, ``observed`` columns, shares 0-1); the diagonal is perfect."""
    ax = _axes(ax)
    ax.plot(table["predicted"], table["observed"], marker="o", color=theme.PALETTE[0])
    ax.plot([0, 1], [0, 1], color=theme.NEUTRAL, ls="--", label="perfect calibration")
    ax.set_xlabel(f"predicted churn within {horizon_days} days")
    ax.set_ylabel("observed share")
    ax.set_title("Calibration by decile of predicted risk")
    ax.legend()
    return ax


def survival_grid(
    panels: Mapping[str, Mapping[str, KaplanMeierFitter] | Skipped],
    *,
    columns: int = 2,
    xlabel: str = "days since first order",
) -> Sequence[Any]:
    """One panel of Kaplan-Meier curves per segment (a skipped segment's panel says why)."""
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(12, 4 * rows), sharey=True, squeeze=False)
    for ax, (name, fits) in zip(axes.flat, panels.items(), strict=False):
        if isinstance(fits, Skipped):
            ax.text(0.5, 0.5, fits.why(), ha="center", va="center", wrap=True, fontsize=9)
            ax.set_axis_off()
        else:
            survival_curves(fits, ax=ax, title=name.replace("_", " "), xlabel=xlabel)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_axis_off()
    fig.tight_layout()
    return list(axes.flat)


@_skippable
def share_bars(
    shares: pd.Series,
    *,
    xlabel: str = "share",
    title: str = "",
    ax=None,
):
    """Horizontal bars of shares 0-1 (e.g. revenue share per value tier), one per index label
    in the series' order from the bottom up, with percentage tick labels."""
    ax = _axes(ax, (8, 0.45 * len(shares) + 1.5))
    ax.barh([str(i) for i in shares.index], shares.to_numpy(float), color=theme.PALETTE[0])
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return ax


@_skippable
def spend_lines(trend: pd.DataFrame, *, axes=None) -> Sequence[Any]:
    """Two panels of monthly lines per channel: spend (left) and cost per lead (right, spend
    over the month's leads; a month without leads is a gap). ``trend`` has channel, month,
    spend and leads, as :func:`helpers.channels.monthly_trend` builds it."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(13, 4))
    colors = theme.channel_colors(trend["channel"])
    for name, part in trend.groupby("channel"):
        axes[0].plot(part["month"], part["spend"], label=name, color=colors[name])
        per_lead = part["spend"] / part["leads"].where(part["leads"] > 0)
        axes[1].plot(part["month"], per_lead, color=colors[name])
    axes[0].set_title("Spend per month")
    axes[1].set_title("Cost per lead per month")
    money_axis(axes[0].yaxis)
    money_axis(axes[1].yaxis)
    for ax in axes:
        ax.tick_params(axis="x", labelrotation=30)
    axes[0].legend(fontsize=8)
    return axes


@_skippable
def stage_lines(
    shares: pd.DataFrame,
    *,
    ylabel: str = "share of leads reaching the stage",
    title: str = "Funnel by channel",
    ax=None,
):
    """One line per column (channel, in its ``theme.channel_colors`` colour) over the rows
    (funnel stages in order), with markers: e.g. the share of leads reaching each stage."""
    ax = _axes(ax)
    shares.plot(marker="o", color=theme.channel_colors(shares.columns), ax=ax)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return ax


@_skippable
def grouped_bars(table: pd.DataFrame, *, ylabel: str = "", title: str = "", ax=None):
    """Bars per row (e.g. channel) grouped side by side, one colour per column (e.g.
    attribution model, in ``theme.PALETTE`` order)."""
    ax = _axes(ax, (11, 4))
    table.plot.bar(ax=ax, color=theme.PALETTE[: len(table.columns)], rot=30)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return ax


@_skippable
def lorenz(points: pd.DataFrame, *, title: str = "Lorenz curve", ax=None):
    """Lorenz curve: cumulative share of accounts, largest first (``accounts``, x) against
    their share of revenue (``revenue``, y), with the diagonal of an even spread dashed."""
    ax = _axes(ax)
    ax.plot(points["accounts"], points["revenue"], color=theme.PALETTE[0])
    ax.plot([0, 1], [0, 1], color=theme.NEUTRAL, ls="--")
    ax.set_xlabel("share of accounts (largest first)")
    ax.set_ylabel("share of revenue")
    ax.set_title(title)
    return ax


@_skippable
def heatmap(table: pd.DataFrame, *, title: str = "", fmt: str = ".0f", ax=None):
    """A table as an annotated heat map in the sequential colour map (rows top to bottom in
    the table's order)."""
    import seaborn as sns

    ax = _axes(ax)
    sns.heatmap(table, cmap=theme.SEQUENTIAL, annot=True, fmt=fmt, ax=ax)
    ax.set_title(title)
    return ax


@_skippable
def cluster_scatter(
    points: pd.DataFrame,
    *,
    title: str = "Clusters in the first two principal components",
    ax=None,
):
    """Points ``pc1`` (x) and ``pc2`` (y), one colour per ``cluster`` (sorted names take
    :data:`helpers.theme.PALETTE` in order)."""
    ax = _axes(ax)
    for i, name in enumerate(sorted(points["cluster"].unique())):
        group = points[points["cluster"] == name]
        color = theme.PALETTE[i % len(theme.PALETTE)]
        ax.scatter(group["pc1"], group["pc2"], s=6, label=name, color=color)
    ax.legend(fontsize=8, markerscale=3)
    ax.set_title(title)
    return ax


@_skippable
def revenue_by_kind(components: pd.DataFrame, *, as_of: Any = None, ax=None):
    """Stacked bars of revenue per period from existing, new and reactivated accounts
    (``components`` as :func:`helpers.decomposition.revenue_components` builds them); a
    period cut by the analysis date ``as_of`` is marked "partial"."""
    ax = _axes(ax, (9, 4.5))
    parts = components[["existing", "new", "reactivated"]]
    bottom = np.zeros(len(parts))
    labels = [str(p) for p in parts.index]
    colors = {
        "existing": theme.PALETTE[0],
        "new": theme.PALETTE[1],
        "reactivated": theme.PALETTE[4],
    }
    for name in parts.columns:
        ax.bar(labels, parts[name], bottom=bottom, label=f"{name} accounts", color=colors[name])
        bottom += parts[name].to_numpy()
    for i in np.flatnonzero(~components["complete"].to_numpy()):
        ax.annotate("partial", (i, bottom[i]), ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("revenue")
    money_axis(ax.yaxis)
    ax.tick_params(axis="x", rotation=45)
    ax.legend(loc="upper left")
    when = f" (as of {pd.Timestamp(as_of):%Y-%m-%d})" if as_of is not None else ""
    ax.set_title(f"Revenue by period, by kind of account{when}")
    return ax


@_skippable
def change_waterfall(change: Any, *, ax=None):
    """:func:`waterfall` of a :class:`helpers.decomposition.RevenueChange`: from the earlier
    period's revenue through each factor's contribution to the later period's revenue."""
    return waterfall(
        change.drivers,
        change.revenue_before,
        str(change.before),
        str(change.after),
        title=f"What moved revenue from {change.before} to {change.after}",
        ax=ax,
    )
