"""What each channel spent and what its spend brought: the reporting period, spend, response.

The reporting period ``(start, as_of]`` (:func:`reporting_period`) holds the leads created in
it, with stage dates after the analysis date masked (:func:`mask_after`), and the spend rows of
its months (channel, month, spend in the data's currency). In a slice the spend is made the
slice's (:func:`slice_spend`): by the spend table's own filter columns, else allocated by lead
share, and every sentence that uses slice costs carries how (:attr:`Period.caveat`).
:func:`monthly_trend` puts spend, leads and new customers side by side per channel and month;
:func:`spend_response` fits how a channel's leads move with its spend (an association: spend
was not varied at random). Costs per channel, the quadrant and the findings are in
:mod:`helpers.channels`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from helpers import formats
from helpers.steps import Skipped, step

if TYPE_CHECKING:
    from helpers.loading import Dataset

#: A spend-response fit needs at least this many months with spend per channel.
MIN_RESPONSE_MONTHS = 6
#: Money columns of :func:`response_table` (:func:`helpers.formats.column_formats`).
RESPONSE_KINDS = {"average monthly spend": "money", "spend per extra lead": "money"}


def month_start(dates: pd.Series) -> pd.Series:
    """The first day of each date's month (the month key of spend rows), datetime64[ns].

    Naive nanosecond dates (what the loader gives) are truncated by numpy
    (``datetime64[M]``): the timestamps ``dt.to_period("M").dt.to_timestamp()`` gives, NaT
    kept, about 10 times faster at 640k leads; other dtypes take the pandas way."""
    if dates.dtype == np.dtype("datetime64[ns]"):
        months = dates.to_numpy().astype("datetime64[M]").astype("datetime64[ns]")
        return pd.Series(months, index=dates.index, name=dates.name)
    return dates.dt.to_period("M").dt.to_timestamp()


# --- reporting period and spend of a slice ----------------------------------------------------


@dataclass(frozen=True)
class Period:
    """The reporting period ``(start, as_of]``: the ``leads`` created in it and the ``spend``
    rows of its months (channel, month, spend in currency), or a Skipped when the data has no
    spend for it."""

    as_of: pd.Timestamp
    start: pd.Timestamp
    months: int
    leads: pd.DataFrame
    spend: pd.DataFrame | Skipped
    #: how a slice's spend was obtained (empty for the whole company): every sentence and
    #: metrics field that uses slice costs carries it
    spend_note: str = ""
    #: the company's leads and (unallocated) spend of the period in a slice; None otherwise
    company: tuple[pd.DataFrame, pd.DataFrame] | None = None

    @property
    def caveat(self) -> str:
        """The short form of ``spend_note`` added to each sentence that uses costs ("" when
        the costs are the company's or the slice's own recorded spend)."""
        if self.spend_note.startswith("Spend allocated"):
            return "slice spend allocated by lead share"
        if self.spend_note.startswith("Spend is company-wide"):
            return "company-wide spend over slice volumes: overstated"
        return ""


def reporting_period(
    ds: Dataset,
    *,
    analysis_date: str = "",
    months: int = 48,
    company_leads: pd.DataFrame | None = None,
) -> Period:
    """The last ``months`` months before the analysis date (``analysis_date`` as YYYY-MM-DD;
    empty: the data's own). Leads count by creation date, spend by its month (the first of
    the month), both in ``(as_of - months, as_of]``; stage dates after ``as_of`` are masked
    (:func:`mask_after`). Skipped without a leads table (every channel section starts from
    the leads, and each then says so); ``spend`` is Skipped without a channel_spend table or
    without spend in the period.

    In a slice (``ds.filters`` set) the spend is made the slice's (:func:`slice_spend`): by the
    spend table's own filter columns when it has them (e.g. ``region``), else allocated by the
    slice's share of each channel's leads in each month (``company_leads``: the unfiltered
    leads table); ``spend_note`` says which, and what remains uncertain."""
    if "leads" not in ds.tables:
        return Skipped(
            "the data has no leads table (CRM leads or opportunities)",
            "add one to the source YAML: every channel section starts from the leads",
            "The channel study",
        )
    as_of = pd.Timestamp(analysis_date) if analysis_date else ds.analysis_date
    start = as_of - pd.DateOffset(months=months)
    created = ds["leads"]["created_date"]
    leads = mask_after(ds["leads"][(created > start) & (created <= as_of)], as_of)
    spend: pd.DataFrame | Skipped
    if not ds.has("channel_spend"):
        spend = Skipped(
            "the data has no channel_spend table",
            "export monthly spend per channel to get costs per lead and customer",
        )
    else:
        s = ds["channel_spend"]
        spend = s[(s["month"] > start) & (s["month"] <= as_of)]
        spend_note = ""
        company = None
        if ds.filters and not spend.empty:
            if company_leads is not None:
                made = company_leads["created_date"]
                company = (
                    mask_after(company_leads[(made > start) & (made <= as_of)], as_of),
                    spend,
                )
            spend, spend_note = slice_spend(spend, leads, ds.filters, company_leads)
        if spend.empty:
            spend = Skipped(
                f"no channel spend is recorded between {start:%b %Y} and {as_of:%b %Y}",
                "export spend for the reporting period",
            )
        return Period(as_of, start, months, leads, spend, spend_note, company)
    return Period(as_of=as_of, start=start, months=months, leads=leads, spend=spend)


def slice_words(filters: Mapping[str, object]) -> str:
    """A slice's filters for readers: ``{"region": "north"}`` -> ``"region = north"``, a list
    of values joined by "or", several filters by "and"."""
    parts = []
    for column, wanted in filters.items():
        values = [wanted] if isinstance(wanted, (str, int, float)) else list(wanted)  # type: ignore[call-overload]
        parts.append(f"{column.replace('_', ' ')} = {' or '.join(map(str, values))}")
    return " and ".join(parts)


def slice_spend(
    spend: pd.DataFrame,
    leads: pd.DataFrame,
    filters: dict,
    company_leads: pd.DataFrame | None,
) -> tuple[pd.DataFrame, str]:
    """The spend of a slice (channel, month, spend in currency) and one sentence on how it
    was obtained.

    - When the spend table has every filter column (e.g. a ``region`` column), its rows of the
      slice's values are kept (the slice's own recorded spend).
    - Else each channel-month's company-wide spend is multiplied by the slice's share of that
      channel's leads created in that month (``leads`` of the slice over ``company_leads``),
      assuming a slice's lead costs what any lead of the channel costs that month. A month
      without company leads keeps no spend (no leads to allocate by).
    - Without ``company_leads`` the spend stays company-wide, and the sentence says that the
      slice's costs are overstated.
    """
    columns = [c for c in filters if c in spend.columns]
    if len(columns) == len(filters):
        keep = pd.Series(True, index=spend.index)
        for col, wanted in filters.items():
            values = [wanted] if isinstance(wanted, (str, int, float)) else list(wanted)
            keep &= spend[col].isin(values)
        return spend[keep], (
            f"Spend of the slice {slice_words(filters)}: the spend export's own "
            f"{', '.join(columns)} column."
        )
    if company_leads is None:
        return spend, (
            f"Spend is company-wide: the filter {slice_words(filters)} does not split it, so the "
            "slice's costs per lead and customer (and its LTV:CAC) compare slice volumes "
            "with company-wide spend: costs are overstated."
        )

    def counts(frame: pd.DataFrame) -> pd.Series:
        return frame.groupby([frame["source_channel"], month_start(frame["created_date"])]).size()

    mine, every = counts(leads), counts(company_leads)
    share = (mine / every).fillna(0.0).rename_axis(["channel", "month"]).rename("share")
    out = spend.join(share, on=["channel", "month"])
    out["spend"] = out["spend"] * out["share"].fillna(0.0)
    return out.drop(columns="share"), (
        f"Spend allocated to the slice {slice_words(filters)} by its share of each channel's leads "
        "in each month (the export records spend company-wide): the slice's costs assume "
        "its leads cost what the channel's other leads cost that month."
    )


#: The stage dates of a lead (``<stage>_date``), masked after the analysis date.
STAGE_DATES: tuple[str, ...] = (
    "intent_date",
    "proposal_date",
    "negotiation_date",
    "won_date",
    "lost_date",
)


def mask_after(leads: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """``leads`` with every stage date (:data:`STAGE_DATES`) after ``as_of`` set to NaT: on the
    analysis date a deal won (or lost, or at a stage) later has not happened yet."""
    out = leads.copy()
    for col in STAGE_DATES:
        if col in out.columns:
            out[col] = out[col].where(out[col] <= as_of)
    return out


def period_sentence(period: Period, *, currency: str | None = None) -> str:
    """What the reporting period holds: its dates, leads and spend (in ``currency``) months."""
    if isinstance(period, Skipped):
        return period.sentence()
    head = (
        f"Reporting period: the {period.months} months to {formats.date(period.as_of)}, "
        f"{formats.count(len(period.leads))} leads"
    )
    if isinstance(period.spend, Skipped):
        return f"{head}; no costs: {period.spend.why()}."
    spend = period.spend
    text = (
        f"{head}; {formats.money(float(spend['spend'].sum()), currency)} of spend on "
        f"{spend['channel'].nunique()} channels over {spend['month'].nunique()} months."
    )
    return f"{text} {period.spend_note}" if period.spend_note else text


def missing_spend_months(spend: pd.DataFrame, leads: pd.DataFrame) -> pd.DataFrame:
    """Paid channel-months with leads but no spend row (between the channel's first and last
    spend month): these months are excluded from the channel's costs."""
    rows = []
    lead_months = month_start(leads["created_date"])
    for channel, part in spend.groupby("channel"):
        have = set(part["month"])
        span = pd.date_range(part["month"].min(), part["month"].max(), freq="MS")
        # the distinct months first: a set of every lead's month made a Timestamp per lead
        with_leads = set(lead_months[leads["source_channel"] == channel].unique())
        rows += [
            {"channel": channel, "month": m} for m in span if m not in have and m in with_leads
        ]
    return pd.DataFrame(rows, columns=["channel", "month"])


# --- monthly trend and spend response ---------------------------------------------------------


@step("The monthly spend trend")
def monthly_trend(leads: pd.DataFrame, spend: pd.DataFrame) -> pd.DataFrame:
    """Spend (currency), leads and new customers per paid channel and month: one row per
    spend row (channel, month), leads counted by creation month (0 when none)."""
    counts = (
        leads.assign(month=month_start(leads["created_date"]))
        .groupby(["source_channel", "month"])
        .size()
        .rename("leads")
    )
    counts.index = counts.index.set_names(["channel", "month"])
    won = (
        leads[leads["won_date"].notna()]
        .assign(month=month_start(leads["created_date"]))
        .groupby(["source_channel", "month"])
        .size()
        .rename("customers")
    )
    won.index = won.index.set_names(["channel", "month"])
    s = spend.set_index(["channel", "month"])["spend"]
    return (
        pd.concat([s, counts, won], axis=1)
        .fillna({"leads": 0, "customers": 0})
        .dropna(subset=["spend"])
        .reset_index()
    )


@step("The spend response")
def response_trend(period: Period) -> pd.DataFrame | Skipped:
    """The monthly trend the spend response is fitted on (:func:`monthly_trend`): the
    period's own, or in a slice the company's (spend allocated by lead share would tie a
    slice's spend to its own leads and bias the elasticity towards 1; the elasticity is taken
    as the channel's, the same for every slice)."""
    leads, spend = period.company if period.company is not None else (period.leads, period.spend)
    return monthly_trend(leads=leads, spend=spend)


@step("The spend response")
def spend_response(trend: pd.DataFrame, outcome: str = "leads") -> pd.DataFrame | Skipped:
    """Per paid channel: log(outcome + 0.5) = a + b log(spend) by OLS (statsmodels); ``b`` is
    the elasticity (1% more spend -> b% more leads), with its 95% interval and standard error
    ``se``, and the marginal
    cost of one more unit at the mean monthly spend: spend / (b x outcome) (currency).
    Channels with fewer than :data:`MIN_RESPONSE_MONTHS` months of spend are left out;
    Skipped when none has that many."""
    from statsmodels.regression.linear_model import OLS  # statsmodels.api imports much more
    from statsmodels.tools.tools import add_constant

    rows = []
    for ch, part in trend.groupby("channel"):
        part = part[part["spend"] > 0]
        if len(part) < MIN_RESPONSE_MONTHS or part["spend"].nunique() < 2:
            continue  # no slope without months of varying spend
        x = add_constant(np.log(part["spend"].to_numpy()))
        y = np.log(part[outcome].to_numpy() + 0.5)
        fit = OLS(y, x).fit()
        b = float(fit.params[1])
        lo, hi = fit.conf_int()[1]
        mean_spend = float(part["spend"].mean())
        at_mean = math.exp(fit.params[0] + b * math.log(mean_spend)) - 0.5
        rows.append(
            {
                "channel": ch,
                "elasticity": b,
                "low": float(lo),
                "high": float(hi),
                "se": float(fit.bse[1]),
                "months": len(part),
                "mean_spend": mean_spend,
                "marginal_cost": mean_spend / (b * at_mean)
                if b > 0 and at_mean > 0
                else float("nan"),
            }
        )
    if not rows:
        return Skipped(
            f"no paid channel has {MIN_RESPONSE_MONTHS} months of spend",
            "a longer reporting period gives more months",
        )
    return pd.DataFrame(rows).set_index("channel")


@step("The spend response")
def response_sentence(
    response: pd.DataFrame,
    *,
    currency: str | None = None,
    names: Mapping[str, str] | None = None,
) -> str:
    """The channel whose leads rise most with its spend (elasticity with its 95% interval and
    months), and the spend (``currency``) associated with one more lead there; an association,
    not a measured response (spend was not varied at random). Channels by display name."""
    steep = response["elasticity"].idxmax()
    r = response.loc[steep]
    return (
        f"Leads from {formats.display_name(steep, names)} rise most with its spend (elasticity "
        f"{_two(r['elasticity'])}, {formats.interval(r['low'], r['high'], _two)}, over "
        f"{int(r['months'])} months); at current spend one more lead there goes with about "
        f"{formats.money(r['marginal_cost'], currency)} more spend (an association: spend was "
        "not varied at random)."
    )


def _two(value: float) -> str:
    return f"{float(value):.2f}"


@step("The spend response")
def response_table(response: pd.DataFrame, names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The spend response for readers, by channel display name: ``elasticity`` with its 95%
    interval (text, 2 decimals), ``months`` fitted, and the money columns of
    :data:`RESPONSE_KINDS` (format with ``formats.column_formats(RESPONSE_KINDS, currency)``):
    the average monthly spend and the spend per extra lead at that level."""
    shown = pd.DataFrame(
        {
            "elasticity (95% interval)": [
                f"{_two(r['elasticity'])} ({_two(r['low'])} to {_two(r['high'])})"
                for _, r in response.iterrows()
            ],
            "months": response["months"].astype(int),
            "average monthly spend": response["mean_spend"],
            "spend per extra lead": response["marginal_cost"],
        },
        index=response.index,
    )
    return formats.display_names(shown, names).rename_axis("channel")


# --- findings notes ---------------------------------------------------------------------------


def spend_notes(period: Period) -> list[str]:
    """How a slice's spend was obtained (:attr:`Period.spend_note`), as a findings note; empty
    for the whole company."""
    return [period.spend_note] if period.spend_note else []


def spend_slice_notes(ds: Dataset) -> list[str]:
    """The data's warnings about channel spend when the data is a slice (filters set): spend
    is company-wide, so a slice's costs compare slice volumes with company-wide spend."""
    if not ds.filters:
        return []
    return [w.rule for w in ds.warnings if w.file == "channel_spend"]
