"""Who are our customers: concentration, value tiers and other segmentations of accounts."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

#: Tier names from highest to lowest, with the share of accounts in each (by score rank).
TIERS: tuple[tuple[str, float], ...] = (
    ("strategic", 0.05),
    ("key", 0.15),
    ("standard", 0.30),
    ("long tail", 0.50),
)

#: Default weights of the tier score (they are normalised to sum to 1).
TIER_WEIGHTS: dict[str, float] = {
    "revenue": 0.40,
    "margin": 0.20,
    "orders": 0.15,
    "growth": 0.10,
    "size": 0.10,
    "attributes": 0.05,
}

_SIZE_SCORE = {"micro": 0.0, "small": 0.25, "medium": 0.5, "large": 0.75, "enterprise": 1.0}
#: Attribute score: brand owners and state-owned buyers are steadier, larger counterparties.
_OWNERSHIP_SCORE = {"state_owned": 1.0, "private": 0.5, "individual_business": 0.0}
_BUSINESS_SCORE = {"brand_owner": 1.0, "trader_reseller": 0.0}


def revenue_growth(orders: pd.DataFrame, as_of: pd.Timestamp, months: int = 12) -> pd.Series:
    """Per account: revenue in the last ``months`` over the ``months`` before, minus 1 (share);
    NaN when the account bought nothing in the earlier window."""
    o = orders[orders["status"] != "cancelled"]
    recent_start = as_of - pd.DateOffset(months=months)
    early_start = as_of - pd.DateOffset(months=2 * months)
    recent = o[(o["order_date"] > recent_start) & (o["order_date"] <= as_of)]
    early = o[(o["order_date"] > early_start) & (o["order_date"] <= recent_start)]
    r = recent.groupby("account_id")["net_amount"].sum()
    e = early.groupby("account_id")["net_amount"].sum()
    return (r.reindex(e.index, fill_value=0.0) / e.where(e > 0) - 1).rename("growth")


def tier_score(
    features: pd.DataFrame,
    growth: pd.Series | None = None,
    weights: Mapping[str, float] | None = None,
) -> pd.Series:
    """Score 0-1 per account: weighted percentile ranks of revenue, margin, order count and
    growth, plus size band and attributes (ownership, business type) on fixed 0-1 scales.

    Missing indicators (no margin column, no growth history) score 0.5 (neutral). Weights are
    normalised to sum to 1; unknown weight names raise ``ValueError``.
    """
    w = dict(TIER_WEIGHTS if weights is None else weights)
    unknown = set(w) - set(TIER_WEIGHTS)
    if unknown:
        raise ValueError(f"Unknown tier weight(s) {sorted(unknown)}; use {sorted(TIER_WEIGHTS)}.")
    total = sum(w.values())
    if total <= 0:
        raise ValueError("Tier weights must sum to more than 0.")
    f = features.set_index("account_id")

    def rank(s: pd.Series) -> pd.Series:
        return s.rank(pct=True, method="average").fillna(0.5)

    parts = {
        "revenue": rank(f["monetary_total"]),
        "margin": rank(f["margin_total"]) if f["margin_total"].notna().any() else 0.5,
        "orders": rank(f["n_orders"]),
        "growth": rank(growth.reindex(f.index)) if growth is not None else 0.5,
        "size": f["size_band"].map(_SIZE_SCORE).fillna(0.5) if "size_band" in f else 0.5,
        "attributes": (
            (
                f["ownership_type"].map(_OWNERSHIP_SCORE).fillna(0.5)
                + f["business_type"].map(_BUSINESS_SCORE).fillna(0.5)
            )
            / 2
            if "ownership_type" in f and "business_type" in f
            else 0.5
        ),
    }
    score = sum(w.get(k, 0.0) * pd.Series(v, index=f.index) for k, v in parts.items()) / total
    return score.rename("tier_score")


def value_tier(
    features: pd.DataFrame,
    growth: pd.Series | None = None,
    weights: Mapping[str, float] | None = None,
) -> pd.Series:
    """Tier per account (``TIERS`` order) by rank of :func:`tier_score`; ties broken by
    account id, so the cut is deterministic. Accounts without orders are ``long tail``."""
    score = tier_score(features, growth, weights)
    order = pd.DataFrame({"score": score, "id": score.index}).sort_values(
        ["score", "id"], ascending=[False, True]
    )
    n = len(order)
    bounds = np.cumsum([share for _, share in TIERS])
    position = np.arange(n) / max(n, 1)
    labels = np.array([name for name, _ in TIERS])[np.searchsorted(bounds, position, "right")]
    tiers = pd.Series(labels, index=order.index).reindex(score.index)
    no_orders = features.set_index("account_id")["n_orders"] == 0
    tiers[no_orders.reindex(tiers.index).fillna(False).to_numpy()] = TIERS[-1][0]
    categories = pd.CategoricalDtype([t for t, _ in TIERS], ordered=True)
    return tiers.astype(categories).rename("tier")
