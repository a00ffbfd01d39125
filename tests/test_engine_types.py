"""helpers.engine_types: a frame built in code whose columns have no value to be typed by (no
rows, or only missing values) reaches the engine typed as the loaded tables are, so the engine
can compare, add up and join it."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from helpers import engine
from helpers.contract import ORDERS, TABLES, Column, Table
from helpers.engine_types import TEXT, column_types, contract_types, untyped_type
from helpers.features import as_table


def _query(frame: pd.DataFrame) -> pd.DataFrame:
    """Filter, compare and aggregate the contract's order columns of ``frame`` in DuckDB."""
    t = as_table(frame)
    t = t.filter(t.status.isnull() | (t.status != "cancelled"))
    t = t.filter(t.order_date.isnull() | (t.order_date <= pd.Timestamp("2025-12-31")))
    done = t.status == "completed"
    return engine.to_pandas(
        t.aggregate(
            lines=t.count(),
            completed=t.count(where=done),
            revenue=t.net_amount.sum(),
            margin=t.gross_margin.sum(where=done),
            first=t.order_date.cast("date").min(),
            accounts=t.account_id.nunique(),
        )
    )


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame(columns=ORDERS.names),  # object columns of no rows
        pd.DataFrame({name: [] for name in ORDERS.names}),  # float64 columns of no rows
    ],
    ids=["object", "float64"],
)
def test_an_empty_frame_built_in_code_can_be_compared_and_aggregated(frame):
    """A frame without rows: text compared with text, dates with a timestamp, amounts summed
    (on the old code, Arrow's ``null`` type or a float ``status`` made DuckDB refuse)."""
    got = _query(frame).iloc[0]
    assert (got["lines"], got["completed"], got["accounts"]) == (0, 0, 0)
    assert pd.isna(got["revenue"]) and pd.isna(got["margin"]) and pd.isna(got["first"])


def test_all_missing_object_columns_are_typed_by_their_contract_column():
    """Rows whose status, margin and date are all None (object columns): compared, summed and
    dated as the contract's types; a column the contract does not know is text."""
    frame = pd.DataFrame(
        {
            "order_id": ["o1", "o2", "o3"],
            "account_id": ["a", "b", None],
            "order_date": [None, None, None],
            "net_amount": [10.0, 5.0, 1.0],
            "gross_margin": [None, None, None],
            "status": [None, None, None],
            "note": pd.Series([None, np.nan, None], dtype=object),
        }
    )
    t = as_table(frame)
    assert dict(t.schema().items())["note"].is_string()
    assert engine.to_pandas(t.filter(t.status == "completed")).empty
    got = _query(frame.assign(order_date=pd.Timestamp("2025-01-01"))).iloc[0]
    assert (got["lines"], got["completed"], got["accounts"]) == (3, 0, 2)
    assert got["revenue"] == 16.0 and pd.isna(got["margin"])
    kept = engine.to_pandas(t.filter(t.status.isnull(), t.note.isnull(), t.gross_margin.isnull()))
    assert len(kept) == 3
    summed = engine.to_pandas(t.aggregate(m=t.gross_margin.sum(), last=t.order_date.max()))
    assert pd.isna(summed["m"].iloc[0]) and pd.isna(summed["last"].iloc[0])


def test_empty_frames_built_in_code_have_the_loaded_tables_types(demo):
    """Every contract table as an empty frame built in code (object columns) gets the Ibis
    schema its loaded frame gets (text as text, numbers float64, dates as timestamps), and
    joins with a loaded table."""
    for name, table in TABLES.items():
        loaded = demo[name][table.names]
        empty = pd.DataFrame(columns=table.names)
        assert engine._to_arrow(empty)[1] == engine._to_arrow(loaded)[1], name
    leads = as_table(pd.DataFrame(columns=TABLES["leads"].names))
    accounts = as_table(demo["accounts"])
    joined = leads.join(accounts, "account_id")
    assert engine.to_pandas(joined.aggregate(n=joined.count()))["n"].iloc[0] == 0


def test_only_columns_without_values_are_retyped():
    """A float64 column with values, a float64 column of another name, and text with values
    keep their types; an all-NaN float64 ``status`` (with rows) becomes text."""
    frame = pd.DataFrame(
        {
            "status": [np.nan, np.nan],
            "net_amount": [np.nan, np.nan],  # a number in the contract: stays float64
            "score": [np.nan, np.nan],  # not in the contract: nothing says it is text
            "quantity": [1.0, 2.0],
            "region": ["north", None],
        }
    )
    schema = dict(engine._to_arrow(frame)[1].items())
    assert schema["status"].is_string() and schema["region"].is_string()
    assert all(schema[c].is_float64() for c in ("net_amount", "score", "quantity"))
    weird = pd.DataFrame({"status": [1.0, np.nan]})  # a value: its own type stays
    assert dict(engine._to_arrow(weird)[1].items())["status"].is_float64()


def test_a_name_with_two_types_is_text_and_the_contract_has_none():
    """Column names typed differently by two tables are text; the contract itself types every
    name once (its integers are float64, as the loader reads them)."""
    a = Table("a", "-", "-", (Column("x", "float", "-", "-"), Column("d", "date", "-", "-")), ())
    b = Table("b", "-", "-", (Column("x", "date", "-", "-"), Column("d", "datetime", "-", "-")), ())
    assert column_types([a, b]) == {"x": TEXT, "d": "timestamp"}
    types = contract_types()
    assert types["line_number"] == "float64" and types["order_date"] == "timestamp"
    assert types["account_id"] == types["size_band"] == types["status"] == TEXT
    kinds = {c.name: {t.column(c.name).dtype for t in TABLES.values() if c.name in t.names}
             for t in TABLES.values() for c in t.columns}  # fmt: skip
    assert all(len(k) == 1 for k in kinds.values())  # no name needs the text rule today
    column, null = pd.Series([None], dtype=object), ibis.dtype("null")
    assert untyped_type("order_date", column, null) == "timestamp"
    assert untyped_type("unknown_name", column, null) == TEXT
