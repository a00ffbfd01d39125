"""Kaplan-Meier helpers: the Holm correction and the log-rank tests against their libraries."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from helpers.survival.kaplan_meier import holm


@pytest.mark.parametrize("seed", range(5))
def test_holm_is_statsmodels_holm_to_the_last_bit(seed, monkeypatch):
    """Same floats as statsmodels (the oracle) in the order given, ties and values that
    correct above 1 included; and no garbage collection on the way (why it is hand-written)."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 1, 40) ** 3
    p[::7] = p[3]  # ties
    p[5] = 0.0
    want = multipletests(p, method="holm")[1]

    def no_collect(*_):
        raise AssertionError("gc.collect called")

    monkeypatch.setattr(gc, "collect", no_collect)
    got = holm(p)
    np.testing.assert_array_equal(got, want)
    assert got.max() == 1.0 and got[5] == 0.0


def test_holm_of_nothing_and_of_one():
    assert holm(np.array([])).shape == (0,)
    np.testing.assert_array_equal(holm([0.3]), [0.3])
    np.testing.assert_array_equal(holm([0.01, 0.04]), [0.02, 0.04])
