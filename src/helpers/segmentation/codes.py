"""Ids as integer codes in the order of the ids: what grouping by an id column does first.

Grouping 10^6 order lines by a text id makes pandas hash every text and then sort the distinct
ids with Python comparisons (about 2 s for 10^6 distinct order ids). :func:`sorted_codes` gives
the same codes and ids as ``pd.factorize(values, sort=True)`` with the sort done by NumPy on
fixed-width text (a C comparison of code points, the order Python's ``<`` gives texts), several
times faster; the steps then group the integer codes, which gives the same groups, in the same
order, with the same sums (each group's rows in the same order) as grouping the texts.

Loaded text columns are Arrow-backed ``str`` (:data:`helpers.loading.TEXT`): their values
live in one UTF-8 buffer, and turning them into Python strings (``to_numpy()``,
``astype(object)``, a pandas hash table of a text Index) costs about a second and 60 bytes per
10^6 cells. :func:`is_unique` and :func:`sorted_codes` work on that buffer (taken by
:func:`helpers.text_arrays.arrow_text`)
with ``pyarrow.compute`` (hashing and sorting in C++; UTF-8 byte order is code-point order,
the order of Python's ``<``); columns of Python strings keep their NumPy paths.
"""

from __future__ import annotations

import weakref
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from helpers.text_arrays import arrow_text

#: Longest id (characters) sorted as fixed-width text; longer ids are sorted by pandas (a
#: fixed-width copy takes 4 bytes per character of the longest id for every distinct id).
MAX_FIXED_WIDTH = 64


_unique_kept: dict[int, tuple[weakref.ref, bool]] = {}


def is_unique(values: pd.Series | pd.Index) -> bool:
    """``pd.Index(values).is_unique`` (one missing value counts as a value, two repeat).

    Arrow text is checked by Arrow's hash of the buffer (``pc.unique``), without the Python
    strings and hash table pandas builds for a text Index (seconds at 10^6 ids, again for
    every new Index object). The answer for an Index, which cannot change, is kept per Index
    object (the lead grading asks it of the same ids up to five times).
    """
    if isinstance(values, pd.Index):
        kept = _unique_kept.get(id(values))
        if kept is not None and kept[0]() is values:
            return kept[1]
    data = arrow_text(values)
    # ids in strictly increasing order (an export sorted by its key) are unique: one
    # comparison of neighbours; otherwise pc.unique (pc.count_distinct is several times slower)
    if data is None:
        unique = bool(pd.Index(values).is_unique)
    elif data.null_count == 0 and len(data) > 1 and _increasing(data):
        unique = True
    else:
        unique = len(pc.unique(data)) == len(data)
    if isinstance(values, pd.Index):
        for stale in [k for k, v in _unique_kept.items() if v[0]() is None]:
            del _unique_kept[stale]
        _unique_kept[id(values)] = (weakref.ref(values), unique)
    return unique


def set_index(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """``frame.set_index(column)``: the same frame and index.

    For an Arrow text column pandas (2.3) builds the new index's hash table engine, a Python
    string per row kept with the index, only to clear it ("clean up memory usage"): about a
    second and 60 bytes a row at 10^6 rows. This sets the same index without that engine;
    other columns are left to pandas.
    """
    if arrow_text(frame[column]) is None:
        return frame.set_index(column)
    out = frame.drop(columns=column)
    out.index = pd.Index(frame[column], name=column)
    return out


def sorted_codes(values: pd.Series | np.ndarray) -> tuple[np.ndarray, pd.Index | np.ndarray]:
    """``pd.factorize(values, sort=True)``: per value, the position of its id among the
    distinct ids in sorted order (-1 for a missing value), and those ids (an Index for a
    Series, an array for an array, as pandas returns them).

    Only texts take the fast path (every distinct value a ``str`` without a NUL character,
    which fixed-width NumPy text would drop at the end, and at most :data:`MAX_FIXED_WIDTH`
    characters long), and Arrow text (:func:`_sorted_arrow_codes`); anything else is
    factorized by pandas itself.
    """
    if arrow_text(values) is not None:
        return _sorted_arrow_codes(values)
    codes, uniques = pd.factorize(values)
    texts = isinstance(uniques, (pd.Index, np.ndarray)) and uniques.dtype == object
    ids = np.asarray(uniques, dtype=object)
    if (
        not texts
        or pd.api.types.infer_dtype(ids, skipna=False) != "string"
        or max(map(len, ids), default=0) > MAX_FIXED_WIDTH
        or "\x00" in "".join(ids)
    ):
        return pd.factorize(values, sort=True)
    order = np.argsort(ids.astype(str), kind="stable")
    rank = np.empty(len(order), dtype=np.intp)
    rank[order] = np.arange(len(order))
    ranked = np.where(codes >= 0, rank[codes.clip(min=0)], -1).astype(codes.dtype)
    ordered = ids[order]
    return ranked, pd.Index(ordered, dtype=object) if isinstance(uniques, pd.Index) else ordered


def _increasing(texts: pa.ChunkedArray | pa.Array) -> bool:
    """Whether every text is below the next (UTF-8 byte order); the texts hold no null."""
    return bool(pc.all(pc.less(texts[:-1], texts[1:])).as_py())


def _sorted_arrow_codes(values: pd.Series | pd.Index | pd.api.extensions.ExtensionArray):
    """:func:`sorted_codes` of Arrow text: Arrow's dictionary encoding (pandas' own
    factorize of it), then the distinct texts sorted by Arrow (UTF-8 byte order, which is
    code-point order: the order pandas' sort gives them) and the codes renumbered by rank.
    Distinct texts that come already in order (ids of a table exported sorted by them) are
    recognised by one comparison of neighbours and need no sort."""
    codes, uniques = pd.factorize(values)
    texts = arrow_text(uniques)
    if len(texts) < 2 or _increasing(texts):
        return codes, uniques
    order = pc.array_sort_indices(texts).to_numpy().astype(np.intp)
    rank = np.empty(len(order) + 1, dtype=codes.dtype)
    rank[order] = np.arange(len(order), dtype=codes.dtype)
    rank[-1] = -1  # code -1 (missing) indexes the last slot
    return rank[codes], uniques.take(order)


class _Kept(NamedTuple):
    frame: weakref.ref
    shape: tuple[int, int]
    codes: np.ndarray
    ids: pd.Index | np.ndarray


_kept: dict[tuple[int, str], _Kept] = {}


def column_codes(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, pd.Index | np.ndarray]:
    """:func:`sorted_codes` of ``frame[column]``, computed once per frame and column.

    The tier, migration, customer-type and look-alike steps each select lines of the same
    orders table by status and group them by account id: about 0.1-0.5 s of factorizing
    and sorting texts per call at 10^6 lines, several calls per notebook. A
    subset's lines keep their codes (``codes[rows]``): their ranks keep the order of the ids,
    so grouping them gives the same groups in the same order as grouping the subset's own
    codes (the codes are not consecutive; ``ids.take(code)`` names a group).

    Kept per frame *identity* and shape (as :func:`helpers.features.shared_features` keeps
    its tables): frames are assumed not to change in place once passed; a collected frame
    releases its codes. Callers must not change the arrays they get.
    """
    key = (id(frame), column)
    kept = _kept.get(key)
    if kept is not None and kept.frame() is frame and kept.shape == frame.shape:
        return kept.codes, kept.ids
    for stale in [k for k, v in _kept.items() if v.frame() is None]:
        del _kept[stale]
    codes, ids = sorted_codes(frame[column])
    codes.flags.writeable = False
    _kept[key] = _Kept(weakref.ref(frame), frame.shape, codes, ids)
    return codes, ids


def column_is(frame: pd.DataFrame, column: str, value: str) -> np.ndarray:
    """``(frame[column] == value).to_numpy()`` from :func:`column_codes` (an integer
    comparison instead of 10^6 text comparisons); missing values are never equal."""
    codes, ids = column_codes(frame, column)
    where = np.flatnonzero(np.asarray(ids, dtype=object) == value)
    return codes == where[0] if len(where) else np.zeros(len(codes), dtype=bool)
