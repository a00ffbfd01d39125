"""Purchasing: renewal orders of every account, split into order lines, with the warts.

Orders follow a gamma renewal process (shape ``ORDER_GAP_SHAPE``) at the archetype's mean gap
(days) from the acquisition day until the account's lifetime or the window ends; the final
order of an account whose lifetime ends in the window is placed exactly at its lifetime.
Amounts are in currency, log-normal around the archetype's median with an account-level
factor; growing accounts gain ``GROWTH_PER_YEAR`` a year. Warts: cancelled orders, returned
lines (negative amounts, 7-40 days later) and one month of lines moved to the end of the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from helpers.demo.accounts import Accounts
from helpers.demo.arrays import Numbering, positions_in_groups, to_dates
from helpers.demo.parameters import (
    ARCHETYPE_PARAMS,
    ARCHETYPES,
    CANCEL_SHARE,
    CATEGORIES,
    CATEGORY_PRICE,
    GROWTH_PER_YEAR,
    LATE_MONTH,
    ORDER_GAP_SHAPE,
    PRICE_INSENSITIVE_MARGIN,
    RETURN_SHARE,
)


@dataclass(frozen=True)
class Buying:
    """Per-account buying habits (arrays over accounts).

    ``gap`` mean days between orders, ``value`` median order value (currency), ``sigma`` sd of
    log order value, ``margin`` margin rate 0-1, ``level`` the account's own value factor,
    ``n_cat`` how many categories it buys and ``cat_rank`` its categories in preference order.
    """

    gap: np.ndarray
    value: np.ndarray
    sigma: np.ndarray
    margin: np.ndarray
    level: np.ndarray
    n_cat: np.ndarray
    cat_rank: np.ndarray


@dataclass(frozen=True)
class Orders:
    """Orders sorted by account then time: account index, day offset, amount, cancelled.

    ``t`` is days since the account's acquisition; ``final`` (over accounts) marks accounts
    whose lifetime ends in the window, so their last order is the final one.
    """

    account: np.ndarray
    t: np.ndarray
    day: np.ndarray
    amount: np.ndarray
    cancelled: np.ndarray
    final: np.ndarray


@dataclass(frozen=True)
class Lines:
    """Order lines (arrays over lines): order index, line number in the order, values.

    ``amount`` and ``margin`` are currency (rounded to cents), ``quantity`` whole units.
    """

    order: np.ndarray
    number: np.ndarray
    account: np.ndarray
    day: np.ndarray
    amount: np.ndarray
    margin: np.ndarray
    quantity: np.ndarray
    category: np.ndarray
    status: np.ndarray


@dataclass(frozen=True)
class Purchases:
    """What ``truth.json`` needs from one piece of the purchasing, to add up over chunks.

    ``revenue`` is each account's net revenue (currency: completed lines minus returns,
    cancelled excluded), in account order; the rest are counts of rows and orders; the last
    ``n_late`` rows of the piece's table are the late-arriving month.
    """

    revenue: np.ndarray
    n_orders: int
    n_rows: int
    n_returned: int
    n_cancelled: int
    n_late: int


@dataclass(frozen=True)
class Returns:
    """Returned lines: index of the returned line, return day offset, returned share 0.3-1."""

    line: np.ndarray
    day: np.ndarray
    fraction: np.ndarray


def _buying(rng: np.random.Generator, accounts: Accounts) -> Buying:
    """Archetype parameters per account, its value level and its own few categories."""
    arch = accounts.archetype
    params = [ARCHETYPE_PARAMS[a] for a in ARCHETYPES]
    margin = (
        np.array([p["margin"] for p in params])[arch]
        + PRICE_INSENSITIVE_MARGIN * accounts.insensitive
    )
    breadth = np.array([p["breadth"] for p in params])[arch]
    level = np.exp(np.array([p["level"] for p in params])[arch] * rng.standard_normal(accounts.n))
    # Each account buys from its own few categories.
    n_cat = np.clip(1 + rng.poisson(breadth - 1), 1, len(CATEGORIES))
    cat_pref = rng.random((accounts.n, len(CATEGORIES)))
    cat_rank = np.argsort(cat_pref, axis=1)  # the first n_cat columns are the account's categories
    return Buying(
        gap=np.array([p["gap"] for p in params])[arch],
        value=np.array([p["value"] for p in params])[arch],
        sigma=np.array([p["sigma"] for p in params])[arch],
        margin=margin,
        level=level,
        n_cat=n_cat,
        cat_rank=cat_rank,
    )


def _order_times(
    rng: np.random.Generator, accounts: Accounts, gap: np.ndarray, window: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order times: (account index, days since acquisition, accounts whose final order falls).

    Every account orders on its acquisition day; renewal orders fall strictly between that and
    the final order (or the window's end); accounts whose lifetime ends in the window order a
    last time at their lifetime. Enough gaps are drawn per account to pass its span.
    """
    acq, lifetime, n_acc = accounts.acquired, accounts.lifetime, accounts.n
    end = np.minimum(acq + lifetime, window)  # last possible day of an order in the export
    span = end - acq
    # Renewal orders strictly between acquisition and the final order (or the window's end).
    n_draw = np.ceil(span / gap * 1.4 + 6).astype(np.int64)
    owner = np.repeat(np.arange(n_acc), n_draw)
    gaps = rng.gamma(ORDER_GAP_SHAPE, gap[owner] / ORDER_GAP_SHAPE)
    csum = np.cumsum(gaps)
    group_start = np.repeat(np.cumsum(n_draw) - n_draw, n_draw)
    before = np.concatenate([[0.0], csum])[group_start]
    t = np.ceil(csum - before)
    keep = t < span[owner]
    order_acc = np.concatenate([np.arange(n_acc), owner[keep]])
    order_t = np.concatenate([np.zeros(n_acc), t[keep]])
    final = acq + lifetime <= window
    order_acc = np.concatenate([order_acc, np.flatnonzero(final)])
    order_t = np.concatenate([order_t, lifetime[final]])
    sort = np.lexsort((order_t, order_acc))
    return order_acc[sort], order_t[sort], final


def _orders(rng: np.random.Generator, accounts: Accounts, buying: Buying, window: int) -> Orders:
    """Orders with their amounts (currency) and the cancelled ones.

    Amount = median value x account level x growth x log-normal noise. ``CANCEL_SHARE`` of
    orders are cancelled, never the first nor the final one (they define the lifetime).
    """
    order_acc, order_t, final = _order_times(rng, accounts, buying.gap, window)
    n_orders = len(order_acc)
    years = order_t / 365.25
    growth = np.where(accounts.growing[order_acc], (1 + GROWTH_PER_YEAR) ** years, 1.0)
    amount = (
        buying.value[order_acc]
        * buying.level[order_acc]
        * growth
        * np.exp(buying.sigma[order_acc] * rng.standard_normal(n_orders))
    )
    cancelled = rng.random(n_orders) < CANCEL_SHARE
    # The first and the final order are never cancelled: they define the observed lifetime.
    first = np.r_[True, order_acc[1:] != order_acc[:-1]]
    last = np.r_[order_acc[1:] != order_acc[:-1], True]
    cancelled &= ~first & ~(last & final[order_acc])
    day = accounts.acquired[order_acc] + order_t
    return Orders(order_acc, order_t, day, amount, cancelled, final)


def _lines(rng: np.random.Generator, orders: Orders, buying: Buying) -> Lines:
    """Split each order into 1..n_cat lines, each in one of the account's categories.

    The order amount is shared by gamma(2) weights; margins vary by 3 points around the
    account's rate (clipped to 0-0.9); unit prices are the category price x log-normal(0.2).
    """
    n_orders = len(orders.account)
    n_cat = buying.n_cat
    n_lines = np.minimum(1 + rng.poisson(0.8, n_orders), n_cat[orders.account])
    line_order = np.repeat(np.arange(n_orders), n_lines)
    line_no = positions_in_groups(n_lines)
    line_acc = orders.account[line_order]
    pick = (line_no + rng.integers(0, 8, n_orders)[line_order]) % n_cat[line_acc]
    category = buying.cat_rank[line_acc, pick]
    share = rng.gamma(2.0, 1.0, len(line_order))
    share /= np.bincount(line_order, weights=share)[line_order]
    line_amount = np.round(orders.amount[line_order] * share, 2)
    line_margin_rate = np.clip(
        buying.margin[line_acc] + 0.03 * rng.standard_normal(len(line_order)), 0, 0.9
    )
    unit_price = np.array(CATEGORY_PRICE)[category] * np.exp(
        0.2 * rng.standard_normal(len(line_order))
    )
    return Lines(
        order=line_order,
        number=line_no,
        account=line_acc,
        day=orders.day[line_order],
        amount=line_amount,
        margin=np.round(line_amount * line_margin_rate, 2),
        quantity=np.maximum(np.round(line_amount / unit_price), 1.0),
        category=category,
        status=np.where(orders.cancelled[line_order], "cancelled", "completed"),
    )


def _returns(rng: np.random.Generator, lines: Lines, window: int) -> Returns:
    """``RETURN_SHARE`` of completed lines come back 7-40 days later (if before the cut-off)."""
    ret = (lines.status == "completed") & (rng.random(len(lines.order)) < RETURN_SHARE)
    ret_day = lines.day[ret] + rng.integers(7, 41, ret.sum())
    ok = ret_day <= window
    ret_idx = np.flatnonzero(ret)[ok]
    ret_frac = rng.uniform(0.3, 1.0, len(ret_idx))
    return Returns(ret_idx, ret_day[ok], ret_frac)


def _block(
    prefix: str, lines: Lines, n_orders: int, n_accounts: int, numbering: Numbering
) -> pa.Table:
    """Lines as ``orders`` contract rows; order ids are ``prefix`` + the order number."""
    return pa.table(
        {
            "order_id": numbering.ids("order", prefix, lines.order, n_orders),
            "line_number": pa.array(lines.number + 1, type=pa.int64()),
            "account_id": numbering.ids("account", "A", lines.account, n_accounts),
            "order_date": pa.array(to_dates(lines.day)),
            "net_amount": pa.array(lines.amount),
            "gross_margin": pa.array(lines.margin),
            "quantity": pa.array(lines.quantity),
            "product_category": pa.array(np.array(CATEGORIES)[lines.category]),
            "status": pa.array(lines.status),
        }
    )


def _returned_lines(lines: Lines, returns: Returns) -> Lines:
    """The negative lines that returns add: share ``fraction`` of amount, margin and quantity."""
    i, frac = returns.line, returns.fraction
    return Lines(
        order=lines.order[i],
        number=lines.number[i],
        account=lines.account[i],
        day=returns.day,
        amount=-np.round(lines.amount[i] * frac, 2),
        margin=-np.round(lines.margin[i] * frac, 2),
        quantity=np.maximum(np.round(lines.quantity[i] * frac), 1.0),
        category=lines.category[i],
        status=np.full(len(i), "returned"),
    )


def _revenue(lines: Lines, returns: Returns, n_acc: int) -> np.ndarray:
    """Net revenue per account (currency): completed lines minus returns, cancelled excluded."""
    completed = lines.status == "completed"
    revenue = np.bincount(
        lines.account[completed], weights=lines.amount[completed], minlength=n_acc
    )
    revenue -= np.bincount(
        lines.account[returns.line],
        weights=lines.amount[returns.line] * returns.fraction,
        minlength=n_acc,
    )
    return revenue


def realised_purchasing(pieces: list[Purchases]) -> dict[str, Any]:
    """Realised purchasing figures for ``truth.json`` over the pieces of the company.

    Tests compare them exactly with the data; the pieces are in account order.
    """
    revenue = pieces[0].revenue if len(pieces) == 1 else np.concatenate([p.revenue for p in pieces])
    ranked = np.sort(revenue)[::-1]
    top = int(np.ceil(0.2 * len(revenue)))
    return {
        "top20_revenue_share": round(float(ranked[:top].sum() / ranked.sum()), 4),
        "revenue_definition": "net_amount of completed and returned lines (cancelled excluded), "
        "per account, over the whole export; top 20% = ceil(0.2 * accounts) largest",
        "n_order_lines": sum(p.n_rows for p in pieces),
        "n_returned_lines": sum(p.n_returned for p in pieces),
        "n_cancelled_lines": sum(p.n_cancelled for p in pieces),
        "late_month_rows": sum(p.n_late for p in pieces),
    }


def orders_table(
    rng: np.random.Generator, accounts: Accounts, window: int, numbering: Numbering
) -> tuple[pa.Table, Purchases]:
    """The ``orders`` contract table and what ``truth.json``'s purchasing figures need.

    Rows are sorted by date (returns after the lines of their day), then the lines of
    ``LATE_MONTH`` are moved to the end of the table (they arrived late). Order and account
    ids are numbered by ``numbering``.
    """
    buying = _buying(rng, accounts)
    orders = _orders(rng, accounts, buying, window)
    lines = _lines(rng, orders, buying)
    returns = _returns(rng, lines, window)
    n_orders = len(orders.account)
    table = pa.concat_tables(
        [
            _block("O", lines, n_orders, accounts.n, numbering),
            _block("R", _returned_lines(lines, returns), n_orders, accounts.n, numbering),
        ]
    )
    # Sort by date, then move one month's lines to the end (they arrived late).
    days_all = np.concatenate([lines.day, returns.day])
    month_all = to_dates(days_all).astype("datetime64[M]")
    late = month_all == np.datetime64(LATE_MONTH)
    position = np.lexsort((np.arange(len(days_all)), days_all, late))
    table = table.take(pa.array(position))
    return table, Purchases(
        revenue=_revenue(lines, returns, accounts.n),
        n_orders=n_orders,
        n_rows=table.num_rows,
        n_returned=len(returns.line),
        n_cancelled=int((lines.status == "cancelled").sum()),
        n_late=int(late.sum()),
    )
