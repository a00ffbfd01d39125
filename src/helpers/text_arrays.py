"""The Arrow text behind a pandas column, shared by the steps' fast paths.

A loaded data set's text columns are Arrow-backed ``str`` (:data:`helpers.loading.TEXT`); the
fast paths of segmentation, lead grading, look-alikes and attribution work on their Arrow
buffers instead of one Python string per cell. A module of its own, importing only pandas and
pyarrow, so that each of those modules can use it without importing the others.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


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


# --- lookups by text through Arrow ---------------------------------------------------------------
# A loaded text column is Arrow-backed ``str``: turning its 10^6-10^7 cells into Python strings
# (``to_numpy``, ``astype(object)``) or hashing them in pandas (``reindex``, ``merge``) was the
# main cost of the study at 1M accounts. These two read the Arrow data as it is; object columns
# (frames built in code) are converted once.


def as_arrow_text(values: pd.Series | pd.Index | np.ndarray) -> pa.ChunkedArray:
    """The values as an Arrow array, without copying an Arrow-backed text column (``str``,
    ``string[pyarrow]``: its own large_string chunks, :func:`arrow_text`);
    anything else is converted (NaN and None
    become null, the type is Arrow's inference, e.g. string for Python strings)."""
    found = arrow_text(values)
    if found is not None:
        return found
    return pa.chunked_array([pa.array(np.asarray(values, dtype=object), from_pandas=True)])


def reindex(series: pd.Series, labels: pd.Series | pd.Index | np.ndarray) -> pd.Series:
    """``series.reindex(labels)`` for a series indexed by Arrow-backed text: the positions
    are found by Arrow (``index_in``) instead of pandas' hash table of Python strings (at 1M
    accounts 5M lead ids took pandas seconds and a Python string each). Same values, dtype,
    index and name; any other case (object index, labels that are not text, an index with
    repeated labels) is pandas' own ``reindex``."""
    index = series.index
    keys = arrow_text(index)
    if keys is None:
        return series.reindex(labels)
    wanted = as_arrow_text(labels)
    own = arrow_text(labels) is not None
    if not is_text_type(wanted.type) or (wanted.null_count and not own):
        return series.reindex(labels)  # (pandas matches no None label to a missing str)
    if len(keys) == len(wanted) and index.equals(pd.Index(labels)):
        return series.reindex(labels)  # the same labels: pandas takes the values as they are
    keys = keys.combine_chunks()
    if len(pc.unique(keys)) != len(keys):  # (count_distinct takes twice as long)
        return series.reindex(labels)  # pandas decides (it refuses repeated labels)
    found = pc.index_in(wanted, value_set=keys.cast(wanted.type), skip_nulls=False)
    positions = found.to_numpy(zero_copy_only=False)
    positions = np.where(np.isnan(positions), -1, positions).astype(np.intp)
    # pandas keeps the series' index name when the labels carry none (an array)
    target = pd.Index(labels, name=labels.name if hasattr(labels, "name") else index.name)
    data = series.to_numpy() if isinstance(series.dtype, np.dtype) else series.array
    values = pd.api.extensions.take(data, positions, allow_fill=True)
    return pd.Series(values, index=target, name=series.name)
