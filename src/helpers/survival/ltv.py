"""Survival-based lifetime value: per account, per value tier, and of a new customer per
acquisition channel (what the channel study compares with acquisition cost).

:class:`LtvSettings` is everything that defines the numbers besides the data; the churn study
writes its :meth:`LtvSettings.as_dict` to metrics, and the channel study reuses a churn run's
values only when that dict matches its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter

from helpers.steps import Skipped, step
from helpers.survival.cox import DEFAULT_COVARIATES, ChurnModel, Design, align, churn_model
from helpers.survival.definition import ChurnDefinition, age_days, define_churn
from helpers.survival.prechurn import with_rates
from helpers.survival.predict import conditional_survival, survival_profiles


@dataclass(frozen=True)
class LtvSettings:
    """What defines a lifetime value besides the data.

    ``threshold_days`` the churn threshold (None: derived from the order gaps); ``covariates``
    and ``references`` of the Cox model; margin counted over ``horizon_days`` (days),
    discounted at ``discount_per_year`` (share per year); ``n_boot`` bootstrap resamples for
    the 95% intervals, seeded by ``seed``.
    """

    threshold_days: int | None = None
    covariates: Sequence[str] = DEFAULT_COVARIATES
    references: dict[str, str] = field(default_factory=dict)
    horizon_days: int = 3 * 365
    discount_per_year: float = 0.10
    n_boot: int = 300
    seed: int = 42

    def as_dict(self) -> dict:
        """JSON-ready form, written to the churn metrics as ``ltv_definition``."""
        return {
            "churn_threshold_days": "derived"
            if self.threshold_days is None
            else int(self.threshold_days),
            "covariates": list(self.covariates),
            "references": dict(self.references or {}),
            "ltv_horizon_days": int(self.horizon_days),
            "discount_per_year": float(self.discount_per_year),
            "n_boot": int(self.n_boot),
            "seed": int(self.seed),
        }


def lifetime_value(
    scores: pd.DataFrame,
    cph: CoxPHFitter,
    design: Design,
    as_of: pd.Timestamp,
    horizon_days: int = 3 * 365,
    discount_per_year: float = 0.10,
    at_acquisition: bool = False,
) -> pd.Series:
    """Survival-based lifetime value per account (currency).

    Discounted restricted mean remaining lifetime over ``horizon_days`` — the integral of
    ``exp(-r u) S(age + u | x) / S(age | x)`` — times the account's margin per day (its margin so
    far over its tenure and one order cadence, :func:`with_rates`). ``at_acquisition=True``
    values every account from age 0 with the *unconditional* survival S(u | x) (what a new
    customer of its profile is worth, one-order churners included; used for LTV:CAC). For an
    active account whose churn probability was recalibrated (``p_cox`` and ``p_churn`` in
    ``scores``), its cumulative hazard is scaled by the recalibration's ratio over the horizon,
    log(1 - p_churn) / log(1 - p_cox), for its whole remaining life (assumption: the silence
    shifts the hazard's level, not its shape). Beyond the last churn seen the hazard follows a
    Weibull tail (:func:`helpers.survival.predict.cumulative_hazard`).
    """
    x = align(scores, design)
    grid = np.linspace(0, horizon_days, 61)
    if at_acquisition:
        # every account at age 0 on one grid: the lifetime once per (stratum, partial hazard)
        # profile and copied to its rows; row by row it is the same arithmetic on the same
        # numbers (each row's integral uses that row alone), so the same floats
        values, where = survival_profiles(cph, x, np.zeros(len(scores)), grid, unconditional=True)
        rmst = discounted_lifetime(values, grid, discount_per_year)[where]
    else:
        age = age_days(scores)
        silent = (as_of - scores["last_order"]).dt.days.to_numpy(float)
        surv = conditional_survival(cph, x, age, silent[:, None] + grid[None, :])
        surv = surv ** recalibration_scale(scores)[:, None]
        rmst = discounted_lifetime(surv, grid, discount_per_year)
    return pd.Series(rmst * scores["margin_per_day"].to_numpy(), index=scores.index, name="ltv")


def discounted_lifetime(
    surv: np.ndarray, grid: np.ndarray, discount_per_year: float = 0.10
) -> np.ndarray:
    """Discounted restricted mean lifetime per row (days): the trapezoid integral over ``grid``
    (days) of ``S(u) exp(-r u)``, with ``r = ln(1 + discount_per_year) / 365.25`` per day (a
    margin earned in a year's time is worth ``1 / (1 + discount)`` today)."""
    r = math.log1p(discount_per_year) / 365.25
    return np.trapezoid(np.atleast_2d(surv) * np.exp(-r * grid)[None, :], grid, axis=1)


def recalibration_scale(scores: pd.DataFrame) -> np.ndarray:
    """Per account, how much the recalibration multiplies the Cox cumulative hazard over the
    horizon: log(1 - p_churn) / log(1 - p_cox) (1 where there is no recalibration)."""
    if not {"p_churn", "p_cox"} <= set(scores.columns):
        return np.ones(len(scores))
    p_cox = np.clip(scores["p_cox"].to_numpy(float), 1e-9, 1 - 1e-9)
    p_churn = np.clip(scores["p_churn"].to_numpy(float), 1e-9, 1 - 1e-9)
    return np.log1p(-p_churn) / np.log1p(-p_cox)


def bootstrap_mean(
    values: pd.Series, groups: pd.Series, n_boot: int = 500, seed: int = 42, level: float = 0.95
) -> pd.DataFrame:
    """Mean per group with a percentile bootstrap interval (accounts resampled in each group)."""
    rng = np.random.default_rng(seed)
    rows = []
    for name, part in values.groupby(groups, sort=True):
        v = part.to_numpy(float)
        means = rng.choice(v, size=(n_boot, len(v)), replace=True).mean(axis=1)
        lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
        rows.append(
            {
                "group": name,
                "mean": float(v.mean()),
                "low": float(lo),
                "high": float(hi),
                "n": int(len(v)),
            }
        )
    return pd.DataFrame(rows).set_index("group")


def new_customer_ltv(
    features: pd.DataFrame,
    model: ChurnModel,
    as_of: pd.Timestamp,
    horizon_days: int = 3 * 365,
    discount_per_year: float = 0.10,
    n_boot: int = 300,
    seed: int = 42,
    cadence_days: float = 30.0,
) -> pd.DataFrame:
    """Lifetime value of a *new* customer per acquisition channel (currency): every buying
    account valued from age 0 with its own profile and margin rate (:func:`with_rates` with
    the company's ``cadence_days``), averaged per channel with a 95% bootstrap interval
    (columns mean, low, high, n)."""
    every = with_rates(features, cadence_days)
    values = lifetime_value(
        every,
        model.cox,
        model.cox_design,
        as_of,
        horizon_days,
        discount_per_year,
        at_acquisition=True,
    )
    return bootstrap_mean(values, every["acquisition_channel"], n_boot, seed)


def _no_margin(definition: ChurnDefinition) -> Skipped | None:
    """Lifetime value is margin over time: without any margin it would read as 0."""
    if definition.features["margin_total"].notna().any():
        return None
    return Skipped(
        "the data has no gross margin per order line",
        "map a margin column to gross_margin to value customers",
    )


@step("The lifetime value by tier")
def ltv_by_tier(
    scores: pd.DataFrame, model: ChurnModel, definition: ChurnDefinition, settings: LtvSettings
) -> pd.DataFrame:
    """Mean remaining lifetime value of the active accounts per value tier (currency), with a
    95% bootstrap interval (columns mean, low, high, n); Skipped without margins."""
    if (missing := _no_margin(definition)) is not None:
        return missing
    values = lifetime_value(
        scores,
        model.cox,
        model.cox_design,
        definition.as_of,
        settings.horizon_days,
        settings.discount_per_year,
    )
    return bootstrap_mean(values, scores["tier"].astype(str), settings.n_boot, settings.seed)


@step("The lifetime value by acquisition channel")
def ltv_by_channel(
    definition: ChurnDefinition, model: ChurnModel, settings: LtvSettings
) -> pd.DataFrame | Skipped:
    """:func:`new_customer_ltv`: a new customer's lifetime value per acquisition channel;
    Skipped without margins or acquisition channels."""
    if (missing := _no_margin(definition)) is not None:
        return missing
    if "acquisition_channel" not in definition.features.columns:
        return Skipped(
            "the data has no acquisition channel per account",
            "map an accounts column to acquisition_channel",
        )
    return new_customer_ltv(
        definition.features,
        model,
        definition.as_of,
        settings.horizon_days,
        settings.discount_per_year,
        settings.n_boot,
        settings.seed,
        definition.cadence_days,
    )


@step("Lifetime value by channel")
def channel_ltv(ds, as_of: pd.Timestamp, settings: LtvSettings) -> pd.DataFrame | Skipped:
    """The churn study's ``ltv_by_channel`` without the rest of the study: the same steps
    (:func:`define_churn`, :func:`churn_model`, :func:`ltv_by_channel`), so the same numbers
    for the same settings. The model's notes are in ``attrs["notes"]``."""
    definition = define_churn(ds, as_of, settings.threshold_days)
    model = churn_model(definition, settings.covariates, settings.references, settings.seed)
    table = ltv_by_channel(definition, model, settings)
    if not isinstance(table, Skipped):
        table.attrs["notes"] = list(model.notes)
    return table
