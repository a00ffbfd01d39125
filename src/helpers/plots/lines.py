"""Line charts: survival curves, order gaps, calibration, the Lorenz curve, monthly spend and
the funnel by channel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import pandas as pd

from helpers import formats, theme
from helpers.plots._base import (
    date_axis,
    fit_category_ticks,
    money_axis,
    names_of,
    new_axes,
    reference_line,
    share_axis,
    skippable,
)
from helpers.plots.alt import describe
from helpers.steps import Skipped

if TYPE_CHECKING:  # lifelines is imported by the survival charts only (not by every report)
    from lifelines import KaplanMeierFitter

    from helpers.order_gaps import GapCounts


@skippable
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
    names: Any = None,
    sentence: str = "",
    alt: str = "",
    ax=None,
):
    """Kaplan-Meier curves (one per fitted group, by display name, 95% bands unless
    ``ci=False``); with ``at_risk`` the numbers at risk under the axis (one curve only reads
    well). The share axis is in percent."""
    ax = new_axes(ax)
    for i, (name, km) in enumerate(fits.items()):
        color = (colors or {}).get(name, theme.PALETTE[i % len(theme.PALETTE)])
        label = formats.display_name(name, names)
        km.plot_survival_function(ax=ax, color=color, ci_show=ci, ci_alpha=0.1, label=label)
    if at_risk:
        from lifelines.plotting import add_at_risk_counts

        add_at_risk_counts(*fits.values(), ax=ax)
    if xlim is not None:
        ax.set_xlim(0, xlim)
    share_axis(ax.yaxis)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(fits) > 1:
        ax.legend(fontsize=8)
    what = f"{ylabel} by {xlabel}"
    describe(ax, f"{title}: {what}" if title else what, sentence=sentence, alt=alt)
    return ax


def survival_grid(
    panels: Mapping[str, Mapping[str, KaplanMeierFitter] | Skipped],
    *,
    columns: int = 2,
    xlabel: str = "days since first order",
    title: str = "Survival by segment",
    sentence: str = "",
    alt: str = "",
) -> Sequence[Any]:
    """One panel of Kaplan-Meier curves per segment (a skipped segment's panel says why)."""
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(12, 4 * rows), sharey=True, squeeze=False)
    for ax, (name, fits) in zip(axes.flat, panels.items(), strict=False):
        if isinstance(fits, Skipped):
            ax.text(0.5, 0.5, fits.why(), ha="center", va="center", wrap=True, fontsize=9)
            ax.set_axis_off()
        else:
            survival_curves(fits, ax=ax, title=formats.display_name(name), xlabel=xlabel)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_axis_off()
    fig.suptitle(title, fontsize=14, fontweight="bold")
    fig.tight_layout()
    panels_named = ", ".join(formats.display_name(n) for n in panels)
    describe(fig, f"{title}: {panels_named}", sentence=sentence, alt=alt)
    return list(axes.flat)


@skippable
def gap_histogram(gaps: GapCounts, threshold: int, *, sentence: str = "", alt: str = "", ax=None):
    """Histogram of the days between consecutive orders (clipped at the 99.9th percentile;
    60 bins between the shortest gap and the clip) with the churn threshold (days) as a
    vertical line. ``gaps``: the counts per gap length
    (:attr:`helpers.survival.ChurnDefinition.gaps`), drawn as a weighted histogram of the
    distinct lengths: the bins and bar heights of the histogram of every gap."""
    ax = new_axes(ax)
    values, counts = gaps.clipped(gaps.quantile(0.999))
    # pandas' histogram, as for the series of every gap (named gap_days: the bars' label)
    pd.Series(values, name="gap_days").plot.hist(
        bins=60, weights=counts, color=theme.PALETTE[0], ax=ax
    )
    reference_line(ax, threshold, f"churn threshold: {threshold} days", color=theme.BAD)
    ax.set_xlabel("days between consecutive orders of an account")
    ax.set_ylabel("gaps")
    title = f"Order gaps; churn threshold = {threshold} days"
    ax.set_title(title)
    ax.legend()
    describe(ax, title, sentence=sentence, alt=alt)
    return ax


@skippable
def calibration(
    table: pd.DataFrame, horizon_days: int, *, sentence: str = "", alt: str = "", ax=None
):
    """Observed share churned against the mean predicted probability, by decile of predicted
    risk (``predicted``, ``observed`` columns, shares 0-1); the diagonal is perfect."""
    ax = new_axes(ax)
    ax.plot(
        table["predicted"],
        table["observed"],
        marker="o",
        color=theme.PALETTE[0],
        label="deciles of predicted risk",
    )
    ax.plot([0, 1], [0, 1], color=theme.NEUTRAL, ls="--", label="perfect calibration")
    share_axis(ax.xaxis)
    share_axis(ax.yaxis)
    ax.set_xlabel(f"predicted churn within {horizon_days} days")
    ax.set_ylabel("observed share")
    title = "Calibration by decile of predicted risk"
    ax.set_title(title)
    ax.legend()
    describe(ax, f"{title} ({horizon_days} days)", sentence=sentence, alt=alt)
    return ax


@skippable
def lorenz(
    points: pd.DataFrame, *, title: str = "Lorenz curve", sentence: str = "", alt: str = "", ax=None
):
    """Lorenz curve: cumulative share of accounts, largest first (``accounts``, x) against
    their share of revenue (``revenue``, y), with the diagonal of an even spread dashed."""
    ax = new_axes(ax)
    ax.plot(
        points["accounts"],
        points["revenue"],
        color=theme.PALETTE[0],
        label="accounts, largest first",
    )
    ax.plot([0, 1], [0, 1], color=theme.NEUTRAL, ls="--", label="even spread")
    share_axis(ax.xaxis)
    share_axis(ax.yaxis)
    ax.set_xlabel("share of accounts (largest first)")
    ax.set_ylabel("share of revenue")
    ax.set_title(title)
    ax.legend(loc="lower right")
    describe(ax, f"{title}: share of revenue by share of accounts", sentence=sentence, alt=alt)
    return ax


@skippable
def spend_lines(
    trend: pd.DataFrame,
    *,
    currency: str | None = None,
    names: Any = None,
    sentence: str = "",
    alt: str = "",
    axes=None,
) -> Sequence[Any]:
    """Two panels of monthly lines per channel: spend (left) and cost per lead (right, spend
    over the month's leads; a month without leads is a gap), money in ``currency``. ``trend``
    has channel, month, spend and leads, as :func:`helpers.channels.monthly_trend` builds
    it. One legend for both panels, below them; concise date ticks."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(13, 4))
    colors = theme.channel_colors(trend["channel"])
    for name, part in trend.groupby("channel"):
        label = formats.display_name(name, names)
        month = pd.to_datetime(part["month"].astype(str))
        axes[0].plot(month, part["spend"], label=label, color=colors[name])
        per_lead = part["spend"] / part["leads"].where(part["leads"] > 0)
        axes[1].plot(month, per_lead, color=colors[name])
    unit = f" ({currency})" if currency else ""
    axes[0].set_title(f"Spend per month{unit}")
    axes[1].set_title(f"Cost per lead per month{unit}")
    for ax in axes:
        money_axis(ax.yaxis, currency)
        date_axis(ax.xaxis)
    fig = axes[0].figure
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=min(len(labels), 5),
        fontsize=9,
    )
    fig.tight_layout()
    describe(fig, f"Spend and cost per lead per month by channel{unit}", sentence=sentence, alt=alt)
    return axes


@skippable
def stage_lines(
    shares: pd.DataFrame,
    *,
    ylabel: str = "share of leads reaching the stage",
    title: str = "Funnel by channel",
    names: Any = None,
    sentence: str = "",
    alt: str = "",
    ax=None,
):
    """One line per column (channel, in its ``theme.channel_colors`` colour, named by display
    name) over the rows (funnel stages in order), with markers: e.g. the share of leads
    reaching each stage (percent axis)."""
    ax = new_axes(ax)
    colors = theme.channel_colors(shares.columns)
    x = range(len(shares))
    for column in shares.columns:
        ax.plot(
            x,
            shares[column].to_numpy(float),
            marker="o",
            color=colors[column],
            label=formats.display_name(column, names),
        )
    fit_category_ticks(ax, names_of(shares.index, names))
    share_axis(ax.yaxis)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=9)
    describe(ax, title, sentence=sentence, alt=alt)
    return ax
