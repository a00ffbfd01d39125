"""Conversions of a key action and the revenue after them: what attribution credits.

:func:`conversion_times` gives each lead's conversion (its intent date, its won date, or its
account's first completed order) up to an analysis date; :func:`revenue_after_conversion`
values each converted lead by its account's orders in the window after converting. Split from
:mod:`helpers.attribution` (the models and the study step), which re-exports both.

Assumptions: as stated per function; account ids are matched as text (Arrow text by integer
codes, anything else by a pandas join on the ids), each sum adding the same floats in the same
order either way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from helpers.attribution_codes import as_arrow_text, reindex
from helpers.attribution_paths import first_order_dates
from helpers.text_arrays import is_text_type

if TYPE_CHECKING:
    from helpers.loading import Dataset

ACTIONS: tuple[str, ...] = ("inquiry", "won", "first_order")


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
        times = leads["account_id"].map(first_order_dates(ds["orders"], ds.engine))
    return times.where(times <= as_of) if as_of is not None else times


def revenue_after_conversion(
    leads: pd.DataFrame,
    orders: pd.DataFrame,
    conversion: pd.Series,
    as_of: pd.Timestamp,
    days: int = 365,
) -> pd.Series:
    """Value of each converted lead for revenue attribution (currency): net amount of its
    account's non-cancelled orders in the ``days`` after the conversion (conversion day
    included). Indexed by lead_id.

    Only conversions at least ``days`` old at ``as_of`` have their whole window in the data:
    younger ones (and any after ``as_of``) are NaN, so that channels with recent conversions are
    not credited with a fraction of a year; :func:`attribute` then credits revenue from the
    complete windows only. Leads that did not convert, or have no account, get 0. One year is
    the default because a B2B account's first year shows what the deal was worth without
    letting old accounts outweigh recent ones; an account won twice counts its orders for
    each lead.
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
        value[done] = _booked(accounts, day[done].to_numpy(), orders, as_of, days)
    value = pd.Series(value, index=conv.index)
    return value.rename("revenue")


def _booked(
    accounts: pd.Series, start: np.ndarray, orders: pd.DataFrame, as_of: pd.Timestamp, days: int
) -> np.ndarray:
    """Net amount of each (account, start day)'s non-cancelled orders up to ``as_of`` in the
    ``days`` from its start (one value per row of ``accounts``; currency).

    The accounts are matched by integer codes (Arrow ``index_in`` of the order lines' account
    ids in the accounts'), then joined by pandas on those codes: the join pairs the same rows in
    the same order as the former join on the text (12.9M order lines at 1M accounts), so each
    sum adds the same floats in the same order. Non-text account ids take
    :func:`_booked_by_text`, the former join itself."""
    ids, lines = as_arrow_text(accounts), as_arrow_text(orders["account_id"])
    if not (is_text_type(ids.type) and is_text_type(lines.type)):
        return _booked_by_text(accounts, start, orders, as_of, days)
    known = pc.unique(ids.combine_chunks())
    found = pc.index_in(lines, value_set=known.cast(lines.type))  # null: no account asked for
    key = pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    keep = ((orders["status"] != "cancelled") & (orders["order_date"] <= as_of)).to_numpy()
    keep &= key >= 0
    pairs = pd.DataFrame(
        {
            "pair": np.arange(len(accounts)),
            "key": pc.index_in(ids, value_set=known)
            .to_numpy(zero_copy_only=False)
            .astype(np.int64),
            "start": start,
        }
    )
    o = pd.DataFrame(
        {
            "key": key[keep],
            "order_date": orders["order_date"].to_numpy()[keep],
            "net_amount": orders["net_amount"].to_numpy()[keep],
        }
    )
    m = pairs.merge(o, on="key")
    inside = (m["order_date"] >= m["start"]) & (
        m["order_date"] < m["start"] + pd.Timedelta(days=days)
    )
    booked = m[inside].groupby("pair")["net_amount"].sum()
    return booked.reindex(pairs["pair"], fill_value=0.0).to_numpy()


def _booked_by_text(
    accounts: pd.Series, start: np.ndarray, orders: pd.DataFrame, as_of: pd.Timestamp, days: int
) -> np.ndarray:
    """:func:`_booked` by a pandas join on the account ids themselves (the general path, and
    the tests' oracle)."""
    pairs = pd.DataFrame(
        {"pair": np.arange(len(accounts)), "account_id": accounts.to_numpy(), "start": start}
    )
    o = orders.loc[
        (orders["status"] != "cancelled") & (orders["order_date"] <= as_of),
        ["account_id", "order_date", "net_amount"],
    ]
    m = pairs.merge(o, on="account_id")
    inside = (m["order_date"] >= m["start"]) & (
        m["order_date"] < m["start"] + pd.Timedelta(days=days)
    )
    booked = m[inside].groupby("pair")["net_amount"].sum()
    return booked.reindex(pairs["pair"], fill_value=0.0).to_numpy()
