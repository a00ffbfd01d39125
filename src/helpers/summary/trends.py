"""The leadership summary's trends: churn, acquisition cost and revenue concentration per
quarter over the last complete quarters, read from the studies' metrics (``quarterly_churn``
of the churn study, ``quarterly_cac`` of the channel study, ``quarterly_top20_share`` of the
segmentation study; definitions in :mod:`helpers.quarterly`), drawn as three small line
panels."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import FuncFormatter

from helpers import formats, theme
from helpers.plots.alt import describe
from helpers.steps import Skipped
from helpers.summary.figures import figure
from helpers.summary.runs import KPI_STUDIES, StudyRun

#: The panels: key -> (study, metrics field, title, y-axis label, kind of number).
PANELS: dict[str, tuple[str, str, str, str, str]] = {
    "churn": (
        "churn",
        "quarterly_churn",
        "Churn per quarter",
        "share of active accounts churned",
        "share",
    ),
    "cac": (
        "channels",
        "quarterly_cac",
        "Cost per new customer",
        "paid spend per deal won",
        "money",
    ),
    "concentration": (
        "segmentation",
        "quarterly_top20_share",
        "Revenue concentration",
        "revenue share of top 20% of accounts",
        "share",
    ),
}


@dataclass(frozen=True, eq=False)
class Trends:
    """One quarterly series per panel of :data:`PANELS` (values indexed by quarter labels such
    as "2025Q4", in time order), or a :class:`Skipped` saying why it is not available;
    ``currency`` of the money panel."""

    series: dict[str, pd.Series | Skipped]
    currency: str | None

    @property
    def sentence(self) -> str:
        """One sentence on where each series went from its first to its last quarter."""
        parts = []
        for key, (_, _, title, _, kind) in PANELS.items():
            s = self.series[key]
            if isinstance(s, Skipped):
                parts.append(f"{title.lower()} is not available ({s.reason})")
                continue
            fmt = _formatter(kind, self.currency)
            parts.append(
                f"{title.lower()} went from {fmt(s.iloc[0])} in {formats.period(s.index[0])} "
                f"to {fmt(s.iloc[-1])} in {formats.period(s.index[-1])}"
            )
        text = "; ".join(parts)
        return text[:1].upper() + text[1:] + "."


def _formatter(kind: str, currency: str | None):
    return (lambda v: formats.money(v, currency)) if kind == "money" else formats.share


def quarterly_trends(found: Mapping[str, StudyRun]) -> Trends:
    """The quarterly series of :data:`PANELS` from the studies' metrics (``found`` as for the
    KPI strip); a study not found or a series it could not compute is a :class:`Skipped`
    with the reason."""
    series: dict[str, pd.Series | Skipped] = {}
    currency = None
    for key, (study, name, title, _, kind) in PANELS.items():
        run = found.get(study)
        if run is None or run.metrics is None:
            series[key] = Skipped(
                f"no {study} metrics were found for this selection",
                f"run {KPI_STUDIES[study]} on it",
                title,
            )
            continue
        value = figure(run, name)
        if value.value is None or not value.value:
            reason = value.reason or f"the {study} study recorded no quarter"
            series[key] = Skipped(reason, step=title)
            continue
        series[key] = pd.Series(value.value, dtype=float).sort_index()
        if kind == "money":
            currency = run.metrics.currency
    return Trends(series, currency)


def trends_chart(trends: Trends):
    """Three small line panels (churn, cost per new customer, concentration) with quarters on
    the x axis and each panel's unit on its y axis; a panel without its series says why.
    Returns the figure."""
    fig, axes = plt.subplots(1, len(PANELS), figsize=(11, 3.2), constrained_layout=True)
    for ax, (key, (_, _, title, ylabel, kind)), color in zip(
        axes, PANELS.items(), theme.PALETTE, strict=False
    ):
        s = trends.series[key]
        ax.set_title(title, fontsize=11)
        if isinstance(s, Skipped):
            ax.text(
                0.5,
                0.5,
                f"not available:\n{s.reason}",
                ha="center",
                va="center",
                wrap=True,
                transform=ax.transAxes,
                fontsize=8,
                color=theme.NEUTRAL,
            )
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        labels = [formats.period(q).replace(" ", "\n") for q in s.index]
        ax.plot(range(len(s)), s.to_numpy(), marker="o", color=color)
        ax.set_xticks(range(len(s)), labels, fontsize=8)
        fmt = _formatter(kind, None)  # the currency is in the axis label
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos, f=fmt: f(v)))
        ax.tick_params(axis="y", labelsize=8)
        ax.set_ylabel(ylabel + (f" ({trends.currency})" if kind == "money" else ""), fontsize=8)
        ax.set_xlabel("quarter", fontsize=8)
        if kind == "share":
            low, high = s.min(), s.max()
            pad = max((high - low) * 0.3, 0.02)
            ax.set_ylim(max(low - pad, 0), min(high + pad, 1))
    describe(
        fig,
        "Quarterly trends: " + ", ".join(p[2].lower() for p in PANELS.values()),
        sentence=trends.sentence,
    )
    return fig
