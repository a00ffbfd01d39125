"""Payback period per paid channel: the months until the margin of a channel's new customers
adds up to its cost per new customer (:func:`payback_months`), and its 95% bootstrap interval
(:func:`payback_interval`). Shown beside LTV:CAC by :func:`helpers.payback.ltv_cac`.

Months are 30.44 days since each account's acquisition; margin is the gross margin of its
non-cancelled orders up to the as-of date, averaged over the accounts old enough to have
reached each month (so young accounts do not pull the curve down). A channel that does not pay
back within ``max_months`` (36 by default) has NaN: "not within".

The order lines are read in the data's engine (:mod:`helpers.engine`): :func:`margin_months`
brings back one margin per account and month since acquisition, what both the payback and its
bootstrap (which resamples accounts) need; the engine adds an account-month's lines in its own
order, so a sum can differ from the former pandas sum in the last bits.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from helpers import engine as engines
from helpers.features import as_table

#: The order columns :func:`margin_months` reads.
ORDER_COLUMNS: tuple[str, ...] = ("account_id", "order_date", "gross_margin", "status")


@dataclass(frozen=True)
class MarginMonths:
    """The gross margin of the non-cancelled order lines up to ``as_of`` by account and month
    since acquisition (months 0 to ``max_months`` - 1), computed once for
    :func:`payback_months` and :func:`payback_interval` (:func:`margin_months`).

    ``accounts`` is the accounts table indexed by account_id; one entry per (account, month)
    with lines, in no particular order (the engine's): ``account`` its account's row position
    in ``accounts`` (int32), ``k`` (int32) the whole months (30.44 days) from the acquisition
    to the orders, ``margin`` the sum of their gross margin (currency; a missing margin adds
    nothing)."""

    accounts: pd.DataFrame
    account: np.ndarray
    k: np.ndarray
    margin: np.ndarray
    as_of: pd.Timestamp
    max_months: int = 36


def margin_months(
    orders: object,
    accounts: pd.DataFrame,
    as_of: pd.Timestamp,
    max_months: int = 36,
    engine: engines.Engine | str | None = None,
) -> MarginMonths:
    """The :class:`MarginMonths` of ``orders`` (:data:`ORDER_COLUMNS`; a pandas frame or an
    Ibis table) and ``accounts`` (account_id, acquired_date, acquisition_channel) up to
    ``as_of``, aggregated in the engine (``engine``; None: the one the frames carry, else
    DuckDB): the accounts' acquisition dates and row positions go there as a small table, and
    one sum per (account, month) comes back, never the order lines (12.9M at 1M accounts,
    which the per-line lookup this replaces read into pandas).

    Days since acquisition are whole days, floored (pandas' ``Timedelta.days``); months are
    ``days // 30.44`` as pandas computes it (:func:`_months_expr`). Lines before the
    acquisition, from month ``max_months`` on, and of accounts not in ``accounts`` are left out
    (none of them counts towards a payback)."""
    acc = accounts.set_index("account_id")
    if acc.empty:  # no account to add up for
        none = np.zeros(0, dtype=np.int32)
        return MarginMonths(acc, none, none, np.zeros(0), as_of, max_months)
    engine = engines.resolve(engine, orders, accounts)
    known = pd.DataFrame(
        {
            "account_id": acc.index.array,  # Arrow text stays Arrow
            "row": np.arange(len(acc), dtype=np.int64),
            "acquired": acc["acquired_date"].to_numpy(),
        }
    )
    o = as_table(orders, ORDER_COLUMNS, engine)
    day = ibis.literal(pd.Timestamp(as_of).to_pydatetime(), type="timestamp")
    o = o.select(
        "account_id",
        "gross_margin",
        order_date=o.order_date.cast("timestamp"),
        counts=o.status.isnull() | (o.status != "cancelled"),
    )
    o = o.filter(o.counts, o.order_date <= day)
    j = o.join(engines.memtable(known, list(known.columns)), "account_id")
    # whole days, floored; a float numerator (Spark reads a decimal literal as a DECIMAL)
    seconds = j.order_date.epoch_seconds() - j.acquired.cast("timestamp").epoch_seconds()
    j = j.mutate(days=(seconds.cast("float64") / 86400).floor().cast("float64"))
    j = j.filter(j.days >= 0)
    j = j.mutate(k=_months_expr(j.days))
    j = j.filter(j.k < max_months)
    # one integer key per (account, month): grouped on the two columns, DuckDB ran out of its
    # 512 MB cap at 1M accounts (~7M groups with their sums); on one BIGINT key it does not
    j = j.mutate(key=j.row * max_months + j.k)
    sums = j.group_by("key").aggregate(margin=j.gross_margin.sum())
    # streamed (engines.to_batches) as numpy columns straight from Arrow (no frame, no sort:
    # the callers' sums do not depend on the entries' order, :func:`_margin_by_month`)
    parts = [
        (_column(batch, "key", 0).astype(np.int64, copy=False), _column(batch, "margin", 0.0))
        for batch in engines.to_batches(sums, engine)
    ]
    key = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    margin = np.concatenate([p[1] for p in parts]).astype(float) if parts else np.zeros(0)
    # narrow integers (at 1M accounts some 7M entries: 115 MB instead of 170 MB)
    account = (key // max_months).astype(np.int32)
    k = (key % max_months).astype(np.int32)
    return MarginMonths(
        accounts=acc, account=account, k=k, margin=margin, as_of=as_of, max_months=max_months
    )


def _column(batch: pa.RecordBatch, name: str, missing: float) -> np.ndarray:
    """Column ``name`` of an engine result batch as numpy, missing values as ``missing``."""
    return pc.fill_null(batch.column(name), missing).to_numpy(zero_copy_only=False)


def _months_expr(days: ibis.Value) -> ibis.Value:
    """Whole months of 30.44 days in ``days`` (whole, >= 0; float64) exactly as the former
    pandas ``days // 30.44``: the float 30.44 is a little more than 30.44 (by 1.3e-15), so at
    exact multiples of 30.44 days (761, 1522, ...) numpy's floor division gives one month
    less than ``floor(days / 30.44)`` would (24, not 25, at 761 days). In whole numbers that
    is ``floor((100 * days - 1) / 3044)`` from one day on (its numerator is odd and 3044
    even, so the quotient is never a whole number and the floor of a float division is exact)
    and 0 at day 0. Tested against numpy over 0..200,000 days."""
    months = ((days * 100 - 1) / 3044).floor()
    return ibis.greatest(months, 0).cast("int64")


def payback_months(
    orders: object,
    accounts: pd.DataFrame,
    costs: pd.DataFrame,
    as_of: pd.Timestamp,
    max_months: int = 36,
    *,
    months: MarginMonths | None = None,
) -> pd.Series:
    """Months until the average new customer's cumulative gross margin covers the CAC.

    Month ``k`` after acquisition averages the margin of all accounts acquired at least ``k``
    months before ``as_of`` (churned ones count with 0), so it includes churn. NaN: not within
    ``max_months``. ``orders`` is a pandas frame or an Ibis table (:data:`ORDER_COLUMNS`);
    ``months``: :func:`margin_months` of the same arguments, when already made.
    """
    months = _months_of(months, orders, accounts, as_of, max_months)
    acc = months.accounts
    channel = acc["acquisition_channel"]
    out = {}
    for ch, row in costs[costs["paid"]].iterrows():
        is_mine = (channel == ch).to_numpy()
        mine = acc[is_mine]
        if mine.empty or not np.isfinite(row["cac"]):
            continue
        age = ((as_of - mine["acquired_date"]).dt.days // 30.44).astype(int)
        # the channel's margin per month since acquisition: its accounts' sums added up in
        # the accounts' order (whatever order the engine gave them in)
        margin = _margin_by_month(months, np.flatnonzero(is_mine), max_months).sum(axis=0)
        at_risk = np.array([(age >= k).sum() for k in range(max_months)])
        per_month = margin / np.maximum(at_risk, 1)
        cumulative = np.cumsum(per_month)
        hit = np.flatnonzero(cumulative >= row["cac"])
        out[ch] = float(hit[0] + 1) if len(hit) else float("nan")
    return pd.Series(out, name="payback_months", dtype=float)


def _months_of(
    months: MarginMonths | None,
    orders: object,
    accounts: pd.DataFrame,
    as_of: pd.Timestamp,
    max_months: int,
) -> MarginMonths:
    """``months`` when given (it must reach ``max_months``), else :func:`margin_months`."""
    if months is None:
        return margin_months(orders, accounts, as_of, max_months)
    if months.max_months < max_months:
        raise ValueError(
            f"the margin months reach month {months.max_months}, not {max_months}: make them "
            "with the same max_months"
        )
    return months


def _margin_by_month(months: MarginMonths, rows: np.ndarray, max_months: int) -> np.ndarray:
    """Gross margin of the accounts at ``rows`` (row positions in ``months.accounts``, in
    order) per month since acquisition (0 to ``max_months`` - 1) as a dense array (accounts
    without lines 0): the former per-account ``pivot_table`` of the lines, one channel's
    accounts at a time."""
    local = np.full(len(months.accounts), -1, dtype=np.int64)
    local[rows] = np.arange(len(rows))
    inside = (local[months.account] >= 0) & (months.k < max_months)
    dense = np.zeros((len(rows), max_months))
    dense[local[months.account[inside]], months.k[inside]] = months.margin[inside]
    return dense


def payback_interval(
    orders: object,
    accounts: pd.DataFrame,
    costs: pd.DataFrame,
    as_of: pd.Timestamp,
    max_months: int = 36,
    n_draws: int = 500,
    seed: int = 42,
    *,
    months: MarginMonths | None = None,
) -> pd.DataFrame:
    """95% interval of :func:`payback_months` per paid channel (``payback_low``,
    ``payback_high``, months): each draw resamples the channel's accounts (with their margin
    by month since acquisition) and its won count (as in :func:`ltv_cac_ratios`). A draw that
    does not pay back within ``max_months`` counts as never; an end of the interval beyond
    ``max_months`` is NaN ("not within"). ``orders`` is a pandas frame or an Ibis table
    (:data:`ORDER_COLUMNS`); ``months``: :func:`margin_months` of the same arguments, when
    already made."""
    rng = np.random.default_rng(seed)
    months = _months_of(months, orders, accounts, as_of, max_months)
    acc = months.accounts
    rows = {}
    for ch, row in costs[costs["paid"]].iterrows():
        is_mine = (acc["acquisition_channel"] == ch).to_numpy()
        mine = acc[is_mine]
        if mine.empty or not np.isfinite(row["cac"]):
            continue
        margin = _margin_by_month(months, np.flatnonzero(is_mine), max_months)
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
