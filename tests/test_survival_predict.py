"""Tests of helpers.survival.predict against its row-by-row reference (issue #15).

The vectorised predictions must give the very same floats as the implementation they replaced,
kept here as the oracle (``_reference_*``)."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

from helpers.survival import predict


def _reference_cumulative_hazard(cph: CoxPHFitter, stratum: object = None):
    """``predict.cumulative_hazard`` before issue #15: the tail computed everywhere, then
    picked."""
    base = cph.baseline_cumulative_hazard_
    bh = (base[stratum] if stratum is not None else base.iloc[:, 0]).to_numpy()
    bt = base.index.to_numpy(float)
    rises = np.flatnonzero(np.diff(bh, prepend=0.0) > 0)
    last = rises[-1] if len(rises) else len(bh) - 1
    bt, bh = bt[: last + 1], bh[: last + 1]
    span = min(180.0, bt[-1]) or 1.0
    slope = (bh[-1] - np.interp(bt[-1] - span, bt, bh, left=0.0)) / span
    shape = predict.weibull_tail_shape(bt, bh)
    t_last, h_last = bt[-1], bh[-1]

    def cumhaz(t):
        t = np.asarray(t, float)
        inside = np.interp(t, bt, bh, left=0.0)
        if shape is None:
            return inside + np.maximum(t - t_last, 0) * slope
        tail = h_last * (np.maximum(t, t_last) / t_last) ** shape
        return np.where(t > t_last, tail, inside)

    return cumhaz


def _reference_conditional_survival(cph, x, age, ahead, unconditional=False):
    """``predict.conditional_survival`` before issue #15: every row and grid day computed."""
    ph = cph.predict_partial_hazard(x).to_numpy()[:, None]
    ahead = np.asarray(ahead, float)
    ahead = np.broadcast_to(ahead[None, :] if ahead.ndim == 1 else ahead, (len(x), ahead.shape[-1]))
    age = np.asarray(age, float)
    if cph.strata:
        strata = [cph.strata] if isinstance(cph.strata, str) else list(cph.strata)
        keys = x[strata].apply(tuple, axis=1) if len(strata) > 1 else x[strata[0]]
        groups = pd.Series(np.arange(len(x))).groupby(keys.to_numpy()).indices
    else:
        groups = {None: np.arange(len(x))}
    cum = np.empty(ahead.shape)
    for key, rows in groups.items():
        cumhaz = _reference_cumulative_hazard(cph, key)
        base = 0.0 if unconditional else cumhaz(age[rows])[:, None]
        cum[rows] = cumhaz(age[rows, None] + ahead[rows]) - base
    return np.exp(-cum * ph)


def _frame(seed: int, n: int = 300, few_events: bool = False) -> pd.DataFrame:
    """Survival rows in whole days: two 0/1 covariates (so many rows share a partial hazard),
    a numeric one, two stratum columns."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": rng.integers(0, 2, n).astype(float),
            "b": rng.integers(0, 2, n).astype(float),
            "size": np.round(rng.normal(size=n), 1),
            "g": rng.choice(["g1", "g2"], n),
            "h": rng.choice(["h1", "h2"], n),
        }
    )
    scale = 400 * np.exp(-0.5 * frame["a"] + 0.3 * frame["b"])
    frame["duration_days"] = np.ceil(rng.weibull(1.3, n) * scale).clip(1, 900)
    frame["event"] = (rng.random(n) < (0.05 if few_events else 0.7)).astype(int)
    frame.loc[frame.index[:3], "event"] = 1  # every fit has some churn
    return frame


@functools.cache
def _model(strata: tuple[str, ...]) -> tuple[CoxPHFitter, pd.DataFrame]:
    """A fit on ``_frame(1)`` (once per stratification for the whole file) and its rows."""
    frame = _frame(1)
    return _fit(frame, list(strata) or None), frame.drop(columns=["duration_days", "event"])


def _fit(frame: pd.DataFrame, strata: list[str] | None) -> CoxPHFitter:
    columns = ["a", "b", "size", "duration_days", "event", *(strata or [])]
    return CoxPHFitter(penalizer=0.01).fit(frame[columns], "duration_days", "event", strata=strata)


@pytest.mark.parametrize("strata", [(), ("g",), ("g", "h")])
@pytest.mark.parametrize("unconditional", [False, True])
def test_conditional_survival_equals_the_row_by_row_reference(strata, unconditional):
    cph, x = _model(strata)
    rng = np.random.default_rng(2)
    grid = np.linspace(0, 3 * 365, 61)
    zero = np.zeros(len(x))
    ages = rng.integers(0, 2000, len(x)).astype(float)  # some beyond the last churn
    ages[:50] = 30.0  # shared ages
    per_row = rng.integers(0, 400, len(x))[:, None] + grid[None, :]
    for age, ahead in [(zero, grid), (ages, grid), (ages, per_row), (zero, per_row)]:
        ours = predict.conditional_survival(cph, x, age, ahead, unconditional=unconditional)
        theirs = _reference_conditional_survival(cph, x, age, ahead, unconditional)
        assert ours.shape == theirs.shape
        assert np.array_equal(ours, theirs), "not the same floats"


def test_cumulative_hazard_equals_the_reference_with_and_without_a_weibull_tail():
    t = np.concatenate([np.linspace(-5, 3000, 4001), [0.0, np.nan]])
    churns = []
    for frame in (_frame(3), _frame(4, n=12, few_events=True)):
        cph = _fit(frame, None)
        ours, theirs = predict.cumulative_hazard(cph), _reference_cumulative_hazard(cph)
        np.testing.assert_array_equal(ours(t), theirs(t))  # NaN where NaN, else equal
        churns.append(int(frame["event"].sum()))
    # the first curve has a Weibull tail, the second too few churns for one (a linear tail)
    assert churns[0] > 50 and churns[1] < 5


@pytest.mark.parametrize("strata", [(), ("g", "h")])
def test_survival_by_profile_is_one_row_per_distinct_stratum_age_and_partial_hazard(strata):
    """``values[where]`` are the reference's rows, with one value row per distinct (stratum,
    age, partial hazard): what the LTV refits value once per profile."""
    cph, x = _model(strata)
    grid = np.linspace(0, 3 * 365, 61)
    age = np.where(np.arange(len(x)) % 3 == 0, 30.0, 0.0)
    ph = cph.predict_partial_hazard(x).to_numpy()
    keys = x[list(strata)].apply(tuple, axis=1) if strata else pd.Series(0, index=x.index)
    groups = pd.Series(np.arange(len(x))).groupby(keys.to_numpy()).indices
    if not strata:
        groups = {None: np.arange(len(x))}
    values, where = predict.survival_by_profile(cph, groups, ph, age, grid, unconditional=True)
    theirs = _reference_conditional_survival(cph, x, age, grid, True)
    assert np.array_equal(values[where], theirs), "not the same floats"
    profiles = pd.DataFrame({"k": keys.to_numpy(), "age": age, "ph": ph}).drop_duplicates()
    assert len(values) == len(profiles) < len(x)


@pytest.mark.parametrize("strata", [(), ("g",), ("g", "h")])
def test_discounted_lifetime_once_per_profile_equals_the_row_by_row_one(strata):
    """The new-customer LTV integrates each profile's survival once and copies it to its rows:
    the same floats as integrating every row's survival from the reference (the oracle)."""
    from helpers.survival.ltv import discounted_lifetime

    cph, x = _model(strata)
    grid = np.linspace(0, 3 * 365, 61)
    zero = np.zeros(len(x))
    values, where = predict.survival_profiles(cph, x, zero, grid, unconditional=True)
    theirs = _reference_conditional_survival(cph, x, zero, grid, True)
    assert np.array_equal(values[where], theirs), "not the same floats"
    for rate in (0.0, 0.10):
        got = discounted_lifetime(values, grid, rate)[where]
        assert np.array_equal(got, discounted_lifetime(theirs, grid, rate))
    assert len(values) < len(x)
