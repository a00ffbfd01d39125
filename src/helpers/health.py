"""Data health: what was loaded, which dates it covers, and what looks odd (for notebook 00).

The counts run in the engine (:mod:`helpers.engine`) on each table's columns
(:meth:`~helpers.loading.Dataset.engine_table`): for a data set read from the load-once cache,
DuckDB scans the cached files in place, so neither the order lines nor the touchpoints are
read into pandas for a row count, a date range or a count of odd lines; only one row per
table comes back.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from helpers import engine as engines
from helpers import formats, reporting
from helpers.contract import TABLES
from helpers.features import as_table
from helpers.loading import Dataset
from helpers.revenue_periods import exact_sum
from helpers.steps import Skipped, step
from helpers.validation import ROW_COLUMN

#: The date column that says when a row of each table happened.
EVENT_DATE = {
    "accounts": "acquired_date",
    "orders": "order_date",
    "leads": "created_date",
    "touchpoints": "touched_at",
    "channel_spend": "month",
}

#: The order columns :func:`order_warts` reads (with :data:`ROW_COLUMN` when present).
WART_COLUMNS: tuple[str, ...] = ("order_date", "status", "net_amount")


def table_summary(ds: Dataset) -> pd.DataFrame:
    """One row per contract table: rows, columns filled, first and last date, or 'not provided'.

    ``rows`` counts rows after any filter; ``empty optional columns`` lists optional contract
    columns the source did not fill (analyses that need them say so). Each table's count, date
    range and filled optional columns are one aggregate in the data set's engine over those
    columns (:meth:`~helpers.loading.Dataset.engine_table`): a cached table is not read into
    pandas. A cell is empty when it is missing (or NaN in a number column), as pandas'
    ``isna`` says.
    """
    rows = []
    for name, table in TABLES.items():
        if not ds.has(name):
            rows.append(
                {
                    "table": name,
                    "rows": 0,
                    "first date": pd.NaT,
                    "last date": pd.NaT,
                    "empty optional columns": "",
                    "status": "not provided",
                }
            )
            continue
        optional = [c.name for c in table.columns if not c.required]
        counts = _column_counts(ds, name, EVENT_DATE[name], optional)
        rows.append(
            {
                "table": name,
                "rows": counts["rows"],
                "first date": counts["first"],
                "last date": counts["last"],
                "empty optional columns": ", ".join(c for c in optional if not counts[c]),
                "status": "ok",
            }
        )
    return pd.DataFrame(rows).set_index("table")


def _column_counts(ds: Dataset, name: str, date: str, optional: list[str]) -> dict:
    """Rows of table ``name``, the first and last value of its ``date`` column (Timestamps,
    NaT when it has none) and, per column of ``optional``, its filled cells: one query (none
    for a table without rows: its answer is known, and on Spark a filtered count of no rows is
    NULL, not 0)."""
    if not ds.rows(name):
        return {"rows": 0, "first": pd.NaT, "last": pd.NaT} | dict.fromkeys(optional, 0)
    columns = list(dict.fromkeys([date, *optional]))
    t = ds.engine_table(name, columns)
    filled = {c: t.count(where=_filled(t[c])) for c in optional}
    query = t.aggregate(_rows=t.count(), _first=t[date].min(), _last=t[date].max(), **filled)
    row = engines.to_pandas(query, ds.engine).iloc[0]
    out: dict = {c: int(row[c]) for c in optional}
    out["rows"] = int(row["_rows"])
    for key in ("first", "last"):
        value = row[f"_{key}"]
        out[key] = pd.NaT if pd.isna(value) else pd.Timestamp(value).as_unit("ns")
    return out


def _filled(column: ibis.Value) -> ibis.Value:
    """Cells of ``column`` that pandas' ``notna`` counts: not missing, and for numbers not NaN
    (an engine may hold NaN apart from missing, as Spark does)."""
    present = column.notnull()
    return present & ~column.isnan() if column.type().is_floating() else present


def order_warts(orders: object, engine: engines.Engine | str | None = None) -> dict[str, float]:
    """Counts of what needs care in the orders: returns, cancellations, out-of-order rows.

    ``rows_out_of_date_order`` counts rows dated earlier than a row above them in the file
    (late-arriving data appended at the end); harmless here (nothing assumes sorted files) but
    worth telling the data owner. ``returned_value_share`` is the returned lines' value over
    the positive value of the lines not cancelled (share 0-1; 0 when there is none).

    ``orders`` (:data:`WART_COLUMNS`) is a pandas frame or an Ibis table, counted in the engine
    (``engine``; None: the one the frame carries, else DuckDB): only the counts come back. The
    file order is :data:`~helpers.validation.ROW_COLUMN` (the loader's file line; one file per
    table, so unique); a frame without it is in file order; an Ibis table without it raises
    ``ValueError`` (an engine keeps no row order). Assumes filled order dates (the contract's).
    """
    engine = engines.resolve(engine, orders)
    if isinstance(orders, pd.DataFrame):
        if orders.empty:  # nothing to count (and no query: Spark counts no rows as NULL)
            return _warts(0, 0, 0.0, 0.0, 0, 0)
        if ROW_COLUMN not in orders.columns:  # the frame's order is the file's
            orders = orders[list(WART_COLUMNS)].assign(
                **{ROW_COLUMN: np.arange(1, len(orders) + 1)}
            )
    o = as_table(orders, [*WART_COLUMNS, ROW_COLUMN], engine)
    if ROW_COLUMN not in o.columns:
        raise ValueError(f"the orders' file order needs their {ROW_COLUMN} column")
    o = _with_late(o)
    returned = o.status == "returned"
    revenue = (o.status != "cancelled").fill_null(True)  # a missing status is not "cancelled"
    positive = revenue & (o.net_amount > 0)
    query = o.aggregate(
        lines=o.count(),
        returned=o.count(where=returned),
        returned_value=exact_sum(o.net_amount, where=returned),
        positive=o.count(where=positive),
        positive_value=exact_sum(o.net_amount, where=positive),
        cancelled=o.count(where=o.status == "cancelled"),
        late=o.count(where=o.late),
    )
    row = engines.to_pandas(query, engine).iloc[0]
    return _warts(
        int(row["lines"]),
        int(row["returned"]),
        float(row["returned_value"]) if pd.notna(row["returned_value"]) else 0.0,
        float(row["positive_value"]) if int(row["positive"]) else 0.0,
        int(row["cancelled"]),
        int(row["late"]),
    )


def _with_late(o: ibis.Table) -> ibis.Table:
    """``o`` (``order_date``, :data:`~helpers.validation.ROW_COLUMN`, ...) with ``late``:
    whether each line sits below a line dated later in the file.

    A line is late when a line above it is dated later, that is when the first file line of
    all the lines dated after its own date comes before it. That first line is taken per
    date, over the few thousand distinct dates: no sort of the order lines in file order
    (at 1M accounts a running maximum over the 12.9M lines in file order is one sort of the
    whole table, and one partition on Spark), only two aggregates and a join on the date.
    """
    dated = o.filter(o.order_date.notnull())
    firsts = dated.group_by("order_date").aggregate(first=dated[ROW_COLUMN].min())
    later = ibis.window(order_by=firsts.order_date, rows=(1, None))  # the dates after it
    firsts = firsts.select(day=firsts.order_date, after=firsts.first.min().over(later))
    j = o.left_join(firsts, o.order_date == firsts.day)
    return j.select(*o.columns, late=(j[ROW_COLUMN] > j.after).fill_null(False))


def _warts(  # the counts of order_warts, with its share
    lines: int,
    returned: int,
    returned_value: float,
    positive_value: float,
    cancelled: int,
    late: int,
) -> dict[str, float]:
    return {
        "order_lines": lines,
        "returned_lines": returned,
        "returned_value_share": -returned_value / positive_value if positive_value else 0.0,
        "cancelled_lines": cancelled,
        "rows_out_of_date_order": late,
    }


@step("The order checks")
def order_checks(ds: Dataset) -> dict[str, float] | Skipped:
    """:func:`order_warts` of the data source's orders, counted in its engine (a cached orders
    table is scanned in place, not read into pandas); Skipped when it has no orders table."""
    if "orders" not in ds.tables:
        return Skipped(
            f"the data source '{ds.source}' has no orders table",
            "revenue, its mix and its drivers need the order lines",
        )
    if not ds.rows("orders"):  # no lines: nothing to count, no query
        return order_warts(pd.DataFrame(), ds.engine)
    try:  # the engine counts the lines: a cached table is scanned, not read into pandas
        orders = ds.engine_table("orders", [*WART_COLUMNS, ROW_COLUMN])
    except KeyError:  # a data set built in code without file lines: its frame's own order
        orders = ds.tables["orders"]
    return order_warts(orders, ds.engine)


def warnings_table(ds: Dataset) -> pd.DataFrame:
    """The loader's warnings (odd but not fatal) as a table: file, column, rule, rows, examples."""
    if not ds.warnings:
        return pd.DataFrame(columns=["file", "column", "warning", "rows", "examples"])
    return pd.DataFrame(
        [
            {
                "file": w.file,
                "column": w.column or "",
                "warning": w.rule,
                "rows": w.count,
                "examples": "; ".join(w.rows),
            }
            for w in ds.warnings
        ]
    )


def tables_display(ds: Dataset):
    """:func:`table_summary` for the report: tables by their reader-facing names, rows with
    separators, dates without a time ("28 Jan 2022"), no row numbers."""
    frame = table_summary(ds)
    frame.index = [formats.display_name(name, ds.display_names) for name in frame.index]
    frame = frame.rename_axis("table").reset_index()
    kinds = {"rows": "count", "first date": "date", "last date": "date"}
    return reporting.styled(frame, formats.column_formats(kinds), hide_index=True)


def warnings_display(ds: Dataset):
    """:func:`warnings_table` for the report without row numbers, or the sentence "No data
    warnings." when the loader raised none (never an empty table)."""
    if not ds.warnings:
        return reporting.say("No data warnings.")
    table = warnings_table(ds)
    return reporting.styled(table, formats.column_formats({"rows": "count"}), hide_index=True)


@step("The order checks")
def warts_sentence(warts: dict[str, float]) -> str:
    """What needs care in the orders (:func:`order_warts`), as one sentence: lines, returns
    with their share of sales value, cancelled lines and lines out of date order."""
    return (
        f"The orders table has {warts['order_lines']:,} lines: {warts['returned_lines']:,} "
        f"returns ({formats.share(warts['returned_value_share'], 1)} of sales value), "
        f"{warts['cancelled_lines']:,} cancelled lines (left out of revenue) and "
        f"{warts['rows_out_of_date_order']:,} lines that sit out of date order in the file "
        "(data that arrived late; nothing here depends on the order of rows)."
    )
