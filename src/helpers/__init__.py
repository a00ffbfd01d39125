"""Tested helpers behind the b2b-insights notebooks.

Modules are named for the question they answer:

- ``config``      paths, resolved from the package (never from the current directory)
- ``contract``    the five-table data contract (columns, types, units, meaning)
- ``loading``     read CSV/Parquet/Excel exports, map columns, validate, return a ``Dataset``
- ``validation``  the checks behind ``loading``; errors name file, column and example rows
- ``demo``        seeded generator of a B2B company with planted truths (``truth.json``)
- ``features``    account-level features "as of" a date (Ibis on DuckDB)
- ``decomposition`` revenue = new x conversion x volume + existing x retention x repurchase
- ``theme``       the one chart theme and palette
- ``reporting``   metrics files and key-finding sentences for notebooks
- ``runner``      the run machinery: parameters cell, batch files and runs, HTML reports, hygiene
"""

__version__ = "0.1.0"
