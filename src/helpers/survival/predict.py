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
    extended past the last event time with the mean hazard of its final 180 days (older
    accounts than any churn seen in the data would otherwise get zero risk)."""
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

    def cumhaz(t):
        t = np.asarray(t, float)
        return np.interp(t, bt, bh, left=0.0) + np.maximum(t - bt[-1], 0) * slope

    return cumhaz


def conditional_survival(
    cph: CoxPHFitter, x: pd.DataFrame, age: np.ndarray, ahead: np.ndarray
) -> np.ndarray:
    """P(T > age + ahead | T > age) per row (days); ``ahead`` is a grid (k,) or per row (n, k).

    A stratified model uses each row's own stratum baseline (``x`` holds the stratum label,
    as :func:`helpers.survival.cox.align` builds it).
    """
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
        cumhaz = cumulative_hazard(cph, key)
        cum[rows] = cumhaz(age[rows, None] + ahead[rows]) - cumhaz(age[rows])[:, None]
    return np.exp(-cum * ph)


def km_conditional(km: KaplanMeierFitter, age: np.ndarray, ahead: float) -> np.ndarray:
    """Kaplan-Meier P(T > age + ahead | T > age) per row (0 where S(age) is 0)."""
    s0 = km.survival_function_at_times(age).to_numpy()
    s1 = km.survival_function_at_times(age + ahead).to_numpy()
    return np.where(s0 > 0, s1 / np.maximum(s0, 1e-12), 0.0)
