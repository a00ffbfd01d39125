"""The tables of a filtered data set read from the load-once cache, without reading the large ones.

:meth:`helpers.loading.Dataset.filter` keeps the accounts that match the filters, the leads by
their own column or their account, and the order lines and touchpoints of the kept accounts
(and leads). On a plain data set it filters every frame at once. On one read from the cache
(:class:`~helpers.loading.lazy_tables.LazyTables`) that would read the order lines and the
touchpoints into pandas (12.9M and 36M rows at 1M accounts, ~3.5 GiB), which the studies' steps
only aggregate in the engine. :func:`filtered_tables` therefore gives those two tables as views:
an engine step asking for them (:meth:`~helpers.loading.Dataset.engine_table`) gets the parent
data set's engine table (a scan of the cached file, or the frame's memtable) restricted in the
engine to the kept accounts (and, for touchpoints, the kept leads); a step asking for the frame
gets the parent's frame filtered then, read without keeping the parent's copy.

Assumptions: the accounts and leads are filtered at once (the filter needs them, and they are
per-account and per-lead tables); the other tables (spend) are the parent's as they are. Row
counts of a view are counted in the engine (:meth:`LazyTables.rows`), not by reading the frame.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from helpers.engine import engine_of, memtable, stable
from helpers.loading.lazy_tables import LazyTables, kept_reader

#: The columns that decide whether a row of a view's table stays: its account (orders,
#: touchpoints) or its lead (touchpoints).
KEYS: dict[str, tuple[str, ...]] = {
    "orders": ("account_id",),
    "touchpoints": ("account_id", "lead_id"),
}


def filtered_tables(
    parent: LazyTables, accounts: pd.DataFrame, leads: pd.DataFrame | None
) -> LazyTables:
    """``parent``'s tables restricted to ``accounts`` (the kept accounts' rows) and ``leads``
    (the kept leads, None without a leads table): accounts and leads as given, orders and
    touchpoints as views on the parent (see the module docstring), the rest as the parent's."""
    ids = accounts["account_id"]
    lead_ids = leads["lead_id"] if leads is not None else None
    readers: dict[str, Callable[..., pd.DataFrame]] = {}
    views: dict[str, Callable[[list[str]], Any]] = {}
    rows: dict[str, int] = {}
    given = {"accounts": accounts, "leads": leads}
    for name in parent:
        if given.get(name) is not None:
            readers[name] = kept_reader(given[name])
        elif name in KEYS:
            readers[name] = _frame_reader(parent, name, ids, lead_ids)
            views[name] = _view(parent, name, accounts, leads)
        else:
            readers[name] = _parent_reader(parent, name)
            if parent.known_rows(name) is not None:
                rows[name] = parent.known_rows(name)
    tables = LazyTables(readers, rows=rows, views=views)
    for name, frame in given.items():
        if frame is not None and name in parent:
            tables[name] = frame  # in memory already: read, as the data set's frames
    return tables


def _keep_rows(frame: pd.DataFrame, name: str, ids: pd.Series, lead_ids: pd.Series | None):
    """The rows of ``frame`` (table ``name``) whose account is in ``ids`` or (touchpoints)
    whose lead is in ``lead_ids``; the frame's attrs kept (they carry the engine)."""
    keep = frame["account_id"].isin(ids)
    if name == "touchpoints" and lead_ids is not None:
        keep |= frame["lead_id"].isin(lead_ids)
    kept = frame.loc[keep]
    kept.attrs = frame.attrs
    return kept


def _frame_reader(
    parent: LazyTables, name: str, ids: pd.Series, lead_ids: pd.Series | None
) -> Callable[..., pd.DataFrame]:
    """A reader of table ``name``'s kept rows (all columns, or ``columns`` of them), from the
    parent's frame when the parent has read it, else read from its entry without keeping it."""

    def read(columns: list[str] | None = None) -> pd.DataFrame:
        if columns is None:
            return _keep_rows(parent.peek(name), name, ids, lead_ids)
        wanted = list(dict.fromkeys([*columns, *KEYS[name]]))
        return _keep_rows(parent.columns(name, wanted), name, ids, lead_ids)[list(columns)]

    return read


def _parent_reader(parent: LazyTables, name: str) -> Callable[..., pd.DataFrame]:
    """A reader of the parent's table ``name`` as it is (kept by the parent once read)."""
    return lambda columns=None: parent[name] if columns is None else parent.columns(name, columns)


def _view(
    parent: LazyTables, name: str, accounts: pd.DataFrame, leads: pd.DataFrame | None
) -> Callable[[list[str]], Any]:
    """The engine view of table ``name``: columns ``names`` of the parent's engine table, its
    rows restricted in the engine to the kept accounts (touchpoints: or kept leads), which
    reach the engine as memtables of the kept frames' id columns."""

    def view(names: list[str]) -> Any:
        wanted = list(dict.fromkeys([*names, *KEYS[name]]))
        table = parent.engine_table(name, wanted)
        kept = memtable(accounts, ["account_id"])
        keep = table.account_id.isin(kept.account_id)
        if name == "touchpoints" and leads is not None:
            keep |= table.lead_id.isin(memtable(leads, ["lead_id"]).lead_id)
        return stable(table.filter(keep).select(list(names)), engine_of(table))

    return view
