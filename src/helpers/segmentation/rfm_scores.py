"""Which accounts are recent, frequent and big spenders? RFM scores 1-5 per buying account
(quintiles of recency, order count and revenue; 5 = best), the named segment from
:data:`RFM_SEGMENTS` (first matching rule wins), the accounts and mean revenue (currency) per
segment, the mean-revenue heat map by recency and frequency, and the champions sentence.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers import formats
from helpers.steps import step

#: RFM segment rules, checked in order (first match wins): (name, condition on R, F, M scores).
RFM_SEGMENTS: tuple[tuple[str, str], ...] = (
    ("champions", "R >= 4 and F >= 4"),
    ("loyal", "R >= 3 and F >= 4"),
    ("new", "R >= 4 and F <= 1"),
    ("promising", "R >= 4"),
    ("at risk", "R <= 2 and F >= 4"),
    ("need attention", "R == 3"),
    ("hibernating", "R <= 2 and F >= 2"),
    ("lost", "R <= 2"),
)


def quintile_score(values: pd.Series, higher_is_better: bool = True) -> pd.Series:
    """Scores 1-5 by rank (ties broken by index order, so equal values split deterministically
    across quintiles instead of failing as ``qcut`` would)."""
    ranked = values.rank(method="first", ascending=higher_is_better)
    return (np.ceil(ranked / len(values) * 5)).clip(1, 5).astype(int)


@step("RFM")
def rfm(features: pd.DataFrame) -> pd.DataFrame:
    """R, F, M scores (5 = best: recent, frequent, high spend) and the named segment."""
    f = features[features["n_orders"] > 0].set_index("account_id").sort_index()
    out = pd.DataFrame(
        {
            "R": quintile_score(f["recency_days"], higher_is_better=False),
            "F": quintile_score(f["n_orders"]),
            "M": quintile_score(f["monetary_total"]),
            "monetary": f["monetary_total"],
        }
    )
    segment = pd.Series("lost", index=out.index)
    for name, rule in reversed(RFM_SEGMENTS):
        segment[out.eval(rule)] = name
    out["segment"] = segment
    return out


@step("RFM")
def rfm_segments(scores: pd.DataFrame) -> pd.DataFrame:
    """Per RFM segment (rows in :data:`RFM_SEGMENTS` order, empty segments left out):
    ``accounts`` and ``mean_revenue`` (currency per account)."""
    order = [name for name, _ in RFM_SEGMENTS]
    table = scores.groupby("segment").agg(
        accounts=("monetary", "size"), mean_revenue=("monetary", "mean")
    )
    return table.reindex([n for n in order if n in table.index])


@step("RFM")
def rfm_heat(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean revenue per account (currency) by recency score (rows, 5 = most recent first)
    and frequency score (columns), for a heat map."""
    heat = scores.pivot_table(index="R", columns="F", values="monetary", aggfunc="mean")
    return heat.sort_index(ascending=False)


@step("RFM")
def champions_sentence(scores: pd.DataFrame, currency: str | None = None) -> str:
    """How many accounts are champions (recent and frequent) and their mean revenue per
    account (in ``currency``)."""
    champions = scores.loc[scores["segment"] == "champions", "monetary"]
    if champions.empty:
        return f"None of the {len(scores):,} buying accounts is a champion (recent and frequent)."
    return (
        f"Champions (recent and frequent) are {len(champions):,} accounts with mean revenue "
        f"{formats.money(champions.mean(), currency)}."
    )
