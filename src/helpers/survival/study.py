"""The churn study's findings and metrics, and the whole study in one call (tests, benchmarks).

Notebook 02 calls the steps one by one (:mod:`helpers.survival` lists them); :func:`churn_study`
runs the same steps in the same order, for the tests and benchmarks that need every result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from helpers import formats, quarterly
from helpers.features import orders_table
from helpers.schemas import ChurnMetrics, Fields
from helpers.steps import Skipped
from helpers.survival.aft import aft_models
from helpers.survival.backtest import Backtest, backtest
from helpers.survival.cox import DEFAULT_COVARIATES, ChurnModel, churn_model
from helpers.survival.definition import ChurnDefinition, define_churn, sensitivity
from helpers.survival.kaplan_meier import KaplanMeier, kaplan_meier, km_by, median_table
from helpers.survival.ltv import LtvSettings, ltv_by_channel, ltv_by_tier
from helpers.survival.prechurn import prechurn, revenue_at_risk, score_accounts
from helpers.survival.recalibration import Recalibration, recalibration


@dataclass(frozen=True)
class ChurnStudy:
    """Every step's result (each may be :class:`~helpers.steps.Skipped`)."""

    definition: ChurnDefinition | Skipped
    sensitivity: pd.DataFrame | Skipped
    km: KaplanMeier | Skipped
    model: ChurnModel | Skipped
    aft: pd.DataFrame | Skipped
    backtest: Backtest | Skipped
    recalibration: Recalibration | Skipped
    scores: pd.DataFrame | Skipped
    prechurn: pd.DataFrame | Skipped
    ltv_by_tier: pd.DataFrame | Skipped
    ltv_by_channel: pd.DataFrame | Skipped
    settings: LtvSettings
    horizon_days: int


def churn_study(
    ds,
    as_of: pd.Timestamp,
    threshold_days: int | None = None,
    *,
    prechurn_fraction: float = 2 / 3,
    horizon_days: int = 90,
    covariates: Sequence[str] = DEFAULT_COVARIATES,
    references: dict[str, str] | None = None,
    backtest_days: int = 365,
    risk_cutoff: float = 0.5,
    ltv_horizon_days: int = 3 * 365,
    discount_per_year: float = 0.10,
    n_boot: int = 300,
    seed: int = 42,
    tier_weights: Mapping[str, float] | None = None,
) -> ChurnStudy:
    """Every step of notebook 02 on a loaded (and filtered) dataset, in the notebook's order."""
    settings = LtvSettings(
        threshold_days=threshold_days,
        covariates=tuple(covariates),
        references=dict(references or {}),
        horizon_days=ltv_horizon_days,
        discount_per_year=discount_per_year,
        n_boot=n_boot,
        seed=seed,
    )
    definition = define_churn(ds, as_of, threshold_days, tier_weights)
    model = churn_model(definition, covariates, references, seed)
    recal = recalibration(ds, definition, model, horizon_days, covariates, references)
    scores = score_accounts(definition, model, recal, horizon_days)
    return ChurnStudy(
        definition=definition,
        sensitivity=sensitivity(ds, definition),
        km=kaplan_meier(definition),
        model=model,
        aft=aft_models(model),
        backtest=backtest(
            ds, definition, model, backtest_days, horizon_days, covariates, references, seed
        ),
        recalibration=recal,
        scores=scores,
        prechurn=prechurn(scores, definition, prechurn_fraction, horizon_days, risk_cutoff),
        ltv_by_tier=ltv_by_tier(scores, model, definition, settings),
        ltv_by_channel=ltv_by_channel(definition, model, settings),
        settings=settings,
        horizon_days=horizon_days,
    )


def findings(
    definition: ChurnDefinition | Skipped,
    km: KaplanMeier | Skipped,
    model: ChurnModel | Skipped,
    prechurn: pd.DataFrame | Skipped,
    horizon_days: int,
    *,
    currency: str | None = None,
    names: Mapping[str, str] | None = None,
) -> list[str]:
    """Key findings as plain sentences (money in ``currency``, codes from the data by their
    display names, ``names`` the data source's); a skipped step gives its one sentence."""
    if isinstance(definition, Skipped):
        return [definition.sentence()]
    f = definition.features
    out = [
        f"{formats.share(f['churned'].mean())} of the {len(f):,} buying accounts have gone silent for "
        f"{definition.threshold}+ days (our churn definition"
        + (", derived from the order cadence)." if definition.derived else ").")
    ]
    if not isinstance(km, Skipped) and np.isfinite(km.median_days):
        low, high = km.median_interval
        interval = (
            f"95% interval {low / 30.4:.0f}–{high / 30.4:.0f} months"
            if np.isfinite(high)
            else f"95% interval from {low / 30.4:.0f} months, upper end not reached"
        )
        out.append(
            f"Half of all accounts stop buying within {km.median_days / 30.4:.0f} months of "
            f"becoming customers (Kaplan-Meier median, {interval}; {len(km_frame(km)):,} "
            "accounts)."
        )
    if isinstance(model, Skipped):
        out.append(model.sentence())
    else:
        out += _driver_sentences(definition, model, names)
    risk = revenue_at_risk(prechurn)
    if not isinstance(risk, Skipped) and risk.accounts:
        out.append(
            f"{risk.accounts:,} active accounts are on the pre-churn list, with "
            f"{formats.money(risk.total, currency)} of expected revenue at risk in the next "
            f"{horizon_days} days (95% interval of what may be lost: "
            f"{formats.money(risk.low, currency)}–{formats.money(risk.high, currency)})."
        )
    return out


def km_frame(km: KaplanMeier) -> pd.Series:
    """The durations behind the overall Kaplan-Meier curve."""
    return km.overall["all accounts"].durations


def _level(name: str, names: Mapping[str, str] | None = None) -> str:
    column, level = name.split("=", 1)
    column = formats.display_name(column, names).lower()
    return f"{column} {formats.display_name(level, names)}"


def _driver_sentences(
    definition: ChurnDefinition, model: ChurnModel, names: Mapping[str, str] | None = None
) -> list[str]:
    """The level with the highest churn hazard against its reference (with its 95% interval),
    and the spread of median lifetimes of a covariate the model had to stratify on."""
    out = []
    table = model.forest
    if len(table):
        worst = table.index[-1]
        row = table.loc[worst]
        who = (
            f"Accounts with {_level(worst, names)} have"
            if "=" in worst
            else f"Each standard deviation more {formats.display_name(worst, names).lower()} "
            f"({model.design.numeric[worst][1]:,.2f}) goes with"
        )
        than = f" of {_level(row['reference'], names)}" if "=" in worst else ""
        out.append(
            f"{who} {np.exp(row['log_hr']):.1f}× the churn hazard{than} (95% interval "
            f"{np.exp(row['low']):.1f}–{np.exp(row['high']):.1f}×), other attributes equal "
            f"({model.design.data.shape[0]:,} accounts, {int(model.design.data['event'].sum()):,} "
            "churn events; an association, not a cause)."
        )
    for column in model.stratified_on:
        medians = median_table(km_by(definition.survival, column)[0])["median_days"]
        finite = medians[np.isfinite(medians)]
        spread = (
            f"median lifetimes run from {finite.min():.0f} days "
            f"({formats.display_name(finite.idxmin(), names)}) to {finite.max():.0f} days "
            f"({formats.display_name(finite.idxmax(), names)})"
            if len(finite) >= 2
            else "its levels' median lifetimes are not all reached"
        )
        out.append(
            f"{formats.display_name(column, names)} changes the churn hazard differently over "
            f"an account's life (it breaks proportional hazards), so it has no single hazard "
            f"ratio: by Kaplan-Meier, {spread}."
        )
    return out


def _p_alive_auc(fields: Fields, bgnbd: Mapping[str, float] | Skipped) -> float | None:
    """The P(alive) AUC of the BG/NBD view, or None with the reason (its back-test skipped)."""
    value = fields.take("p_alive_auc", bgnbd, lambda b: b.get("auc_p_alive"))
    if value is None and "p_alive_auc" not in fields.skipped:
        fields.skipped["p_alive_auc"] = "the back-test or the BG/NBD holdout was skipped"
    return value


def _table(frame: pd.DataFrame) -> dict[str, Any]:
    return frame.to_dict(orient="index")


def _quarterly_churn(ds, definition: ChurnDefinition | Skipped) -> dict[str, float] | Skipped:
    """:func:`helpers.quarterly.churn_by_quarter` under the study's threshold and date."""
    if isinstance(definition, Skipped):
        return definition
    orders = orders_table(ds)  # counted in the engine
    return quarterly.churn_by_quarter(
        orders, definition.threshold, definition.as_of, engine=ds.engine
    )


def metrics(
    *,
    ds,
    definition: ChurnDefinition | Skipped,
    km: KaplanMeier | Skipped,
    model: ChurnModel | Skipped,
    backtest: Backtest | Skipped,
    prechurn: pd.DataFrame | Skipped,
    ltv_by_tier: pd.DataFrame | Skipped,
    ltv_by_channel: pd.DataFrame | Skipped,
    settings: LtvSettings,
    horizon_days: int,
    filters: Mapping[str, Any],
    bgnbd: Mapping[str, float] | Skipped | None = None,
) -> ChurnMetrics:
    """Headline numbers (:class:`~helpers.schemas.ChurnMetrics`); the channel study reads
    ``ltv_by_channel`` (per acquisition channel: ``mean``, ``low``, ``high``, ``n``;
    currency) when ``ltv_definition`` matches its own settings. ``bgnbd`` is
    :func:`~helpers.survival.bgnbd.bgnbd_metrics` of the BG/NBD view; None (not run) leaves
    ``bgnbd`` and ``p_alive_auc`` null without a reason in ``skipped``. ``quarterly_churn``
    is the churn of each of the last 8 complete quarters under the study's threshold
    (:func:`helpers.quarterly.churn_by_quarter`)."""
    fields = Fields()
    risk = revenue_at_risk(prechurn)
    d = None if isinstance(definition, Skipped) else definition
    km_median = fields.take("km_median_days", km, lambda k: k.median_days)
    if km_median is not None and not np.isfinite(km_median):
        fields.skipped["km_median_days"] = "the median lifetime is not reached in the data"
        km_median = None
    return ChurnMetrics(
        data_fingerprint=ds.fingerprint,
        currency=ds.currency,
        analysis_date=pd.Timestamp(d.as_of if d else ds.analysis_date).strftime("%Y-%m-%d"),
        filters=dict(filters),
        source=ds.source,
        churn_threshold_days=d.threshold if d else None,
        threshold_derived=d.derived if d else settings.threshold_days is None,
        horizon_days=int(horizon_days),
        accounts=fields.take("accounts", definition, lambda x: len(x.features)),
        churn_rate=fields.take(
            "churn_rate", definition, lambda x: float(x.features["churned"].mean())
        ),
        km_median_days=km_median,
        cox_concordance=fields.take(
            "cox_concordance", model, lambda m: float(m.cox.concordance_index_)
        ),
        cox_concordance_unstratified=fields.take(
            "cox_concordance_unstratified",
            model,
            lambda m: float(m.unstratified.concordance_index_),
        ),
        stratified_on=fields.take("stratified_on", model, lambda m: m.stratified_on),
        references=fields.take("references", model, lambda m: dict(m.references)),
        log_hazard_ratio_intervals=fields.take(
            "log_hazard_ratio_intervals",
            model,
            lambda m: {k: [r["low"], r["high"]] for k, r in m.forest.iterrows()},
        ),
        penalizer=fields.take("penalizer", model, lambda m: m.penalizer),
        log_hazard_ratios=fields.take(
            "log_hazard_ratios", model, lambda m: m.forest["log_hr"].to_dict()
        ),
        backtest=fields.take("backtest", backtest, lambda b: b.metrics),
        prechurn_accounts=fields.take("prechurn_accounts", prechurn, len),
        revenue_at_risk=fields.take("revenue_at_risk", risk, lambda r: r.total),
        revenue_at_risk_interval=fields.take(
            "revenue_at_risk_interval", risk, lambda r: [r.low, r.high]
        ),
        ltv_by_tier=fields.take("ltv_by_tier", ltv_by_tier, _table),
        ltv_by_channel=fields.take("ltv_by_channel", ltv_by_channel, _table),
        ltv_definition=settings.as_dict(),
        notes=[] if isinstance(model, Skipped) else list(model.notes),
        bgnbd=None if bgnbd is None else fields.take("bgnbd", bgnbd, dict),
        p_alive_auc=None if bgnbd is None else _p_alive_auc(fields, bgnbd),
        quarterly_churn=fields.take("quarterly_churn", _quarterly_churn(ds, definition)),
        skipped=fields.skipped,
    )
