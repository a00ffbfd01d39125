"""Predictions of a fitted Cox model or Kaplan-Meier curve, conditional on the age reached.

Why hand-written: lifelines predicts from age 0 (or one ``conditional_after`` per call) and pads
every stratum's baseline flat to the shared timeline; the churn study needs, per account, the
survival over a grid *ahead* of its own age, with each account's own stratum baseline and a
hazard that continues past the last event seen (see :func:`cumulative_hazard`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter


def cumulative_hazard(cph: CoxPHFitter, stratum: object = None):
    """Baseline cumulative hazard (of ``stratum`` for a stratified model) as a function of days,
    extended past the last event time by a Weibull tail: ``H(t) = H(t_last) (t / t_last)^k``
    with the shape ``k`` fitted by least squares to log H against log t over the second half
    of the observed curve (an account older than any churn seen would otherwise get zero
    risk; a constant hazard would be optimistic under a rising one). When the fit gives no
    usable shape (k ≤ 0, too few points) the tail continues at the mean hazard of the final
    180 days instead."""
    base = cph.baseline_cumulative_hazard_
    bh = (base[stratum] if stratum is not None else base.iloc[:, 0]).to_numpy()
    bt = base.index.to_numpy(float)
    # the curve ends at its own last event: lifelines puts every stratum on the timeline shared
    # by all of them (and any curve runs on past its last event through censored times), so a
    # flat stretch after the last event would otherwise give a zero slope: zero risk for ever
    rises = np.flatnonzero(np.diff(bh, prepend=0.0) > 0)
    last = rises[-1] if len(rises) else len(bh) - 1
    bt, bh = bt[: last + 1], bh[: last + 1]
    span = min(180.0, bt[-1]) or 1.0  # the final 180 days (or all of a shorter curve)
    slope = (bh[-1] - np.interp(bt[-1] - span, bt, bh, left=0.0)) / span
    shape = weibull_tail_shape(bt, bh)
    t_last, h_last = bt[-1], bh[-1]

    def cumhaz(t):
        t = np.asarray(t, float)
        out = np.interp(t, bt, bh, left=0.0)
        if shape is None:
            return out + np.maximum(t - t_last, 0) * slope
        # the Weibull tail only where it applies (the power is the costly part): the same
        # values as computing it everywhere and picking
        past = t > t_last
        out[past] = h_last * (t[past] / t_last) ** shape
        return out

    return cumhaz


def weibull_tail_shape(times: np.ndarray, cumhaz: np.ndarray) -> float | None:
    """Weibull shape k of a cumulative hazard curve: the least-squares slope of log H on log t
    over the second half of its time span (None when fewer than 5 usable points or k ≤ 0)."""
    times, cumhaz = np.asarray(times, float), np.asarray(cumhaz, float)
    if len(times) == 0 or times[-1] <= 0:
        return None
    use = (times >= times[-1] / 2) & (times > 0) & (cumhaz > 0)
    if use.sum() < 5:
        return None
    k = float(np.polyfit(np.log(times[use]), np.log(cumhaz[use]), 1)[0])
    return k if np.isfinite(k) and k > 0 else None


def conditional_survival(
    cph: CoxPHFitter,
    x: pd.DataFrame,
    age: np.ndarray,
    ahead: np.ndarray,
    unconditional: bool = False,
) -> np.ndarray:
    """P(T > age + ahead | T > age) per row (days); ``ahead`` is a grid (k,) or per row (n, k).

    A stratified model uses each row's own stratum baseline (``x`` holds the stratum label,
    as :func:`helpers.survival.cox.align` builds it). ``unconditional=True`` gives
    P(T > age + ahead) instead: at age 0 it keeps the churn at day 0 (a customer who never
    orders again after the first order), which conditioning on T > 0 would drop.
    """
    ph = cph.predict_partial_hazard(x).to_numpy()[:, None]
    ahead = np.asarray(ahead, float)
    grid = ahead if ahead.ndim == 1 else None
    ahead = np.broadcast_to(ahead[None, :] if ahead.ndim == 1 else ahead, (len(x), ahead.shape[-1]))
    age = np.asarray(age, float)
    groups = _strata_rows(cph, x)
    if grid is not None:
        return _on_a_shared_grid(cph, groups, ph[:, 0], age, grid, unconditional)
    cum = np.empty(ahead.shape)
    for key, rows in groups.items():
        cumhaz = cumulative_hazard(cph, key)
        base = 0.0 if unconditional else cumhaz(age[rows])[:, None]
        cum[rows] = cumhaz(age[rows, None] + ahead[rows]) - base
    return _survival(cum, ph)


def _strata_rows(cph: CoxPHFitter, x: pd.DataFrame) -> dict:
    """Each stratum key's row positions in ``x`` (``{None: all rows}`` without strata)."""
    if not cph.strata:
        return {None: np.arange(len(x))}
    strata = [cph.strata] if isinstance(cph.strata, str) else list(cph.strata)
    keys = x[strata].apply(tuple, axis=1) if len(strata) > 1 else x[strata[0]]
    return pd.Series(np.arange(len(x))).groupby(keys.to_numpy()).indices


def survival_profiles(
    cph: CoxPHFitter,
    x: pd.DataFrame,
    age: np.ndarray,
    grid: np.ndarray,
    unconditional: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`conditional_survival` over a shared ``grid`` (days) as ``values`` (profiles x
    grid) and ``where`` (each row's profile): ``conditional_survival(...)`` is
    ``values[where]``, the same floats (:func:`survival_by_profile`). A per-row quantity of a
    row's own survival alone (a discounted lifetime) can then be computed once per profile."""
    ph = cph.predict_partial_hazard(x).to_numpy()
    return survival_by_profile(
        cph,
        _strata_rows(cph, x),
        ph,
        np.asarray(age, float),
        np.asarray(grid, float),
        unconditional,
    )


def _survival(cum: np.ndarray, ph: np.ndarray) -> np.ndarray:
    """``exp(-cum * ph)`` computed in place in ``cum`` (the same values: negating before or
    after a product rounds alike)."""
    np.multiply(cum, ph, out=cum)
    np.negative(cum, out=cum)
    return np.exp(cum, out=cum)


def _on_a_shared_grid(
    cph: CoxPHFitter,
    groups: dict,
    ph: np.ndarray,
    age: np.ndarray,
    grid: np.ndarray,
    unconditional: bool,
) -> np.ndarray:
    """:func:`conditional_survival` when every row looks ``grid`` ahead: each distinct (age,
    partial hazard) pair of a stratum is computed once and copied to its rows
    (:func:`survival_by_profile`)."""
    values, where = survival_by_profile(cph, groups, ph, age, grid, unconditional)
    return np.take(values, where, axis=0)


def survival_by_profile(
    cph: CoxPHFitter,
    groups: dict,
    ph: np.ndarray,
    age: np.ndarray,
    grid: np.ndarray,
    unconditional: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """P(T > age + grid | T > age) (or P(T > age + grid) when ``unconditional``) once per
    distinct (stratum, age, partial hazard) profile: ``values`` (profiles x grid) and ``where``,
    each row's profile (row i's survival is ``values[where[i]]``).

    ``groups`` maps each stratum key (None without strata) to its rows' positions, ``ph`` is
    each row's partial hazard, ``age`` its age (days). Many rows share a profile: every account
    at age 0 when valued at acquisition, one partial hazard per covariate profile. Each value is
    the same arithmetic on the same numbers as row by row (elementwise), so the same float;
    anything computed per row from a row's survival alone (a discounted lifetime) can be
    computed once per profile too.
    """
    parts, where, start = [], np.empty(len(age), dtype=np.intp), 0
    for key, rows in groups.items():
        cumhaz = cumulative_hazard(cph, key)
        first, local = _distinct_pairs(age[rows], ph[rows])
        u_age, u_ph = age[rows][first], ph[rows][first]
        base = 0.0 if unconditional else cumhaz(u_age)[:, None]
        parts.append(_survival(cumhaz(u_age[:, None] + grid[None, :]) - base, u_ph[:, None]))
        where[rows] = local + start
        start += len(first)
    values = parts[0] if len(parts) == 1 else np.concatenate(parts or [np.empty((0, len(grid)))])
    return values, where


def _distinct_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of one row per distinct (``a``, ``b``) pair, and each row's pair number
    (rows with a NaN count as distinct; their values are NaN whichever row computes them)."""
    order = np.lexsort((b, a))
    sa, sb = a[order], b[order]
    new = np.ones(len(a), dtype=bool)
    new[1:] = (sa[1:] != sa[:-1]) | (sb[1:] != sb[:-1])
    where = np.empty(len(a), dtype=np.intp)
    where[order] = np.cumsum(new) - 1
    return order[new], where


def km_conditional(km: KaplanMeierFitter, age: np.ndarray, ahead: float) -> np.ndarray:
    """Kaplan-Meier P(T > age + ahead | T > age) per row (0 where S(age) is 0)."""
    s0 = km.survival_function_at_times(age).to_numpy()
    s1 = km.survival_function_at_times(age + ahead).to_numpy()
    return np.where(s0 > 0, s1 / np.maximum(s0, 1e-12), 0.0)
