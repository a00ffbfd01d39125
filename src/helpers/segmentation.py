"""Who are our customers: concentration, value tiers and other segmentations of accounts.

Notebook 01 calls the *steps* of this module one section at a time (concentration, RFM, value
tiers and their migration, customer types, behavioural clusters) and ends with
:func:`findings` and :func:`metrics`. Money is the data's currency (revenue of completed lines
net of returns, as :mod:`helpers.features` computes it); shares are 0-1; counts are accounts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from helpers.reporting import money, pct
from helpers.schemas import Fields, SegmentationMetrics
from helpers.steps import Skipped, step

if TYPE_CHECKING:
    from helpers.leads import LeadGrading, Lookalikes
    from helpers.loading import Dataset

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


def varies(values: pd.Series) -> bool:
    """Whether ``values`` (missing ones ignored) take more than one value, beyond floating
    point noise (a margin of 30% on every line gives rates that differ in the 16th digit)."""
    v = values.dropna()
    return bool(len(v)) and float(v.max() - v.min()) > 1e-9 * max(1.0, float(v.abs().max()))


# --- how much history the data has ------------------------------------------------------------


def history_months(dates: pd.Series, as_of: pd.Timestamp) -> int:
    """Calendar months from the first of ``dates`` (up to ``as_of``) to ``as_of``, both months
    counted: January 2022 to December 2025 is 48. 0 when no date is on or before ``as_of``."""
    first = dates[dates <= as_of].min()
    if pd.isna(first):
        return 0
    return (as_of.year - first.year) * 12 + as_of.month - first.month + 1


def adapted_window(
    default: int, history: int, *, minimum: int, what: str, share: float = 1 / 3
) -> int | Skipped:
    """A window in months that fits the history at hand: ``min(default, share x history)``
    (by default a third: a window that compares with the months before it needs room on both
    sides), or a :class:`Skipped` saying "needs N months of history, the data has M" when that
    is below ``minimum`` months. ``what`` names the step in the hint."""
    months = min(default, int(history * share))
    if months < minimum:
        needed = int(np.ceil(minimum / share))
        return Skipped(
            f"needs {needed} months of history, the data has {history}",
            f"{what} uses a window of at least {minimum} months",
        )
    return months


#: Shortest windows (months) below which the tier migration, the growth part of the tier
#: score and the customer types are not computed.
MIN_MIGRATION_MONTHS = 3
MIN_GROWTH_MONTHS = 3
MIN_TYPE_MONTHS = 6


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


@step("The value tiers")
def value_tiers(
    features: pd.DataFrame,
    orders: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    weights: Mapping[str, float] | None,
) -> pd.Series:
    """Value tier per account as of ``as_of`` (:func:`value_tier`), growth being the revenue
    of the 12 months to ``as_of`` against the 12 before (:func:`revenue_growth`); with less
    history, of the last third of it against the third before (growth is left out, i.e.
    neutral, when that is under :data:`MIN_GROWTH_MONTHS`).

    ``weights`` must be given (None: :data:`TIER_WEIGHTS`), so that a study passes its own
    weights to every tier computation, the earlier tiers of a migration included.
    """
    history = history_months(orders.loc[orders["status"] == "completed", "order_date"], as_of)
    months = adapted_window(
        12, history, minimum=MIN_GROWTH_MONTHS, what="the growth part of the tier score"
    )
    growth = None if isinstance(months, Skipped) else revenue_growth(orders, as_of, months)
    return value_tier(features, growth, weights)


@step("The value tiers")
def tier_profile(features: pd.DataFrame, tiers: pd.Series) -> pd.DataFrame:
    """Per tier (rows in :data:`TIERS` order, empty tiers left out): ``accounts``,
    ``revenue`` (currency, net of returns), ``mean_orders`` (orders per account),
    ``margin_rate`` (median over the tier's accounts, share 0-1; the column is left out when
    the data has no margin) and ``revenue_share`` (the tier's revenue over the revenue of all
    tiers, 0-1; net returns count negative)."""
    prof = (
        features.set_index("account_id")
        .assign(tier=tiers)
        .groupby("tier", observed=True)
        .agg(
            accounts=("n_orders", "size"),
            revenue=("monetary_total", "sum"),
            mean_orders=("n_orders", "mean"),
            margin_rate=("margin_rate", "median"),
        )
    )
    prof["revenue_share"] = prof["revenue"] / prof["revenue"].sum()
    if prof["margin_rate"].isna().all():
        prof = prof.drop(columns="margin_rate")
    return prof


# --- concentration ------------------------------------------------------------------------------


@step("The account features")
def account_features(ds: Dataset, as_of: pd.Timestamp) -> pd.DataFrame | Skipped:
    """Account features as of ``as_of`` (:func:`helpers.features.features_for`: revenue,
    margin, orders, recency... per account). Skipped when the data source has no orders or
    no completed order up to ``as_of``: every part of the segmentation starts from orders."""
    from helpers.features import features_for

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
        f"Revenue is {level} concentrated: {pct(share)} from the top fifth of the "
        f"{concentration['accounts']:,} accounts."
    )


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
def champions_sentence(scores: pd.DataFrame) -> str:
    """How many accounts are champions (recent and frequent) and their mean revenue."""
    champions = scores.loc[scores["segment"] == "champions", "monetary"]
    if champions.empty:
        return f"None of the {len(scores):,} buying accounts is a champion (recent and frequent)."
    return (
        f"Champions (recent and frequent) are {len(champions):,} accounts with mean revenue "
        f"{money(champions.mean())}."
    )


# --- tier migration, customer types, clusters ----------------------------------------------


@dataclass(frozen=True, eq=False)
class TierMigration:
    """Accounts moving between value tiers from ``start`` to ``end``.

    ``counts`` and ``money`` are tier x tier tables (rows: the tier at ``start``, columns: the
    tier at ``end``) of accounts and of their current revenue (currency). ``moved_up`` and
    ``moved_down`` count accounts whose tier at ``end`` is higher or lower in the order of
    :data:`TIERS` (strategic highest) than at ``start``; ``months`` is the span in months.
    """

    counts: pd.DataFrame
    money: pd.DataFrame
    moved_up: int
    moved_down: int
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    months: int | None = None


def tier_moves(counts: pd.DataFrame) -> tuple[int, int]:
    """(moved up, moved down): accounts in a migration table ``counts`` (rows: tier before,
    columns: tier after) whose tier rose or fell, by the order of :data:`TIERS` (the first
    tier is the highest). Unknown tier names raise ``KeyError``."""
    rank = {name: i for i, (name, _) in enumerate(TIERS)}
    cells = counts.stack()
    before = np.array([rank[a] for a, _ in cells.index])
    after = np.array([rank[b] for _, b in cells.index])
    values = cells.to_numpy()
    return int(values[after < before].sum()), int(values[after > before].sum())


def tier_migration(
    before: pd.Series,
    after: pd.Series,
    revenue: pd.Series,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    months: int | None = None,
) -> TierMigration:
    """Counts and current revenue (currency) of accounts moving between tiers, with the
    numbers moving up and down (:func:`tier_moves`); accounts missing from either side are
    left out. ``start``, ``end`` and ``months`` only label the result."""
    both = pd.DataFrame({"before": before, "after": after}).dropna()
    counts = pd.crosstab(both["before"], both["after"])
    money = pd.crosstab(
        both["before"], both["after"], values=revenue.reindex(both.index), aggfunc="sum"
    ).fillna(0.0)
    up, down = tier_moves(counts)
    return TierMigration(counts, money, up, down, start, end, months)


@step("The tier migration")
def tier_migration_since(
    ds: Dataset,
    tiers: pd.Series,
    revenue: pd.Series,
    as_of: pd.Timestamp,
    *,
    months: int,
    weights: Mapping[str, float] | None,
) -> TierMigration | Skipped:
    """How accounts moved between value tiers over the ``months`` before ``as_of``; with a
    shorter history, over a third of it (:func:`adapted_window`; Skipped below
    :data:`MIN_MIGRATION_MONTHS`).

    The earlier tiers are scored exactly as ``tiers`` were (:func:`value_tiers` with the same
    ``weights``, which callers must pass: tiers scored with other weights would show moves
    that are only a change of method) on the features and growth as of ``as_of - months``.
    ``revenue`` is current revenue per account (currency).
    """
    from helpers.features import features_for

    orders = ds["orders"]
    history = history_months(orders.loc[orders["status"] == "completed", "order_date"], as_of)
    months = adapted_window(
        months, history, minimum=MIN_MIGRATION_MONTHS, what="the tier migration"
    )
    if isinstance(months, Skipped):
        return months
    start = as_of - pd.DateOffset(months=months)
    before = value_tiers(features_for(ds, start), ds["orders"], start, weights=weights)
    return tier_migration(before, tiers, revenue, start=start, end=as_of, months=months)


@step("The tier migration")
def migration_caption(migration: TierMigration) -> str:
    """What the two migration tables show: the dates of their rows and columns."""
    return (
        f"Tier migration from {migration.start:%Y-%m-%d} (rows) to {migration.end:%Y-%m-%d} "
        "(columns): accounts, then their current revenue."
    )


@step("The tier migration")
def migration_sentence(migration: TierMigration) -> str:
    """How many accounts moved up (and down) at least one tier over the migration span."""
    return (
        f"{migration.moved_up} accounts moved up at least one tier in the last "
        f"{migration.months} months; {migration.moved_down} moved down."
    )


#: False discovery rate of the customer-type trend tests (Benjamini-Hochberg).
TYPE_FDR = 0.05


def customer_types(
    orders: pd.DataFrame,
    features: pd.DataFrame,
    as_of: pd.Timestamp,
    months: int = 24,
    margin_quantile: float = 0.8,
    min_orders: int = 6,
    fdr: float = TYPE_FDR,
) -> pd.DataFrame:
    """Customer type per account with at least ``min_orders`` orders in the last ``months``:

    * ``growing``: the OLS slope of log order value against time (per year) is positive and
      significant after false-discovery-rate control (below), i.e. the account spends more
      per order over time (``growth`` = exp(slope) - 1 per year);
    * ``price-insensitive``: margin rate in the top ``1 - margin_quantile`` of accounts while
      the value per order is stable (no significant trend either way); never assigned when the
      data has no margin (or the same margin rate for every account);
    * ``steady``: no significant trend in order value;
    * ``shrinking``: a significant downward trend.

    One t-test per account (two-sided p-value of the slope, column ``p``) would call about
    2.5% of accounts without any trend "growing" by chance; the p-values are therefore
    adjusted by Benjamini-Hochberg (``q``, statsmodels ``multipletests(method="fdr_bh")``) and
    a trend counts as significant when ``q < fdr``: among the accounts called growing or
    shrinking, the expected share of false calls is at most ``fdr``. ``low``/``high`` are
    the unadjusted 95% intervals of the slope. Orders are summed per order id (lines ->
    orders); cancelled orders are ignored; accounts whose orders all fall on one day are left
    out (no trend to measure).
    """
    from scipy.stats import t as student
    from statsmodels.stats.multitest import multipletests

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
    sxx = sxx[sxx > 0]
    slope = sxy.reindex(sxx.index) / sxx
    fitted = slope.reindex(p["account_id"]).to_numpy() * dt
    sse = ((dy - fitted) ** 2).groupby(p["account_id"]).sum().reindex(slope.index)
    dof = n.reindex(slope.index) - 2
    se = np.sqrt(sse / dof / sxx)
    q = student.ppf(0.975, dof)
    with np.errstate(divide="ignore", invalid="ignore"):
        tstat = np.where(se > 0, slope / se, np.where(slope == 0, 0.0, np.inf * np.sign(slope)))
    pvalue = pd.Series(2 * student.sf(np.abs(tstat), dof), index=slope.index, dtype=float)
    out = pd.DataFrame(
        {
            "slope": slope,
            "low": slope - q * se,
            "high": slope + q * se,
            "p": pvalue,
            "orders": n.reindex(slope.index),
        }
    )
    out["q"] = multipletests(pvalue.to_numpy(), method="fdr_bh")[1] if len(out) else []
    out["growth"] = np.exp(out["slope"]) - 1
    margin = features.set_index("account_id")["margin_rate"]
    if varies(margin.dropna()):
        high_margin = margin.reindex(out.index) >= margin.quantile(margin_quantile)
    else:
        high_margin = pd.Series(False, index=out.index)
    significant = out["q"] < fdr
    out["type"] = np.select(
        [significant & (out["slope"] > 0), significant & (out["slope"] < 0), high_margin],
        ["growing", "shrinking", "price-insensitive"],
        "steady",
    )
    return out


@step("The customer types")
def account_types(
    ds: Dataset,
    features: pd.DataFrame,
    as_of: pd.Timestamp,
    *,
    months: int = 24,
    min_orders: int = 6,
) -> pd.DataFrame | Skipped:
    """:func:`customer_types` over the last ``months`` (at most the whole history; Skipped
    when that is under :data:`MIN_TYPE_MONTHS`, or when no account has ``min_orders`` orders
    in the window). The trend window needs no comparison period before it, so it may span
    the whole history (other windows take at most a third)."""
    orders = ds["orders"]
    done = orders[orders["status"] == "completed"]
    history = history_months(done["order_date"], as_of)
    window = adapted_window(
        months, history, minimum=MIN_TYPE_MONTHS, what="the customer-type trend", share=1.0
    )
    if isinstance(window, Skipped):
        return window
    types = customer_types(orders, features, as_of, months=window, min_orders=min_orders)
    if types.empty:
        return Skipped(
            f"no account has {min_orders} or more orders in the last {window} months",
            f"a trend in order value needs at least {min_orders} orders per account",
        )
    return types


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
    order plus a month), margin rate and log product breadth; a feature the data cannot fill
    (no margin column) or that does not vary (one product category, the same margin rate
    everywhere) is left out, so the clusters use what exists. Recency and tenure mostly measure
    when the account arrived or left and blur the buying patterns (tested: with them, the
    clusters recover the demo's planted archetypes far worse), so they are kept for RFM.
    """
    f = features[features["n_orders"] >= 2].set_index("account_id")
    span = (f["last_order"] - f["first_order"]).dt.days + 30.4
    x = pd.DataFrame(
        {
            "log_order_value": np.log(f["monetary_mean"].clip(lower=1)),
            "log_orders_per_month": np.log(f["n_orders"] / span * 30.4),
            "margin_rate": f["margin_rate"].fillna(f["margin_rate"].median()).clip(0, 1),
            "log_breadth": np.log1p(f["n_categories"]),
        }
    )
    return x[[c for c in x.columns if x[c].notna().all() and varies(x[c])]]


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
    distinct = len(np.unique(np.round(z, 9), axis=0))
    ks = [c for c in candidates if c < min(len(x), distinct + 1)] if k == "auto" else [int(k)]
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
    order = x.groupby(labels)[x.columns[0]].mean().sort_values(kind="stable").index
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
    """Plain names from each cluster's profile relative to the overall medians: frequency,
    order size and margin, each only when it is among the features (no "high margin" name
    when the data has no margin that varies)."""
    words = {
        "log_orders_per_month": ("frequent", "occasional"),
        "log_order_value": ("large orders", "small orders"),
        "margin_rate": ("high margin", "low margin"),
    }
    prof = x.groupby(labels).median()
    med = x.median()
    used = [f for f in words if f in x.columns]
    names = {
        c: ", ".join(words[f][0] if row[f] > med[f] else words[f][1] for f in used) or f"group {c}"
        for c, row in prof.iterrows()
    }
    return labels.map(names)


@step("The customer types")
def type_summary(types: pd.DataFrame, revenue: pd.Series) -> pd.DataFrame:
    """Per customer type (:func:`customer_types`): ``accounts``, ``revenue`` (currency,
    current revenue per account as :func:`account_revenue`), ``account_share`` and
    ``revenue_share`` (0-1, of the typed accounts only)."""
    summary = (
        types.assign(revenue=revenue.reindex(types.index))
        .groupby("type")
        .agg(accounts=("slope", "size"), revenue=("revenue", "sum"))
    )
    summary["account_share"] = summary["accounts"] / summary["accounts"].sum()
    summary["revenue_share"] = summary["revenue"] / summary["revenue"].sum()
    return summary


@step("The customer types")
def types_sentence(types: pd.DataFrame) -> str:
    """How many accounts grow their order value significantly, and their median growth."""
    growing = types.loc[types["type"] == "growing", "growth"]
    if growing.empty:
        return (
            f"None of the {len(types):,} typed accounts grows its order value significantly "
            "(5% false discovery rate)."
        )
    return (
        f"{len(growing)} of {len(types):,} typed accounts grow their order value significantly "
        f"(5% false discovery rate; median growth {pct(growing.median())} a year)."
    )


# --- behavioural clusters as a study step -------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Clusters:
    """Behavioural clusters of the accounts with two or more orders.

    ``features`` are :func:`cluster_features` (one row per clustered account), ``labels`` the
    cluster per account (0 = lowest mean order value), ``names`` its plain name
    (:func:`name_clusters`), ``silhouettes`` the silhouette per number of clusters tried
    (-1 to 1, higher = better separated) and ``stability`` the mean adjusted Rand index under
    80% subsamples (:func:`cluster_stability`, 1 = perfectly stable).
    """

    features: pd.DataFrame
    labels: pd.Series
    names: pd.Series
    silhouettes: pd.Series
    stability: float

    @property
    def k(self) -> int:
        """The number of clusters."""
        return int(self.labels.nunique())


#: Fewest accounts (with two or more orders) that the behavioural clustering runs on.
MIN_CLUSTER_ACCOUNTS = 20


@step("The behavioural clustering")
def behaviour_clusters(
    features: pd.DataFrame, *, k: int | str = "auto", seed: int = 42, stability_runs: int = 5
) -> Clusters | Skipped:
    """K-means clusters of buying behaviour (:func:`clusters`; ``k`` 0 or ``"auto"``: the
    best silhouette), named, with their stability over ``stability_runs`` subsamples.

    Skipped when too few accounts have two or more orders (fewer than
    :data:`MIN_CLUSTER_ACCOUNTS`, or not more than ``k``), or when no behaviour feature
    varies between them.
    """
    x = cluster_features(features)
    fewest = 2 if k in ("auto", 0) else int(k)
    needed = max(MIN_CLUSTER_ACCOUNTS, fewest + 1)
    if len(x) < needed:
        return Skipped(
            f"only {len(x)} account{' has' if len(x) == 1 else 's have'} two or more orders",
            f"clustering needs at least {needed} such accounts",
        )
    if x.shape[1] == 0:
        return Skipped(
            "no behaviour feature (order value, order frequency, margin rate, product "
            "breadth) varies between the accounts",
            "clusters need accounts that buy differently",
        )
    labels, silhouettes = clusters(x, k, seed)
    stability = cluster_stability(x, labels.nunique(), n=stability_runs, seed=seed)
    return Clusters(x, labels, name_clusters(x, labels), silhouettes, stability)


@step("The behavioural clustering")
def silhouettes(result: Clusters) -> pd.DataFrame:
    """The silhouette per number of clusters tried, as a one-row table (columns: k)."""
    return result.silhouettes.to_frame().T


@step("The cluster profile")
def cluster_profile(result: Clusters) -> pd.DataFrame:
    """Per named cluster: the median of each behaviour feature (log order value, log orders
    per active month, margin rate 0-1, log product breadth) and ``accounts``."""
    profile = result.features.groupby(result.names).median()
    profile.index.name = "name"
    profile["accounts"] = result.names.value_counts()
    return profile


@step("The behavioural clustering")
def cluster_sentence(result: Clusters) -> str:
    """The number of clusters with its silhouette and the stability under resampling."""
    return (
        f"{result.k} clusters of {len(result.labels):,} accounts with two or more orders "
        f"(silhouette {result.silhouettes[result.k]:.2f}); stability "
        f"under resampling: adjusted Rand index {result.stability:.2f}."
    )


@step("The cluster map")
def cluster_projection(result: Clusters, seed: int = 42) -> pd.DataFrame:
    """Each clustered account in the first two principal components of its standardised
    behaviour features (``pc1``, ``pc2``, unitless) with its cluster name (``cluster``)."""
    from sklearn.decomposition import PCA

    x = result.features
    xy = PCA(2, random_state=seed).fit_transform((x - x.mean()) / x.std())
    return pd.DataFrame(
        {"pc1": xy[:, 0], "pc2": xy[:, 1], "cluster": result.names.to_numpy()}, index=x.index
    )


# --- key findings and headline numbers ----------------------------------------------------------


def findings(
    concentration: Mapping[str, float] | Skipped,
    abc: pd.Series | Skipped,
    tiers: pd.Series | Skipped,
    revenue: pd.Series | Skipped,
) -> list[str]:
    """Key findings of the segmentation as plain sentences: revenue concentration, the
    A-accounts, and the strategic accounts' share of revenue (negative revenue counted as 0
    in the total), each over the number of buying accounts; or the sentence of the first
    skipped input."""
    cause = next((v for v in (concentration, abc, tiers, revenue) if isinstance(v, Skipped)), None)
    if cause is not None:
        return [cause.sentence()]
    a = abc == "A"
    strategic = tiers[tiers == "strategic"].index
    share = revenue.reindex(strategic).sum() / revenue.clip(lower=0).sum()
    return [
        f"The top 20% of the {len(revenue):,} accounts bring "
        f"{pct(concentration['top_20pct_share'])} of revenue; the top 1% alone "
        f"{pct(concentration['top_1pct_share'])} (Gini {concentration['gini']:.2f}).",
        f"{a.sum():,} A-accounts ({pct(a.mean())} of {len(abc):,} accounts) make 80% of revenue.",
        f"{len(strategic)} strategic accounts hold {pct(share)} of revenue.",
    ]


def metrics(
    *,
    ds: Dataset,
    as_of: pd.Timestamp,
    concentration: Mapping[str, float] | Skipped,
    abc: pd.Series | Skipped,
    tiers: pd.Series | Skipped,
    profile: pd.DataFrame | Skipped,
    clusters: Clusters | Skipped,
    types: pd.DataFrame | Skipped,
    grading: LeadGrading | Skipped,
    lookalike: Lookalikes | Skipped,
) -> SegmentationMetrics:
    """The headline numbers of notebook 01 (:class:`helpers.schemas.SegmentationMetrics`).

    ``profile`` is :func:`tier_profile` of ``tiers``; a skipped input leaves its fields
    ``null`` with the reason in ``skipped``.
    """
    fields = Fields()
    shares = ("top_1pct_share", "top_5pct_share", "top_10pct_share", "top_20pct_share", "gini")
    values = {name: fields.take(name, concentration, lambda c, n=name: c[n]) for name in shares}
    values |= {
        "abc_counts": fields.take("abc_counts", abc, lambda a: a.value_counts().to_dict()),
        "tier_counts": fields.take("tier_counts", tiers, lambda t: t.value_counts().to_dict()),
        "tier_revenue_share": fields.take(
            "tier_revenue_share", profile, lambda p: p["revenue_share"].to_dict()
        ),
        "strategic_accounts": fields.take(
            "strategic_accounts", tiers, lambda t: int((t == "strategic").sum())
        ),
        "customer_types": fields.take(
            "customer_types", types, lambda t: t["type"].value_counts().to_dict()
        ),
        "clusters": fields.take("clusters", clusters, lambda c: c.k),
        "cluster_stability": fields.take("cluster_stability", clusters, lambda c: c.stability),
        "lead_grade_conversion": fields.take(
            "lead_grade_conversion", grading, lambda g: g.table["conversion"].to_dict()
        ),
        "lead_score_auc": fields.take("lead_score_auc", grading, lambda g: g.auc),
        "lookalike": fields.take("lookalike", lookalike, lambda m: m.evaluation()),
    }
    return SegmentationMetrics(
        data_fingerprint=ds.fingerprint,
        analysis_date=f"{as_of:%Y-%m-%d}",
        filters=dict(ds.filters),
        source=ds.source,
        skipped=fields.skipped,
        **values,
    )
