"""The leadership page's tables and charts: headline figures, revenue by value tier, which
channels pay, and the runs the page was built from.

Cells are written for readers by :mod:`helpers.formats` (money in the currency the study's
metrics record; channels by :func:`helpers.formats.display_name` without a data source's
overrides, which the metrics do not record). The channel table's verdict is the one the
channel study recorded; the cost position beside it is a diagnostic."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from helpers import formats, payback
from helpers.positions import POSITION_COLUMN
from helpers.schemas import SegmentationMetrics
from helpers.steps import Skipped
from helpers.summary.figures import Figure, channel_table, count, figure
from helpers.summary.runs import STUDIES, StudyRun
from helpers.summary.words import channel_verdicts

#: The reader-facing channel table's columns (:attr:`ChannelSection.table`).
CHANNEL_COLUMNS = (
    "verdict",
    "LTV:CAC (95% interval)",
    "marginal LTV:CAC (95% interval)",
    "cost per new customer",
    POSITION_COLUMN,
)

#: Formats of the reader-facing channel table for :func:`helpers.reporting.styled`: none, its
#: cells are already written for readers (money with the metrics' currency, ratios with
#: their intervals); kept so ``styled(section.table, CHANNEL_FORMATS)`` keeps working.
CHANNEL_FORMATS: dict[str, str] = {}


def kpis(found: Mapping[str, StudyRun]) -> pd.DataFrame:
    """A short table of headline figures (measure, value, study) read from the metrics; a
    figure a study could not compute reads "not available: <reason>"."""
    seg, churn, chan = (found[s] for s in STUDIES)
    rows: list[tuple[str, str, str]] = []
    if seg.metrics:
        rows += [
            (
                "Revenue share of the top 20% of accounts",
                figure(seg, "top_20pct_share").show(formats.share),
                "segmentation",
            ),
            (
                "Gini coefficient of revenue",
                figure(seg, "gini").show(lambda g: f"{g:.2f}"),
                "segmentation",
            ),
            ("Strategic accounts", figure(seg, "strategic_accounts").show(count), "segmentation"),
        ]
    if churn.metrics:
        rows += [
            (
                "Churn threshold (silent days)",
                figure(churn, "churn_threshold_days").show(count),
                "churn",
            ),
            ("Share of accounts churned", figure(churn, "churn_rate").show(formats.share), "churn"),
            (
                "Accounts on the pre-churn list",
                figure(churn, "prechurn_accounts").show(count),
                "churn",
            ),
            (
                "Revenue at risk",
                figure(churn, "revenue_at_risk").show(lambda r: _money(r, churn)),
                "churn",
            ),
        ]
    costs = figure(chan, "costs") if chan.metrics else Figure({})
    if costs.value is None:  # the study could not compute its cost table: say why, twice
        spend = won = costs
    else:
        frame = pd.DataFrame(costs.value).T
        spend, won = _total(frame, "spend"), _total(frame, "customers")
    if costs.value is None or costs.value:
        rows += [
            ("Marketing spend in the period", spend.show(lambda r: _money(r, chan)), "channels"),
            ("New customers won", won.show(count), "channels"),
        ]
    return pd.DataFrame(rows, columns=["measure", "value", "study"]).set_index("measure")


def _money(amount: float, run: StudyRun) -> str:
    return formats.money(amount, run.metrics.currency if run.metrics else None)


def _total(costs: pd.DataFrame, column: str) -> Figure:
    """Sum of a cost-table column (not available when a channel's value is missing)."""
    values = costs[column].astype(float) if column in costs else pd.Series([math.nan])
    if values.isna().any():
        return Figure(None, f"a channel's {column} is not recorded in the channels metrics")
    return Figure(float(values.sum()))


def sources(found: Mapping[str, StudyRun]) -> pd.DataFrame:
    """Which run each part of the page comes from (folder, analysis date, data fingerprint)."""
    return pd.DataFrame(
        [
            {
                "study": s.study,
                "run": s.folder.name if s.folder else "not found",
                "analysis date": formats.date(s.metrics.analysis_date) if s.metrics else "",
                "data fingerprint": s.metrics.data_fingerprint if s.metrics else "",
            }
            for s in found.values()
        ]
    ).set_index("study")


#: Value tiers from the bottom up (the segmentation study's tier names).
TIER_ORDER: tuple[str, ...] = ("long tail", "standard", "key", "strategic")


def tier_shares(segmentation: SegmentationMetrics) -> pd.Series:
    """Revenue share (0-1) per value tier, long tail first and strategic last (empty when the
    study recorded none)."""
    share = pd.Series(segmentation.tier_revenue_share or {}, dtype=float)
    order = [t for t in TIER_ORDER if t in share.index] + sorted(set(share.index) - set(TIER_ORDER))
    return share.reindex(order).rename("revenue share")


@dataclass(frozen=True, eq=False)
class TierSection:
    """The page's "where revenue comes from" section: revenue share (0-1) per value tier,
    bottom tier first, for :func:`helpers.plots.share_bars` (a :class:`Skipped` saying why when
    there are none), and the sentence under the chart (empty when there is no chart)."""

    shares: pd.Series | Skipped
    sentence: str


def tier_section(found: Mapping[str, StudyRun]) -> TierSection:
    """The revenue share per value tier from the segmentation metrics, and a sentence naming
    the top tier's share (the highest tier of :data:`TIER_ORDER` present)."""
    seg = found["segmentation"]
    label = "The revenue share by value tier"
    if seg.metrics is None:
        return TierSection(_missing("segmentation", label), "")
    shares = tier_shares(seg.metrics).dropna()  # type: ignore[arg-type]
    if shares.empty:
        why = figure(seg, "tier_revenue_share").reason or "no value tier has a revenue share"
        return TierSection(Skipped(why, step=label), "")
    top = next((t for t in reversed(TIER_ORDER) if t in shares.index), shares.index[-1])
    return TierSection(
        shares, f"{top.capitalize()} accounts bring {formats.share(shares[top])} of revenue."
    )


def _missing(study: str, label: str) -> Skipped:
    return Skipped(
        f"no {study} metrics were found for this selection",
        f"run {STUDIES[study]} on it",
        label,
    )


@dataclass(frozen=True, eq=False)
class ChannelSection:
    """The page's "which channels pay" section.

    ``ratios``: paid channels with an LTV:CAC (``ltv_cac``, its 95% interval ``low``-``high``,
    ``flag``, a warning on the ratio or empty, and ``verdict``), lowest first, by display
    name, for :func:`helpers.plots.interval_bars`; ``table``: the reader-facing channel table
    (index: channel display names; columns :data:`CHANNEL_COLUMNS`, every cell written for
    readers: the verdict the channel study recorded, LTV:CAC and the marginal LTV:CAC with
    their 95% intervals, the cost per new customer with its currency, and the cost position as
    a diagnostic); ``sentence``: what the chart shows. Either table is a :class:`Skipped`
    saying why when it cannot be shown, and the sentence is empty when there is nothing to add.
    """

    ratios: pd.DataFrame | Skipped
    table: pd.DataFrame | Skipped
    sentence: str


def _named(frame: pd.DataFrame) -> pd.DataFrame:
    return formats.display_names(frame).rename_axis("channel")


def channel_section(found: Mapping[str, StudyRun]) -> ChannelSection:
    """The channel section from the channel metrics: LTV:CAC per paid channel with its interval
    (ratios, unitless), the channel table (one row per paid channel, its verdict as the channel
    study recorded it: :func:`helpers.summary.words.channel_verdicts`) and a sentence on the
    best and worst ratio. Without LTV:CAC (the study could not compute it) the table keeps the
    cost per new customer (currency) and the cost position, and the chart says why."""
    chan = found["channels"]
    if chan.metrics is None:
        return ChannelSection(
            _missing("channels", "The LTV:CAC chart"),
            _missing("channels", "The channel table"),
            "",
        )
    costs = figure(chan, "costs")
    if costs.value is None:
        return ChannelSection(
            Skipped(costs.reason, step="The LTV:CAC chart"),
            Skipped(costs.reason, step="The channel table"),
            "",
        )
    table = channel_table(chan.metrics)  # type: ignore[arg-type]
    if table.empty:  # a table without rows is said as one sentence
        why = "the channel metrics record no paid channel"
        return ChannelSection(
            Skipped(why, step="The LTV:CAC chart"), Skipped(why, step="The channel table"), ""
        )
    ratios = table.dropna(subset=["ltv_cac"])
    shown = pd.DataFrame(index=table.index)
    verdicts = channel_verdicts(chan)
    if not ratios.empty:
        shown["verdict"] = [
            verdicts[c].label if c in verdicts else formats.MISSING for c in table.index
        ]
        shown[CHANNEL_COLUMNS[1]] = [
            payback.ratio_cell(r, "ltv_cac", "low", "high") for _, r in table.iterrows()
        ]
        shown[CHANNEL_COLUMNS[2]] = [
            payback.ratio_cell(r, "marginal", "marginal_low", "marginal_high")
            for _, r in table.iterrows()
        ]
    shown["cost per new customer"] = [_money(v, chan) for v in table["cac"]]
    shown[POSITION_COLUMN] = table["position"].fillna(formats.MISSING)
    if ratios.empty:
        why = figure(chan, "ltv_cac").reason or "no paid channel has a lifetime value"
        return ChannelSection(
            Skipped(why, step="The LTV:CAC chart"),
            _named(shown),
            "The table shows what a new customer costs per paid channel, cheapest first; the "
            "cost position is a diagnostic, not a verdict.",
        )
    lowest_first = ratios.sort_values("ltv_cac")
    best, worst = lowest_first.iloc[-1], lowest_first.iloc[0]
    return ChannelSection(
        _named(lowest_first),
        _named(shown),
        f"{formats.display_name(best.name)} returns {formats.ratio(best['ltv_cac'])} its "
        f"acquisition cost; {formats.display_name(worst.name)} "
        f"{formats.ratio(worst['ltv_cac'])}. The verdict column is the channel study's; the "
        "cost position is a diagnostic, not a verdict.",
    )
