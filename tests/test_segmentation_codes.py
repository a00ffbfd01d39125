"""sorted_codes: the codes and ids of ``pd.factorize(sort=True)``, on its fast path and off."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.segmentation.codes import MAX_FIXED_WIDTH, column_codes, column_is, sorted_codes


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
