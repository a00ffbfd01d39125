"""Ids as integer codes in the order of the ids: what grouping by an id column does first.

Grouping 10^6 order lines by a text id makes pandas hash every text and then sort the distinct
ids with Python comparisons (about 2 s for 10^6 distinct order ids). :func:`sorted_codes` gives
the same codes and ids as ``pd.factorize(values, sort=True)`` with the sort done by NumPy on
fixed-width text (a C comparison of code points, the order Python's ``<`` gives texts), several
times faster; the steps then group the integer codes, which gives the same groups, in the same
order, with the same sums (each group's rows in the same order) as grouping the texts.
"""

from __future__ import annotations

import weakref
from typing import NamedTuple

import numpy as np
import pandas as pd

#: Longest id (characters) sorted as fixed-width text; longer ids are sorted by pandas (a
#: fixed-width copy takes 4 bytes per character of the longest id for every distinct id).
MAX_FIXED_WIDTH = 64


def sorted_codes(values: pd.Series | np.ndarray) -> tuple[np.ndarray, pd.Index | np.ndarray]:
    """``pd.factorize(values, sort=True)``: per value, the position of its id among the
    distinct ids in sorted order (-1 for a missing value), and those ids (an Index for a
    Series, an array for an array, as pandas returns them).

    Only texts take the fast path (every distinct value a ``str`` without a NUL character,
    which fixed-width NumPy text would drop at the end, and at most :data:`MAX_FIXED_WIDTH`
    characters long); anything else is factorized by pandas itself.
    """
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
