"""Which channels pay: cost per lead, inquiry and customer, funnel, quadrant, LTV:CAC, response.

Conventions: money in the reporting currency; a *lead* is a row of ``leads``; an *inquiry* is a
lead that reached the intent stage (the prospect asked about a product); a *new customer* is a
won lead. Costs are spend divided by volume over the months that have a spend record: a paid
channel's month missing from the spend export is left out of both (and reported). A channel
with no spend at all (referral, organic) costs 0, never a division error.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from helpers.reporting import json_safe

STAGES: tuple[str, ...] = ("intent", "proposal", "negotiation", "won")
STRATEGIES = {
    (False, True): "improve conversion",  # low acquisition cost, high conversion cost
    (True, True): "wind down",
    (False, False): "invest more",
    (True, False): "precise but dear: try referral / fission marketing",
}


def _month(dates: pd.Series) -> pd.Series:
    return dates.dt.to_period("M").dt.to_timestamp()


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


def volume_and_cost(leads: pd.DataFrame, spend: pd.DataFrame | None) -> pd.DataFrame:
    """Per channel: spend, leads, inquiries, new customers and the cost of each (currency).

    ``paid`` is False for channels without any spend row (costs 0). ``note`` says when a
    channel has spend but no leads, or when months were left out for missing spend.
    """
    spend = spend if spend is not None else pd.DataFrame(columns=["channel", "month", "spend"])
    leads = leads.assign(month=_month(leads["created_date"]))
    missing = (
        missing_spend_months(spend, leads)
        if len(spend)
        else pd.DataFrame(columns=["channel", "month"])
    )
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
        n_leads = len(counted)
        inquiries = int(counted["intent_date"].notna().sum())
        won = int(counted["won_date"].notna().sum())
        total = float(s["spend"].sum()) if paid else 0.0
        if paid and n_leads == 0:
            note.append("spend but no leads in the selection")
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
                "cac": _cost(total, won, paid),
                "note": "; ".join(note),
            }
        )
    return pd.DataFrame(rows).set_index("channel")


def _cost(total: float, count: int, paid: bool) -> float:
    if not paid:
        return 0.0
    return round(total / count, 2) if count else float("nan")


def monthly_trend(leads: pd.DataFrame, spend: pd.DataFrame) -> pd.DataFrame:
    """Spend and leads per paid channel and month (for the trend chart and the response fit)."""
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


# --- funnel ------------------------------------------------------------------------------------


def funnel(
    leads: pd.DataFrame, as_of: pd.Timestamp, mature_days: int = 365, alpha: float = 0.05
) -> pd.DataFrame:
    """Stage-to-stage conversion per channel with Wilson intervals.

    Only leads created at least ``mature_days`` before ``as_of`` count (their outcome is
    known: open deals would bias rates down). ``rate`` at a stage is the share of leads that
    reached the previous stage (or were created, for intent) and reached this one.
    """
    mature = leads[leads["created_date"] <= as_of - pd.Timedelta(days=mature_days)]
    rows = []
    for ch, part in mature.groupby("source_channel"):
        base = len(part)
        reached_prev = np.ones(len(part), bool)
        for stage in STAGES:
            reached = part[f"{stage}_date"].notna().to_numpy() & reached_prev
            n, k = int(reached_prev.sum()), int(reached.sum())
            lo, hi = proportion_confint(k, n, alpha=alpha, method="wilson") if n else (np.nan,) * 2
            rows.append(
                {
                    "channel": ch,
                    "stage": stage,
                    "entered": n,
                    "converted": k,
                    "rate": k / n if n else float("nan"),
                    "low": lo,
                    "high": hi,
                    "share_of_leads": k / base if base else float("nan"),
                }
            )
            reached_prev = reached
    return pd.DataFrame(rows)


def time_to_decision(leads: pd.DataFrame, as_of: pd.Timestamp):
    """Kaplan-Meier fits of days from lead creation to the decision (won or lost) per channel,
    open deals censored at ``as_of``; and the median days. The decision date is used, not the
    won date alone, because lost deals never close-won: censoring them would treat them as
    still open (in the demo, time to decision does not depend on the outcome)."""
    from lifelines import KaplanMeierFitter

    decided = leads["won_date"].fillna(leads["lost_date"])
    end = decided.fillna(as_of)
    days = (end - leads["created_date"]).dt.days.clip(lower=0)
    event = decided.notna().astype(int)
    fits, medians = {}, {}
    for ch in sorted(leads["source_channel"].unique()):
        m = (leads["source_channel"] == ch).to_numpy()
        fits[ch] = KaplanMeierFitter(label=ch).fit(days[m], event[m])
        medians[ch] = float(fits[ch].median_survival_time_)
    return fits, pd.Series(medians, name="median_days_to_decision")


# --- quadrant, LTV:CAC, payback ---------------------------------------------------------------


def quadrant(
    costs: pd.DataFrame, x_target: float | None = None, y_target: float | None = None
) -> pd.DataFrame:
    """Paid channels placed by acquisition cost (cost per lead) and conversion cost (CAC),
    split at the medians (or the targets); each gets one of the four strategies."""
    paid = costs[costs["paid"] & costs["cac"].notna() & costs["cost_per_lead"].notna()].copy()
    x_cut = paid["cost_per_lead"].median() if x_target is None else x_target
    y_cut = paid["cac"].median() if y_target is None else y_target
    paid["high_acquisition_cost"] = paid["cost_per_lead"] > x_cut
    paid["high_conversion_cost"] = paid["cac"] > y_cut
    paid["strategy"] = [
        STRATEGIES[(bool(a), bool(b))]
        for a, b in zip(paid["high_acquisition_cost"], paid["high_conversion_cost"], strict=True)
    ]
    paid.attrs.update(x_cut=x_cut, y_cut=y_cut)
    return paid


def plot_quadrant(table: pd.DataFrame, ax=None):
    """The quadrant chart: channels as labelled points, the cuts as lines, strategies named."""
    import matplotlib.pyplot as plt

    from helpers import theme

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 6))
    colors = theme.channel_colors(table.index)
    for ch, row in table.iterrows():
        ax.scatter(row["cost_per_lead"], row["cac"], s=120, color=colors[ch], zorder=3)
        ax.annotate(
            ch, (row["cost_per_lead"], row["cac"]), xytext=(6, 6), textcoords="offset points"
        )
    x, y = table.attrs["x_cut"], table.attrs["y_cut"]
    ax.axvline(x, color=theme.NEUTRAL, ls="--")
    ax.axhline(y, color=theme.NEUTRAL, ls="--")
    ax.set_xscale("log")
    ax.set_yscale("log")
    for (hx, hy), text in STRATEGIES.items():
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


def ltv_cac(ltv: pd.DataFrame | None, costs: pd.DataFrame) -> pd.DataFrame:
    """LTV:CAC per paid channel with the LTV interval carried over (CAC is an observed total,
    so the ratio's interval is the LTV interval divided by CAC). Flags: the interval includes
    1 (may not pay back) or the ratio is under 3 (the usual B2B floor). ``ltv`` is the churn
    study's ``ltv_by_channel`` (mean, low, high); ``None`` gives an empty table."""
    columns = ["ltv", "cac", "ratio", "low", "high", "flag"]
    if ltv is None or ltv.empty:
        return pd.DataFrame(columns=columns)
    paid = costs[costs["paid"] & costs["cac"].notna()]
    out = pd.DataFrame({"ltv": ltv["mean"], "cac": paid["cac"]}).dropna()
    out["ratio"] = out["ltv"] / out["cac"]
    out["low"] = ltv["low"].reindex(out.index) / out["cac"]
    out["high"] = ltv["high"].reindex(out.index) / out["cac"]
    out["flag"] = np.where(
        out["low"] <= 1, "may not pay back", np.where(out["ratio"] < 3, "ratio under 3", "")
    )
    return out[columns].sort_values("ratio", ascending=False)


def payback_months(
    orders: pd.DataFrame,
    accounts: pd.DataFrame,
    costs: pd.DataFrame,
    as_of: pd.Timestamp,
    max_months: int = 36,
) -> pd.Series:
    """Months until the average new customer's cumulative gross margin covers the CAC.

    Month ``k`` after acquisition averages the margin of all accounts acquired at least ``k``
    months before ``as_of`` (churned ones count with 0), so it includes churn. NaN: not within
    ``max_months``.
    """
    acc = accounts.set_index("account_id")
    o = orders[(orders["status"] != "cancelled") & (orders["order_date"] <= as_of)]
    o = o.join(acc[["acquired_date", "acquisition_channel"]], on="account_id")
    o["k"] = ((o["order_date"] - o["acquired_date"]).dt.days // 30.44).astype(int)
    out = {}
    for ch, row in costs[costs["paid"]].iterrows():
        mine = acc[acc["acquisition_channel"] == ch]
        if mine.empty or not np.isfinite(row["cac"]):
            continue
        age = ((as_of - mine["acquired_date"]).dt.days // 30.44).astype(int)
        margin = o[o["acquisition_channel"] == ch].groupby("k")["gross_margin"].sum()
        at_risk = np.array([(age >= k).sum() for k in range(max_months)])
        per_month = margin.reindex(range(max_months), fill_value=0).to_numpy() / np.maximum(
            at_risk, 1
        )
        cumulative = np.cumsum(per_month)
        hit = np.flatnonzero(cumulative >= row["cac"])
        out[ch] = float(hit[0] + 1) if len(hit) else float("nan")
    return pd.Series(out, name="payback_months")


# --- spend response ----------------------------------------------------------------------------


def spend_response(trend: pd.DataFrame, outcome: str = "leads") -> pd.DataFrame:
    """Per paid channel: log(outcome + 0.5) = a + b log(spend) by OLS (statsmodels); ``b`` is
    the elasticity (1% more spend -> b% more leads), with its 95% interval, and the marginal
    cost of one more unit at the mean monthly spend: spend / (b x outcome)."""
    import statsmodels.api as sm

    rows = []
    for ch, part in trend.groupby("channel"):
        part = part[part["spend"] > 0]
        if len(part) < 6:
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
                "months": len(part),
                "mean_spend": mean_spend,
                "marginal_cost": mean_spend / (b * at_mean)
                if b > 0 and at_mean > 0
                else float("nan"),
            }
        )
    return pd.DataFrame(rows).set_index("channel")


def findings(costs: pd.DataFrame, ratio: pd.DataFrame, quad: pd.DataFrame) -> list[str]:
    """Key findings: cheapest and dearest channel per customer, the one to grow and to cut."""
    from helpers.reporting import money

    paid = costs[costs["paid"] & costs["cac"].notna()].sort_values("cac")
    out = []
    if len(paid) >= 2:
        out.append(
            f"The cheapest paid channel per new customer is {paid.index[0]} "
            f"({money(paid['cac'].iloc[0])}); the dearest is {paid.index[-1]} "
            f"({money(paid['cac'].iloc[-1])})."
        )
    free = costs[~costs["paid"]]
    if len(free):
        out.append(
            f"{', '.join(free.index)} brought {int(free['customers'].sum())} customers "
            "with no recorded spend."
        )
    if len(ratio):
        best, worst = ratio.index[0], ratio.index[-1]
        out.append(
            f"Grow {best}: each new customer is worth {ratio.loc[best, 'ratio']:.1f}× "
            f"what it cost (LTV:CAC)."
        )
        if ratio.loc[worst, "flag"]:
            out.append(
                f"Cut or fix {worst}: LTV:CAC {ratio.loc[worst, 'ratio']:.1f} "
                f"({ratio.loc[worst, 'flag']})."
            )
    return out


def ltv_from_metrics(
    path: str | os.PathLike[str], expected: Mapping[str, Any]
) -> tuple[pd.DataFrame | None, str]:
    """``ltv_by_channel`` from a churn run's metrics.json, and a sentence saying where the
    lifetime values come from.

    The file is used only when it describes the same data and the same lifetime-value
    definition: every key of ``expected`` (``data_fingerprint``, ``analysis_date``,
    ``filters``, ``ltv_definition`` from :func:`helpers.survival.ltv_definition`; compared in
    their JSON form) must match. Otherwise, or when the file or its table is absent, the table is ``None`` and the
    sentence gives the reason (the caller then computes the values itself).
    """
    if not path:
        return None, ""
    p = Path(path)
    if not p.exists():
        return None, f"No churn metrics at `{p}`: lifetime values computed here."
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError):
        return (
            None,
            f"The churn metrics at `{p}` cannot be read as a metrics file: lifetime values computed here.",
        )
    differ = [k for k, v in expected.items() if data.get(k) != json_safe(v, 6)]
    if differ:
        return None, (
            f"The churn metrics at `{p}` describe other data ({', '.join(differ)} differ): "
            "lifetime values computed here."
        )
    table = data.get("ltv_by_channel")
    if not table:
        return None, f"The churn metrics at `{p}` hold no lifetime values: computed here."
    return pd.DataFrame(table).T, f"Lifetime values read from the churn study's `{p}`."


def channel_order(values: Sequence[str]) -> list[str]:
    """Channels in a stable order: sorted by name."""
    return sorted(set(values))


def conversion_times(ds, action: str, as_of: pd.Timestamp | None = None) -> pd.Series:
    """Conversion timestamp per lead for the key action: ``"inquiry"`` (intent date),
    ``"won"`` (won date) or ``"first_order"`` (the converted account's first completed
    order); NaT when the lead did not convert, or converted after ``as_of`` (an analysis
    date earlier than the data's end must not see later conversions)."""
    leads = ds["leads"].set_index("lead_id")
    if action == "inquiry":
        times = leads["intent_date"]
    elif action == "won":
        times = leads["won_date"]
    elif action == "first_order":
        o = ds["orders"]
        first = o[o["status"] == "completed"].groupby("account_id")["order_date"].min()
        times = leads["account_id"].map(first)
    else:
        raise ValueError(
            f"CONVERSION_ACTION must be 'inquiry', 'won' or 'first_order', got {action!r}"
        )
    return times.where(times <= as_of) if as_of is not None else times


def revenue_after_conversion(
    leads: pd.DataFrame,
    orders: pd.DataFrame,
    conversion: pd.Series,
    as_of: pd.Timestamp,
    days: int = 365,
) -> pd.Series:
    """Value of each converted lead for revenue attribution (currency): net amount of its
    account's non-cancelled orders in the ``days`` after the conversion (conversion day
    included). Indexed by lead_id.

    Only conversions at least ``days`` old at ``as_of`` have their whole window in the data:
    younger ones (and any after ``as_of``) are NaN, so that channels with recent conversions are
    not credited with a fraction of a year; :func:`helpers.attribution.attribute` then credits
    revenue from the complete windows only. Leads that did not convert, or have no account,
    get 0. One year is the default because a B2B account's first year shows what the deal was
    worth without letting old accounts outweigh recent ones; an account won twice counts its
    orders for each lead.
    """
    conv = conversion.reindex(leads["lead_id"].to_numpy())
    acc = leads.set_index("lead_id")["account_id"].reindex(conv.index)
    complete = conv.notna() & (conv.dt.normalize() + pd.Timedelta(days=days) <= as_of)
    done = complete & acc.notna()
    value = pd.Series(np.where(conv.notna() & ~complete, np.nan, 0.0), index=conv.index)
    if done.any():
        pairs = pd.DataFrame(
            {
                "lead_id": conv.index[done],
                "account_id": acc[done].to_numpy(),
                "start": conv[done].dt.normalize().to_numpy(),
            }
        )
        o = orders.loc[
            (orders["status"] != "cancelled") & (orders["order_date"] <= as_of),
            ["account_id", "order_date", "net_amount"],
        ]
        m = pairs.merge(o, on="account_id")
        inside = (m["order_date"] >= m["start"]) & (
            m["order_date"] < m["start"] + pd.Timedelta(days=days)
        )
        booked = m[inside].groupby("lead_id")["net_amount"].sum()
        value[done] = booked.reindex(conv.index[done], fill_value=0.0).to_numpy()
    return value.rename("revenue")
