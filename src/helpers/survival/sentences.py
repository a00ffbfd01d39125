"""The churn report's sentences: each a function of step results, tested, never typed in a cell.

A skipped input gives the skip sentence (:meth:`helpers.steps.Skipped.sentence`).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from helpers import formats
from helpers.steps import Skipped
from helpers.survival.backtest import Backtest
from helpers.survival.cox import ChurnModel
from helpers.survival.definition import ChurnDefinition
from helpers.survival.kaplan_meier import KaplanMeier
from helpers.survival.prechurn import revenue_at_risk
from helpers.survival.recalibration import Recalibration
from helpers.survival.tables import covariate_name, p_words
from helpers.survival.tiers import TierSurvival


def threshold_sentence(definition: ChurnDefinition | Skipped) -> str:
    """What share of order gaps the threshold covers."""
    if isinstance(definition, Skipped):
        return definition.sentence()
    return (
        f"{formats.share(definition.share_of_gaps_within, 1)} of all gaps are shorter than "
        f"{definition.threshold} days, so an account silent for longer has most likely "
        "stopped buying."
    )


def pairs_sentence(km: KaplanMeier | Skipped) -> str:
    """Whether any pair of segment levels differs (Holm-corrected p < 0.05)."""
    if isinstance(km, Skipped):
        return km.sentence()
    if isinstance(km.pairs, Skipped):
        return "No pair of levels differs (Holm-corrected p ≥ 0.05)."
    return f"{len(km.pairs)} pairs of levels differ (Holm-corrected p < 0.05):"


def references_sentence(model: ChurnModel | Skipped, names: Mapping[str, str] | None = None) -> str:
    """The reference level of each covariate in the model, by display names (``names``: the
    data source's, :func:`helpers.formats.display_name`)."""
    if isinstance(model, Skipped):
        return model.sentence()
    levels = [covariate_name(f"{k}={v}", names) for k, v in model.references.items()]
    return "Reference levels of the hazard ratios: " + "; ".join(levels) + "."


def ph_sentence(model: ChurnModel | Skipped) -> str:
    """The proportional-hazards check, its remedy, and the penalizer."""
    if isinstance(model, Skipped):
        return model.sentence()
    return (
        model.ph_note
        + " Penalizer chosen by 4-fold cross-validation: "
        + (f"{formats.number(model.penalizer)}." if model.penalizer else "0 (no shrinkage).")
    )


def aft_sentence(aft: pd.DataFrame | Skipped) -> str:
    """Which parametric model fits best by AIC, and how the models rank accounts."""
    if isinstance(aft, Skipped):
        return aft.sentence()
    best = aft["AIC"].idxmin()
    return (
        f"Of the parametric models, the **{best}** fits best by AIC; all models rank accounts "
        f"about equally well (concordance {aft['concordance'].min():.3f}–"
        f"{aft['concordance'].max():.3f})."
    )


def backtest_table(bt: Backtest | Skipped) -> pd.DataFrame | Skipped:
    """The back-test's metrics as a one-column table named by its start date."""
    if isinstance(bt, Skipped):
        return bt
    return pd.Series(bt.metrics, name=f"back-test from {bt.start:%Y-%m-%d}").to_frame()


def backtest_sentence(bt: Backtest | Skipped, horizon_days: int) -> str:
    """Ranking quality and calibration of the back-test's probabilities."""
    if isinstance(bt, Skipped):
        return bt.sentence()
    m = bt.metrics
    gap = float((bt.calibration["observed"] - bt.calibration["predicted"]).mean())
    head = (
        f"The ranking reaches a Harrell's C of {m['harrell_c']:.2f} (0.5 would be chance). "
        f"The predicted probabilities of churn within {horizon_days} days are on average "
        f"{abs(gap) * 100:.0f} points {'below' if gap > 0 else 'above'} what happened"
    )
    if bt.recalibration is None:
        return (
            head + "; there was too little history to recalibrate them, so read them as a ranking."
        )
    return head + (
        f" (Brier score {m['brier_model']:.3f}, against {m['brier_cox_uncalibrated']:.3f} "
        f"before recalibration and {m['brier_km']:.3f} for the Kaplan-Meier baseline)."
    )


def recalibration_sentence(recal: Recalibration | Skipped) -> str:
    """Where the recalibration was learnt, on how many accounts and churn events."""
    if isinstance(recal, Skipped):
        return recal.sentence()
    return (
        f"The current probabilities are recalibrated at the landmark "
        f"{formats.date(recal.landmark)} "
        f"({recal.accounts:,} accounts active then, {recal.events:,} of them churned within "
        "the horizon)."
    )


def prechurn_sentence(
    prechurn: pd.DataFrame | Skipped, horizon_days: int, currency: str | None = None
) -> str:
    """How many accounts are on the list and the revenue at risk (in ``currency``), with its
    95% interval."""
    risk = revenue_at_risk(prechurn)
    if isinstance(risk, Skipped):
        return risk.sentence()
    return (
        f"{risk.accounts:,} active accounts are on the list, with "
        f"{formats.money(risk.total, currency)} of expected revenue at risk in the next "
        f"{horizon_days} days (95% interval of what may actually be lost: "
        f"{formats.money(risk.low, currency)}–{formats.money(risk.high, currency)}); the full "
        "list is saved as `prechurn.csv`."
    )


def ltv_sentence(
    by_channel: pd.DataFrame | Skipped,
    currency: str | None = None,
    names: Mapping[str, str] | None = None,
) -> str:
    """The most and least valuable acquisition channel by a new customer's lifetime value
    (discounted margin in ``currency``; channels by their display names)."""
    if isinstance(by_channel, Skipped):
        return by_channel.sentence()
    t = by_channel.sort_values("mean")
    best, worst = (formats.display_name(t.index[i], names) for i in (-1, 0))
    return (
        f"A new customer from {best} is worth {formats.money(t['mean'].iloc[-1], currency)} "
        f"of discounted margin, one from {worst} {formats.money(t['mean'].iloc[0], currency)}."
    )


def entry_sentence(definition: ChurnDefinition | Skipped) -> str:
    """How lifetimes are counted for accounts that were customers before the export began."""
    if isinstance(definition, Skipped):
        return definition.sentence()
    survival = definition.survival
    start = survival["origin"].min() if len(survival) else None
    if "acquired_date" not in survival.columns:
        return (
            "The data has no acquisition dates, so lifetimes start at each account's first order "
            "in the export: accounts that were customers before the export began look younger "
            "than they are, and those that left before it are missing (map acquired_date to "
            "correct for both)."
        )
    if definition.left_truncated == 0:
        return "Every account's first order lies inside the export: lifetimes start there."
    return (
        f"{definition.left_truncated:,} accounts were customers before the export began: their "
        "lifetimes start at their acquisition date (the earliest is "
        f"{formats.date(start)}) and they count as at risk only from their age on the export's first "
        "day (delayed entry), so the accounts that left before the export cannot bias the curves."
    )


def tier_sentence(tiers: TierSurvival | Skipped) -> str:
    """Median days from the landmark by landmark tier, and the log-rank p-value."""
    if isinstance(tiers, Skipped):
        return tiers.sentence()
    medians = tiers.medians["median_days"]
    parts = ", ".join(
        f"{formats.display_name(name).lower()} {days_text(value)} "
        f"({int(tiers.medians.loc[name, 'accounts']):,} accounts)"
        for name, value in medians.items()
    )
    return (
        f"Tiers as they were on {formats.date(tiers.landmark)}, accounts followed from that "
        f"day: median time until they stop buying: {parts}; log-rank p "
        f"{p_words(tiers.p_value)}."
    )


def days_text(days: float) -> str:
    """A duration in days as text (days, months or years, :func:`helpers.formats.days`);
    "not reached" for a median the curve never reaches."""
    return formats.days(days, missing="not reached")
