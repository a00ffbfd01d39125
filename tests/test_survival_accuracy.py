"""Tests of helpers.survival.accuracy.uno_c against the pairwise reference (issue #15).

The counting implementation must equal, to 1e-12, the O(n^2) comparison of every pair it
replaced (kept here as the oracle), on data with many ties in time and in risk, censoring,
NaN risks and tau cutting."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.survival import accuracy


def _reference_uno_c(time, event, risk, tau):
    """``accuracy.uno_c`` before issue #15: every pair compared, in blocks."""
    time, event, risk = map(np.asarray, (time, event, risk))
    g = accuracy._g(accuracy._censoring_km(time, event), time)
    i_idx = np.flatnonzero((event == 1) & (time < tau))
    num = den = 0.0
    for chunk in np.array_split(i_idx, max(1, len(i_idx) // 2000 + 1)):
        w = 1.0 / g[chunk] ** 2
        later = time[None, :] > time[chunk, None]
        higher = risk[chunk, None] > risk[None, :]
        ties = risk[chunk, None] == risk[None, :]
        den += float((w[:, None] * later).sum())
        num += float((w[:, None] * later * (higher + 0.5 * ties)).sum())
    return num / den if den else float("nan")


def _case(rng: np.random.Generator, trial: int):
    n = int(rng.integers(1, 250))
    time = rng.integers(1, rng.integers(2, 40), n).astype(float)  # many tied times
    event = (rng.random(n) < rng.random()).astype(int)
    if trial % 3 == 0:
        risk = rng.normal(size=n)
    else:
        risk = rng.integers(0, rng.integers(1, 12), n).astype(float)  # many tied risks
    if trial % 5 == 0:
        risk[rng.random(n) < 0.2] = np.nan
    if trial % 11 == 0:
        time = time + rng.random(n)  # continuous times
    return time, event, risk, float(rng.integers(1, 45))


def test_uno_c_equals_the_pairwise_reference():
    rng = np.random.default_rng(15)
    compared = 0
    for trial in range(40):
        time, event, risk, tau = _case(rng, trial)
        ours = accuracy.uno_c(time, event, risk, tau)
        theirs = _reference_uno_c(time, event, risk, tau)
        if np.isnan(theirs):
            assert np.isnan(ours), trial
            continue
        assert ours == pytest.approx(theirs, abs=1e-12, rel=1e-12), trial
        compared += 1
    assert compared > 25  # most cases have pairs


def test_uno_c_edge_cases():
    time = np.array([1.0, 2.0, 2.0, 3.0, 5.0])
    event = np.array([1, 1, 1, 0, 1])
    risk = np.array([3.0, 2.0, 2.0, 2.0, 1.0])
    for tau in (0.5, 1.0, 2.5, 10.0):  # no case before tau, then more and more
        ours, theirs = (
            accuracy.uno_c(time, event, risk, tau),
            _reference_uno_c(time, event, risk, tau),
        )
        assert (np.isnan(ours) and np.isnan(theirs)) or ours == pytest.approx(theirs, abs=1e-15)
    same_time = accuracy.uno_c(np.array([2.0, 2.0]), np.array([1, 1]), np.array([1.0, 0.0]), 9)
    assert np.isnan(same_time)  # equal times are never a pair
    assert np.isnan(accuracy.uno_c(np.array([1.0]), np.array([1]), np.array([0.0]), 5))


def test_counts_of_later_lower_and_equal_rows():
    time = np.array([1.0, 1.0, 2.0, 3.0, 3.0])
    risk = np.array([2.0, 5.0, 2.0, 1.0, np.nan])
    later, lower, equal = accuracy._later_lower_and_equal(time, risk)
    assert later.tolist() == [3, 3, 2, 0, 0]
    assert lower.tolist() == [1, 2, 1, 0, 0]  # the NaN at time 3 is never lower
    assert equal.tolist() == [1, 0, 0, 0, 0]
    values = np.random.default_rng(0).integers(0, 7, 300)
    brute = [(values[:p] < values[p]).sum() for p in range(len(values))]
    assert accuracy._smaller_before(values).tolist() == brute


def test_a_shared_censoring_gives_each_metrics_own_value():
    """The back-test computes the censoring once for its eight metrics: every metric must give
    exactly what it gives computing its own (the oracle), and must use the one it is given."""
    rng = np.random.default_rng(11)
    n = 400
    time = rng.integers(1, 200, n).astype(float)
    event = (rng.random(n) < 0.4).astype(int)
    risk = rng.normal(size=n)
    surv = rng.uniform(size=n)
    grid = np.linspace(10, 90, 5)
    shared = accuracy.censoring_of(time, event)
    other = accuracy.censoring_of(time, 1 - event)  # a different censoring: different values
    for metric in (
        lambda c: accuracy.uno_c(time, event, risk, 90, censoring=c),
        lambda c: accuracy.auc_at(time, event, risk, 90, censoring=c),
        lambda c: accuracy.brier_at(time, event, surv, 90, censoring=c),
        lambda c: accuracy.integrated_brier(time, event, lambda t: surv, grid, censoring=c),
    ):
        assert metric(shared) == metric(None)
        assert metric(other) != metric(None)
