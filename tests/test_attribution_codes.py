"""helpers.attribution_codes: the codes read from sorted categoricals equal ``pd.factorize`` on
the strings (the general path, kept as the oracle), whatever the row order and categories."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import attribution_codes as codes


def _cases() -> dict[str, pd.Series]:
    rng = np.random.default_rng(5)
    ids = np.array(["L10", "L9", "L1", "é", "Z", "a", "ab"], dtype=object)
    grouped = pd.Series(np.sort(ids[rng.integers(0, len(ids), 400)]))
    shuffled = pd.Series(ids[rng.integers(0, len(ids), 400)])
    names = [*sorted(ids), "zz"]  # one category no row uses
    return {
        "sorted rows": grouped.astype(pd.CategoricalDtype(names)),
        "shuffled rows": shuffled.astype(pd.CategoricalDtype(names)),
        "unsorted categories": shuffled.astype(pd.CategoricalDtype(list(reversed(names)))),
        "an empty value": pd.Series(["b", None, "a"], dtype="category"),
        "no rows": pd.Series([], dtype="category"),
        "text": shuffled,
    }


@pytest.mark.parametrize("case", list(_cases()))
def test_codes_equal_factorize_on_the_strings(case):
    values = _cases()[case]
    text = values.to_numpy(dtype=object)
    got, uniques, ordered = codes.factorize_paths(values)
    want, want_uniques = pd.factorize(text)
    assert got.dtype == want.dtype and (got == want).all()
    assert uniques.dtype == object and list(uniques) == list(want_uniques)
    assert ordered == (len(text) == 0 or bool(pd.Index(text).is_monotonic_increasing))
    ch, names = codes.channel_codes(values)
    want_ch, want_names = pd.factorize(text, sort=True)
    assert ch.dtype == want_ch.dtype and (ch == want_ch).all()
    assert names.dtype == object and list(names) == list(want_names)


def test_in_path_order():
    assert codes.in_path_order(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]))
    assert not codes.in_path_order(np.array([0, 0, 1, 1]), np.array([1, 0, 0, 1]))
