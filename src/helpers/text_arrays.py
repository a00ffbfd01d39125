"""The Arrow text behind a pandas column, shared by the steps' fast paths.

A loaded data set's text columns are Arrow-backed ``str`` (:data:`helpers.loading.TEXT`); the
fast paths of segmentation, lead grading, look-alikes and attribution work on their Arrow
buffers instead of one Python string per cell. A module of its own, importing only pandas and
pyarrow, so that each of those modules can use it without importing the others.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa


def arrow_text(values: object) -> pa.ChunkedArray | None:
    """The Arrow (large) string array behind an Arrow-backed text Series, Index or array
    (zero copy; a missing value is null), or None for anything else (Python objects,
    numbers, categoricals)."""
    array = values.array if isinstance(values, (pd.Series, pd.Index)) else values
    # pandas keeps the ChunkedArray of its Arrow-backed arrays in ``_pa_array`` (pandas 2.x;
    # ``pa.array(values)`` would combine the chunks, a copy of every text)
    data = getattr(array, "_pa_array", None)
    if isinstance(data, pa.ChunkedArray) and is_text_type(data.type):
        return data
    return None


def is_text_type(arrow_type: pa.DataType) -> bool:
    """Whether an Arrow type is text (``string`` or ``large_string``)."""
    return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)


def is_text(values: pd.Series | pd.Index) -> bool:
    """Whether ``values`` hold texts as the loaders give them: Arrow-backed ``str`` or
    Python objects (the fast paths of the steps take either)."""
    return values.dtype == object or arrow_text(values) is not None
