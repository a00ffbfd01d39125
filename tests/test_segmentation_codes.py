"""sorted_codes: the codes and ids of ``pd.factorize(sort=True)``, on its fast path and off."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.loading import TEXT
from helpers.segmentation.codes import (
    MAX_FIXED_WIDTH,
    arrow_text,
    column_codes,
    column_is,
    is_unique,
    set_index,
    sorted_codes,
)
from helpers.text_arrays import is_text


def _same_as_pandas(values) -> None:
    codes, ids = sorted_codes(values)
    want_codes, want_ids = pd.factorize(values, sort=True)
    np.testing.assert_array_equal(codes, want_codes)
    assert codes.dtype == want_codes.dtype
    assert type(ids) is type(want_ids)
    np.testing.assert_array_equal(np.asarray(ids, dtype=object), np.asarray(want_ids, dtype=object))


def test_texts_match_pandas_sorted_factorize():
    rng = np.random.default_rng(3)
    # ids of different lengths (prefixes sort first), unicode beyond ASCII, repeats, gaps
    pool = np.array(
        ["A-1", "A-10", "A-2", "a-1", "Ä-1", "Z", "Ω-9", "acct_00042", "acct_0042", "", "B b"],
        dtype=object,
    )
    values = pool[rng.integers(0, len(pool), 5_000)]
    _same_as_pandas(pd.Series(values))
    _same_as_pandas(values)
    with_missing = pd.Series(values).where(rng.random(len(values)) > 0.1)
    _same_as_pandas(with_missing)  # missing values are -1, as pandas gives them
    assert (sorted_codes(with_missing)[0] == -1).sum() == with_missing.isna().sum() > 0
    # loaded text (Arrow-backed str, missing as NaN): Series, Index and array, with a NUL
    text = pd.Series(np.append(values, "a\x00"), dtype=TEXT).where(rng.random(5_001) > 0.1)
    ordered = text.sort_values(ignore_index=True)  # ids already in order: no sort needed
    for each in (text, pd.Index(text), text.array, text.iloc[:0], ordered, ordered[::-1]):
        assert arrow_text(each) is not None
        _same_as_pandas(each)
        assert sorted_codes(each)[1].dtype == TEXT  # the ids stay Arrow text
    assert (sorted_codes(text)[0] == -1).sum() == text.isna().sum() > 0
    # the same codes and ids (as Python strings) as the object column gives
    codes, ids = sorted_codes(text)
    want_codes, want_ids = sorted_codes(text.astype(object))
    np.testing.assert_array_equal(codes, want_codes)
    assert list(ids) == list(want_ids)


@pytest.mark.parametrize(
    "values",
    [
        pd.Series([3, 1, 2, 1]),  # not texts: pandas itself
        pd.Series(["b", 1, "a", 1], dtype=object),  # mixed
        pd.Series(["b", "a\x00", "a", "b"]),  # a NUL that fixed-width text would drop
        pd.Series(["x" * (MAX_FIXED_WIDTH + 1), "b", "x"]),  # too long for the fixed width
        pd.Series(["b", "a", "b"], dtype="category"),
        pd.Series([], dtype=object),
    ],
)
def test_other_values_fall_back_to_pandas(values):
    _same_as_pandas(values)


def test_column_codes_are_kept_per_frame_and_match_sorted_codes():
    frame = pd.DataFrame({"id": ["b", "a", None, "c", "a"], "status": ["x", "y", "x", None, "y"]})
    codes, ids = column_codes(frame, "id")
    want_codes, want_ids = sorted_codes(frame["id"])
    np.testing.assert_array_equal(codes, want_codes)
    np.testing.assert_array_equal(np.asarray(ids), np.asarray(want_ids))
    assert column_codes(frame, "id")[0] is codes  # computed once
    assert not codes.flags.writeable
    other = frame.copy()  # another frame: its own codes
    assert column_codes(other, "id")[0] is not codes
    grown = pd.concat([frame, pd.DataFrame({"id": ["0"], "status": ["x"]})], ignore_index=True)
    assert len(column_codes(grown, "id")[0]) == 6


@pytest.mark.parametrize("value", ["x", "y", "absent"])
def test_column_is_equals_the_text_comparison(value):
    frame = pd.DataFrame({"status": ["x", "y", "x", None, "y", "z"]})
    want = (frame["status"] == value).to_numpy()
    np.testing.assert_array_equal(column_is(frame, "status", value), want)
    np.testing.assert_array_equal(~column_is(frame, "status", value), (frame["status"] != value))


@pytest.mark.parametrize("dtype", [object, TEXT])
@pytest.mark.parametrize(
    "values",
    [
        ["a", "b", "Ä"],  # increasing: unique without hashing
        ["a", "b", "b"],  # not increasing: hashed
        ["b", "a", "b"],
        ["a", None, "b"],  # a missing value: hashed
        ["a", None, None],
        [],
        ["", "a"],
        ["a"],
    ],
)
def test_is_unique_equals_pandas(values, dtype):
    index = pd.Index(values, dtype=dtype)
    assert is_unique(index) == pd.Index(values, dtype=object).is_unique
    assert is_unique(index) == is_unique(pd.Series(values, dtype=dtype))  # the kept answer


def test_arrow_text_is_none_for_other_columns():
    assert arrow_text(pd.Series(["a"], dtype=object)) is None
    assert arrow_text(pd.Series([1, 2])) is None
    assert arrow_text(pd.Series(["a"], dtype="category")) is None
    assert arrow_text(np.array(["a"], dtype=object)) is None


@pytest.mark.parametrize("dtype", [object, TEXT, "category"])
def test_set_index_equals_pandas(dtype):
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "id": ["x", None, "Ä"], "b": ["u", "v", None]})
    frame = frame.astype({"id": dtype, "b": TEXT})
    got, want = set_index(frame, "id"), frame.set_index("id")
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert got.index.dtype == want.index.dtype and got.index.name == "id"
    assert is_text(frame["b"]) and is_text(frame["id"]) == (dtype != "category")
