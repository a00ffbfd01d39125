"""Survival by value tier, without circularity: tiers assigned at a landmark date, accounts
followed forward from it.

Tiers weigh cumulative revenue and 12-month growth (-100% for an account that stopped
buying), so tiers assigned today partly *encode* churn: Kaplan-Meier curves by today's tier
would show long-tail accounts leaving fast because leaving made them long tail. Here each
account active at the landmark gets the tier it had then (nothing dated later is used), and
its survival is counted in days from the landmark (:func:`helpers.survival.scoring.outcomes_after`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
from lifelines import KaplanMeierFitter

from helpers.features import features_for, orders_table
from helpers.segmentation import revenue_growth, value_tier
from helpers.steps import Skipped, step
from helpers.survival.definition import ChurnDefinition, export_start
from helpers.survival.kaplan_meier import km_by, logrank, median_table
from helpers.survival.scoring import outcomes_after

#: Days before the analysis date at which tiers are assigned (at most half the history).
LANDMARK_DAYS = 730
#: Least history before the landmark (tiers need a year of revenue and its growth) and least
#: follow-up after it (days).
MIN_HISTORY_DAYS, MIN_FOLLOW_UP_DAYS = 365, 90


@dataclass(frozen=True)
class TierSurvival:
    """Kaplan-Meier curves by the tier each account had at ``landmark`` (days from it)."""

    landmark: pd.Timestamp
    tiers: pd.Series  # account_id -> tier at the landmark
    frame: pd.DataFrame  # account_id, tier, duration_days (from the landmark), event
    fits: dict[str, KaplanMeierFitter]
    medians: pd.DataFrame
    p_value: float  # log-rank across tiers


def landmark_tiers(
    ds, landmark: pd.Timestamp, threshold: int, weights: Mapping[str, float] | None = None
) -> pd.Series:
    """Tier of every account with an order by ``landmark``, from data up to it only."""
    f = features_for(ds, landmark, threshold)
    f = f[f["n_orders"] > 0]
    tiers = value_tier(f, revenue_growth(ds, landmark), weights or None)
    return pd.Series(tiers.to_numpy(), index=f["account_id"].to_numpy(), name="tier").astype(str)


@step("Survival by value tier")
def tier_survival(
    ds,
    definition: ChurnDefinition,
    landmark_days: int = LANDMARK_DAYS,
    tier_weights: Mapping[str, float] | None = None,
) -> TierSurvival | Skipped:
    """Kaplan-Meier by landmark tier: tiers at ``as_of - landmark_days`` (at most half the
    history), accounts active then followed to the analysis date (churn at their last order,
    censored where a churn could not yet be seen)."""
    as_of, threshold = definition.as_of, definition.threshold
    history = (as_of - export_start(orders_table(ds))).days
    days = min(landmark_days, history // 2)
    if history - days < MIN_HISTORY_DAYS or days - threshold < MIN_FOLLOW_UP_DAYS:
        return Skipped(
            f"needs {(MIN_HISTORY_DAYS + threshold + MIN_FOLLOW_UP_DAYS) // 30} months of "
            f"history, the data has {history // 30}",
            "tiers must be assigned at an earlier date and accounts followed from it",
        )
    landmark = as_of - pd.Timedelta(days=days)
    tiers = landmark_tiers(ds, landmark, threshold, tier_weights)
    out = outcomes_after(orders_table(ds), ds.tables.get("accounts"), landmark, as_of, threshold)
    frame = out.rename(columns={"time": "duration_days"}).assign(
        tier=tiers.reindex(out["account_id"]).to_numpy()
    )
    fits, _ = km_by(frame, "tier")
    p_value, _ = logrank(frame, "tier")
    return TierSurvival(landmark, tiers, frame, fits, median_table(fits), p_value)
