"""How much history does the data have, and which analysis windows fit it? Months of order
history up to the analysis date, a window in months shortened to fit that history (or a
:class:`~helpers.steps.Skipped` saying how many months are missing), and whether a feature
varies at all beyond floating-point noise. The tier, migration, customer-type and cluster
steps share these checks so that short or flat data is skipped the same way everywhere.

The order lines these steps read (:data:`ORDER_COLUMNS`, :func:`order_table`) stay in the
engine (:mod:`helpers.engine`): at 1M accounts they are 12.9M lines, and only per-account
rows or a scalar come back to pandas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from helpers.steps import Skipped

if TYPE_CHECKING:
    from helpers.engine import Engine

#: The order-line columns the tier, migration and customer-type steps read.
ORDER_COLUMNS: tuple[str, ...] = ("account_id", "order_id", "order_date", "net_amount", "status")


def order_table(
    orders: object, engine: Engine | str | None = None, columns: tuple[str, ...] = ORDER_COLUMNS
) -> tuple[Any, Engine]:
    """The order lines as an Ibis table of ``columns``, with the engine to run it on.

    ``orders`` is a :class:`~helpers.loading.Dataset` (its ``orders`` table through
    :func:`helpers.features.orders_table`: a data set read from the load-once cache is
    scanned in place, its orders never enter pandas; the engine is the data set's unless
    ``engine`` names one), a pandas frame (a memtable; the engine it carries, else DuckDB) or
    an Ibis table (as it is). ``KeyError`` when a data set has no orders table.
    """
    from helpers import engine as engines
    from helpers.features import ORDER_COLUMNS as ENGINE_COLUMNS
    from helpers.features import as_table, orders_table

    if hasattr(orders, "engine_table"):  # a Dataset (not imported: it imports this package)
        # the data set's one engine table of the orders when it has the columns (the other
        # steps' too: one upload of a plain data set's frame, one scan object of a cached one)
        table = (
            orders_table(orders)
            if set(columns) <= set(ENGINE_COLUMNS)
            else orders.engine_table("orders", list(columns))
        )
        return table, engines.resolve(engine if engine is not None else orders.engine)
    engine = engines.resolve(engine, orders)
    return as_table(orders, columns, engine), engine


def varies(values: pd.Series) -> bool:
    """Whether ``values`` (missing ones ignored) take more than one value, beyond floating
    point noise (a margin of 30% on every line gives rates that differ in the 16th digit)."""
    v = values.dropna()
    return bool(len(v)) and float(v.max() - v.min()) > 1e-9 * max(1.0, float(v.abs().max()))


def id_index(ids: Any, like: object, *, python: bool = False) -> pd.Index:
    """An ``account_id`` Index of the Arrow text ``ids`` (an engine result's column) typed as
    the former pandas steps typed it: Python strings (object) when ``python`` or when ``like``
    is a frame whose ``account_id`` holds Python objects (a frame built in code), else the
    loaded text dtype (:data:`helpers.loading.TEXT`, Arrow-backed: no Python string per id)."""
    from helpers.loading import TEXT

    column = like.get("account_id") if isinstance(like, pd.DataFrame) else None
    if python or (column is not None and column.dtype == object):
        return pd.Index(ids.to_numpy(zero_copy_only=False), dtype=object, name="account_id")
    return pd.Index(pd.array(ids, dtype=TEXT), name="account_id")


def history_months(dates: pd.Series, as_of: pd.Timestamp) -> int:
    """Calendar months from the first of ``dates`` (up to ``as_of``) to ``as_of``, both months
    counted: January 2022 to December 2025 is 48. 0 when no date is on or before ``as_of``."""
    return _months_since(dates[dates <= as_of].min(), as_of)


def history_months_of(
    orders: object, as_of: pd.Timestamp, engine: Engine | str | None = None
) -> int:
    """:func:`history_months` of the completed order lines' dates: calendar months from the
    first completed order on or before ``as_of`` to ``as_of``, both months counted (0 when
    there is none). ``orders``: a data set, a frame or an Ibis table (:func:`order_table`);
    the first date is found by the engine (one scalar comes back). A line whose status is
    missing is not completed."""
    from helpers import engine as engines

    o, engine = order_table(orders, engine, ("order_date", "status"))
    o = o.filter(o.status == "completed", o.order_date <= pd.Timestamp(as_of))
    found = engines.to_pandas(o.aggregate(first=o.order_date.cast("timestamp").min()), engine)
    first = found["first"].iloc[0] if len(found) else pd.NaT
    return _months_since(pd.NaT if pd.isna(first) else pd.Timestamp(first), as_of)


def _months_since(first: Any, as_of: pd.Timestamp) -> int:
    if pd.isna(first):
        return 0
    return (as_of.year - first.year) * 12 + as_of.month - first.month + 1


def adapted_window(
    default: int, history: int, *, minimum: int, what: str, share: float = 1 / 3
) -> int | Skipped:
    """A window in months that fits the history at hand: ``min(default, share x history)``
    (by default a third: a window that compares with the months before it needs room on both
    sides), or a :class:`Skipped` saying "needs N months of history, the data has M" when that
    is below ``minimum`` months. ``what`` names the step in the hint."""
    months = min(default, int(history * share))
    if months < minimum:
        needed = int(np.ceil(minimum / share))
        return Skipped(
            f"needs {needed} months of history, the data has {history}",
            f"{what} uses a window of at least {minimum} months",
        )
    return months
