"""Payback period per paid channel: the months until the margin of a channel's new customers
adds up to its cost per new customer (:func:`payback_months`), and its 95% bootstrap interval
(:func:`payback_interval`). Shown beside LTV:CAC by :func:`helpers.payback.ltv_cac`.

Months are 30.44 days since each account's acquisition; margin is the gross margin of its
non-cancelled orders up to the as-of date, averaged over the accounts old enough to have
reached each month (so young accounts do not pull the curve down). A channel that does not pay
back within ``max_months`` (36 by default) has NaN: "not within".
"""

from __future__ import annotations

import numpy as np
import pandas as pd


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


def payback_interval(
    orders: pd.DataFrame,
    accounts: pd.DataFrame,
    costs: pd.DataFrame,
    as_of: pd.Timestamp,
    max_months: int = 36,
    n_draws: int = 500,
    seed: int = 42,
) -> pd.DataFrame:
    """95% interval of :func:`payback_months` per paid channel (``payback_low``,
    ``payback_high``, months): each draw resamples the channel's accounts (with their margin
    by month since acquisition) and its won count (as in :func:`ltv_cac_ratios`). A draw that
    does not pay back within ``max_months`` counts as never; an end of the interval beyond
    ``max_months`` is NaN ("not within")."""
    rng = np.random.default_rng(seed)
    acc = accounts.set_index("account_id")
    o = orders[(orders["status"] != "cancelled") & (orders["order_date"] <= as_of)]
    o = o.join(acc[["acquired_date"]], on="account_id")
    o = o.assign(k=((o["order_date"] - o["acquired_date"]).dt.days // 30.44).astype(int))
    o = o[(o["k"] >= 0) & (o["k"] < max_months)]
    by_month = o.pivot_table(
        index="account_id", columns="k", values="gross_margin", aggfunc="sum", fill_value=0.0
    ).reindex(columns=range(max_months), fill_value=0.0)
    rows = {}
    for ch, row in costs[costs["paid"]].iterrows():
        mine = acc[acc["acquisition_channel"] == ch]
        if mine.empty or not np.isfinite(row["cac"]):
            continue
        margin = by_month.reindex(mine.index, fill_value=0.0).to_numpy(float)
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
