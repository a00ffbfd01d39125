"""Who to call now: churn probabilities of the active accounts and the pre-churn list."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from scipy.stats import norm

from helpers.steps import Skipped, step
from helpers.survival.cox import ChurnModel, Design, align
from helpers.survival.definition import ChurnDefinition, age_days
from helpers.survival.predict import conditional_survival
from helpers.survival.recalibration import Recalibration


def current_scores(
    features: pd.DataFrame,
    cph: CoxPHFitter,
    design: Design,
    as_of: pd.Timestamp,
    horizon_days: int,
    recalibration: Recalibration | None = None,
    cadence_days: float = 30.0,
) -> pd.DataFrame:
    """Active accounts with P(churn within the horizon | their history) and revenue per day
    (:func:`with_rates` with the company's ``cadence_days``).

    ``p_cox`` is the Cox model's probability; ``p_churn`` is the same recalibrated for the
    silence (:func:`fit_recalibration`) when a recalibration is given, else equal to it.
    """
    active = features[(features["n_orders"] > 0) & ~features["churned"]].copy()
    x = align(active, design)
    age = age_days(active)
    silent = active["silent_days"].to_numpy(float)
    surv = conditional_survival(cph, x, age, (silent + horizon_days)[:, None])[:, 0]
    active["p_cox"] = 1 - surv
    active["p_churn"] = (
        recalibration.apply(active["p_cox"].to_numpy(), silent)
        if recalibration is not None
        else active["p_cox"]
    )
    return with_rates(active, cadence_days)


def with_rates(features: pd.DataFrame, cadence_days: float = 30.0) -> pd.DataFrame:
    """Add revenue and margin per active day (currency/day): totals over the span from first to
    last order plus one ``cadence_days`` (the company's typical gap between two orders: each
    order stands for one such interval, so a one-off buyer is credited its order's margin once
    per cadence, not once a month)."""
    out = features.copy()
    span = (out["last_order"] - out["first_order"]).dt.days.fillna(0) + cadence_days
    out["revenue_per_day"] = out["monetary_total"].clip(lower=0) / span
    out["margin_per_day"] = out["margin_total"].fillna(0).clip(lower=0) / span
    return out


def prechurn_list(
    scores: pd.DataFrame, threshold: int, fraction: float, horizon_days: int, cutoff: float
) -> pd.DataFrame:
    """Accounts to call: silent for ≥ fraction × threshold days, or P(churn) ≥ cutoff; ranked by
    revenue at risk = P(churn) × expected revenue in the horizon (currency)."""
    silent = scores["silent_days"] >= fraction * threshold
    risky = scores["p_churn"] >= cutoff
    out = scores[silent | risky].copy()
    out["expected_revenue"] = out["revenue_per_day"] * horizon_days
    out["revenue_at_risk"] = out["p_churn"] * out["expected_revenue"]
    out["reason"] = np.where(
        silent[out.index] & risky[out.index],
        "silent and high risk",
        np.where(silent[out.index], "silent", "high risk"),
    )
    cols = [
        "account_id",
        "account_name",
        "sales_rep",
        "region",
        "silent_days",
        "p_churn",
        "expected_revenue",
        "revenue_at_risk",
        "reason",
    ]
    return out.sort_values(["revenue_at_risk", "account_id"], ascending=[False, True])[
        [c for c in cols if c in out.columns]
    ].reset_index(drop=True)


@step("The churn scores", optional=("recalibration",))
def score_accounts(
    definition: ChurnDefinition,
    model: ChurnModel,
    recalibration: Recalibration | Skipped,
    horizon_days: int = 90,
) -> pd.DataFrame:
    """:func:`current_scores` of the active accounts with the study's model (stratified when
    the PH remedy applied), recalibrated when a recalibration could be learnt."""
    recal = None if isinstance(recalibration, Skipped) else recalibration
    active = definition.features
    if not ((active["n_orders"] > 0) & ~active["churned"]).any():
        return Skipped(
            f"no account is active: every buying account has been silent for "
            f"{definition.threshold}+ days",
            "churn scores need accounts that still buy",
        )
    return current_scores(
        definition.features,
        model.cox,
        model.cox_design,
        definition.as_of,
        horizon_days,
        recal,
        definition.cadence_days,
    )


@step("The pre-churn list")
def prechurn(
    scores: pd.DataFrame,
    definition: ChurnDefinition,
    fraction: float = 2 / 3,
    horizon_days: int = 90,
    cutoff: float = 0.5,
) -> pd.DataFrame:
    """:func:`prechurn_list` with the study's threshold (days)."""
    return prechurn_list(scores, definition.threshold, fraction, horizon_days, cutoff)


@dataclass(frozen=True)
class RevenueAtRisk:
    """Expected revenue lost within the horizon from the pre-churn list (currency), with a 95%
    interval of what may actually be lost if the probabilities are right."""

    total: float
    low: float
    high: float
    accounts: int


def revenue_at_risk(
    prechurn: pd.DataFrame | Skipped, level: float = 0.95
) -> RevenueAtRisk | Skipped:
    """Sum of P(churn) × expected revenue over the list, with the ``level`` interval of the
    revenue that is actually lost when each account churns independently with its probability
    (a Poisson-binomial sum; normal approximation with variance Σ p(1 - p) R², floored at 0).
    The interval is about outcomes, not model uncertainty: it is narrow when many accounts
    share the risk and wide when a few large ones carry it."""
    if isinstance(prechurn, Skipped):
        return prechurn
    p = prechurn["p_churn"].to_numpy(float)
    r = prechurn["expected_revenue"].to_numpy(float)
    total = float((p * r).sum())
    z = float(norm.ppf(0.5 + level / 2))
    sd = float(np.sqrt((p * (1 - p) * r**2).sum()))
    return RevenueAtRisk(total, max(total - z * sd, 0.0), total + z * sd, len(prechurn))
