"""Ids as integer codes in the order of the ids: what grouping by an id column does first.

Grouping 10^6 order lines by a text id makes pandas hash every text and then sort the distinct
ids with Python comparisons (about 2 s for 10^6 distinct order ids). :func:`sorted_codes` gives
the same codes and ids as ``pd.factorize(values, sort=True)`` with the sort done by NumPy on
fixed-width text (a C comparison of code points, the order Python's ``<`` gives texts), several
times faster; the steps then group the integer codes, which gives the same groups, in the same
order, with the same sums (each group's rows in the same order) as grouping the texts.
"""

from __future__ import annotations

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
