"""Load a company's exports (or the demo data) into validated tables.

A data source is either ``"demo"`` (the generated files in ``data/demo/``) or a YAML file that
names the company's own files and maps their columns onto the contract::

    analysis_date: 2025-12-31        # export date: no record may be dated later (default: today)
    tables:
      orders:
        file: exports/orders.csv     # CSV, Parquet or Excel; relative to this YAML file
        encoding: utf-8              # CSV only; e.g. cp1252 for old Windows exports
        sheet: Orders                # Excel only (default: the first sheet)
        date_format: "%d.%m.%Y"      # strptime format for every date column (default: ISO)
        date_formats: {order_date: "%d/%m/%Y"}   # per column, overrides date_format
        columns:                     # contract name: your column name
          order_id: OrderNo
          account_id: CustomerID
        values:                      # recode your category spellings onto the contract's
          status: {Done: completed, Storno: cancelled}

Only ``orders`` is required; every other table is optional and notebooks that need a missing
one say so in a sentence (:meth:`Dataset.require`). Raw files are only ever read. The result is
a :class:`Dataset` with one pandas frame per table, every contract column present (optional
columns that were absent are added empty), and a fingerprint of the input bytes.

Modules, in the order a load uses them:

- :mod:`~helpers.loading.config`   the source: ``TableSource``/``SourceConfig``, the YAML, ``demo``
- :mod:`~helpers.loading.read`     raw CSV/Parquet/Excel files, rows tagged with their position
- :mod:`~helpers.loading.clean`    column mapping, types, text, numbers, dates, absent columns
- :mod:`~helpers.loading.dataset`  the ``Dataset`` (filter, require) and ``load_dataset``
"""

from helpers.loading.clean import clean_text, coerce_types, complete_columns, map_columns
from helpers.loading.config import (
    SourceConfig,
    TableSource,
    demo_config,
    read_config,
    resolve_source,
)
from helpers.loading.dataset import TABLE_WORDS, Dataset, fingerprint, load_dataset
from helpers.loading.read import file_digest, read_raw

__all__ = [
    "TABLE_WORDS",
    "Dataset",
    "SourceConfig",
    "TableSource",
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
