"""Which channels pay: cost per lead, inquiry and customer, quadrant, spend response.

Conventions: money in the reporting currency; a *lead* is a row of ``leads``; an *inquiry* is a
lead that reached the intent stage (the prospect asked about a product); a *new customer* is a
won lead. Costs are spend divided by volume over the months that have a spend record: a paid
channel's month missing from the spend export is left out of both (and reported). A channel
with no spend row while others have spend (referral, organic) costs 0, never a division error;
without any spend in the data, costs are not available (a :class:`~helpers.steps.Skipped`),
never 0.

The study's steps in notebook order: :func:`reporting_period`, :func:`volume_and_cost`,
:func:`monthly_trend`, then :mod:`helpers.funnel` (stages, time to decision),
:func:`helpers.attribution.attribute_conversions`, :func:`quadrant`, :func:`helpers.payback.lifetime_values` and :func:`helpers.payback.ltv_cac`,
:func:`spend_response`; :func:`findings` and :func:`metrics` sum up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from helpers import payback
from helpers.reporting import atomic_write_csv, money
from helpers.schemas import ChannelMetrics, Fields
from helpers.steps import Skipped, step

if TYPE_CHECKING:
    from helpers.attribution import Attribution
    from helpers.loading import Dataset

STRATEGIES = {
    (False, True): "improve conversion",  # low acquisition cost, high conversion cost
    (True, True): "wind down",
    (False, False): "invest more",
    (True, False): "precise but dear: try referral / fission marketing",
}
#: A spend-response fit needs at least this many months with spend per channel.
MIN_RESPONSE_MONTHS = 6
#: Display formats (``reporting.styled``) of the cost, quadrant and spend-response tables.
COST_FORMATS = {
    "spend": "{:,.0f}",
    "cost_per_lead": "{:,.2f}",
    "cost_per_inquiry": "{:,.2f}",
    "cac": "{:,.0f}",
    "mature_spend": "{:,.0f}",
}
QUADRANT_FORMATS = {"cost_per_lead": "{:,.2f}", "cac": "{:,.0f}"}
RESPONSE_FORMATS = {
    "elasticity": "{:.2f}",
    "low": "{:.2f}",
    "high": "{:.2f}",
    "se": "{:.2f}",
    "mean_spend": "{:,.0f}",
    "marginal_cost": "{:,.0f}",
}


def _month(dates: pd.Series) -> pd.Series:
    return dates.dt.to_period("M").dt.to_timestamp()


# --- reporting period, volume and cost ---------------------------------------------------------


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
    (:func:`mask_after`). Raises when the data has no leads table (the study needs it);
    ``spend`` is Skipped without a channel_spend table or without spend in the period.

    In a slice (``ds.filters`` set) the spend is made the slice's (:func:`slice_spend`): by the
    spend table's own filter columns when it has them (e.g. ``region``), else allocated by the
    slice's share of each channel's leads in each month (``company_leads``: the unfiltered
    leads table); ``spend_note`` says which, and what remains uncertain."""
    ds.require("leads", purpose="The channel study")
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
                f"no channel spend is recorded between {start:%Y-%m} and {as_of:%Y-%m}",
                "export spend for the reporting period",
            )
        return Period(as_of, start, months, leads, spend, spend_note, company)
    return Period(as_of=as_of, start=start, months=months, leads=leads, spend=spend)


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
            f"Spend of the slice {dict(filters)}: the spend export's own "
            f"{', '.join(columns)} column."
        )
    if company_leads is None:
        return spend, (
            f"Spend is company-wide: the filter {dict(filters)} does not split it, so the "
            "slice's costs per lead and customer (and its LTV:CAC) compare slice volumes "
            "with company-wide spend: costs are overstated."
        )

    def counts(frame: pd.DataFrame) -> pd.Series:
        return frame.groupby([frame["source_channel"], _month(frame["created_date"])]).size()

    mine, every = counts(leads), counts(company_leads)
    share = (mine / every).fillna(0.0).rename_axis(["channel", "month"]).rename("share")
    out = spend.join(share, on=["channel", "month"])
    out["spend"] = out["spend"] * out["share"].fillna(0.0)
    return out.drop(columns="share"), (
        f"Spend allocated to the slice {dict(filters)} by its share of each channel's leads "
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


def period_sentence(period: Period) -> str:
    """What the reporting period holds: its dates, leads and spend months."""
    head = (
        f"Reporting period: the {period.months} months to {period.as_of:%Y-%m-%d}, "
        f"{len(period.leads):,} leads"
    )
    if isinstance(period.spend, Skipped):
        return f"{head}; no costs: {period.spend.why()}."
    spend = period.spend
    text = (
        f"{head}; {money(float(spend['spend'].sum()))} of spend on "
        f"{spend['channel'].nunique()} channels over {spend['month'].nunique()} months."
    )
    return f"{text} {period.spend_note}" if period.spend_note else text


def missing_spend_months(spend: pd.DataFrame, leads: pd.DataFrame) -> pd.DataFrame:
    """Paid channel-months with leads but no spend row (between the channel's first and last
    spend month): these months are excluded from the channel's costs."""
    rows = []
    lead_months = leads.assign(month=_month(leads["created_date"]))
    for channel, part in spend.groupby("channel"):
        have = set(part["month"])
        span = pd.date_range(part["month"].min(), part["month"].max(), freq="MS")
        with_leads = set(lead_months.loc[lead_months["source_channel"] == channel, "month"])
        rows += [
            {"channel": channel, "month": m} for m in span if m not in have and m in with_leads
        ]
    return pd.DataFrame(rows, columns=["channel", "month"])


@step("Spend and cost per channel")
def volume_and_cost(
    leads: pd.DataFrame,
    spend: pd.DataFrame,
    *,
    as_of: pd.Timestamp | None = None,
    mature_days: int = 365,
) -> pd.DataFrame:
    """Per channel: spend, leads, inquiries, new customers and the cost of each (currency).

    ``cac`` (spend per new customer) is computed on *matured* lead cohorts: the months whose
    leads were created at least ``mature_days`` before ``as_of`` (their deals are decided), so
    leads still open do not inflate it (open leads are a larger share of a fast-growing
    channel's recent months). ``mature_spend``, ``mature_leads`` and ``mature_customers`` are
    what it divides. ``as_of=None`` counts every month (no maturity restriction). ``spend``,
    ``leads``, ``inquiries``, ``customers``, ``cost_per_lead`` and ``cost_per_inquiry`` count
    the whole period. Stage dates must already be masked after ``as_of``
    (:func:`reporting_period` does it).

    ``paid`` is False for channels without any spend row (costs 0). ``note`` says when a
    channel has spend but no leads, no matured month, or when months were left out for missing
    spend. Skipped when ``spend`` is (no spend data: costs are not available, not 0).
    """
    leads = leads.assign(month=_month(leads["created_date"]))
    missing = (
        missing_spend_months(spend, leads)
        if len(spend)
        else pd.DataFrame(columns=["channel", "month"])
    )
    cutoff = None if as_of is None else as_of - pd.Timedelta(days=mature_days)
    channels = sorted(set(leads["source_channel"]) | set(spend["channel"]))
    rows = []
    for ch in channels:
        mine = leads[leads["source_channel"] == ch]
        s = spend[spend["channel"] == ch]
        paid = len(s) > 0
        note = []
        if paid:
            counted = mine[mine["month"].isin(set(s["month"]))]
            gaps = missing[missing["channel"] == ch]["month"]
            if len(gaps):
                note.append(
                    "no spend recorded for "
                    + ", ".join(f"{m:%Y-%m}" for m in gaps)
                    + " (left out of costs)"
                )
        else:
            counted = mine
        # a month is matured when its last day is at least mature_days before as_of
        end_of_month = counted["month"] + pd.offsets.MonthEnd(0)
        mature = counted if cutoff is None else counted[end_of_month <= cutoff]
        s_end = s["month"] + pd.offsets.MonthEnd(0)
        s_mature = s if cutoff is None else s[s_end <= cutoff]
        n_leads = len(counted)
        inquiries = int(counted["intent_date"].notna().sum())
        won = int(counted["won_date"].notna().sum())
        mature_won = int(mature["won_date"].notna().sum())
        total = float(s["spend"].sum()) if paid else 0.0
        mature_total = float(s_mature["spend"].sum()) if paid else 0.0
        if paid and n_leads == 0:
            note.append("spend but no leads in the selection")
        if paid and n_leads and mature.empty:
            note.append(f"no lead month is {mature_days} days old: no CAC yet")
        rows.append(
            {
                "channel": ch,
                "paid": paid,
                "spend": total,
                "leads": n_leads,
                "inquiries": inquiries,
                "customers": won,
                "cost_per_lead": _cost(total, n_leads, paid),
                "cost_per_inquiry": _cost(total, inquiries, paid),
                "cac": _cost(mature_total, mature_won, paid),
                "mature_spend": mature_total,
                "mature_leads": len(mature),
                "mature_customers": mature_won,
                "note": "; ".join(note),
            }
        )
    return pd.DataFrame(rows).set_index("channel")


def _cost(total: float, count: int, paid: bool) -> float:
    if not paid:
        return 0.0
    return round(total / count, 2) if count else float("nan")


@step("The monthly spend trend")
def monthly_trend(leads: pd.DataFrame, spend: pd.DataFrame) -> pd.DataFrame:
    """Spend (currency), leads and new customers per paid channel and month: one row per
    spend row (channel, month), leads counted by creation month (0 when none)."""
    counts = (
        leads.assign(month=_month(leads["created_date"]))
        .groupby(["source_channel", "month"])
        .size()
        .rename("leads")
    )
    counts.index = counts.index.set_names(["channel", "month"])
    won = (
        leads[leads["won_date"].notna()]
        .assign(month=_month(leads["created_date"]))
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


@step("Spend and cost per channel")
def cheapest_leads_sentence(costs: pd.DataFrame, caveat: str = "") -> str:
    """Which paid channel brings the cheapest leads (cost per lead, currency; over how many
    leads), with the slice ``caveat`` (:attr:`Period.caveat`) when there is one."""
    paid = costs.loc[costs["paid"], "cost_per_lead"].dropna()
    if paid.empty:
        return "No paid channel brought leads in the selection."
    cheap = paid.idxmin()
    return (
        f"{cheap} brings the cheapest leads ({money(paid[cheap])} each over "
        f"{int(costs.loc[cheap, 'leads']):,} leads{_caveat(caveat)}); cost per lead moves "
        "with spend from month to month (section 6)."
    )


def _caveat(caveat: str) -> str:
    return f"; {caveat}" if caveat else ""


# --- quadrant and spend response ---------------------------------------------------------------


@step("The channel quadrant")
def quadrant(
    costs: pd.DataFrame, x_target: float | None = None, y_target: float | None = None
) -> pd.DataFrame | Skipped:
    """Paid channels placed by acquisition cost (cost per lead) and conversion cost (CAC),
    split at the medians of the paid channels (or the targets, currency); each gets one of
    :data:`STRATEGIES`. Columns ``cost_per_lead``, ``cac``, ``high_acquisition_cost``,
    ``high_conversion_cost``, ``strategy``; the cuts in ``attrs['x_cut']``, ``['y_cut']``.
    Skipped when no paid channel has both costs."""
    paid = costs[costs["paid"] & costs["cac"].notna() & costs["cost_per_lead"].notna()]
    if paid.empty:
        return Skipped("no paid channel has both a cost per lead and a CAC")
    out = paid[["cost_per_lead", "cac"]].copy()
    x_cut = out["cost_per_lead"].median() if x_target is None else x_target
    y_cut = out["cac"].median() if y_target is None else y_target
    out["high_acquisition_cost"] = out["cost_per_lead"] > x_cut
    out["high_conversion_cost"] = out["cac"] > y_cut
    out["strategy"] = [
        STRATEGIES[(bool(a), bool(b))]
        for a, b in zip(out["high_acquisition_cost"], out["high_conversion_cost"], strict=True)
    ]
    out.attrs.update(x_cut=x_cut, y_cut=y_cut)
    return out


@step("The channel quadrant")
def quadrant_sentence(quad: pd.DataFrame) -> str:
    """The channels under each strategy of the quadrant, in :data:`STRATEGIES` order."""
    parts = [
        f"{', '.join(quad.index[quad['strategy'] == strategy])} ({strategy})"
        for strategy in STRATEGIES.values()
        if (quad["strategy"] == strategy).any()
    ]
    return f"On cost alone: {'; '.join(parts)}. Section 5 weighs what the customers are worth."


@step("The spend response")
def spend_response(trend: pd.DataFrame, outcome: str = "leads") -> pd.DataFrame | Skipped:
    """Per paid channel: log(outcome + 0.5) = a + b log(spend) by OLS (statsmodels); ``b`` is
    the elasticity (1% more spend -> b% more leads), with its 95% interval and standard error
    ``se``, and the marginal
    cost of one more unit at the mean monthly spend: spend / (b x outcome) (currency).
    Channels with fewer than :data:`MIN_RESPONSE_MONTHS` months of spend are left out;
    Skipped when none has that many."""
    import statsmodels.api as sm

    rows = []
    for ch, part in trend.groupby("channel"):
        part = part[part["spend"] > 0]
        if len(part) < MIN_RESPONSE_MONTHS:
            continue
        x = sm.add_constant(np.log(part["spend"].to_numpy()))
        y = np.log(part[outcome].to_numpy() + 0.5)
        fit = sm.OLS(y, x).fit()
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
def response_sentence(response: pd.DataFrame) -> str:
    """The channel whose leads rise most with its spend (elasticity with its 95% interval and
    months), and the spend associated with one more lead there; an association, not a
    measured response (spend was not varied at random)."""
    steep = response["elasticity"].idxmax()
    r = response.loc[steep]
    return (
        f"{steep}'s leads rise most with its spend (elasticity {r['elasticity']:.2f}, 95% "
        f"interval {r['low']:.2f}–{r['high']:.2f}, over {int(r['months'])} months); at "
        f"current spend one more lead there goes with about {money(r['marginal_cost'])} more "
        "spend (an association: spend was not varied at random)."
    )


# --- findings and headline numbers -------------------------------------------------------------


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


def findings(
    *,
    costs: pd.DataFrame | Skipped,
    ratio: pd.DataFrame | Skipped,
    notes: Sequence[str] = (),
    caveat: str = "",
) -> list[str]:
    """Key findings: the cheapest and dearest paid channel per new customer (CAC with its 95%
    interval when LTV:CAC has one, and the number of customers behind it), what channels
    without spend brought, then one sentence per paid channel with its verdict
    (:func:`helpers.payback.verdict`: LTV:CAC and the marginal LTV:CAC with their intervals),
    then ``notes``. ``caveat`` (:attr:`Period.caveat`) is added to every sentence that uses
    costs. A skipped cost or LTV:CAC step is said as its sentence."""
    out = []
    tail = f" ({caveat})" if caveat else ""
    if isinstance(costs, Skipped):
        out.append(costs.sentence())
    else:
        paid = costs[costs["paid"] & costs["cac"].notna()].sort_values("cac")
        if len(paid) >= 2:
            lo, hi = paid.index[0], paid.index[-1]
            out.append(
                f"The cheapest paid channel per new customer is {lo} "
                f"({_cac_text(paid, ratio, lo)}); the dearest is {hi} "
                f"({_cac_text(paid, ratio, hi)}){tail}."
            )
        free = costs[~costs["paid"]]
        if len(free):
            out.append(
                f"{', '.join(free.index)} brought {int(free['customers'].sum())} customers "
                "with no recorded spend."
            )
        if isinstance(ratio, Skipped):
            out.append(ratio.sentence())
    if not isinstance(ratio, Skipped) and len(ratio):
        out += [_verdict_sentence(ratio, ch).removesuffix(".") + tail + "." for ch in ratio.index]
    return out + list(notes)


def _cac_text(costs: pd.DataFrame, ratio: pd.DataFrame | Skipped, channel: str) -> str:
    text = money(costs.loc[channel, "cac"])
    if (
        not isinstance(ratio, Skipped)
        and "cac_low" in ratio.columns
        and channel in ratio.index
        and np.isfinite(ratio.loc[channel, "cac_low"])
    ):
        r = ratio.loc[channel]
        text += f", 95% interval {money(r['cac_low'])}–{money(r['cac_high'])}"
    if "mature_customers" in costs.columns:
        text += f"; {int(costs.loc[channel, 'mature_customers']):,} customers of matured leads"
    return text


def _verdict_sentence(ratio: pd.DataFrame, channel: str) -> str:
    """One channel's verdict with the numbers behind it."""
    r = ratio.loc[channel]
    average = f"LTV:CAC {r['ratio']:.1f} (95% interval {r['low']:.1f}–{r['high']:.1f})"
    verdict = r.get("verdict", "")
    marginal = (
        f"marginal LTV:CAC {r['marginal']:.1f} ({r['marginal_low']:.1f}–"
        f"{r['marginal_high']:.1f}) if the observed spend response holds (spend was not "
        "varied at random)"
        if "marginal" in r.index and np.isfinite(r["marginal_low"])
        else ""
    )
    if verdict == "grow":
        return f"Grow {channel}: {average}; {marginal}, above 1 at its lower bound."
    if verdict == "hold":
        return f"Hold {channel}: {average}; {marginal}, not clearly above 1."
    if verdict == "cut or fix":
        return f"Cut or fix {channel}: {average}, below 1 even at the interval's top."
    if verdict == "no verdict":
        return (
            f"No verdict on {channel}: {average}, but whether more spend brings more "
            "customers is not measured (the spend elasticity's interval includes 0, or it "
            "was not estimated)."
        )
    return f"{channel}: {average}" + (f" ({r['flag']})." if r.get("flag") else ".")


def metrics(
    ds: Dataset,
    *,
    period: Period,
    costs: pd.DataFrame | Skipped,
    ratio: pd.DataFrame | Skipped,
    quad: pd.DataFrame | Skipped,
    response: pd.DataFrame | Skipped,
    attributed: Attribution | Skipped,
    ltv: payback.ChannelLtv | Skipped,
    headline_model: str,
) -> ChannelMetrics:
    """The study's headline numbers (:class:`helpers.schemas.ChannelMetrics`): costs per
    channel (without the note), LTV:CAC with payback, quadrant strategies, elasticities,
    conversions and revenue credited under ``headline_model``, where the lifetime values come
    from, how a slice's spend was obtained (``spend_allocation``), and the findings (with the
    slice caveat, without the notes). A skipped step's fields are null, with
    the reason in ``skipped``."""
    fields = Fields()
    return ChannelMetrics(
        data_fingerprint=ds.fingerprint,
        analysis_date=f"{period.as_of:%Y-%m-%d}",
        filters=dict(ds.filters),
        source=ds.source,
        costs=fields.take("costs", costs, lambda c: c.drop(columns="note").to_dict("index")),
        ltv_cac=fields.take("ltv_cac", ratio, lambda r: r.to_dict("index")),
        quadrant=fields.take("quadrant", quad, lambda q: q["strategy"].to_dict()),
        elasticity=fields.take("elasticity", response, lambda r: r["elasticity"].to_dict()),
        attribution_model=headline_model,
        attribution=fields.take(
            "attribution", attributed, lambda a: a.credit[headline_model].to_dict()
        ),
        attributed_revenue=fields.take(
            "attributed_revenue", attributed, lambda a: a.revenue[headline_model].to_dict()
        ),
        ltv_source=payback.ltv_source(ltv),
        spend_allocation=period.spend_note,
        findings=findings(costs=costs, ratio=ratio, caveat=period.caveat),
        skipped=fields.skipped,
    )


def save_costs(folder: str | Path, costs: pd.DataFrame | Skipped) -> str:
    """Write ``channel_costs.csv`` (the cost table, one row per channel) to ``folder`` and say
    what was written next to ``metrics.json`` (no CSV when costs are skipped)."""
    if isinstance(costs, Skipped):
        return f"Metrics written; no `channel_costs.csv`: {costs.why()}."
    atomic_write_csv(costs.reset_index(), Path(folder) / "channel_costs.csv")
    return "Metrics and `channel_costs.csv` written."
