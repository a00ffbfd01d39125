"""Which accounts spend more, or less, per order over time? The customer type per account with
enough orders: ``growing`` or ``shrinking`` when the trend of log order value is significant
after Benjamini-Hochberg false-discovery-rate control (:data:`TYPE_FDR`), ``price-insensitive``
for high-margin accounts without a trend, ``steady`` otherwise; the window fitted to the
history, and the accounts, revenue (currency) and shares (0-1) per type with its sentence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from helpers import formats
from helpers.segmentation.codes import column_codes, column_is, sorted_codes
from helpers.segmentation.windows import adapted_window, completed_dates, history_months, varies
from helpers.steps import Skipped, step

if TYPE_CHECKING:
    from helpers.loading import Dataset


#: False discovery rate of the customer-type trend tests (Benjamini-Hochberg).
TYPE_FDR = 0.05
#: Shortest window (months) below which the customer types are not computed.
MIN_TYPE_MONTHS = 6


def customer_types(
    orders: pd.DataFrame,
    features: pd.DataFrame,
    as_of: pd.Timestamp,
    months: int = 24,
    margin_quantile: float = 0.8,
    min_orders: int = 6,
    fdr: float = TYPE_FDR,
) -> pd.DataFrame:
    """Customer type per account with at least ``min_orders`` orders in the last ``months``:

    * ``growing``: the OLS slope of log order value against time (per year) is positive and
      significant after false-discovery-rate control (below), i.e. the account spends more
      per order over time (``growth`` = exp(slope) - 1 per year);
    * ``price-insensitive``: margin rate in the top ``1 - margin_quantile`` of accounts while
      the value per order is stable (no significant trend either way); never assigned when the
      data has no margin (or the same margin rate for every account);
    * ``steady``: no significant trend in order value;
    * ``shrinking``: a significant downward trend.

    One t-test per account (two-sided p-value of the slope, column ``p``) would call about
    2.5% of accounts without any trend "growing" by chance; the p-values are therefore
    adjusted by Benjamini-Hochberg (``q``, statsmodels ``multipletests(method="fdr_bh")``) and
    a trend counts as significant when ``q < fdr``: among the accounts called growing or
    shrinking, the expected share of false calls is at most ``fdr``. ``low``/``high`` are
    the unadjusted 95% intervals of the slope. Orders are summed per order id (lines ->
    orders); cancelled orders are ignored; accounts whose orders all fall on one day are left
    out (no trend to measure).
    """
    from scipy.stats import t as student
    from statsmodels.stats.multitest import multipletests

    start = as_of - pd.DateOffset(months=months)
    date = orders["order_date"].to_numpy()
    chosen = np.flatnonzero(
        column_is(orders, "status", "completed")
        & (date > start.to_datetime64())
        & (date <= pd.Timestamp(as_of).to_datetime64())
    )
    # the account codes are kept per table (the tiers use them too); the order ids are
    # ranked among the window's own (fewer to sort, and no other step groups by order)
    accounts, account_ids = column_codes(orders, "account_id")
    per_order = _order_values(
        (accounts[chosen], account_ids),
        sorted_codes(orders["order_id"].array.take(chosen)),  # Arrow text stays Arrow
        orders["net_amount"].to_numpy()[chosen],
        date[chosen],
        np.arange(len(chosen)),
    )
    per_order = per_order[per_order["value"] > 0]
    # the accounts left, renumbered 0.. in the order of their ids (as factorizing them would)
    _, first, account = np.unique(
        per_order["account"].to_numpy(), return_index=True, return_inverse=True
    )
    ids = pd.Index(per_order["account_id"].take(first).to_numpy())  # Python strings: few
    t = ((per_order["date"] - start).dt.days / 365.25).to_numpy()
    y = np.log(per_order["value"]).to_numpy()
    per_order = pd.DataFrame({"account": account, "t": t, "y": y})
    n = per_order.groupby("account").size()
    p = per_order[np.bincount(account)[account] >= min_orders]
    g = p.groupby("account")
    t_mean, y_mean = g["t"].transform("mean"), g["y"].transform("mean")
    dt, dy = p["t"] - t_mean, p["y"] - y_mean
    sxx = (dt**2).groupby(p["account"]).sum()
    sxy = (dt * dy).groupby(p["account"]).sum()
    sxx = sxx[sxx > 0]
    slope = sxy.reindex(sxx.index) / sxx
    fitted = slope.reindex(p["account"]).to_numpy() * dt
    sse = ((dy - fitted) ** 2).groupby(p["account"]).sum().reindex(slope.index)
    dof = n.reindex(slope.index) - 2
    se = np.sqrt(sse / dof / sxx)
    q = student.ppf(0.975, dof)
    with np.errstate(divide="ignore", invalid="ignore"):
        tstat = np.where(se > 0, slope / se, np.where(slope == 0, 0.0, np.inf * np.sign(slope)))
    pvalue = pd.Series(2 * student.sf(np.abs(tstat), dof), index=slope.index, dtype=float)
    out = pd.DataFrame(
        {
            "slope": slope,
            "low": slope - q * se,
            "high": slope + q * se,
            "p": pvalue,
            "orders": n.reindex(slope.index),
        }
    )
    out.index = ids.take(out.index.to_numpy(dtype=np.intp)).rename("account_id")
    out["q"] = multipletests(pvalue.to_numpy(), method="fdr_bh")[1] if len(out) else []
    out["growth"] = np.exp(out["slope"]) - 1
    margin = features.set_index("account_id")["margin_rate"]
    if varies(margin.dropna()):
        high_margin = margin.reindex(out.index) >= margin.quantile(margin_quantile)
    else:
        high_margin = pd.Series(False, index=out.index)
    significant = out["q"] < fdr
    out["type"] = np.select(
        [significant & (out["slope"] > 0), significant & (out["slope"] < 0), high_margin],
        ["growing", "shrinking", "price-insensitive"],
        "steady",
    )
    return out


def _order_values(
    account: tuple[np.ndarray, pd.Index | np.ndarray],
    order: tuple[np.ndarray, pd.Index | np.ndarray],
    value: np.ndarray,
    date: np.ndarray,
    rows: np.ndarray,
) -> pd.DataFrame:
    """Per (account, order) of the order lines ``rows`` (positions in arrays of the lines'
    account and order id codes, ``account`` and ``order``: sorted codes with their ids, as
    :func:`sorted_codes` or :func:`column_codes` give them, a subset's codes or the table's;
    ``value`` and ``date`` are those lines' ``net_amount`` and ``order_date``): ``value``
    (sum of ``net_amount``, currency) and ``date`` (the first ``order_date``), sorted by
    account id then order id; ``account`` is the account's code (its rank among the ids).

    The same table as ``lines.groupby(["account_id", "order_id"], as_index=False).agg(...)``:
    the ids are replaced by their ranks among the ids, and the two ranks by
    one integer (account rank x number of order ids + order rank, whose order is the order of
    the pairs), so pandas groups one integer key instead of hashing and sorting 10^6 texts
    (several times faster); the groups, their order and the sums (each group's lines in the
    same order) are unchanged.
    """
    (account_codes, account_ids), (order_codes, order_ids) = account, order
    a, o = account_codes[rows], order_codes[rows]
    keep = (a >= 0) & (o >= 0)  # a missing id is code -1: pandas drops the line
    key = a[keep].astype(np.int64) * max(len(order_ids), 1) + o[keep]
    out = (
        pd.DataFrame({"key": key, "value": value[keep], "date": date[keep]})
        .groupby("key", sort=True)
        .agg(value=("value", "sum"), date=("date", "min"))
    )
    pairs = out.index.to_numpy()
    codes = pairs // max(len(order_ids), 1)
    return pd.DataFrame(
        {
            "account": codes,
            "account_id": account_ids.take(codes),
            "order_id": order_ids.take(pairs % max(len(order_ids), 1)),
            "value": out["value"].to_numpy(),
            "date": out["date"].to_numpy(),
        }
    )


@step("The customer types")
def account_types(
    ds: Dataset,
    features: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    months: int = 24,
    min_orders: int = 6,
) -> pd.DataFrame | Skipped:
    """:func:`customer_types` over the last ``months`` (at most the whole history; Skipped
    when that is under :data:`MIN_TYPE_MONTHS`, or when no account has ``min_orders`` orders
    in the window). The trend window needs no comparison period before it, so it may span
    the whole history (other windows take at most a third)."""
    orders = ds["orders"]
    history = history_months(completed_dates(orders), as_of)
    window = adapted_window(
        months, history, minimum=MIN_TYPE_MONTHS, what="the customer-type trend", share=1.0
    )
    if isinstance(window, Skipped):
        return window
    types = customer_types(orders, features, as_of, months=window, min_orders=min_orders)
    if types.empty:
        return Skipped(
            f"no account has {min_orders} or more orders in the last {window} months",
            f"a trend in order value needs at least {min_orders} orders per account",
        )
    return types


@step("The customer types")
def type_summary(types: pd.DataFrame, revenue: pd.Series) -> pd.DataFrame:
    """Per customer type (:func:`customer_types`): ``accounts``, ``revenue`` (currency,
    current revenue per account as :func:`account_revenue`), ``account_share`` and
    ``revenue_share`` (0-1, of the typed accounts only)."""
    summary = (
        types.assign(revenue=revenue.reindex(types.index))
        .groupby("type")
        .agg(accounts=("slope", "size"), revenue=("revenue", "sum"))
    )
    summary["account_share"] = summary["accounts"] / summary["accounts"].sum()
    summary["revenue_share"] = summary["revenue"] / summary["revenue"].sum()
    return summary


@step("The customer types")
def types_sentence(types: pd.DataFrame) -> str:
    """How many accounts grow their order value significantly, and their median growth."""
    growing = types.loc[types["type"] == "growing", "growth"]
    if growing.empty:
        return (
            f"None of the {len(types):,} typed accounts grows its order value significantly "
            "(5% false discovery rate)."
        )
    return (
        f"{len(growing)} of {len(types):,} typed accounts grow their order value significantly "
        f"(5% false discovery rate; median growth {formats.share(growing.median())} a year)."
    )
