"""Do a channel's new customers pay back what they cost? Lifetime value, LTV:CAC, payback.

Lifetime value (LTV) is the churn study's: the discounted gross margin of a new customer over
three years from the survival model, with a 95% bootstrap interval, per acquisition channel.
:func:`lifetime_values` is the one place this study gets it from (a churn run's metrics when
they describe the same data and definition, otherwise fitted here). CAC is the channel's spend
per new customer over the reporting period (:func:`helpers.channels.volume_and_cost`). Money
in the data's currency; payback in months of 30.44 days.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from helpers import survival
from helpers.reporting import json_safe
from helpers.steps import Skipped, step

if TYPE_CHECKING:
    from helpers.loading import Dataset

#: LTV:CAC under this is flagged (the usual B2B floor).
RATIO_FLOOR = 3.0
FITTED_HERE = "Lifetime values from the churn study's survival model, fitted here."
#: Display formats (``reporting.styled``) of the LTV:CAC table.
RATIO_FORMATS = {
    "ltv": "{:,.0f}",
    "cac": "{:,.0f}",
    "ratio": "{:.1f}",
    "low": "{:.1f}",
    "high": "{:.1f}",
    "payback_months": "{:.0f}",
}


@dataclass(frozen=True)
class ChannelLtv:
    """Lifetime value of a new customer per acquisition channel.

    ``table``: index channel, columns ``mean``, ``low``, ``high`` (95% bootstrap interval,
    currency) and ``n`` (customers). ``source``: one sentence saying where the values come
    from (with the model's notes).
    """

    table: pd.DataFrame
    source: str


def ltv_from_metrics(
    path: str | os.PathLike[str], expected: Mapping[str, Any]
) -> tuple[pd.DataFrame | None, str]:
    """``ltv_by_channel`` from a churn run's metrics.json, and a sentence saying where the
    lifetime values come from.

    The file is used only when it describes the same data and the same lifetime-value
    definition: every key of ``expected`` (``data_fingerprint``, ``analysis_date``,
    ``filters``, ``ltv_definition`` from :meth:`helpers.survival.LtvSettings.as_dict`; compared in
    their JSON form) must match. Otherwise, or when the file or its table is absent, the table
    is ``None`` and the sentence gives the reason (the caller then computes the values itself).
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
            f"The churn metrics at `{p}` cannot be read as a metrics file: "
            "lifetime values computed here.",
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


@step("Lifetime value by channel")
def lifetime_values(
    ds: Dataset,
    as_of: pd.Timestamp,
    *,
    churn_metrics: str = "",
    n_boot: int = 300,
    seed: int = 42,
) -> ChannelLtv | Skipped:
    """Lifetime value per acquisition channel (a :class:`ChannelLtv`): read from the churn
    run's ``churn_metrics`` file when it describes the same data (fingerprint, ``as_of``,
    filters) and the same definition (:class:`helpers.survival.LtvSettings` with ``n_boot``
    bootstrap resamples and ``seed``, the churn study's defaults otherwise), else fitted here
    by :func:`helpers.survival.channel_ltv` (the churn study's own steps). Skipped when the
    survival model cannot be fitted (too few churn events), with its reason.

    The adapter between this study and the survival package: the notebook calls only this.
    """
    settings = survival.LtvSettings(n_boot=n_boot, seed=seed)
    same_data = {
        "data_fingerprint": ds.fingerprint,
        "analysis_date": as_of,
        "filters": ds.filters,
        "ltv_definition": settings.as_dict(),
    }
    table, source = ltv_from_metrics(churn_metrics, same_data)
    if table is not None:
        return ChannelLtv(table, source)
    table = survival.channel_ltv(ds, as_of, settings)
    if isinstance(table, Skipped):
        return Skipped(table.reason, table.hint)
    return ChannelLtv(table, " ".join([source or FITTED_HERE, *table.attrs.get("notes", [])]))


def ltv_source(ltv: ChannelLtv | Skipped) -> str:
    """Where the lifetime values come from, as one sentence (why they are missing, when
    skipped): shown above the LTV:CAC table and recorded as the metric ``ltv_source``."""
    return ltv.sentence() if isinstance(ltv, Skipped) else ltv.source


def ltv_cac_ratios(ltv: pd.DataFrame, costs: pd.DataFrame) -> pd.DataFrame:
    """LTV:CAC per paid channel, best first, with the LTV interval carried over.

    ``ltv`` has ``mean``, ``low``, ``high`` per channel (currency); ``costs`` is
    :func:`helpers.channels.volume_and_cost`. CAC is an observed total, so the ratio's
    interval is the LTV interval divided by CAC. ``flag``: "may not pay back" when the
    interval reaches 1, "ratio under 3" under :data:`RATIO_FLOOR`, else empty. Channels
    without a lifetime value or a CAC are left out.
    """
    columns = ["ltv", "cac", "ratio", "low", "high", "flag"]
    paid = costs[costs["paid"] & costs["cac"].notna()]
    out = pd.DataFrame({"ltv": ltv["mean"], "cac": paid["cac"]}).dropna()
    out["ratio"] = out["ltv"] / out["cac"]
    out["low"] = ltv["low"].reindex(out.index) / out["cac"]
    out["high"] = ltv["high"].reindex(out.index) / out["cac"]
    out["flag"] = np.where(
        out["low"] <= 1,
        "may not pay back",
        np.where(out["ratio"] < RATIO_FLOOR, "ratio under 3", ""),
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
    return pd.Series(out, name="payback_months", dtype=float)


@step("LTV:CAC")
def ltv_cac(
    ltv: ChannelLtv,
    costs: pd.DataFrame,
    orders: pd.DataFrame,
    accounts: pd.DataFrame,
    as_of: pd.Timestamp,
    max_months: int = 36,
) -> pd.DataFrame | Skipped:
    """LTV:CAC per paid channel with its payback: :func:`ltv_cac_ratios` (``ltv``, ``cac``,
    ``ratio``, ``low``, ``high``, ``flag``; best first) plus ``payback_months``
    (:func:`payback_months` over all ``orders`` up to ``as_of``; NaN when not within
    ``max_months``). Skipped when no paid channel has both a lifetime value and a CAC."""
    out = ltv_cac_ratios(ltv.table, costs)
    if out.empty:
        return Skipped(
            "no paid channel has both a lifetime value and a CAC",
            "LTV:CAC needs paid channels that won customers",
        )
    out["payback_months"] = payback_months(orders, accounts, costs, as_of, max_months)
    return out


@step("LTV:CAC")
def ratio_sentence(ratio: pd.DataFrame) -> str:
    """The best and the worst LTV:CAC (``ratio`` as :func:`ltv_cac` returns it, best first)."""
    return (
        f"{ratio.index[0]} returns {ratio['ratio'].iloc[0]:.1f}× its acquisition cost, "
        f"{ratio.index[-1]} {ratio['ratio'].iloc[-1]:.1f}×."
    )


# ---- a second estimate: BG/NBD + Gamma-Gamma (issue 16) ---------------------------------------


@step("The BG/NBD lifetime value by channel")
def btyd_lifetime_values(
    ds: Dataset,
    as_of: pd.Timestamp,
    btyd: survival.BuyTillYouDie,
    *,
    horizon_days: int = 3 * 365,
    discount_per_year: float = 0.10,
    n_boot: int = 300,
    seed: int = 42,
) -> pd.DataFrame | Skipped:
    """A new customer's lifetime value per acquisition channel from the BG/NBD and Gamma-Gamma
    models (``btyd``, fitted as of ``as_of``): a second estimate beside the survival one.

    Per buying account, the discounted gross margin over its first ``horizon_days`` days from
    its first purchase (currency): what it brought up to ``as_of`` (completed and returned
    lines, each discounted from its day), plus, for the part of the horizon still ahead, its
    expected purchase days there (BG/NBD, given its history) × its expected spend per purchase
    (Gamma-Gamma; the population mean p·v/(q−1) for one-time buyers) × its own margin share
    (margin / revenue, 0-1), discounted at the middle of that part. Per channel the mean with a
    95% bootstrap interval over accounts (``mean``, ``low``, ``high``, ``n``), as the survival
    estimate. Skipped without an accounts table (channels) or a Gamma-Gamma fit.
    """
    if "accounts" not in ds.tables:
        return Skipped("the data has no accounts table", "acquisition channels come from accounts")
    if isinstance(btyd.spend_params, Skipped):
        return Skipped(btyd.spend_params.reason, btyd.spend_params.hint)
    period = btyd.period_days
    a = btyd.accounts.set_index("account_id")
    o = ds["orders"]
    o = o[o["status"].isin(["completed", "returned"]) & (o["order_date"] <= as_of)]
    first = o[o["status"] == "completed"].groupby("account_id")["order_date"].min().reindex(a.index)
    o = o.join(first.rename("first"), on="account_id")
    age = (o["order_date"] - o["first"]).dt.days
    o = o[age.between(0, horizon_days)]
    rate = (1 + discount_per_year) ** (1 / 365)
    seen = (o["gross_margin"] * rate ** -age[o.index]).groupby(o["account_id"]).sum()
    totals = o.groupby("account_id")[["gross_margin", "net_amount"]].sum().reindex(a.index)
    share = (totals["gross_margin"] / totals["net_amount"]).where(totals["net_amount"] > 0)
    share = share.clip(0, 1).fillna(0)
    elapsed = (as_of - first).dt.days.clip(lower=0)
    ahead = (horizon_days - elapsed).clip(lower=0)
    p, q, v = (btyd.spend_params[k] for k in ("p", "q", "v"))
    spend = a["expected_spend"].fillna(p * v / (q - 1) if q > 1 else np.nan)
    data = a.reset_index().rename(columns={"account_id": "customer_id"})
    purchases = pd.Series(
        survival.bgnbd.expected_purchases(btyd.model, data, (ahead / period).to_numpy()),
        index=a.index,
    )
    future = purchases * spend * share * rate ** -(elapsed + ahead / 2)
    values = seen.reindex(a.index).fillna(0) + future.where(ahead > 0, 0).fillna(0)
    channel = ds["accounts"].set_index("account_id")["acquisition_channel"].reindex(a.index)
    keep = channel.notna()
    table = survival.bootstrap_mean(values[keep], channel[keep], n_boot, seed)
    table.index.name = "acquisition_channel"
    return table


@step("The BG/NBD lifetime value by channel")
def second_ltv(
    ratio: pd.DataFrame,
    ds: Dataset,
    as_of: pd.Timestamp,
    *,
    period_days: int = 7,
    n_boot: int = 300,
    seed: int = 42,
) -> pd.DataFrame | Skipped:
    """The BG/NBD + Gamma-Gamma lifetime value per channel (:func:`btyd_lifetime_values`) under
    the same horizon and discount as the survival value (:class:`helpers.survival.LtvSettings`
    with ``n_boot`` and ``seed``), the models fitted here on the order log as of ``as_of``
    (:func:`helpers.survival.buy_till_you_die`, periods of ``period_days`` days; the first fit
    in a process compiles, tens of seconds). ``ratio`` is the LTV:CAC table (:func:`ltv_cac`)
    the estimate goes beside: when it is Skipped nothing is fitted. The notebook calls only
    this."""
    settings = survival.LtvSettings(n_boot=n_boot, seed=seed)
    btyd = survival.buy_till_you_die(ds, as_of, period_days)
    return btyd_lifetime_values(
        ds,
        as_of,
        btyd,
        horizon_days=settings.horizon_days,
        discount_per_year=settings.discount_per_year,
        n_boot=settings.n_boot,
        seed=settings.seed,
    )


#: Display formats (``reporting.styled``) of :func:`ltv_estimates`.
ESTIMATE_FORMATS = {
    "ltv": "{:,.0f}",
    "low": "{:,.0f}",
    "high": "{:,.0f}",
    "ltv_btyd": "{:,.0f}",
    "low_btyd": "{:,.0f}",
    "high_btyd": "{:,.0f}",
    "ratio": "{:.1f}",
    "ratio_btyd": "{:.1f}",
}


@step("The two lifetime-value estimates")
def ltv_estimates(ratio: pd.DataFrame, ltv: ChannelLtv, btyd_ltv: pd.DataFrame) -> pd.DataFrame:
    """The survival LTV (which drives LTV:CAC and its verdict) beside the BG/NBD + Gamma-Gamma
    one, per paid channel of ``ratio`` (:func:`ltv_cac`, its order): ``ltv``, ``low``, ``high``
    (survival, currency), ``ltv_btyd``, ``low_btyd``, ``high_btyd``, ``ratio`` and
    ``ratio_btyd`` (LTV:CAC under each), and ``flag`` "estimates disagree" when the two 95%
    intervals do not overlap."""
    s = ltv.table.reindex(ratio.index)
    b = btyd_ltv.reindex(ratio.index)
    out = pd.DataFrame(
        {
            "ltv": s["mean"],
            "low": s["low"],
            "high": s["high"],
            "ltv_btyd": b["mean"],
            "low_btyd": b["low"],
            "high_btyd": b["high"],
            "ratio": ratio["ratio"],
            "ratio_btyd": b["mean"] / ratio["cac"],
        }
    )
    apart = (out["high"] < out["low_btyd"]) | (out["high_btyd"] < out["low"])
    out["flag"] = np.where(apart, "estimates disagree", "")
    return out


def estimates_sentence(table: pd.DataFrame | Skipped) -> str | Skipped:
    """Which channels' two lifetime-value estimates disagree (non-overlapping intervals)."""
    if isinstance(table, Skipped):
        return table
    apart = list(table.index[table["flag"] != ""])
    if not apart:
        return (
            "The BG/NBD + Gamma-Gamma lifetime value agrees with the survival one for every "
            "paid channel (their 95% intervals overlap); the verdict stands on the survival value."
        )
    return (
        f"The two lifetime-value estimates disagree (95% intervals apart) for "
        f"{', '.join(map(str, apart))}: read those channels' LTV:CAC with caution; the verdict "
        "uses the survival value."
    )
