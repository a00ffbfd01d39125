"""Survival-based churn: who will leave, and when (notebook 02's steps).

Churn is silence: an account that has not bought for the churn threshold has churned at its
last order (:mod:`.definition`). The steps, in the notebook's order, each callable on its own
and each returning a typed result or a :class:`~helpers.steps.Skipped`:

=====================  =====================================================================
``define_churn``       threshold (derived from the order gaps unless given) and at-risk rows
``sensitivity``        churn rate and KM median under other thresholds
``kaplan_meier``       KM curves overall and by segment, medians, log-rank tests (Holm)
``churn_model``        Cox model: design, penalizer by CV, fit, PH check and remedy
``aft_models``         Weibull and log-logistic AFT beside the Cox model
``backtest``           the model refitted at an earlier date, scored against what happened
``recalibration``      landmark logistic recalibration of the horizon probabilities
``score_accounts``     P(churn within the horizon) of the active accounts
``prechurn``           the accounts to call, ranked by revenue at risk
``ltv_by_tier``        remaining lifetime value by value tier (95% bootstrap intervals)
``ltv_by_channel``     a new customer's lifetime value by acquisition channel
``findings``           key findings; ``metrics`` the declared :class:`ChurnMetrics`
=====================  =====================================================================

Modules: :mod:`.definition`, :mod:`.kaplan_meier`, :mod:`.tiers` (survival by tier from a
landmark), :mod:`.cox`, :mod:`.aft`, :mod:`.predict`, :mod:`.accuracy` (Uno's C, AUC, Brier,
IBS), :mod:`.scoring`, :mod:`.backtest`, :mod:`.recalibration`, :mod:`.prechurn`, :mod:`.ltv`
(with :class:`LtvSettings`, and ``channel_ltv`` for the channel study), :mod:`.bgnbd` and
:mod:`.bgnbd_checks` (the BG/NBD lens), :mod:`.sentences`, :mod:`.tables` (the steps' results as
report tables of text, ``*_view``), :mod:`.study`.
"""

from helpers.survival.accuracy import auc_at, brier_at, integrated_brier, uno_c
from helpers.survival.aft import aft_comparison, aft_models
from helpers.survival.backtest import Backtest, backtest, run_backtest
from helpers.survival.cox import (
    DEFAULT_COVARIATES,
    DEFAULT_REFERENCES,
    MIN_EVENTS_FOR_COX,
    ChurnModel,
    Design,
    align,
    choose_penalizer,
    churn_model,
    covariate_levels,
    design_matrix,
    fit_churn_model,
    fit_cox,
    forest_table,
    ph_check,
    remedy_ph,
)
from helpers.survival.definition import (
    ChurnDefinition,
    age_days,
    default_threshold,
    define_churn,
    export_start,
    fit_km,
    gaps_for,
    rethreshold,
    sensitivity,
    survival_frame,
    threshold_sensitivity,
    with_delayed_entry,
)
from helpers.survival.kaplan_meier import (
    KM_SEGMENTS,
    KaplanMeier,
    kaplan_meier,
    km_by,
    logrank,
    median_table,
    merge_small_groups,
)
from helpers.survival.ltv import (
    LtvSettings,
    bootstrap_mean,
    channel_ltv,
    discounted_lifetime,
    lifetime_value,
    ltv_by_channel,
    ltv_by_tier,
    new_customer_ltv,
    recalibration_scale,
)
from helpers.survival.prechurn import (
    RevenueAtRisk,
    current_scores,
    prechurn,
    prechurn_list,
    revenue_at_risk,
    score_accounts,
    with_rates,
)
from helpers.survival.predict import (
    conditional_survival,
    cumulative_hazard,
    km_conditional,
    weibull_tail_shape,
)
from helpers.survival.recalibration import Recalibration, fit_recalibration, recalibration
from helpers.survival.scoring import fit_and_score, outcomes_after
from helpers.survival.sentences import (
    aft_sentence,
    backtest_sentence,
    backtest_table,
    days_text,
    entry_sentence,
    ltv_sentence,
    pairs_sentence,
    ph_sentence,
    prechurn_sentence,
    recalibration_sentence,
    references_sentence,
    threshold_sentence,
    tier_sentence,
)
from helpers.survival.study import ChurnStudy, churn_study, findings, metrics
from helpers.survival.tables import (
    aft_view,
    backtest_view,
    bgnbd_view,
    covariate_name,
    logrank_view,
    ltv_view,
    medians_view,
    pairs_view,
    ph_view,
    prechurn_view,
    sensitivity_view,
)
from helpers.survival.tiers import TierSurvival, landmark_tiers, tier_survival

__all__ = [
    "aft_view",
    "backtest_view",
    "bgnbd_view",
    "covariate_name",
    "logrank_view",
    "ltv_view",
    "medians_view",
    "pairs_view",
    "ph_view",
    "prechurn_view",
    "sensitivity_view",
    "aft_sentence",
    "backtest_sentence",
    "backtest_table",
    "ltv_sentence",
    "pairs_sentence",
    "ph_sentence",
    "prechurn_sentence",
    "recalibration_sentence",
    "references_sentence",
    "threshold_sentence",
    "aft_comparison",
    "aft_models",
    "align",
    "auc_at",
    "Backtest",
    "backtest",
    "bootstrap_mean",
    "brier_at",
    "channel_ltv",
    "choose_penalizer",
    "churn_model",
    "churn_study",
    "ChurnDefinition",
    "ChurnModel",
    "ChurnStudy",
    "conditional_survival",
    "cumulative_hazard",
    "current_scores",
    "DEFAULT_COVARIATES",
    "TierSurvival",
    "landmark_tiers",
    "tier_survival",
    "tier_sentence",
    "days_text",
    "RevenueAtRisk",
    "revenue_at_risk",
    "discounted_lifetime",
    "recalibration_scale",
    "weibull_tail_shape",
    "DEFAULT_REFERENCES",
    "entry_sentence",
    "with_delayed_entry",
    "age_days",
    "export_start",
    "fit_km",
    "default_threshold",
    "define_churn",
    "Design",
    "design_matrix",
    "findings",
    "fit_and_score",
    "fit_churn_model",
    "fit_cox",
    "fit_recalibration",
    "forest_table",
    "gaps_for",
    "integrated_brier",
    "kaplan_meier",
    "KaplanMeier",
    "km_by",
    "km_conditional",
    "KM_SEGMENTS",
    "covariate_levels",
    "lifetime_value",
    "logrank",
    "ltv_by_channel",
    "ltv_by_tier",
    "LtvSettings",
    "median_table",
    "merge_small_groups",
    "metrics",
    "MIN_EVENTS_FOR_COX",
    "new_customer_ltv",
    "outcomes_after",
    "ph_check",
    "prechurn",
    "prechurn_list",
    "Recalibration",
    "recalibration",
    "remedy_ph",
    "run_backtest",
    "score_accounts",
    "sensitivity",
    "survival_frame",
    "rethreshold",
    "threshold_sensitivity",
    "uno_c",
    "with_rates",
]

# BG/NBD and Gamma-Gamma: churn without a threshold (issue 16)
from helpers.survival.bgnbd import (  # noqa: E402
    BuyTillYouDie,
    buy_till_you_die,
    fit_beta_geo,
    fit_gamma_gamma,
    rfm_summary,
)
from helpers.survival.bgnbd_checks import (  # noqa: E402
    Holdout,
    PAliveBacktest,
    agreement_sentence,
    bgnbd_metrics,
    bgnbd_sentence,
    churn_agreement,
    holdout_check,
    holdout_sentence,
    p_alive_backtest,
    p_alive_sentence,
    with_p_alive,
)

__all__ += [
    "BuyTillYouDie",
    "Holdout",
    "PAliveBacktest",
    "agreement_sentence",
    "bgnbd_metrics",
    "bgnbd_sentence",
    "buy_till_you_die",
    "churn_agreement",
    "fit_beta_geo",
    "fit_gamma_gamma",
    "holdout_check",
    "holdout_sentence",
    "p_alive_backtest",
    "p_alive_sentence",
    "rfm_summary",
    "with_p_alive",
]
