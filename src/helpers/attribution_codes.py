"""Integer codes of the attribution touches' paths and channels (:mod:`helpers.attribution`).

The models group millions of touches by path (lead id) and by channel. Grouping by integer codes
gives the same groups as grouping by the strings, summed in the same row order, so the same
floats, in a fraction of the time. :func:`helpers.attribution_paths.build_paths` returns both
columns as pandas categoricals whose categories are in code-point order (Python's string
order): their codes then *are* the ranks, and the functions here read them instead of hashing
or comparing the strings again. Any other column (object strings, unsorted categories, empty
values) takes the general path, ``pd.factorize`` on the strings; both give the same output.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from helpers.text_arrays import arrow_text, is_text_type


def _sorted_codes(values: pd.Series | np.ndarray) -> tuple[np.ndarray, object] | None:
    """The codes and categories of a non-empty categorical whose categories are in increasing
    order and which has no empty value; None for anything else. The categories come as an
    object array, or as they are when Arrow-backed text (no Python string per category; their
    order checked by Arrow, which compares UTF-8 bytes: code-point order, Python's)."""
    if not isinstance(values, pd.Series) or not isinstance(values.dtype, pd.CategoricalDtype):
        return None
    categories = values.cat.categories
    codes = values.cat.codes.to_numpy()
    if not len(codes) or (codes < 0).any():
        return None
    own = arrow_text(categories)
    if own is not None:
        names = own.combine_chunks()
        rising = len(names) < 2 or pc.all(pc.less_equal(names[:-1], names[1:])).as_py()
        return (codes, categories.array) if rising else None
    if not categories.is_monotonic_increasing:
        return None
    return codes, categories.to_numpy(dtype=object)


def path_codes(lead_id: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(lead_id)``: an integer code per touch (its path, numbered in order of
    first appearance) and the lead ids in that order (Arrow-backed ``str`` when the categories
    are, else an object array), without hashing the strings when the
    touches come grouped in sorted order (as :func:`build_paths` returns them): then the
    codes are a running count of where the lead id changes. Same output either way."""
    codes, uniques, _ = factorize_paths(lead_id)
    return codes, uniques


def factorize_paths(lead_id: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """:func:`path_codes` and whether the lead ids are sorted (checked once, used twice)."""
    found = _sorted_codes(lead_id)
    if found is None:
        return _factorize(np.asarray(lead_id, dtype=object))
    ranks, categories = found  # rank order is the strings' order: sorted iff ranks are
    if bool((ranks[1:] >= ranks[:-1]).all()):
        change = np.empty(len(ranks), dtype=bool)
        change[0] = True
        np.not_equal(ranks[1:], ranks[:-1], out=change[1:])
        return np.cumsum(change) - 1, categories[ranks[change]], True
    codes, uniques = pd.factorize(ranks)  # first appearance of a rank = of its string
    return codes, categories[uniques], False


def _factorize(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """:func:`factorize_paths` on the strings themselves."""
    if len(ids) and pd.Index(ids).is_monotonic_increasing:
        change = np.empty(len(ids), dtype=bool)
        change[0] = True
        np.not_equal(ids[1:], ids[:-1], out=change[1:])
        return np.cumsum(change) - 1, ids[change], True
    codes, uniques = pd.factorize(ids)
    return codes, np.asarray(uniques, dtype=object), len(ids) == 0


def channel_codes(channel: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(channel, sort=True)``: each touch's channel as the rank of its name among
    the names present, and those names in order (object array)."""
    found = _sorted_codes(channel)
    if found is None:
        codes, names = pd.factorize(np.asarray(channel, dtype=object), sort=True)
        return codes, np.asarray(names, dtype=object)
    ranks, categories = found
    present = np.bincount(ranks, minlength=len(categories)) > 0
    return (np.cumsum(present) - 1)[ranks], np.asarray(categories[present], dtype=object)


def in_path_order(codes: np.ndarray, position: np.ndarray) -> bool:
    """Whether touches with sorted lead ids (``codes``) also have rising positions in each
    path: then a stable sort by (lead_id, position) keeps every row where it is."""
    same = codes[1:] == codes[:-1]
    return bool((position[1:][same] >= position[:-1][same]).all())


# --- text columns through Arrow -----------------------------------------------------------------
# A loaded text column is Arrow-backed ``str``: turning its 10^6-10^7 cells into Python strings
# (``to_numpy``, ``astype(object)``) or hashing them in pandas (``reindex``, ``merge``) was the
# main cost of the study at 1M accounts. These two read the Arrow data as it is; object columns
# (frames built in code) are converted once.


def as_arrow_text(values: pd.Series | pd.Index | np.ndarray) -> pa.ChunkedArray:
    """The values as an Arrow array, without copying an Arrow-backed text column (``str``,
    ``string[pyarrow]``: its own large_string chunks, :func:`helpers.text_arrays.arrow_text`);
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
