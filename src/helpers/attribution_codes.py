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


def _sorted_codes(values: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The codes and categories (object array) of a non-empty categorical whose categories are
    in increasing order and which has no empty value; None for anything else."""
    if not isinstance(values, pd.Series) or not isinstance(values.dtype, pd.CategoricalDtype):
        return None
    categories = values.cat.categories
    codes = values.cat.codes.to_numpy()
    if not len(codes) or not categories.is_monotonic_increasing or (codes < 0).any():
        return None
    return codes, categories.to_numpy(dtype=object)


def path_codes(lead_id: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(lead_id)``: an integer code per touch (its path, numbered in order of
    first appearance) and the lead ids in that order, without hashing the strings when the
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
    return (np.cumsum(present) - 1)[ranks], categories[present]


def in_path_order(codes: np.ndarray, position: np.ndarray) -> bool:
    """Whether touches with sorted lead ids (``codes``) also have rising positions in each
    path: then a stable sort by (lead_id, position) keeps every row where it is."""
    same = codes[1:] == codes[:-1]
    return bool((position[1:][same] >= position[:-1][same]).all())
