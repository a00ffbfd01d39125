"""Which accounts spend more, or less, per order over time? The customer type per account with
enough orders: ``growing`` or ``shrinking`` when the trend of log order value is significant
after Benjamini-Hochberg false-discovery-rate control (:data:`TYPE_FDR`), ``price-insensitive``
for high-margin accounts without a trend, ``steady`` otherwise; the window fitted to the
history, and the accounts, revenue (currency) and shares (0-1) per type with its sentence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from helpers import formats
from helpers.segmentation.windows import (
    adapted_window,
    history_months_of,
    id_index,
    order_table,
    varies,
)
from helpers.steps import Skipped, step

if TYPE_CHECKING:
    from helpers.engine import Engine
    from helpers.loading import Dataset


#: False discovery rate of the customer-type trend tests (Benjamini-Hochberg).
TYPE_FDR = 0.05
#: Shortest window (months) below which the customer types are not computed.
MIN_TYPE_MONTHS = 6


def customer_types(
    orders: object,
    features: pd.DataFrame,
    as_of: pd.Timestamp,
    months: int = 24,
    margin_quantile: float = 0.8,
    min_orders: int = 6,
    fdr: float = TYPE_FDR,
    engine: Engine | str | None = None,
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
    orders; completed lines in ``(as_of - months, as_of]``, a missing amount counts 0, lines
    without account or order id are left out); orders of value 0 or less are left out, time
    is whole days from the window's start to the order's first line over 365.25; accounts
    whose orders all fall on one day are left out (no trend to measure). Rows in account id
    order (``orders`` = the account's order count).

    ``orders``: a data set, a pandas frame or an Ibis table
    (:func:`helpers.segmentation.windows.order_table`); the lines, the orders and the
    per-account sums of the regression are computed by the engine (:func:`_regression_sums`,
    ``engine`` as there), so only per-account rows come back.
    """
    from scipy.stats import t as student
    from statsmodels.stats.multitest import multipletests

    sums = _regression_sums(orders, as_of, months, min_orders, engine)
    ids = id_index(sums["account_id"], orders, python=True)  # Python strings: few
    n, slope, se = _fit(sums)
    slope = pd.Series(slope, index=ids)
    dof = n - 2
    q = student.ppf(0.975, dof)
    with np.errstate(divide="ignore", invalid="ignore"):
        tstat = np.where(se > 0, slope / se, np.where(slope == 0, 0.0, np.inf * np.sign(slope)))
    pvalue = pd.Series(2 * student.sf(np.abs(tstat), dof), index=ids, dtype=float)
    out = pd.DataFrame(
        {
            "slope": slope,
            "low": slope - q * se,
            "high": slope + q * se,
            "p": pvalue,
            "orders": pd.Series(n, index=ids),
        }
    )
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


#: Days in a year: the time axis of the trend is in years of 365.25 days.
YEAR_DAYS = 365.25


def _regression_sums(
    orders: object,
    as_of: pd.Timestamp,
    months: int,
    min_orders: int,
    engine: Engine | str | None,
) -> pa.Table:
    """Per account with at least ``min_orders`` orders of positive value in the window, not
    all on one day (rows sorted by account id), the sums its trend of log order value needs,
    computed by the engine: ``n`` (orders), ``low_value``/``high_value`` (its smallest and
    largest order value), and the centred sums ``sx``, ``sy``, ``sxx``, ``sxy``, ``syy`` of
    ``dx = x - mean(x)`` and ``dy = y - mean(y)`` over its orders, ``x`` the order's day
    (whole days from the window's start to the order's first line), ``y`` the log of its value.

    Why centred: from raw sums, the slope's variance and the residuals are differences of
    nearly equal numbers (``Σx² - (Σx)²/n``; log values of 6 to 12 that vary by tenths),
    which lose digits in float arithmetic (and turn an account of one order value into noise
    that can look significant). The means are therefore taken first (an aggregate per
    account, joined back to its orders), and the sums of the deviations lose none. ``sx`` and
    ``sy`` hold what rounding left in the means (about 0): :func:`_fit` uses them as the
    correction term of the corrected two-pass algorithm (Chan, Golub and LeVeque 1983). Days
    are integers, exact in every engine; :func:`_fit` turns them into years.
    """
    from helpers import engine as engines

    empty = pa.table(
        {
            "account_id": pa.array([], pa.string()),
            "n": pa.array([], pa.int64()),
            **{c: pa.array([], pa.float64()) for c in _SUMS},
        }
    )
    o, engine = order_table(orders, engine)
    start = pd.Timestamp(as_of - pd.DateOffset(months=months))
    o = o.filter(
        o.status == "completed",
        o.order_date > start,
        o.order_date <= pd.Timestamp(as_of),
        o.account_id.notnull(),
        o.order_id.notnull(),
    )
    per_order = o.group_by(["account_id", "order_id"]).aggregate(
        value=o.net_amount.sum(), date=o.order_date.min()
    )
    per_order = per_order.filter(per_order.value > 0)
    day = per_order.date.cast("date").delta(ibis.literal(start.date(), type="date"), unit="day")
    xy = per_order.select("account_id", "value", x=day, y=per_order.value.ln())
    # the means first (and the order counts, so that only accounts with enough orders go on),
    # joined back: a hash aggregate and join, half the time of a window over the accounts
    means = xy.group_by("account_id").aggregate(n=xy.count(), mx=xy.x.mean(), my=xy.y.mean())
    j = xy.inner_join(means.filter(means.n >= min_orders), "account_id")
    d = j.mutate(dx=j.x.cast("float64") - j.mx, dy=j.y - j.my)
    sums = d.group_by("account_id").aggregate(
        n=d.count(),
        first_day=d.x.min(),
        last_day=d.x.max(),
        low_value=d.value.min(),
        high_value=d.value.max(),
        sx=d.dx.sum(),
        sy=d.dy.sum(),
        sxx=(d.dx * d.dx).sum(),
        sxy=(d.dx * d.dy).sum(),
        syy=(d.dy * d.dy).sum(),
    )
    sums = sums.filter(sums.first_day < sums.last_day)
    table = engines.to_arrow(sums.select(*empty.column_names), engine)
    table = table.take(pc.sort_indices(table, [("account_id", "ascending")]))
    return table.cast(empty.schema) if len(table) else empty


_SUMS = ("low_value", "high_value", "sx", "sy", "sxx", "sxy", "syy")


def _fit(sums: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(orders, slope of log order value per year, its standard error) per row of ``sums``
    (:func:`_regression_sums`).

    The corrected two-pass forms of the centred sums: ``Sxx = sxx - sx²/n``,
    ``Sxy = sxy - sx·sy/n``, ``Syy = syy - sy²/n`` (days), slope ``b = Sxy / Sxx``, residual
    sum of squares ``max(Syy - b·Sxy, 0)`` (it loses digits only when the fit is nearly
    perfect, where the t statistic is huge either way). An account whose orders all have the
    same value has no trend at all: slope and residuals exactly 0 (its centred sums hold
    only the rounding of its mean, whose ratio would be noise). Days become years by
    ``YEAR_DAYS``: ``b_year = b_day·365.25``, ``Sxx_year = Sxx_day / 365.25²``.
    """
    n = sums["n"].to_numpy()
    col = {c: sums[c].to_numpy() for c in _SUMS}
    constant = col["low_value"] == col["high_value"]
    sxx = col["sxx"] - col["sx"] ** 2 / n
    sxy = np.where(constant, 0.0, col["sxy"] - col["sx"] * col["sy"] / n)
    syy = np.where(constant, 0.0, col["syy"] - col["sy"] ** 2 / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope_day = sxy / sxx
        sse = np.maximum(syy - slope_day * sxy, 0.0)
        sxx_year = sxx / YEAR_DAYS**2
        se = np.sqrt(sse / (n - 2) / sxx_year)
    return n, slope_day * YEAR_DAYS, se


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
    history = history_months_of(ds, as_of)
    window = adapted_window(
        months, history, minimum=MIN_TYPE_MONTHS, what="the customer-type trend", share=1.0
    )
    if isinstance(window, Skipped):
        return window
    types = customer_types(ds, features, as_of, months=window, min_orders=min_orders)
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
