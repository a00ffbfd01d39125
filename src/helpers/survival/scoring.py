"""Fit the churn model on the data to a date and score the accounts active then: the shared
core of the back-test and the recalibration.

The back-test, the recalibration and the tiers ask for the features at the same few dates; they
come from :func:`helpers.features.shared_features`, so each (data, date, threshold) is computed
once per process."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from helpers.features import shared_features
from helpers.survival.cox import align, fit_churn_model
from helpers.survival.definition import age_days, export_start, survival_frame, with_delayed_entry
from helpers.survival.predict import conditional_survival


def outcomes_after(
    orders: pd.DataFrame,
    accounts: pd.DataFrame | None,
    start: pd.Timestamp,
    as_of: pd.Timestamp,
    threshold: int,
) -> pd.DataFrame:
    """For accounts active at ``start``: days from ``start`` to churn (their last order), or
    censored at ``as_of - threshold`` (the last day a churn can be seen), using data to as_of."""
    then = shared_features(orders, accounts, start, threshold)
    alive = then[(then["n_orders"] > 0) & ~then["churned"]][["account_id"]]
    now = shared_features(orders, accounts, as_of, threshold).set_index("account_id")
    now = now.loc[alive["account_id"]]
    limit = (as_of - pd.Timedelta(days=threshold) - start).days
    time = np.where(now["churned"], (now["last_order"] - start).dt.days.clip(lower=0), limit)
    return pd.DataFrame(
        {
            "account_id": now.index,
            "time": time.astype(float),
            "event": now["churned"].astype(int).to_numpy(),
        }
    )


def fit_and_score(
    orders: pd.DataFrame,
    accounts: pd.DataFrame,
    at: pd.Timestamp,
    until: pd.Timestamp,
    horizon_days: int,
    threshold: int,
    covariates: Sequence[str],
    references: dict[str, str] | None,
    penalizer: float | None,
    seed: int = 42,
):
    """Fit the churn model (:func:`fit_churn_model`, the same pipeline as the study's) on the
    data to ``at``, score the accounts active then and follow them to ``until``. Returns the
    features at ``at``, the model, the scored accounts' design rows, age and silence
    (days), outcomes (:func:`outcomes_after`), relative risk and Cox probability of churn
    within the horizon."""
    past = with_delayed_entry(
        shared_features(orders, accounts, at, threshold), export_start(orders)
    )
    model = fit_churn_model(survival_frame(past), covariates, references, seed, penalizer)
    out = outcomes_after(orders, accounts, at, until, threshold)
    alive = past.set_index("account_id").loc[out["account_id"]].reset_index()
    x = align(alive, model.cox_design)
    # condition on survival to the last order, not to today: the silence since then is
    # information (an account silent for months may already have placed its final order)
    age = age_days(alive)
    silent = (at - alive["last_order"]).dt.days.to_numpy(float)
    risk = model.cox.predict_partial_hazard(x).to_numpy()
    p_cox = 1 - conditional_survival(model.cox, x, age, (silent + horizon_days)[:, None])[:, 0]
    return past, model, x, age, silent, out, risk, p_cox
