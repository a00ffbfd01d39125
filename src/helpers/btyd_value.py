"""A second lifetime-value estimate per channel: BG/NBD + Gamma-Gamma beside the survival one.

The survival LTV (:mod:`helpers.lifetime_value`) drives LTV:CAC and its verdict; this module
values a new customer of each channel from the buy-till-you-die models of :mod:`helpers.survival.bgnbd`
under the same horizon and discount, and flags channels where the two 95% intervals do not
overlap (a sign that one of the two models fits that channel's customers badly).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from helpers import formats, survival
from helpers.features import orders_table
from helpers.lifetime_value import ChannelLtv
from helpers.steps import Skipped, step

if TYPE_CHECKING:
    from helpers.engine import Engine
    from helpers.loading import Dataset


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
    rate = (1 + discount_per_year) ** (1 / 365)
    # the data set's one engine table of the orders (the churn study's too: one upload)
    lines = margin_seen(orders_table(ds), as_of, horizon_days, rate)
    lines = lines.reindex(a.index)
    first, seen = lines["first"], lines["seen"]
    totals = lines[["gross_margin", "net_amount"]]
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
    values = seen.fillna(0) + future.where(ahead > 0, 0).fillna(0)
    channel = ds["accounts"].set_index("account_id")["acquisition_channel"].reindex(a.index)
    keep = channel.notna()
    table = survival.bootstrap_mean(values[keep], channel[keep], n_boot, seed)
    table.index.name = "acquisition_channel"
    return table


#: The order columns :func:`margin_seen` reads.
ORDER_COLUMNS: tuple[str, ...] = (
    "account_id",
    "order_date",
    "status",
    "gross_margin",
    "net_amount",
)


def margin_seen(
    orders: object,
    as_of: pd.Timestamp,
    horizon_days: int,
    rate: float,
    engine: Engine | str | None = None,
) -> pd.DataFrame:
    """Per account with a completed order up to ``as_of``, indexed by account id: ``first``
    (its first completed order's date), ``seen`` (its completed and returned lines' gross
    margin within ``horizon_days`` days of ``first``, each discounted by ``rate ** -days``
    from ``first``; currency), ``gross_margin`` and ``net_amount`` (those lines' sums).

    ``orders`` (:data:`ORDER_COLUMNS`) is a pandas frame or an Ibis table; the lines are
    aggregated in the engine (``engine``; None: the one the frames carry, else DuckDB), so only
    the per-account table comes back (at 1M accounts 12.9M lines, whose filtered copies in
    pandas took ~4 GB). A missing gross margin counts as nothing (its sum over no values is
    missing: read as 0 by the caller).
    """
    from helpers import engine as engines
    from helpers.features import as_table

    engine = engines.resolve(engine, orders)
    day = pd.Timestamp(as_of)
    o = as_table(orders, ORDER_COLUMNS, engine)
    o = o.filter(o.status.isin(["completed", "returned"]), o.order_date <= day)
    done = o.filter(o.status == "completed")
    firsts = done.group_by("account_id").aggregate(first=done.order_date.min())
    j = o.join(firsts, "account_id")
    j = j.mutate(age=j.order_date.cast("date").delta(j.first.cast("date"), unit="day"))
    j = j.filter(j.age >= 0, j.age <= horizon_days)
    sums = j.group_by("account_id").aggregate(
        seen=(j.gross_margin * (rate ** (-j.age.cast("float64")))).sum(),
        gross_margin=j.gross_margin.sum(),
        net_amount=j.net_amount.sum(),
    )
    table = firsts.left_join(sums, "account_id").select(
        "account_id", "first", "seen", "gross_margin", "net_amount"
    )
    out = engines.to_pandas(table, engine).set_index("account_id")
    out["first"] = pd.to_datetime(out["first"]).astype("datetime64[ns]")
    return out.astype({c: float for c in ("seen", "gross_margin", "net_amount")})


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


def estimates_sentence(
    table: pd.DataFrame | Skipped, *, names: Mapping[str, str] | None = None
) -> str | Skipped:
    """Which channels' two lifetime-value estimates disagree (non-overlapping intervals);
    channels by display name (``names``: the data source's overrides)."""
    if isinstance(table, Skipped):
        return table
    apart = [formats.display_name(c, names) for c in table.index[table["flag"] != ""]]
    if not apart:
        return (
            "The BG/NBD + Gamma-Gamma lifetime value agrees with the survival one for every "
            "paid channel (their 95% intervals overlap); the verdict stands on the survival value."
        )
    return (
        f"The two lifetime-value estimates disagree (95% intervals apart) for "
        f"{', '.join(apart)}: read those channels' LTV:CAC with caution; the verdict uses the "
        "survival value."
    )


@step("The two lifetime-value estimates")
def estimates_table(
    table: pd.DataFrame, *, currency: str | None = None, names: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """:func:`ltv_estimates` for readers, channels by display name: each lifetime value in
    ``currency`` with its 95% interval, the LTV:CAC under each, and ``warning`` ("estimates
    disagree" or empty). Cells are text written by :mod:`helpers.formats`."""

    def value(row: pd.Series, mean: str, low: str, high: str) -> str:
        within = formats.interval(row[low], row[high], formats.money, missing="")
        shown = formats.money(row[mean], currency)
        return f"{shown} ({within.removeprefix('95% interval ')})" if within else shown

    shown = pd.DataFrame(
        {
            "survival LTV (95% interval)": [
                value(r, "ltv", "low", "high") for _, r in table.iterrows()
            ],
            "BG/NBD LTV (95% interval)": [
                value(r, "ltv_btyd", "low_btyd", "high_btyd") for _, r in table.iterrows()
            ],
            "LTV:CAC, survival": table["ratio"].map(formats.ratio),
            "LTV:CAC, BG/NBD": table["ratio_btyd"].map(formats.ratio),
            "warning": table["flag"],
        },
        index=table.index,
    )
    return formats.display_names(shown, names).rename_axis("channel")
