"""Engine types for the columns of a frame built in code that have no value to be typed by.

A pandas frame built in code (a test's input, a hand-made table) says nothing about the type of
a column without values: ``pd.DataFrame(columns=[...])`` has object columns,
``pd.DataFrame({"status": []})`` float64 ones, and an object column whose values are all
missing (None, NaN) is no better. Arrow types such an object column ``null``, which an engine
cannot compare or add up (``status == "completed"``); a float64 ``status`` cannot be compared
with text either. Where frames enter the engine (:func:`helpers.engine.memtable`), such a
column therefore gets the type the loader gives the contract's column of that name
(:mod:`helpers.contract`), text where the contract has none (:func:`untyped_type`): the types
of the loaded tables such a column may be joined or compared with. Loaded tables always have
their types and are never changed here (their text is Arrow-backed ``str``, not object).

:mod:`helpers.engine` imports this module when it is imported: it imports nothing of its own
there (the contract is read on first use, no Ibis or Arrow).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from helpers.contract import Table

#: Text, as Ibis names it: what a loaded text or category column is in the engine (its Arrow
#: ``large_string`` and an object column's ``string`` are both Ibis' ``string``; DuckDB's
#: VARCHAR, Spark's StringType).
TEXT = "string"

#: The engine type (Ibis' name) of each contract type, as the loader types the column: text and
#: categories are text (Arrow-backed ``str``), every number float64 (integers such as
#: ``orders.line_number`` too, :func:`helpers.loading.parse.as_number`), dates and timestamps
#: naive ``datetime64[ns]``, Ibis' ``timestamp``.
ENGINE_TYPES: dict[str, str] = {
    "string": TEXT,
    "category": TEXT,
    "float": "float64",
    "int": "float64",
    "date": "timestamp",
    "datetime": "timestamp",
}


def column_types(tables: Iterable[Table]) -> dict[str, str]:
    """Column name -> engine type (:data:`ENGINE_TYPES`) over the columns of ``tables``.

    A name that two tables type differently is text: a column of any type can be read as text,
    and a frame with such a column is most likely a join key or a label (no name of today's
    contract has two types; ``account_id``, ``region``, ``size_band``, ``channel`` ... have one
    in every table)."""
    found: dict[str, str] = {}
    for table in tables:
        for column in table.columns:
            kind = ENGINE_TYPES[column.dtype]
            found[column.name] = kind if found.get(column.name, kind) == kind else TEXT
    return found


@cache
def contract_types() -> dict[str, str]:
    """:func:`column_types` of the contract's tables (made on first use, then kept)."""
    from helpers.contract import TABLES

    return column_types(TABLES.values())


def untyped_type(name: str, column: Any, inferred: Any) -> str | None:
    """The engine type to upload ``column`` (a pandas Series called ``name``) with when it has
    no value to be typed by, else None (keep ``inferred``, the Ibis type Ibis would give it).

    * An object column whose Arrow type is ``null`` (no rows, or only missing values:
      ``inferred.is_null()``): the contract's type of ``name``, else text.
    * A float64 column with only missing values (pandas' type for an empty list) called as a
      contract column that is not a number (``status``, ``order_date``): the contract's type.
      A float64 column of another name stays float64 (nothing says it is not a number).
    """
    if inferred.is_null():
        return contract_types().get(name, TEXT)
    wanted = contract_types().get(name)
    if wanted is None or wanted == "float64" or column.dtype != np.float64:
        return None
    return wanted if bool(column.isna().all()) else None
