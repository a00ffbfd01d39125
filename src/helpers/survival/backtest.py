"""Back-test: fit the churn model as of an earlier date and compare its scores with what
happened afterwards (ranking: Harrell's and Uno's C, AUC; probabilities: Brier, IBS)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from lifelines.exceptions import ConvergenceError

from helpers.features import orders_table
from helpers.steps import Skipped, step
from helpers.survival.accuracy import auc_at, brier_at, censoring_of, integrated_brier, uno_c
from helpers.survival.concordance import concordance_index
from helpers.survival.cox import DEFAULT_COVARIATES, ChurnModel
from helpers.survival.definition import (
    ChurnDefinition,
    default_threshold,
    export_start,
    fit_km,
    gaps_for,
    survival_frame,
)
from helpers.survival.predict import conditional_survival, km_conditional
from helpers.survival.recalibration import Recalibration, fit_recalibration
from helpers.survival.scoring import fit_and_score


@dataclass(frozen=True)
class Backtest:
    """Scores of accounts alive at ``start`` and what happened to them afterwards."""

    start: pd.Timestamp
    horizon_days: int
    frame: pd.DataFrame  # account_id, risk, p_cox_h, p_churn_h, time (days from start), event
    metrics: dict[str, float]
    calibration: pd.DataFrame
    recalibration: Recalibration | None = None
    threshold: int = 0  # the churn threshold (days) the back-test used, derived at its start


def run_backtest(
    orders: pd.DataFrame,
    accounts: pd.DataFrame,
    as_of: pd.Timestamp,
    back_days: int,
    horizon_days: int,
    threshold: int | None,
    covariates: Sequence[str] = DEFAULT_COVARIATES,
    references: dict[str, str] | None = None,
    penalizer: float | None = None,
    seed: int = 42,
) -> Backtest:
    """Fit as of ``as_of - back_days``, score accounts alive then, compare with what happened.

    Requires ``back_days >= horizon_days + threshold`` so that every churn inside the horizon
    is visible by ``as_of``. The churn probabilities are the Cox model's recalibrated by
    :func:`fit_recalibration` on data to the back-test's start only. Metrics: Harrell's C, Uno's
    C (truncated at the horizon) and AUC at the horizon of the Cox risk; Brier score at the
    horizon of the calibrated probability, of the uncalibrated Cox probability and of a
    Kaplan-Meier baseline (no covariates); IBS over (0, horizon] of the Cox curves and of the
    Kaplan-Meier baseline. Ranking metrics of the calibrated probability as well (it is what
    cuts the pre-churn list). The model is the study's pipeline (:func:`fit_churn_model`) on the
    data to the start, its penalizer chosen there by cross-validation unless ``penalizer`` is
    given. ``threshold=None`` derives the churn threshold from the order gaps up to the start
    (:func:`default_threshold`): nothing dated after the start shapes a start-date score. Those
    gaps are counted in the engine at the start (:func:`gaps_for`, one query like the
    definition's: a gap looks back only, so they are the gaps of purchase days on or before
    the start; see :mod:`helpers.order_gaps` for why they are not cut from the definition's).
    """
    start = as_of - pd.Timedelta(days=back_days)
    if threshold is None:
        threshold = default_threshold(gaps_for(orders, start))
    if back_days < horizon_days + threshold:
        raise ValueError(
            f"The back-test needs back_days ≥ horizon + threshold "
            f"({horizon_days} + {threshold}); got {back_days}."
        )
    past, model, x, age, silent, out, risk, p_cox = fit_and_score(
        orders,
        accounts,
        start,
        as_of,
        horizon_days,
        threshold,
        covariates,
        references,
        penalizer,
        seed,
    )
    cph = model.cox
    recal = fit_recalibration(
        orders, accounts, start, horizon_days, threshold, covariates, references, model.penalizer
    )
    p_churn = recal.apply(p_cox, silent) if recal is not None else p_cox
    surv = 1 - p_churn
    frame = out.assign(risk=risk, p_cox_h=p_cox, p_churn_h=p_churn)
    t, e = frame["time"].to_numpy(), frame["event"].to_numpy()
    km = fit_km(survival_frame(past))
    base_surv = km_conditional(km, age, silent + horizon_days)
    grid = np.linspace(horizon_days / 10, horizon_days, 10)
    # survival at every grid day in one vectorised call each (not one call per day): the same
    # element-wise arithmetic, so the same values
    model_surv = _columns(conditional_survival(cph, x, age, silent[:, None] + grid), grid)
    n, k = len(age), len(grid)
    ahead = (silent[:, None] + grid).ravel()
    km_surv = _columns(km_conditional(km, np.repeat(age, k), ahead).reshape(n, k), grid)

    c = censoring_of(t, e)  # once for the eight metrics below (the same values)
    metrics = {
        "harrell_c": float(concordance_index(t, -risk, e)),
        "uno_c": uno_c(t, e, risk, tau=horizon_days, censoring=c),
        "auc_at_horizon": auc_at(t, e, risk, horizon_days, censoring=c),
        "harrell_c_probability": float(concordance_index(t, -p_churn, e)),
        "auc_at_horizon_probability": auc_at(t, e, p_churn, horizon_days, censoring=c),
        "brier_model": brier_at(t, e, surv, horizon_days, censoring=c),
        "brier_cox_uncalibrated": brier_at(t, e, 1 - p_cox, horizon_days, censoring=c),
        "brier_km": brier_at(t, e, base_surv, horizon_days, censoring=c),
        "ibs_model": integrated_brier(t, e, model_surv, grid, censoring=c),
        "ibs_km": integrated_brier(t, e, km_surv, grid, censoring=c),
        "penalizer": model.penalizer,
        "accounts": int(len(frame)),
        "churned_in_horizon": int(((t <= horizon_days) & (e == 1)).sum()),
    }
    cal = frame.assign(observed=((t <= horizon_days) & (e == 1)).astype(float))
    cal["bin"] = pd.qcut(cal["p_churn_h"].rank(method="first"), 10, labels=False)
    calibration = cal.groupby("bin").agg(
        predicted=("p_churn_h", "mean"),
        observed=("observed", "mean"),
        accounts=("observed", "size"),
    )
    return Backtest(start, horizon_days, frame, metrics, calibration, recal, threshold)


def _columns(values: np.ndarray, grid: np.ndarray):
    """``f(t)`` = the column of ``values`` (rows x grid days) for grid day ``t``."""
    where = {float(t): j for j, t in enumerate(grid)}
    return lambda t: values[:, where[float(t)]]


@step("The back-test")
def backtest(
    ds,
    definition: ChurnDefinition,
    model: ChurnModel,
    back_days: int = 365,
    horizon_days: int = 90,
    covariates: Sequence[str] = DEFAULT_COVARIATES,
    references: dict[str, str] | None = None,
    seed: int = 42,
) -> Backtest | Skipped:
    """:func:`run_backtest` from ``back_days`` before the analysis date (at most a third of
    the history), with the study's covariates and threshold rule (a derived threshold is
    derived again at the start); Skipped with the reason when the history is too short or the
    model cannot be fitted at the start. ``model`` is the study's model: no back-test of a
    model the study could not fit (the back-test refits its own on the data to its start)."""
    history = (definition.as_of - export_start(orders_table(ds))).days
    back_days = min(back_days, history // 3)
    needed = horizon_days + definition.threshold
    if back_days < needed:
        return Skipped(
            f"needs {3 * needed // 30} months of history, the data has {history // 30}",
            f"it refits the model {needed} days (horizon + churn threshold) before the "
            "analysis date, on at most a third of the history",
        )
    try:
        return run_backtest(
            orders_table(ds),
            ds.tables.get("accounts"),
            definition.as_of,
            back_days,
            horizon_days,
            None if definition.derived else definition.threshold,
            covariates,
            references,
            seed=seed,
        )
    except (ValueError, ConvergenceError, ZeroDivisionError, KeyError) as exc:
        return Skipped(str(exc).rstrip("."), "a longer history would allow one")
