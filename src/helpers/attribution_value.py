"""Conversions of a key action and the revenue after them: what attribution credits.

:func:`conversion_times` gives each lead's conversion (its intent date, its won date, or its
account's first completed order) up to an analysis date; :func:`revenue_after_conversion`
values each converted lead by its account's orders in the window after converting. Split from
:mod:`helpers.attribution` (the models and the study step), which re-exports both.

Assumptions: as stated per function. Both read the order lines in the data's engine
(:mod:`helpers.engine`; a pandas frame or an Ibis table, e.g. ``ds.engine_table``), so only
per-account or per-lead results come back to pandas; the engine adds each window's amounts in
its own order, so a sum can differ from the former pandas sum in the last bits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis
import numpy as np
import pandas as pd

from helpers import engine as engines
from helpers.attribution_paths import first_order_dates
from helpers.features import as_table, orders_table
from helpers.text_arrays import reindex

if TYPE_CHECKING:
    from helpers.loading import Dataset

ACTIONS: tuple[str, ...] = ("inquiry", "won", "first_order")
#: The order columns :func:`revenue_after_conversion` reads.
REVENUE_COLUMNS: tuple[str, ...] = ("account_id", "order_date", "net_amount", "status")


def conversion_times(ds: Dataset, action: str, as_of: pd.Timestamp | None = None) -> pd.Series:
    """Conversion timestamp per lead for the key action: ``"inquiry"`` (intent date),
    ``"won"`` (won date) or ``"first_order"`` (the converted account's first completed
    order, a per-account aggregate run in the data's engine); NaT when the lead did not
    convert, or converted after ``as_of`` (an analysis date earlier than the data's end must
    not see later conversions)."""
    column = {"inquiry": "intent_date", "won": "won_date", "first_order": "account_id"}.get(action)
    if column is None:
        raise ValueError(
            f"CONVERSION_ACTION must be 'inquiry', 'won' or 'first_order', got {action!r}"
        )
    # only the column needed is indexed: set_index on the whole leads table copied every column
    leads = ds["leads"][["lead_id", column]].set_index("lead_id")
    if action == "inquiry":
        times = leads["intent_date"]
    elif action == "won":
        times = leads["won_date"]
    else:
        ds.require("orders", purpose="this step")
        orders = orders_table(ds)  # scanned, not read
        times = leads["account_id"].map(first_order_dates(orders, ds.engine))
    return times.where(times <= as_of) if as_of is not None else times


def revenue_after_conversion(
    leads: pd.DataFrame,
    orders: object,
    conversion: pd.Series,
    as_of: pd.Timestamp,
    days: int = 365,
    engine: engines.Engine | str | None = None,
) -> pd.Series:
    """Value of each converted lead for revenue attribution (currency): net amount of its
    account's non-cancelled orders up to ``as_of`` in the ``days`` after the conversion
    (the conversion day included, from its midnight; the window ends before midnight of the
    ``days``-th day after it). Indexed by lead_id.

    Only conversions at least ``days`` old at ``as_of`` have their whole window in the data:
    younger ones (and any after ``as_of``) are NaN, so that channels with recent conversions are
    not credited with a fraction of a year; :func:`attribute` then credits revenue from the
    complete windows only. Leads that did not convert, or have no account, or whose account has
    no order in the window get 0. One year is the default because a B2B account's first year
    shows what the deal was worth without letting old accounts outweigh recent ones; an account
    won twice counts its orders for each lead.

    ``orders`` (:data:`REVENUE_COLUMNS`) is a pandas frame or an Ibis table; the windows are
    summed in the engine (``engine``; None: the one the frames carry, else DuckDB), so only
    one sum per converted lead comes back (:func:`_booked`).
    """
    # the leads' own ids as the index (Arrow text stays Arrow), named as the conversions'
    conv = reindex(conversion, leads["lead_id"]).rename_axis(conversion.index.name)
    # below on numpy arrays: the account of each lead is positional (conv.index *is* the
    # leads' ids in order, so the former reindex of the leads by it was), and a pandas
    # operation on a Series with a text index may build that index's hash table of Python
    # strings (numpy asking the Series for __array_interface__ looks the name up in the index)
    stamps = pd.DatetimeIndex(conv.to_numpy())
    day = stamps.normalize()
    known = stamps.notna()
    complete = known & np.asarray(day + pd.Timedelta(days=days) <= as_of)
    done = complete & leads["account_id"].notna().to_numpy()
    value = np.where(known & ~complete, np.nan, 0.0)
    if done.any():
        accounts = pd.Series(leads["account_id"].array[done])
        engine = engines.resolve(engine, orders, leads)
        value[done] = _booked(accounts, day[done].to_numpy(), orders, as_of, days, engine)
    value = pd.Series(value, index=conv.index)
    return value.rename("revenue")


def _booked(
    accounts: pd.Series,
    start: np.ndarray,
    orders: object,
    as_of: pd.Timestamp,
    days: int,
    engine: engines.Engine | str | None = None,
) -> np.ndarray:
    """Net amount of each (account, start day)'s non-cancelled orders up to ``as_of`` in the
    ``days`` from its start (one value per row of ``accounts``; currency; 0 without orders).

    The (account, start) pairs go to the engine as a small table numbered by row (a lead's
    account and conversion day: at 1M accounts some 10^5 rows), are joined there to the order
    lines of their accounts, and one sum per pair comes back: the order lines never reach
    pandas (the pandas join this replaces read the whole orders table, 12.9M lines at 1M
    accounts). Order dates are compared as timestamps, as the former join did: a line counts
    from the start's midnight (included) to ``start + days`` (excluded), and up to ``as_of``
    (included). A line with a missing status counts (it is not "cancelled"); missing amounts
    add nothing (a window of only missing amounts is 0, as a pandas sum)."""
    out = np.zeros(len(accounts))
    engine = engines.resolve(engine, orders)
    start = pd.DatetimeIndex(start).as_unit("ns")
    pairs = pd.DataFrame(
        {
            "pair": np.arange(len(accounts), dtype=np.int64),
            "account_id": accounts.array,
            "start": start,
            "stop": start + pd.Timedelta(days=days),
        }
    )
    windows = engines.memtable(pairs, list(pairs.columns))
    o = as_table(orders, REVENUE_COLUMNS, engine)
    o = o.select(
        "account_id",
        "net_amount",
        order_date=o.order_date.cast("timestamp"),
        counts=o.status.isnull() | (o.status != "cancelled"),
    )
    o = o.filter(o.counts, o.order_date <= ibis.literal(as_of.to_pydatetime(), type="timestamp"))
    j = windows.join(o, "account_id")
    j = j.filter(j.order_date >= j.start, j.order_date < j.stop)
    sums = engines.to_pandas(j.group_by("pair").aggregate(booked=j.net_amount.sum()), engine)
    booked = sums["booked"].astype(float).fillna(0.0).to_numpy()
    out[sums["pair"].to_numpy(dtype=np.int64)] = booked
    return out
