"""Accuracy of survival predictions: Uno's C, time-dependent AUC, Brier score and IBS.

Metrics lifelines lacks, written here in a few vectorised lines each, with the inverse
probability of censoring weights of Uno et al. (2011) and Graf et al. (1999); scikit-survival
would bring a compiled dependency for four formulas. Times in days; ``event`` 1 = churned.
"""

from __future__ import annotations

import numpy as np
from lifelines import KaplanMeierFitter


def _censoring_km(time: np.ndarray, event: np.ndarray) -> KaplanMeierFitter:
    return KaplanMeierFitter().fit(time, 1 - event)


def _g(km: KaplanMeierFitter, t: np.ndarray) -> np.ndarray:
    """Censoring survival G(t-) (left limit), floored to avoid division by zero."""
    values = km.survival_function_at_times(np.maximum(np.asarray(t, float) - 1e-9, 0)).to_numpy()
    return np.maximum(values, 1e-6)


def uno_c(time: np.ndarray, event: np.ndarray, risk: np.ndarray, tau: float) -> float:
    """Uno's concordance truncated at ``tau``: IPCW-weighted pairs (i churns first, before tau).

    O(n^2) in memory-light blocks; fine for the tens of thousands of accounts a back-test has.
    """
    time, event, risk = map(np.asarray, (time, event, risk))
    g = _g(_censoring_km(time, event), time)
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


def auc_at(time: np.ndarray, event: np.ndarray, risk: np.ndarray, t: float) -> float:
    """Cumulative/dynamic AUC at ``t`` (Uno et al. 2007): cases churned by t (IPCW-weighted)
    against controls still alive after t."""
    time, event, risk = map(np.asarray, (time, event, risk))
    g = _g(_censoring_km(time, event), time)
    cases = (time <= t) & (event == 1)
    controls = time > t
    if not cases.any() or not controls.any():
        return float("nan")
    w = 1.0 / g[cases]
    rc, rk = risk[cases], np.sort(risk[controls])
    below = np.searchsorted(rk, rc, side="left")
    equal = np.searchsorted(rk, rc, side="right") - below
    return float((w * (below + 0.5 * equal)).sum() / (w.sum() * len(rk)))


def brier_at(
    time: np.ndarray,
    event: np.ndarray,
    surv_t: np.ndarray,
    t: float,
    censoring: KaplanMeierFitter | None = None,
) -> float:
    """IPCW Brier score at ``t`` (Graf et al. 1999) for predicted survival probabilities.
    ``censoring``: the Kaplan-Meier of censoring on (``time``, ``event``) when the caller has
    it (fitted here otherwise)."""
    time, event, surv_t = map(np.asarray, (time, event, surv_t))
    km = censoring if censoring is not None else _censoring_km(time, event)
    g_t = float(_g(km, np.array([t]))[0])
    died = (time <= t) & (event == 1)
    alive = time > t
    score = (died * surv_t**2 / _g(km, time)) + (alive * (1 - surv_t) ** 2 / g_t)
    return float(score.mean())


def integrated_brier(time, event, surv_fn, times: np.ndarray) -> float:
    """Integrated Brier score over ``times`` (trapezoid, divided by the time span); the
    censoring Kaplan-Meier is fitted once for every grid time."""
    km = _censoring_km(np.asarray(time), np.asarray(event))
    scores = np.array([brier_at(time, event, surv_fn(t), t, censoring=km) for t in times])
    return float(np.trapezoid(scores, times) / (times[-1] - times[0]))
