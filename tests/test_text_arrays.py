"""helpers.text_arrays' lookups by text through Arrow: the same as pandas' own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import text_arrays as codes

TEXT = pd.StringDtype("pyarrow", na_value=np.nan)


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
