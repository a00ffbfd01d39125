"""Which channels pay: cost per lead, inquiry and customer, the quadrant, findings, metrics.

Conventions: money in the reporting currency; a *lead* is a row of ``leads``; an *inquiry* is a
lead that reached the intent stage (the prospect asked about a product); a *new customer* is a
won lead. Costs are spend divided by volume over the months that have a spend record: a paid
channel's month missing from the spend export is left out of both (and reported). A channel
with no spend row while others have spend (referral, organic) costs 0, never a division error;
without any spend in the data, costs are not available (a :class:`~helpers.steps.Skipped`),
never 0.

The study's steps in notebook order: :func:`helpers.spend.reporting_period`,
:func:`volume_and_cost`, :func:`helpers.spend.monthly_trend`, then :mod:`helpers.funnel`
(stages, time to decision), :func:`helpers.attribution.attribute_conversions`, :func:`quadrant`,
:func:`helpers.lifetime_value.lifetime_values` and :func:`helpers.payback.ltv_cac`,
:func:`helpers.spend.spend_response`; :func:`findings` and :func:`metrics` sum up. The steps of
:mod:`helpers.spend` are re-exported here, so the notebook calls them as ``channels.<step>``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from helpers import formats, funnel, lifetime_value, payback, quarterly
from helpers.positions import LEGACY_POSITIONS as LEGACY_POSITIONS
from helpers.positions import POSITION_COLUMN as POSITION_COLUMN
from helpers.positions import POSITIONS as POSITIONS
from helpers.positions import position_of as position_of
from helpers.reporting import atomic_write_csv
from helpers.schemas import ChannelMetrics, Fields
from helpers.spend import RESPONSE_KINDS as RESPONSE_KINDS
from helpers.spend import Period, missing_spend_months, month_start
from helpers.spend import monthly_trend as monthly_trend
from helpers.spend import period_sentence as period_sentence
from helpers.spend import reporting_period as reporting_period
from helpers.spend import response_sentence as response_sentence
from helpers.spend import response_table as response_table
from helpers.spend import response_trend as response_trend
from helpers.spend import spend_notes as spend_notes
from helpers.spend import spend_response as spend_response
from helpers.spend import spend_slice_notes as spend_slice_notes
from helpers.steps import Skipped, step

if TYPE_CHECKING:
    from helpers.attribution import Attribution
    from helpers.loading import Dataset

#: Reader columns of :func:`cost_table` and their kinds (:func:`helpers.formats.column_formats`).
COST_KINDS = {
    "spend": "money",
    "leads": "count",
    "inquiries": "count",
    "new customers": "count",
    "cost per lead": "money",
    "cost per inquiry": "money",
    "cost per new customer": "money",
    "spend on matured leads": "money",
    "matured leads": "count",
    "their new customers": "count",
}
#: Reader columns of :func:`quadrant_table` and their kinds.
QUADRANT_KINDS = {"cost per lead": "money", "cost per new customer": "money"}


# --- volume and cost ---------------------------------------------------------------------------


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
    (:func:`helpers.spend.reporting_period` does it).

    ``paid`` is False for channels without any spend row (costs 0). ``note`` says when a
    channel has spend but no leads, no matured month, or when months were left out for missing
    spend. Skipped when ``spend`` is (no spend data: costs are not available, not 0).
    """
    # only the columns used below: each channel's rows are taken from this frame
    used = ["created_date", *(f"{s}_date" for s in funnel.STAGES if f"{s}_date" in leads)]
    leads = leads[used].assign(
        month=month_start(leads["created_date"]), source_channel=funnel.channel_of(leads)
    )
    missing = (
        missing_spend_months(spend, leads)
        if len(spend)
        else pd.DataFrame(columns=["channel", "month"])
    )
    cutoff = None if as_of is None else as_of - pd.Timedelta(days=mature_days)
    # the distinct names first (iterating the column made a Python string per lead)
    channels = sorted(set(leads["source_channel"].unique()) | set(spend["channel"].unique()))
    rows_of = _rows_by_channel(leads)
    rows = []
    for ch in channels:
        mine = rows_of(ch)
        s = spend[spend["channel"] == ch]
        paid = len(s) > 0
        note = []
        if paid:
            counted = mine[mine["month"].isin(set(s["month"]))]
            gaps = missing[missing["channel"] == ch]["month"]
            if len(gaps):
                note.append(
                    "no spend recorded for "
                    + ", ".join(f"{m:%b %Y}" for m in gaps)
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
        inquiries = int(funnel.reached_stages(counted)["intent"].sum())
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


def _rows_by_channel(leads: pd.DataFrame) -> Callable[[str], pd.DataFrame]:
    """``leads[leads["source_channel"] == ch]`` for any ``ch``, from one pass over the leads
    (at 100k accounts one text comparison of 0.6M leads per channel cost some 0.3 s): the same
    rows in the same order, an empty frame for a channel without leads."""
    positions = leads.groupby("source_channel", sort=False).indices
    none = np.zeros(0, dtype=np.intp)
    return lambda ch: leads.iloc[positions.get(ch, none)]


def _cost(total: float, count: int, paid: bool) -> float:
    if not paid:
        return 0.0
    return round(total / count, 2) if count else float("nan")


@step("Spend and cost per channel")
def cheapest_leads_sentence(
    costs: pd.DataFrame,
    caveat: str = "",
    *,
    currency: str | None = None,
    names: Mapping[str, str] | None = None,
) -> str:
    """Which paid channel brings the cheapest leads (cost per lead in ``currency``; over how
    many leads), with the slice ``caveat`` (:attr:`Period.caveat`) when there is one; channels
    by their display names (``names``: the data source's overrides)."""
    paid = costs.loc[costs["paid"], "cost_per_lead"].dropna()
    if paid.empty:
        return "No paid channel brought leads in the selection."
    cheap = paid.idxmin()
    return (
        f"{formats.display_name(cheap, names)} brings the cheapest leads "
        f"({formats.money(paid[cheap], currency)} each over "
        f"{formats.count(costs.loc[cheap, 'leads'])} leads{_caveat(caveat)}); cost per lead "
        "moves with spend from month to month (section 6)."
    )


@step("Spend and cost per channel")
def cost_table(costs: pd.DataFrame, names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The cost table for readers: channels by display name, the columns of
    :data:`COST_KINDS` (money in the data's currency, counts) plus ``paid`` (yes/no) and
    ``note``; format with ``formats.column_formats(COST_KINDS, currency)``."""
    shown = costs.rename(
        columns={
            "customers": "new customers",
            "cost_per_lead": "cost per lead",
            "cost_per_inquiry": "cost per inquiry",
            "cac": "cost per new customer",
            "mature_spend": "spend on matured leads",
            "mature_leads": "matured leads",
            "mature_customers": "their new customers",
        }
    )
    columns = ["paid", *(c for c in COST_KINDS if c in shown.columns)]
    columns += ["note"] if "note" in shown.columns else []
    shown = shown[columns].assign(paid=shown["paid"].map({True: "yes", False: "no"}))
    return formats.display_names(shown, names).rename_axis("channel")


def _caveat(caveat: str) -> str:
    return f"; {caveat}" if caveat else ""


# --- quadrant ----------------------------------------------------------------------------------


@step("The channel quadrant")
def quadrant(
    costs: pd.DataFrame, x_target: float | None = None, y_target: float | None = None
) -> pd.DataFrame | Skipped:
    """Paid channels placed by acquisition cost (cost per lead) and conversion cost (CAC),
    split at the medians of the paid channels (or the targets, currency); each gets its cost
    position of :data:`POSITIONS` (a diagnostic: the verdict is :func:`helpers.payback.verdict`).
    Columns ``cost_per_lead``, ``cac``, ``high_acquisition_cost``, ``high_conversion_cost``,
    ``strategy`` (the position; the column keeps its name in the metrics' ``quadrant``); the
    cuts in ``attrs['x_cut']``, ``['y_cut']``. Skipped when no paid channel has both costs."""
    paid = costs[costs["paid"] & costs["cac"].notna() & costs["cost_per_lead"].notna()]
    if paid.empty:
        return Skipped("no paid channel has both a cost per lead and a CAC")
    out = paid[["cost_per_lead", "cac"]].copy()
    x_cut = out["cost_per_lead"].median() if x_target is None else x_target
    y_cut = out["cac"].median() if y_target is None else y_target
    out["high_acquisition_cost"] = out["cost_per_lead"] > x_cut
    out["high_conversion_cost"] = out["cac"] > y_cut
    out["strategy"] = [
        POSITIONS[(bool(a), bool(b))]
        for a, b in zip(out["high_acquisition_cost"], out["high_conversion_cost"], strict=True)
    ]
    out.attrs.update(x_cut=x_cut, y_cut=y_cut)
    return out


@step("The channel quadrant")
def quadrant_sentence(quad: pd.DataFrame, names: Mapping[str, str] | None = None) -> str:
    """The channels in each cost position (:data:`POSITIONS` order), said as a diagnostic:
    the verdict on each channel is section 5's."""
    named = pd.Series([formats.display_name(c, names) for c in quad.index], index=quad.index)
    parts = [
        f"{position}: {', '.join(named[quad['strategy'] == position])}"
        for position in POSITIONS.values()
        if (quad["strategy"] == position).any()
    ]
    return (
        f"Cost position, a diagnostic and not a verdict: {'; '.join(parts)}. Section 5 weighs "
        "what the customers are worth and gives each channel its verdict."
    )


@step("The channel quadrant")
def quadrant_table(quad: pd.DataFrame, names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The quadrant for readers: channels by display name, cost per lead and per new customer
    (money: format with ``formats.column_formats(QUADRANT_KINDS, currency)``) and the cost
    position (:data:`POSITION_COLUMN`)."""
    shown = quad[["cost_per_lead", "cac", "strategy"]].rename(
        columns={
            "cost_per_lead": "cost per lead",
            "cac": "cost per new customer",
            "strategy": POSITION_COLUMN,
        }
    )
    return formats.display_names(shown, names).rename_axis("channel")


# --- findings and headline numbers -------------------------------------------------------------


def findings(
    *,
    costs: pd.DataFrame | Skipped,
    ratio: pd.DataFrame | Skipped,
    notes: Sequence[str] = (),
    caveat: str = "",
    currency: str | None = None,
    names: Mapping[str, str] | None = None,
) -> list[str]:
    """Key findings: the cheapest and dearest paid channel per new customer (CAC in
    ``currency`` with its 95% interval when LTV:CAC has one, and the number of customers
    behind it), what channels without spend brought, then one sentence per paid channel with
    its verdict (:func:`helpers.payback.verdict_of`: the verdict :func:`helpers.payback.verdict`
    decided, with LTV:CAC and the marginal LTV:CAC and their intervals; the leadership summary
    says the same words), then ``notes``. ``caveat`` (:attr:`Period.caveat`) is added to every
    sentence that uses costs. Channels by display name (``names``: the data source's
    overrides). A skipped cost or LTV:CAC step is said as its sentence."""
    out = []
    tail = f" ({caveat})" if caveat else ""
    if isinstance(costs, Skipped):
        out.append(costs.sentence())
    else:
        paid = costs[costs["paid"] & costs["cac"].notna()].sort_values("cac")
        if len(paid) >= 2:
            lo, hi = paid.index[0], paid.index[-1]
            out.append(
                f"The cheapest paid channel per new customer is "
                f"{formats.display_name(lo, names)} ({_cac_text(paid, ratio, lo, currency)}); "
                f"the dearest is {formats.display_name(hi, names)} "
                f"({_cac_text(paid, ratio, hi, currency)}){tail}."
            )
        free = costs[~costs["paid"]]
        if len(free):
            listed = [formats.display_name(c, names) for c in free.index]
            out.append(
                f"{_and(listed)} brought {formats.count(free['customers'].sum())} customers "
                "with no recorded spend."
            )
        if isinstance(ratio, Skipped):
            out.append(ratio.sentence())
    if not isinstance(ratio, Skipped) and len(ratio):
        out += [verdicts(ratio, names=names)[ch].sentence(tail) for ch in ratio.index]
    return out + list(notes)


def _and(items: Sequence[str]) -> str:
    """``"a, b and c"``."""
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)


def _cac_text(
    costs: pd.DataFrame, ratio: pd.DataFrame | Skipped, channel: str, currency: str | None
) -> str:
    text = formats.money(costs.loc[channel, "cac"], currency)
    if (
        not isinstance(ratio, Skipped)
        and "cac_low" in ratio.columns
        and channel in ratio.index
        and np.isfinite(ratio.loc[channel, "cac_low"])
    ):
        r = ratio.loc[channel]
        text += ", " + formats.interval(r["cac_low"], r["cac_high"], formats.money)
    if "mature_customers" in costs.columns:
        text += (
            f"; {formats.count(costs.loc[channel, 'mature_customers'])} customers of matured leads"
        )
    return text


def verdicts(
    ratio: pd.DataFrame, names: Mapping[str, str] | None = None
) -> dict[str, payback.Verdict]:
    """The verdict of each paid channel of ``ratio`` (:func:`helpers.payback.ltv_cac`), by
    channel code, as :func:`helpers.payback.verdict_of` words it."""
    return {ch: payback.verdict_of(row, ch, names=names) for ch, row in ratio.iterrows()}


_DAY = pd.Timedelta(days=1)


@step("The acquisition cost of paid channels")
def paid_cac(costs: pd.DataFrame) -> float | Skipped:
    """All paid channels' spend over the new customers they won (currency per customer), over
    the whole reporting period: leads created in it and won by its end, not only the matured
    cohorts of the per-channel ``cac``. Skipped when paid channels won no customer."""
    paid = costs[costs["paid"].astype(bool)]
    won = int(paid["customers"].sum())
    if won == 0:
        return Skipped(
            "paid channels won no customer in the reporting period",
            "a cost per new customer needs won deals",
        )
    return float(paid["spend"].sum()) / won


@step("The quarterly acquisition cost")
def quarterly_cac(period: Period) -> dict[str, float] | Skipped:
    """:func:`helpers.quarterly.cac_by_quarter` of the reporting period's leads and spend:
    paid spend per deal won, for each of the last 8 complete quarters (currency)."""
    if isinstance(period.spend, Skipped):
        return period.spend
    leads = period.leads
    return quarterly.cac_by_quarter(leads, period.spend, funnel.channel_of(leads), period.as_of)


def metrics(
    ds: Dataset,
    *,
    period: Period,
    costs: pd.DataFrame | Skipped,
    ratio: pd.DataFrame | Skipped,
    quad: pd.DataFrame | Skipped,
    response: pd.DataFrame | Skipped,
    attributed: Attribution | Skipped,
    ltv: lifetime_value.ChannelLtv | Skipped,
    headline_model: str,
) -> ChannelMetrics:
    """The study's headline numbers (:class:`helpers.schemas.ChannelMetrics`): costs per
    channel (without the note), LTV:CAC with payback, quadrant strategies, elasticities,
    conversions and revenue credited under ``headline_model``, where the lifetime values come
    from, how a slice's spend was obtained (``spend_allocation``), and the findings (with the
    slice caveat, without the notes), the paid channels' cost per new customer over the
    reporting period (``cac_all``, :func:`paid_cac`, with the period's first and last day
    ``window_start``/``window_end``) and per quarter (``quarterly_cac``). A skipped step's
    fields are null, with the reason in ``skipped``."""
    fields = Fields()
    as_of = ds.analysis_date if isinstance(period, Skipped) else period.as_of
    return ChannelMetrics(
        data_fingerprint=ds.fingerprint,
        currency=ds.currency,
        analysis_date=f"{as_of:%Y-%m-%d}",
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
        ltv_source=lifetime_value.ltv_source(ltv),
        spend_allocation=fields.take("spend_allocation", period, lambda p: p.spend_note),
        findings=findings(
            costs=costs,
            ratio=ratio,
            caveat="" if isinstance(period, Skipped) else period.caveat,
            currency=ds.currency,
            names=ds.display_names,
        ),
        cac_all=fields.take("cac_all", paid_cac(costs)),
        window_start=fields.take("window_start", period, lambda p: f"{p.start + _DAY:%Y-%m-%d}"),
        window_end=fields.take("window_end", period, lambda p: f"{p.as_of:%Y-%m-%d}"),
        quarterly_cac=fields.take("quarterly_cac", quarterly_cac(period)),
        skipped=fields.skipped,
    )


def save_costs(folder: str | Path, costs: pd.DataFrame | Skipped) -> str:
    """Write ``channel_costs.csv`` (the cost table, one row per channel) to ``folder`` and say
    what was written next to ``metrics.json`` (no CSV when costs are skipped)."""
    if isinstance(costs, Skipped):
        return f"Metrics written; no `channel_costs.csv`: {costs.why()}."
    atomic_write_csv(costs.reset_index(), Path(folder) / "channel_costs.csv")
    return "Metrics and `channel_costs.csv` written."
