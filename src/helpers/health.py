"""Data health: what was loaded, which dates it covers, and what looks odd (for notebook 00)."""

from __future__ import annotations

import pandas as pd

from helpers import formats, reporting
from helpers.contract import TABLES
from helpers.loading import Dataset
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


def table_summary(ds: Dataset) -> pd.DataFrame:
    """One row per contract table: rows, columns filled, first and last date, or 'not provided'.

    ``rows`` counts rows after any filter; ``empty optional columns`` lists optional contract
    columns the source did not fill (analyses that need them say so).
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
        # only the columns summarised: a table not read yet is not read whole
        frame = ds.columns(name, list(dict.fromkeys([EVENT_DATE[name], *optional])))
        dates = frame[EVENT_DATE[name]]
        empty = [c for c in optional if frame[c].isna().all()]
        rows.append(
            {
                "table": name,
                "rows": len(frame),
                "first date": dates.min(),
                "last date": dates.max(),
                "empty optional columns": ", ".join(empty),
                "status": "ok",
            }
        )
    return pd.DataFrame(rows).set_index("table")


def order_warts(orders: pd.DataFrame) -> dict[str, float]:
    """Counts of what needs care in the orders: returns, cancellations, out-of-order rows.

    ``rows_out_of_date_order`` counts rows dated earlier than a row above them in the file
    (late-arriving data appended at the end); harmless here (nothing assumes sorted files) but
    worth telling the data owner.
    """
    o = orders.sort_values(ROW_COLUMN) if ROW_COLUMN in orders.columns else orders
    running_max = o["order_date"].cummax().shift(fill_value=o["order_date"].min())
    revenue = o.loc[o["status"] != "cancelled", "net_amount"]
    returned = o["status"] == "returned"
    return {
        "order_lines": int(len(o)),
        "returned_lines": int(returned.sum()),
        "returned_value_share": (
            float(-o.loc[returned, "net_amount"].sum() / revenue[revenue > 0].sum())
            if (revenue > 0).any()
            else 0.0
        ),
        "cancelled_lines": int((o["status"] == "cancelled").sum()),
        "rows_out_of_date_order": int((o["order_date"] < running_max).sum()),
    }


@step("The order checks")
def order_checks(ds: Dataset) -> dict[str, float] | Skipped:
    """:func:`order_warts` of the data source's orders; Skipped when it has no orders table."""
    if "orders" not in ds.tables:
        return Skipped(
            f"the data source '{ds.source}' has no orders table",
            "revenue, its mix and its drivers need the order lines",
        )
    return order_warts(ds.tables["orders"])


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
