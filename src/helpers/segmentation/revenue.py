"""How concentrated is revenue across accounts? The account features every part of the
segmentation starts from, revenue per account (currency, completed lines net of returns), the
share of revenue held by the top 1/5/10/20% of accounts with the Gini coefficient, the Lorenz
curve, the ABC classes (A up to 80% of revenue, B up to 95%, C the rest), and their tables and
sentence. Shares are 0-1; negative revenue (net returns) counts as 0 in shares.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from helpers import formats
from helpers.features import features_for
from helpers.steps import Skipped, step

if TYPE_CHECKING:
    from helpers.loading import Dataset


@step("The account features")
def account_features(ds: Dataset, as_of: pd.Timestamp) -> pd.DataFrame | Skipped:
    """Account features as of ``as_of`` (:func:`helpers.features.features_for`: revenue,
    margin, orders, recency... per account). Skipped when the data source has no orders or
    no completed order up to ``as_of``: every part of the segmentation starts from orders."""
    if "orders" not in ds.tables:
        return Skipped(
            f"the data source '{ds.source}' has no orders table",
            "the segmentation starts from orders: add the order lines to the source YAML",
        )
    features = features_for(ds, as_of)
    if not (features["n_orders"] > 0).any():
        return Skipped(
            f"no completed order up to {as_of:%Y-%m-%d}",
            "the segmentation needs completed orders",
        )
    return features


@step("Revenue per account")
def account_revenue(features: pd.DataFrame) -> pd.Series:
    """Revenue per account (completed minus returns), accounts without orders at 0."""
    return features.set_index("account_id")["monetary_total"].fillna(0.0)


@step("Revenue concentration")
def concentration(
    revenue: pd.Series, tops: tuple[float, ...] = (0.01, 0.05, 0.10, 0.20)
) -> dict[str, float] | Skipped:
    """Share of revenue held by the top 1/5/10/20% of accounts (top k = ceil(share x n)) and
    the Gini coefficient of revenue (0 = equal, 1 = one account has it all), with the number
    of ``accounts``. Negative
    revenue (net returns) counts as 0; Skipped when no account has positive revenue, or
    with a single account."""
    r = np.sort(revenue.clip(lower=0).to_numpy())[::-1]
    total = r.sum()
    if total <= 0:
        return Skipped(
            "the selection has no positive revenue", "concentration needs accounts that bought"
        )
    if len(r) < 2:
        return Skipped(
            "the selection has one account", "concentration compares accounts: it needs two"
        )
    out = {
        f"top_{round(t * 100)}pct_share": float(r[: int(np.ceil(t * len(r)))].sum() / total)
        for t in tops
    }
    asc = r[::-1]
    n = len(asc)
    out["gini"] = float((2 * np.arange(1, n + 1) - n - 1) @ asc / (n * total))
    out["accounts"] = n
    return out


@step("Revenue concentration")
def lorenz(revenue: pd.Series) -> pd.DataFrame:
    """Lorenz curve points: cumulative share of accounts (largest first) vs share of revenue."""
    r = np.sort(revenue.clip(lower=0).to_numpy())[::-1]
    return pd.DataFrame(
        {
            "accounts": np.arange(0, len(r) + 1) / len(r),
            "revenue": np.concatenate([[0], np.cumsum(r)]) / r.sum(),
        }
    )


@step("The ABC classes")
def abc_classes(revenue: pd.Series, a: float = 0.80, b: float = 0.95) -> pd.Series:
    """A: largest accounts up to ``a`` of revenue (the account crossing the line included),
    B: up to ``b``, C: the rest. Ties broken by account id."""
    frame = pd.DataFrame({"r": revenue.clip(lower=0), "id": revenue.index}).sort_values(
        ["r", "id"], ascending=[False, True]
    )
    before = (frame["r"].cumsum() - frame["r"]) / frame["r"].sum()
    cls = np.where(before < a, "A", np.where(before < b, "B", "C"))
    return pd.Series(cls, index=frame.index, name="abc").reindex(revenue.index)


@step("Revenue concentration")
def concentration_table(concentration: Mapping[str, float]) -> pd.DataFrame:
    """The result of :func:`concentration` as a one-column table (``value``: shares 0-1 and
    the Gini coefficient), rows named in words."""
    words = {"gini": "Gini coefficient"}
    rows = {
        words.get(k, k.replace("top_", "top ").replace("pct_share", "% share")): v
        for k, v in concentration.items()
        if k != "accounts"
    }
    return pd.Series(rows, name="value").to_frame()


@step("The ABC classes")
def abc_table(abc: pd.Series, revenue: pd.Series) -> pd.DataFrame:
    """Per ABC class: ``accounts``, ``account_share`` and ``revenue_share`` (0-1, negative
    revenue counted as 0, as :func:`abc_classes` does)."""
    r = revenue.clip(lower=0).reindex(abc.index)
    table = pd.DataFrame(
        {"accounts": abc.value_counts().sort_index(), "revenue": r.groupby(abc).sum()}
    )
    table["account_share"] = table["accounts"] / table["accounts"].sum()
    table["revenue_share"] = table["revenue"] / table["revenue"].sum()
    return table[["accounts", "account_share", "revenue_share"]]


@step("Revenue concentration")
def concentration_sentence(concentration: Mapping[str, float]) -> str:
    """How concentrated revenue is, in words (the top fifth's share)."""
    share = concentration["top_20pct_share"]
    level = "highly" if share >= 0.7 else "moderately" if share >= 0.5 else "not very"
    return (
        f"Revenue is {level} concentrated: {formats.share(share)} from the top fifth of the "
        f"{concentration['accounts']:,} accounts."
    )
