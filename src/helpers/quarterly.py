"""Quarterly series for the leadership trends: churn, acquisition cost and revenue concentration
per calendar quarter, each over the last complete quarters before the analysis date.

Every quarter's value uses only data dated on or before that quarter's last day (an order, a
won deal or a spend month after it never changes it), so a quarter reads the same whether the
analysis date is its last day or years later. A quarter is *complete* when its last day is on
or before the analysis date. Series are ``{"2025Q1": value, ...}`` in time order (pandas
period labels, :func:`helpers.formats.period` writes them as "2025 Q1").

- :func:`churn_by_quarter`: of the accounts *active* at a quarter's first day (a completed
  order on or before it, the last one less than ``threshold_days`` before it), the share whose
  silence reached ``threshold_days`` during the quarter (no completed order for
  ``threshold_days`` days after their last one, the day it was reached being in the quarter).
  The churn study's definition of churn (silence beyond its threshold), dated when it happened.
- :func:`cac_by_quarter`: paid channels' spend in the quarter's months divided by the deals
  of paid channels won in the quarter (currency per new customer). By the won date, not the
  lead's creation, so leads still open after the quarter do not change it.
- :func:`top_share_by_quarter`: the share of a quarter's revenue (completed lines net of
  returns, negative accounts counted as 0) held by the top ``top`` share of the accounts that
  had an order line in the quarter (as :func:`helpers.segmentation.concentration`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.steps import Skipped

#: Quarters in a series (two years).
QUARTERS = 8


def complete_quarters(as_of: pd.Timestamp, n: int = QUARTERS) -> pd.PeriodIndex:
    """The last ``n`` calendar quarters whose last day is on or before ``as_of``."""
    as_of = pd.Timestamp(as_of).normalize()
    last = pd.Period(as_of, freq="Q")
    if last.end_time.normalize() > as_of:
        last -= 1
    return pd.period_range(end=last, periods=n, freq="Q")


def _series(values: pd.Series) -> dict[str, float]:
    return {str(q): float(v) for q, v in values.items() if np.isfinite(v)}


def churn_by_quarter(
    orders: pd.DataFrame, threshold_days: int, as_of: pd.Timestamp, n: int = QUARTERS
) -> dict[str, float] | Skipped:
    """Churn per quarter (share 0-1, see module docstring) for the last ``n`` complete
    quarters; a quarter without active accounts is left out. Skipped when no quarter has
    active accounts (too short a history)."""
    # on integer account codes and day numbers (ns): 8 quarters of group-bys on the id texts
    # took ~2 s at 100k accounts; the same counts, so the same shares (test: the pandas version)
    done = orders.loc[orders["status"] == "completed", ["account_id", "order_date"]]
    day = done["order_date"].dt.normalize()
    keep = (day <= pd.Timestamp(as_of)).to_numpy()  # NaT dates are left out
    # factorized as the column is (Arrow text: in Arrow, without a Python string per line, ~1 GB
    # at 1M accounts), then cut to the kept lines: accounts with no kept line are never active,
    # so the numbering changes no count
    code = pd.factorize(done["account_id"])[0][keep]
    days = day.to_numpy("datetime64[ns]")[keep].view("i8")
    known = code >= 0  # a missing account id belongs to no account
    code, days = code[known], days[known]
    order = np.lexsort((days, code))
    code, days = code[order], days[order]
    distinct = np.ones(len(code), dtype=bool)  # one row per account and purchase day
    distinct[1:] = (code[1:] != code[:-1]) | (days[1:] != days[:-1])
    code, days = code[distinct], days[distinct]
    threshold = pd.Timedelta(days=int(threshold_days)).value
    # the day an account's silence reached the threshold after this purchase day (none when it
    # bought again in time); whether a later purchase came in time is known on that very day
    again = np.zeros(len(code), dtype=bool)
    again[:-1] = (code[1:] == code[:-1]) & (days[1:] - days[:-1] <= threshold)
    never = np.iinfo(np.int64).min
    reached = np.where(again, never, days + threshold)
    n_accounts = int(code.max()) + 1 if len(code) else 0
    out = {}
    for quarter in complete_quarters(as_of, n):
        start = quarter.start_time.normalize().value
        end = quarter.end_time.normalize().value
        before = days <= start
        last = np.full(n_accounts, never, dtype=np.int64)
        np.maximum.at(last, code[before], days[before])
        active = last > start - threshold  # bought less than threshold before the start
        n_active = int(active.sum())
        if not n_active:
            continue
        hit = active[code] & (reached > start) & (reached <= end)
        churned = int(np.count_nonzero(np.bincount(code[hit], minlength=n_accounts)))
        out[str(quarter)] = churned / n_active
    if not out:
        return Skipped(
            "no account was active at the start of any of the last complete quarters",
            "a quarterly churn series needs two years of orders",
        )
    return out


def cac_by_quarter(
    leads: pd.DataFrame,
    spend: pd.DataFrame,
    channel: pd.Series,
    as_of: pd.Timestamp,
    n: int = QUARTERS,
) -> dict[str, float] | Skipped:
    """Acquisition cost per quarter (currency per new customer, see module docstring) for the
    last ``n`` complete quarters: ``spend`` (``channel``, ``month``, ``spend``) of the quarter
    over the ``leads`` with a ``won_date`` in it whose source ``channel`` (aligned with
    ``leads``) has spend rows. A quarter without spend or without a won deal is left out.
    Skipped when no quarter has both."""
    paid = set(spend["channel"])
    won = leads.loc[channel.isin(paid) & leads["won_date"].notna(), "won_date"]
    won_by_quarter = won.dt.to_period("Q").value_counts()
    spend_by_quarter = spend.groupby(spend["month"].dt.to_period("Q"))["spend"].sum()
    quarters = complete_quarters(as_of, n)
    customers = won_by_quarter.reindex(quarters, fill_value=0).astype(float)
    cost = spend_by_quarter.reindex(quarters, fill_value=0.0)
    out = _series((cost / customers.where(customers > 0)).where(cost > 0))
    if not out:
        return Skipped(
            "no recent complete quarter has both paid spend and a won deal",
            "a quarterly CAC needs spend and won deals in the last two years",
        )
    return out


def top_share_by_quarter(
    orders: pd.DataFrame, as_of: pd.Timestamp, top: float = 0.20, n: int = QUARTERS
) -> dict[str, float] | Skipped:
    """Revenue share (0-1) of the top ``top`` share of accounts per quarter (see module
    docstring) for the last ``n`` complete quarters; a quarter with fewer than two accounts or
    no positive revenue is left out. Skipped when every quarter is.

    Only the lines of those quarters are grouped, by one integer per (quarter, account): the
    accounts' codes from a factorization of their ids (Arrow's, for Arrow text) rather than
    pandas grouping 10^7 id texts with the quarters. pandas sums each group's lines in their
    order either way, and a quarter's sums are then sorted by value, so the shares are the
    same as grouping by quarter and account id.
    """
    quarters = complete_quarters(as_of, n)
    date = orders["order_date"].to_numpy()
    first = quarters[0].start_time.to_datetime64()
    rows = np.flatnonzero(
        orders["status"].isin(["completed", "returned"]).to_numpy()
        & (date <= pd.Timestamp(as_of).to_datetime64())
        & (date >= first)
    )
    account, ids = pd.factorize(orders["account_id"].array.take(rows))
    quarter = pd.Series(date[rows]).dt.to_period("Q").array.asi8
    keep = account >= 0  # a line without an account: pandas leaves it out of every group
    width = max(len(ids), 1)
    key = quarter[keep].astype(np.int64) * width + account[keep]
    sums = pd.Series(orders["net_amount"].to_numpy()[rows][keep]).groupby(key).sum()
    of_quarter = sums.index.to_numpy() // width
    out = {}
    for q in quarters:
        chosen = of_quarter == q.ordinal
        if not chosen.any():
            continue
        r = np.sort(pd.Series(sums.to_numpy()[chosen]).clip(lower=0).to_numpy())[::-1]
        if len(r) < 2 or r.sum() <= 0:
            continue
        out[str(q)] = float(r[: int(np.ceil(top * len(r)))].sum() / r.sum())
    if not out:
        return Skipped(
            "no recent complete quarter has revenue from two accounts",
            "a quarterly concentration series needs orders in the last two years",
        )
    return out
