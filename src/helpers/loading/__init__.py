"""Load a company's exports (or the demo data) into validated tables.

A data source is either ``"demo"`` (the generated files in ``data/demo/``) or a YAML file that
names the company's own files and maps their columns onto the contract (every key is in the
table of ``data/README.md``)::

    analysis_date: 2025-12-31        # export date (required): no record may be dated later
    currency: EUR                    # for the reports; display_names: {Contract: Contract type}
    engine: duckdb                   # heavy steps: duckdb (default), pyspark or an Ibis URL
    tables:
      orders:
        file: exports/orders.csv     # CSV, Parquet or Excel; relative to this YAML file
        encoding: cp1252             # CSV only (default utf-8); sep: ";" (default ",")
        header_row: 3                # the header's line/row, below title rows (default 1)
        decimal: ","                 # number separators: 1.234,56 (defaults "." and none)
        thousands: "."
        sheet: Orders                # Excel only (default: the first sheet)
        date_format: "%d.%m.%Y"      # strptime format for every date column (default: ISO)
        date_formats: {order_date: "%d/%m/%Y"}   # per column, overrides date_format
        columns:                     # contract name: your column name (one may feed several)
          account_id: CustomerID
        values:                      # recode your spellings (category and text columns)
          status: {Done: completed, Storno: cancelled}
        constants: {product_category: all}       # columns the export lacks
        generate: [order_id]         # ids from the file line (one line = one order)
        fill_empty: {}               # {text column: value} for cells left empty
      accounts:
        file: exports/customers.xlsx
        attributes: {Contract: categorical, MonthlyCharges: numeric}   # free attributes

``orders`` (or, for funnel questions only, ``leads``) is required; every other table is
optional and notebooks that need a missing one say so in a sentence (:meth:`Dataset.require`).
Raw files are only ever read. The result is a :class:`Dataset` with one pandas frame per table,
every contract column present (optional columns that were absent are added empty and listed by
:meth:`Dataset.absent_columns`), the declared free attributes, and a fingerprint of the input
bytes. ``python -m helpers.check SOURCE`` shows which notebook sections a source can feed.

Modules, in the order a load uses them:

- :mod:`~helpers.loading.config`   the source: ``TableSource``/``SourceConfig``, the YAML, ``demo``
- :mod:`~helpers.loading.read`     raw CSV/Parquet/Excel files, rows tagged with their position
- :mod:`~helpers.loading.clean`    column mapping, constants, generated ids, typing, absent columns
- :mod:`~helpers.loading.parse`    cell values: text, value maps, numbers, dates and time zones
- :mod:`~helpers.loading.dataset`  the ``Dataset`` (filter, require) and ``load_dataset``
- :mod:`~helpers.loading.checks_sql` the contract's rules as DuckDB queries (messages as
  :mod:`helpers.validation` words them, with file, column and line numbers)
- :mod:`~helpers.loading.cache`    load once: the validated data set stored as Parquet, reused
"""

from helpers.loading import cache
from helpers.loading.clean import coerce_types, complete_columns, map_columns
from helpers.loading.config import (
    SourceConfig,
    TableSource,
    demo_config,
    read_config,
    resolve_source,
)
from helpers.loading.dataset import TABLE_WORDS, Dataset, fingerprint, load_dataset
from helpers.loading.parse import TEXT, clean_text
from helpers.loading.read import file_digest, read_raw

__all__ = [
    "TABLE_WORDS",
    "TEXT",
    "Dataset",
    "SourceConfig",
    "TableSource",
    "cache",
    "clean_text",
    "coerce_types",
    "complete_columns",
    "demo_config",
    "file_digest",
    "fingerprint",
    "load_dataset",
    "map_columns",
    "read_config",
    "read_raw",
    "resolve_source",
]
