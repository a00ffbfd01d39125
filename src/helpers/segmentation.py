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


# --- concentration ------------------------------------------------------------------------------


def account_revenue(features: pd.DataFrame) -> pd.Series:
    """Revenue per account (completed minus returns), accounts without orders at 0."""
    return features.set_index("account_id")["monetary_total"].fillna(0.0)


def concentration(
    revenue: pd.Series, tops: tuple[float, ...] = (0.01, 0.05, 0.10, 0.20)
) -> dict[str, float]:
    """Share of revenue held by the top 1/5/10/20% of accounts (top k = ceil(share x n)) and
    the Gini coefficient of revenue (0 = equal, 1 = one account has it all). Negative
    revenue (net returns) counts as 0."""
    r = np.sort(revenue.clip(lower=0).to_numpy())[::-1]
    total = r.sum()
    if total <= 0:
        raise ValueError("The selection has no positive revenue: no concentration to measure.")
    out = {
        f"top_{round(t * 100)}pct_share": float(r[: int(np.ceil(t * len(r)))].sum() / total)
        for t in tops
    }
    asc = r[::-1]
    n = len(asc)
    out["gini"] = float((2 * np.arange(1, n + 1) - n - 1) @ asc / (n * total))
    return out


def lorenz(revenue: pd.Series) -> pd.DataFrame:
    """Lorenz curve points: cumulative share of accounts (largest first) vs share of revenue."""
    r = np.sort(revenue.clip(lower=0).to_numpy())[::-1]
    return pd.DataFrame(
        {
            "accounts": np.arange(0, len(r) + 1) / len(r),
            "revenue": np.concatenate([[0], np.cumsum(r)]) / r.sum(),
        }
    )


def abc_classes(revenue: pd.Series, a: float = 0.80, b: float = 0.95) -> pd.Series:
    """A: largest accounts up to ``a`` of revenue (the account crossing the line included),
    B: up to ``b``, C: the rest. Ties broken by account id."""
    frame = pd.DataFrame({"r": revenue.clip(lower=0), "id": revenue.index}).sort_values(
        ["r", "id"], ascending=[False, True]
    )
    before = (frame["r"].cumsum() - frame["r"]) / frame["r"].sum()
    cls = np.where(before < a, "A", np.where(before < b, "B", "C"))
    return pd.Series(cls, index=frame.index, name="abc").reindex(revenue.index)


# --- RFM ------------------------------------------------------------------------------------------

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


# --- tier migration, customer types, clusters ----------------------------------------------


def tier_migration(
    before: pd.Series, after: pd.Series, revenue: pd.Series
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counts and current revenue of accounts moving between tiers (rows: previous tier)."""
    both = pd.DataFrame({"before": before, "after": after}).dropna()
    counts = pd.crosstab(both["before"], both["after"])
    money = pd.crosstab(
        both["before"], both["after"], values=revenue.reindex(both.index), aggfunc="sum"
    ).fillna(0.0)
    return counts, money


def customer_types(
    orders: pd.DataFrame,
    features: pd.DataFrame,
    as_of: pd.Timestamp,
    months: int = 24,
    margin_quantile: float = 0.8,
    min_orders: int = 6,
) -> pd.DataFrame:
    """Customer type per account with at least ``min_orders`` orders in the last ``months``:

    * ``growing``: the OLS slope of log order value against time (per year) is positive with
      its 95% interval above 0, i.e. the account spends more per order over time, with
      statistical support (``growth`` = exp(slope) - 1 per year);
    * ``price-insensitive``: margin rate in the top ``1 - margin_quantile`` of accounts while
      the value per order is stable (no significant trend either way);
    * ``steady``: no significant trend in order value;
    * ``shrinking``: a significant downward trend.
    Orders are summed per order id (lines -> orders); cancelled orders are ignored.
    """
    start = as_of - pd.DateOffset(months=months)
    o = orders[
        (orders["status"] == "completed")
        & (orders["order_date"] > start)
        & (orders["order_date"] <= as_of)
    ]
    per_order = o.groupby(["account_id", "order_id"], as_index=False).agg(
        value=("net_amount", "sum"), date=("order_date", "min")
    )
    per_order = per_order[per_order["value"] > 0]
    per_order["t"] = (per_order["date"] - start).dt.days / 365.25
    per_order["y"] = np.log(per_order["value"])
    g = per_order.groupby("account_id")
    n = g.size()
    keep = n[n >= min_orders].index
    p = per_order[per_order["account_id"].isin(keep)]
    g = p.groupby("account_id")
    t_mean, y_mean = g["t"].transform("mean"), g["y"].transform("mean")
    dt, dy = p["t"] - t_mean, p["y"] - y_mean
    sxx = (dt**2).groupby(p["account_id"]).sum()
    sxy = (dt * dy).groupby(p["account_id"]).sum()
    slope = sxy / sxx
    fitted = slope.reindex(p["account_id"]).to_numpy() * dt
    sse = ((dy - fitted) ** 2).groupby(p["account_id"]).sum()
    dof = n.reindex(slope.index) - 2
    se = np.sqrt(sse / dof / sxx)
    from scipy.stats import t as student

    q = student.ppf(0.975, dof)
    out = pd.DataFrame(
        {
            "slope": slope,
            "low": slope - q * se,
            "high": slope + q * se,
            "orders": n.reindex(slope.index),
        }
    )
    out["growth"] = np.exp(out["slope"]) - 1
    margin = features.set_index("account_id")["margin_rate"]
    high_margin = margin.reindex(out.index) >= margin.quantile(margin_quantile)
    out["type"] = np.select(
        [out["low"] > 0, out["high"] < 0, high_margin],
        ["growing", "shrinking", "price-insensitive"],
        "steady",
    )
    return out


#: Behaviour features of the clusters (see :func:`cluster_features`).
CLUSTER_FEATURES: tuple[str, ...] = (
    "log_order_value",
    "log_orders_per_month",
    "margin_rate",
    "log_breadth",
)


def cluster_features(features: pd.DataFrame) -> pd.DataFrame:
    """Standardisable behaviour features of accounts with at least two orders.

    Rate-like features describe *how* an account buys, not how long it has been a customer:
    log mean order value, log orders per active month (orders over the span from first to last
    order plus a month), margin rate and log product breadth. Recency and tenure mostly measure
    when the account arrived or left and blur the buying patterns (tested: with them, the
    clusters recover the demo's planted archetypes far worse), so they are kept for RFM.
    """
    f = features[features["n_orders"] >= 2].set_index("account_id")
    span = (f["last_order"] - f["first_order"]).dt.days + 30.4
    return pd.DataFrame(
        {
            "log_order_value": np.log(f["monetary_mean"].clip(lower=1)),
            "log_orders_per_month": np.log(f["n_orders"] / span * 30.4),
            "margin_rate": f["margin_rate"].fillna(f["margin_rate"].median()).clip(0, 1),
            "log_breadth": np.log1p(f["n_categories"]),
        }
    )


def clusters(
    x: pd.DataFrame,
    k: int | str = "auto",
    seed: int = 42,
    candidates: tuple[int, ...] = (2, 3, 4, 5, 6, 7),
) -> tuple[pd.Series, pd.Series]:
    """K-means on standardised features; ``k="auto"`` (or 0) picks the best silhouette among
    ``candidates``. Returns the labels (ordered by mean order value, 0 = lowest) and the
    silhouette per k tried."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import StandardScaler

    k = "auto" if k in ("auto", 0) else k
    z = StandardScaler().fit_transform(x)
    ks = [c for c in candidates if c < len(x)] if k == "auto" else [int(k)]
    if not ks or ks[0] >= len(x):
        raise ValueError(
            f"Clustering needs more accounts than clusters: {len(x)} accounts with "
            f"two or more orders, k = {k}."
        )
    scores, fits = {}, {}
    for c in ks:
        fits[c] = KMeans(c, n_init=10, random_state=seed).fit(z)
        scores[c] = (
            float(
                silhouette_score(
                    z, fits[c].labels_, sample_size=min(3000, len(x)), random_state=seed
                )
            )
            if c > 1
            else float("nan")
        )
    best = max(scores, key=lambda c: scores[c]) if k == "auto" else ks[0]
    labels = pd.Series(fits[best].labels_, index=x.index)
    order = x.groupby(labels)[x.columns[0]].mean().sort_values().index
    labels = labels.map({old: new for new, old in enumerate(order)})
    return labels.rename("cluster"), pd.Series(scores, name="silhouette")


def cluster_stability(x: pd.DataFrame, k: int, n: int = 10, seed: int = 42) -> float:
    """Mean adjusted Rand index between the full-data clustering and clusterings of 80%
    subsamples (on the subsampled accounts): 1 = perfectly stable."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score
    from sklearn.preprocessing import StandardScaler

    z = StandardScaler().fit_transform(x)
    full = KMeans(k, n_init=10, random_state=seed).fit_predict(z)
    rng = np.random.default_rng(seed)
    scores = []
    for _ in range(n):
        idx = rng.choice(len(z), int(0.8 * len(z)), replace=False)
        sub = KMeans(k, n_init=5, random_state=seed).fit_predict(z[idx])
        scores.append(adjusted_rand_score(full[idx], sub))
    return float(np.mean(scores))


def name_clusters(x: pd.DataFrame, labels: pd.Series) -> pd.Series:
    """Plain names from each cluster's profile relative to the overall medians."""
    prof = x.groupby(labels).median()
    med = x.median()
    names = {}
    for c, row in prof.iterrows():
        size = "large orders" if row["log_order_value"] > med["log_order_value"] else "small orders"
        freq = (
            "frequent"
            if row["log_orders_per_month"] > med["log_orders_per_month"]
            else "occasional"
        )
        margin = "high margin" if row["margin_rate"] > med["margin_rate"] else "low margin"
        names[c] = f"{freq}, {size}, {margin}"
    return labels.map(names)
