"""Schoenfeld residuals of a Cox model with Efron ties, vectorised: lifelines' values.

:func:`schoenfeld_residuals` computes what lifelines'
``SemiParametricPHFitter._compute_schoenfeld_within_strata`` computes (one stratum; lifelines
calls it once per stratum and stacks the results), and the project's Cox fitter
(:class:`helpers.survival.efron.CoxPHFitter`) uses it in its place. Everything around it stays
lifelines': ``compute_residuals`` (its sort of the rows by strata, duration and event, which
is the order of the returned frame), the scaling by the variance matrix
(``kind="scaled_schoenfeld"``), and ``lifelines.statistics.proportional_hazard_test`` (the
rank transform is a cumulative sum of the events: already vectorised).

Why hand-written: lifelines walks the rows backwards one at a time in Python and grows its
result with ``np.append`` once per row, which copies the whole array each time: quadratic in
the rows of a stratum. On 82,507 accounts with 48,351 churn events one proportional-hazards
check took 37-48 s of CPU with lifelines' loop and 0.3 s with this one (docs/benchmarks.md);
the check runs up to four times per churn study. No maintained
library computes these residuals on lifelines' fitted object (statsmodels' ``PHReg`` has
Schoenfeld residuals for its own fit, Breslow ties only).

lifelines' rule, on the rows of a stratum in the order given (a fit sorts them by duration):
a tie group *g* is a run of consecutive rows with equal duration, starting at row s_g, with
D_g deaths. With φ_i = w_i exp(x_i β) (w: case weights; they enter only through φ), risk-set
sums over the rows from s_g to the end, R0 = Σ φ_i and R1 = Σ φ_i x_i, and tie sums over the
group's deaths, T0 and T1, the Efron mean of the group is, for l = 0..D_g-1 and f = l / D_g::

    x̄_g = Σ_l (R1 - f T1) / (D_g (R0 - f T0)) = R1 a_g - T1 b_g,
    a_g = Σ_l 1 / (D_g (R0 - f T0)),   b_g = Σ_l f / (D_g (R0 - f T0))

and the residual of row i in group g is E_i (x_i - x̄_g): the death's covariates less the
mean at its time; censored rows and groups without deaths give zeros. R0 and R1 are reverse
cumulative sums; a_g and b_g sums of scalars per group: no loop over rows or times, O(n d)
work and a few n×d arrays (φx, its reverse cumulative sum, the result).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["schoenfeld_residuals"]


def _values(a: Any) -> np.ndarray:
    return a.to_numpy() if isinstance(a, pd.Series | pd.DataFrame) else np.asarray(a)


def schoenfeld_residuals(
    X: pd.DataFrame | np.ndarray,
    T: pd.Series | np.ndarray,
    E: pd.Series | np.ndarray,
    weights: pd.Series | np.ndarray,
    beta: pd.Series | np.ndarray,
) -> np.ndarray:
    """Schoenfeld residuals (n×d, the rows in the order given) of one stratum: lifelines'
    ``_compute_schoenfeld_within_strata`` values.

    ``X`` (n×d covariates, not normalised: lifelines passes them as the user gave them),
    ``T`` durations (any unit; lifelines passes them sorted, ascending: ties are runs of equal
    consecutive values), ``E`` death indicator, ``weights`` case weights, ``beta`` the fitted
    coefficients (d, in the order of ``X``'s columns). Residuals are in the units of the
    covariates; zero for censored rows.
    """
    x = _values(X).astype(float, copy=False)
    t = _values(T).astype(float, copy=False)
    e = _values(E).astype(bool, copy=False)
    w = _values(weights).astype(float, copy=False)
    n, d = x.shape
    if not e.any():
        return np.zeros((n, d))  # lifelines: a stratum without deaths gives zeros

    phi = w * np.exp(x @ _values(beta).astype(float, copy=False))

    # tie groups: runs of equal consecutive durations (lifelines' `T[i - 1] == T[i]`)
    start = np.flatnonzero(np.r_[True, t[1:] != t[:-1]])
    group_of_row = np.repeat(np.arange(start.size), np.diff(np.r_[start, n]))
    deaths = np.bincount(group_of_row, e, minlength=start.size)  # D_g
    has_death = deaths > 0
    start, deaths = start[has_death], deaths[has_death]

    # risk-set sums from each group's first row to the end (reverse cumulative sums)
    risk0 = np.cumsum(phi[::-1])[::-1][start]
    risk1 = np.cumsum((phi[:, None] * x)[::-1], axis=0)[::-1][start]

    # tie sums over each group's deaths; deaths listed group by group (rows are in order)
    death = np.flatnonzero(e)
    group = np.searchsorted(start, death, side="right") - 1  # of each death, among `start`
    tie0 = np.bincount(group, phi[death], minlength=start.size)
    tie1 = np.empty((start.size, d))
    for j in range(d):
        tie1[:, j] = np.bincount(group, phi[death] * x[death, j], minlength=start.size)

    # l = 0..D_g-1 of each death within its group, and the Efron sums a_g, b_g
    first_death = np.searchsorted(group, np.arange(start.size), side="left")
    rank = np.arange(death.size) - first_death[group]
    frac = rank / deaths[group]
    term = 1.0 / ((risk0[group] - frac * tie0[group]) * deaths[group])
    a_g = np.bincount(group, term, minlength=start.size)
    b_g = np.bincount(group, frac * term, minlength=start.size)
    mean = risk1 * a_g[:, None] - tie1 * b_g[:, None]  # x̄_g, groups with deaths

    out = np.zeros((n, d))
    out[death] = x[death] - mean[group]
    return out
