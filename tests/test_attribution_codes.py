"""helpers.attribution_codes: the codes read from sorted categoricals equal ``pd.factorize`` on
the strings (the general path, kept as the oracle), whatever the row order and categories."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import attribution_codes as codes

TEXT = pd.StringDtype("pyarrow", na_value=np.nan)


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
        "sorted rows, str categories": grouped.astype(
            pd.CategoricalDtype(pd.Index(names, dtype=TEXT))
        ),
        "shuffled rows, str categories": shuffled.astype(
            pd.CategoricalDtype(pd.Index(names, dtype=TEXT))
        ),
        "unsorted str categories": shuffled.astype(
            pd.CategoricalDtype(pd.Index(list(reversed(names)), dtype=TEXT))
        ),
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
    assert uniques.dtype in (object, TEXT) and list(uniques) == list(want_uniques)
    assert ordered == (len(text) == 0 or bool(pd.Index(text).is_monotonic_increasing))
    ch, names = codes.channel_codes(values)
    want_ch, want_names = pd.factorize(text, sort=True)
    assert ch.dtype == want_ch.dtype and (ch == want_ch).all()
    assert names.dtype == object and list(names) == list(want_names)


def test_in_path_order():
    assert codes.in_path_order(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]))
    assert not codes.in_path_order(np.array([0, 0, 1, 1]), np.array([1, 0, 0, 1]))


@pytest.mark.parametrize("values", ["float", "datetime", "int"])
@pytest.mark.parametrize(
    "labels",
    [
        "str with a missing",
        "object",
        "object with None",
        "str Index",
        "no labels",
        "the index itself",
    ],
)
@pytest.mark.parametrize("index", ["str", "str with a missing", "object", "str repeated"])
def test_reindex_equals_pandas(values, labels, index):
    keys = {
        "str": pd.Index(["b", "a", "é", "c"], dtype=TEXT, name="lead_id"),
        "str with a missing": pd.Index(["b", "a", np.nan, "c"], dtype=TEXT, name="lead_id"),
        "object": pd.Index(["b", "a", "é", "c"], dtype=object),
        "str repeated": pd.Index(["b", "a", "a", "c"], dtype=TEXT),
    }[index]
    data = {
        "float": np.array([1.5, 2.0, 3.0, 4.0]),
        "datetime": pd.to_datetime(["2020-01-01", None, "2020-01-03", "2020-01-04"]),
        "int": np.array([1, 2, 3, 4]),
    }[values]
    series = pd.Series(data, index=keys, name="v")
    wanted = {
        "str with a missing": pd.Series(["c", "x", np.nan, "a"], dtype=TEXT, name="lead_id"),
        "object": np.array(["c", "x", "é", "a"], dtype=object),
        "object with None": pd.Series(["c", None, "a"], dtype=object),
        "str Index": pd.Index(["a", "c"], dtype=TEXT),
        "no labels": pd.Index([], dtype=TEXT),
        "the index itself": pd.Series(keys.array, name="lead_id"),
    }[labels]
    try:
        want = series.reindex(wanted)
    except ValueError:  # pandas refuses repeated labels: so must the fast path
        with pytest.raises(ValueError):
            codes.reindex(series, wanted)
        return
    pd.testing.assert_series_equal(codes.reindex(series, wanted), want)


def test_as_arrow_text_is_zero_copy_for_str_and_converts_objects():
    column = pd.Series(["a", np.nan, "b"], dtype=TEXT)
    assert codes.as_arrow_text(column) is column.array._pa_array
    assert codes.as_arrow_text(pd.Index(column)).to_pylist() == ["a", None, "b"]
    assert codes.as_arrow_text(pd.Series(["a", None, np.nan], dtype=object)).to_pylist() == [
        "a",
        None,
        None,
    ]
