"""Payback period per paid channel: the months until the margin of a channel's new customers
adds up to its cost per new customer (:func:`payback_months`), and its 95% bootstrap interval
(:func:`payback_interval`). Shown beside LTV:CAC by :func:`helpers.payback.ltv_cac`.

Months are 30.44 days since each account's acquisition; margin is the gross margin of its
non-cancelled orders up to the as-of date, averaged over the accounts old enough to have
reached each month (so young accounts do not pull the curve down). A channel that does not pay
back within ``max_months`` (36 by default) has NaN: "not within".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class OrderMonths:
    """The non-cancelled order lines up to ``as_of`` by account and month since acquisition,
    computed once for :func:`payback_months` and :func:`payback_interval` (:func:`order_months`).

    ``accounts`` is the accounts table indexed by account_id; per order line (in the orders'
    row order): ``account`` its account's row position in ``accounts``, ``k`` the whole months
    (30.44 days) from the acquisition to the order, ``margin`` its gross margin."""

    accounts: pd.DataFrame
    account: np.ndarray
    k: np.ndarray
    margin: np.ndarray
    as_of: pd.Timestamp


def order_months(orders: pd.DataFrame, accounts: pd.DataFrame, as_of: pd.Timestamp) -> OrderMonths:
    """The :class:`OrderMonths` of ``orders`` (account_id, order_date, gross_margin, status)
    and ``accounts`` (account_id, acquired_date, acquisition_channel) up to ``as_of``.

    Only the three columns needed are looked up, by integer positions (the joins of the whole
    orders frame this replaces copied every column; 1.3M lines took seconds)."""
    acc = accounts.set_index("account_id")
    keep = (orders["status"] != "cancelled") & (orders["order_date"] <= as_of)
    o = orders.loc[keep, ["account_id", "order_date", "gross_margin"]]
    account = acc.index.get_indexer(o["account_id"])
    acquired = acc["acquired_date"].to_numpy()[account]
    acquired[account < 0] = np.datetime64("NaT")  # an order of an unknown account
    days = (o["order_date"] - pd.Series(acquired, index=o.index)).dt.days
    return OrderMonths(
        accounts=acc,
        account=account,
        k=(days // 30.44).astype(int).to_numpy(),
        margin=o["gross_margin"].to_numpy(),
        as_of=as_of,
    )


def payback_months(
    orders: pd.DataFrame,
    accounts: pd.DataFrame,
    costs: pd.DataFrame,
    as_of: pd.Timestamp,
    max_months: int = 36,
    *,
    months: OrderMonths | None = None,
) -> pd.Series:
    """Months until the average new customer's cumulative gross margin covers the CAC.

    Month ``k`` after acquisition averages the margin of all accounts acquired at least ``k``
    months before ``as_of`` (churned ones count with 0), so it includes churn. NaN: not within
    ``max_months``. ``months``: :func:`order_months` of the same arguments, when already made.
    """
    months = months if months is not None else order_months(orders, accounts, as_of)
    acc = months.accounts
    line_channel = acc["acquisition_channel"].to_numpy()[months.account]
    out = {}
    for ch, row in costs[costs["paid"]].iterrows():
        mine = acc[acc["acquisition_channel"] == ch]
        if mine.empty or not np.isfinite(row["cac"]):
            continue
        age = ((as_of - mine["acquired_date"]).dt.days // 30.44).astype(int)
        lines = line_channel == ch
        # grouped by k over the channel's lines in row order: the sums of the former join
        margin = pd.Series(months.margin[lines]).groupby(months.k[lines]).sum()
        at_risk = np.array([(age >= k).sum() for k in range(max_months)])
        per_month = margin.reindex(range(max_months), fill_value=0).to_numpy() / np.maximum(
            at_risk, 1
        )
        cumulative = np.cumsum(per_month)
        hit = np.flatnonzero(cumulative >= row["cac"])
        out[ch] = float(hit[0] + 1) if len(hit) else float("nan")
    return pd.Series(out, name="payback_months", dtype=float)


def _margin_by_month(months: OrderMonths, max_months: int) -> np.ndarray:
    """Gross margin per account (rows of ``months.accounts``) and month since acquisition
    (0 to ``max_months`` - 1): the former ``pivot_table`` (a groupby sum over account and
    month, lines in row order) as a dense array, accounts without lines 0."""
    inside = (months.k >= 0) & (months.k < max_months) & (months.account >= 0)
    account, k = months.account[inside], months.k[inside]
    sums = pd.Series(months.margin[inside]).groupby([account, k]).sum()
    dense = np.zeros((len(months.accounts), max_months))
    dense[sums.index.get_level_values(0), sums.index.get_level_values(1)] = sums.to_numpy()
    return dense


def payback_interval(
    orders: pd.DataFrame,
    accounts: pd.DataFrame,
    costs: pd.DataFrame,
    as_of: pd.Timestamp,
    max_months: int = 36,
    n_draws: int = 500,
    seed: int = 42,
    *,
    months: OrderMonths | None = None,
) -> pd.DataFrame:
    """95% interval of :func:`payback_months` per paid channel (``payback_low``,
    ``payback_high``, months): each draw resamples the channel's accounts (with their margin
    by month since acquisition) and its won count (as in :func:`ltv_cac_ratios`). A draw that
    does not pay back within ``max_months`` counts as never; an end of the interval beyond
    ``max_months`` is NaN ("not within"). ``months``: :func:`order_months` of the same
    arguments, when already made."""
    rng = np.random.default_rng(seed)
    months = months if months is not None else order_months(orders, accounts, as_of)
    acc = months.accounts
    by_month = _margin_by_month(months, max_months)
    rows = {}
    for ch, row in costs[costs["paid"]].iterrows():
        is_mine = (acc["acquisition_channel"] == ch).to_numpy()
        mine = acc[is_mine]
        if mine.empty or not np.isfinite(row["cac"]):
            continue
        margin = by_month[is_mine]
        age = ((as_of - mine["acquired_date"]).dt.days // 30.44).astype(int).to_numpy()
        cac_b = np.full(n_draws, float(row["cac"]))
        if {"mature_leads", "mature_customers", "mature_spend"} <= set(costs.columns):
            n, k = int(row["mature_leads"]), int(row["mature_customers"])
            won_b = rng.binomial(n, k / n, n_draws) if n else np.full(n_draws, k)
            with np.errstate(divide="ignore"):
                cac_b = float(row["mature_spend"]) / won_b
        hits = _payback_draws(rng, margin, age, cac_b)
        lo, hi = np.quantile(hits, [0.025, 0.975], method="inverted_cdf")
        rows[ch] = {
            "payback_low": float(lo) if np.isfinite(lo) else float("nan"),
            "payback_high": float(hi) if np.isfinite(hi) else float("nan"),
        }
    return pd.DataFrame.from_dict(
        rows, orient="index", columns=["payback_low", "payback_high"], dtype=float
    )


#: Bytes of one block of resamples in :func:`_payback_draws` (draws x accounts x 8 bytes; the
#: block holds about four arrays of this size at once: draws, counts, their float copy).
BLOCK_BYTES = 16 * 2**20


def _payback_months_of(margin: np.ndarray, age: np.ndarray, pick: np.ndarray, cac: float) -> float:
    """Payback month of one resample ``pick`` (row positions) of a channel's accounts: the
    first month whose cumulative margin per account at risk reaches ``cac`` (inf: never)."""
    at_risk = (age[pick][:, None] >= np.arange(margin.shape[1])[None, :]).sum(axis=0)
    cumulative = np.cumsum(margin[pick].sum(axis=0) / np.maximum(at_risk, 1))
    hit = np.flatnonzero(cumulative >= cac)
    return hit[0] + 1 if len(hit) else np.inf


def _payback_draws(
    rng: np.random.Generator, margin: np.ndarray, age: np.ndarray, cac_b: np.ndarray
) -> np.ndarray:
    """One payback month per entry of ``cac_b`` (inf: not within the months of ``margin``),
    each on a resample of the rows of ``margin`` (accounts x months, currency) and ``age``
    (whole months since acquisition): exactly :func:`_payback_months_of` on
    ``rng.integers(0, m, m)`` drawn once per entry, in order, but vectorised.

    The resamples are drawn a block at a time as one ``rng.integers(0, m, (block, m))``
    (numpy's Generator gives the same numbers, and leaves the same state, as ``block``
    successive draws of ``m``: tested), turned into counts per account, and the margin and
    the accounts at risk of every draw are matrix products of the counts. A matrix product
    adds in another order than the row sums of :func:`_payback_months_of`, so its cumulative
    margin can differ in the last bits: a draw whose cumulative margin comes within a
    (generous) rounding bound of its CAC in some month is recomputed the original way, so
    every month is the one the loop would give."""
    m, months = margin.shape
    n_draws = len(cac_b)
    hits = np.full(n_draws, np.inf)
    if m == 0 or n_draws == 0:
        return hits
    alive = (age[:, None] >= np.arange(months)[None, :]).astype(float)
    size = np.abs(margin)
    block = max(1, min(n_draws, BLOCK_BYTES // (8 * m)))
    for start in range(0, n_draws, block):
        b = min(block, n_draws - start)
        picks = rng.integers(0, m, (b, m))
        flat = (picks + (np.arange(b) * m)[:, None]).ravel()
        counts = np.bincount(flat, minlength=b * m).reshape(b, m).astype(float)
        del flat
        at_risk = np.maximum(counts @ alive, 1)  # whole numbers: exact in any order
        cumulative = np.cumsum((counts @ margin) / at_risk, axis=1)
        # a bound on the rounding of either order of summation: under (m + months) * 2^-52
        # of the cumulative absolute margin, taken 4 times over (and never under 1e-9)
        slack = (
            max(1e-9, 4 * (m + months) * 2.0**-52) * np.cumsum((counts @ size) / at_risk, axis=1)
            + 1e-300
        )
        cac = cac_b[start : start + b, None]
        reached = cumulative >= cac
        first = np.where(reached.any(axis=1), reached.argmax(axis=1) + 1.0, np.inf)
        unsure = ~(np.abs(cumulative - cac) > slack).all(axis=1)
        for i in np.flatnonzero(unsure):
            first[i] = _payback_months_of(margin, age, picks[i], cac_b[start + i])
        hits[start : start + b] = first
    return hits
