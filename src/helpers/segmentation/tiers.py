"""Which accounts matter most, and how have they moved? A tier score 0-1 per account (weighted
percentile ranks of revenue, margin, orders and growth, plus size and attributes; weights
:data:`TIER_WEIGHTS`), the value tiers cut by rank into :data:`TIERS` (strategic 5%, key 15%,
standard 30%, long tail 50%), the tier profile (accounts, revenue in currency, revenue share
0-1), and the migration between the tiers scored the same way some months earlier (accounts
and current revenue moving up and down), with its caption and sentence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from helpers import formats
from helpers.features import features_for
from helpers.segmentation.codes import sorted_codes
from helpers.segmentation.windows import (
    adapted_window,
    history_months_of,
    id_index,
    order_table,
)
from helpers.steps import Skipped, step

if TYPE_CHECKING:
    from helpers.engine import Engine
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

#: Shortest window (months) below which the growth part of the tier score is left out.
MIN_GROWTH_MONTHS = 3
#: Shortest window (months) below which the tier migration is not computed.
MIN_MIGRATION_MONTHS = 3


def revenue_growth(
    orders: object,
    as_of: pd.Timestamp,
    months: int = 12,
    engine: Engine | str | None = None,
) -> pd.Series:
    """Per account: revenue in the last ``months`` over the ``months`` before, minus 1 (share);
    NaN when the account bought nothing in the earlier window (or its earlier revenue, net of
    returns, is not positive).

    The windows are ``(as_of - months, as_of]`` and ``(as_of - 2 months, as_of - months]``;
    every line counts except cancelled ones (returned lines count with their negative
    amounts; a line without status counts), a missing amount counts 0, a line without account
    counts for none. Indexed by ``account_id`` in id order (code-point order of the texts),
    the accounts with a line in the earlier window (ids typed by
    :func:`~helpers.segmentation.windows.id_index`, with rows or without).

    ``orders``: a data set, a pandas frame or an Ibis table (:func:`order_table`); the window
    sums per account are computed by the engine (``engine``; None: the data set's, or the one
    the frame carries, else DuckDB), so only per-account rows come back. Sums in the engine's
    order may differ from pandas' in the last digits.
    """
    from helpers import engine as engines

    o, engine = order_table(orders, engine, ("account_id", "order_date", "net_amount", "status"))
    recent_start = pd.Timestamp(as_of - pd.DateOffset(months=months))
    early_start = pd.Timestamp(as_of - pd.DateOffset(months=2 * months))
    o = o.filter(
        o.order_date > early_start,
        o.order_date <= pd.Timestamp(as_of),
        o.status.isnull() | (o.status != "cancelled"),
        o.account_id.notnull(),
    )
    earlier = o.order_date <= recent_start
    sums = o.group_by("account_id").aggregate(
        recent=o.net_amount.sum(where=~earlier),
        early=o.net_amount.sum(where=earlier),
        early_lines=o.count(where=earlier),
    )
    table = engines.to_arrow(sums.filter(sums.early_lines > 0), engine)
    table = table.take(pc.sort_indices(table, [("account_id", "ascending")]))
    ids = id_index(table["account_id"], orders)
    # a window without lines, or with missing amounts only, sums to 0 (as pandas sums)
    recent, early = (table[c].to_numpy(zero_copy_only=False) for c in ("recent", "early"))
    return _growth(ids, np.nan_to_num(recent, nan=0.0), np.nan_to_num(early, nan=0.0))


def _growth(ids: pd.Index, recent: np.ndarray, early: np.ndarray) -> pd.Series:
    """recent / early - 1 where early > 0, else NaN (the same operations as before, in the
    same order)."""
    r = pd.Series(recent.astype(float), index=ids)
    e = pd.Series(early.astype(float), index=ids)
    return (r / e.where(e > 0) - 1).rename("growth")


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
    categories = pd.CategoricalDtype([t for t, _ in TIERS], ordered=True)
    rank = _rank_by_score_then_id(score)
    if rank is None:  # ids repeated or scores missing: pandas sorts the texts
        return _value_tier_by_text_sort(features, score, categories)
    bounds = np.cumsum([share for _, share in TIERS])
    tier = np.searchsorted(bounds, rank / max(len(rank), 1), "right")
    tier[features["n_orders"].to_numpy() == 0] = len(TIERS) - 1
    return pd.Series(
        pd.Categorical.from_codes(tier, dtype=categories), index=score.index, name="tier"
    )


def _rank_by_score_then_id(score: pd.Series) -> np.ndarray | None:
    """Per account: its position (0 = first) when sorted by ``score`` descending, ties by
    account id ascending; None when ids repeat or a score is missing.

    With unique ids and no missing score that order is fully determined, so sorting the
    scores with the ids' ranks (:func:`sorted_codes`, the order of Python's ``<`` on texts) as
    the tie-break gives the order pandas gives sorting the id texts, without 10^5 Python text
    comparisons."""
    values = score.to_numpy(dtype=float)
    if not score.index.is_unique or np.isnan(values).any():
        return None
    codes, _ = sorted_codes(score.index.to_numpy())
    if (codes < 0).any():
        return None
    order = np.lexsort((codes, -values))
    rank = np.empty(len(order), dtype=np.intp)
    rank[order] = np.arange(len(order))
    return rank


def _value_tier_by_text_sort(
    features: pd.DataFrame, score: pd.Series, categories: pd.CategoricalDtype
) -> pd.Series:
    """:func:`value_tier` by pandas sorting (score, id text): for repeated ids or missing
    scores (and the oracle of the tests)."""
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
    return tiers.astype(categories).rename("tier")


@step("The value tiers")
def value_tiers(
    features: pd.DataFrame,
    orders: object,
    as_of: pd.Timestamp,
    *,
    weights: Mapping[str, float] | None,
    engine: Engine | str | None = None,
) -> pd.Series:
    """Value tier per account as of ``as_of`` (:func:`value_tier`), growth being the revenue
    of the 12 months to ``as_of`` against the 12 before (:func:`revenue_growth`); with less
    history (:func:`history_months_of`), of the last third of it against the third before
    (growth is left out, i.e. neutral, when that is under :data:`MIN_GROWTH_MONTHS`).

    ``orders``: the data set (``ds``: its order lines are read by its engine, a cached data
    set's in place), or the order lines as a pandas frame or an Ibis table
    (:func:`helpers.segmentation.windows.order_table`); ``engine`` as there.

    ``weights`` must be given (None: :data:`TIER_WEIGHTS`), so that a study passes its own
    weights to every tier computation, the earlier tiers of a migration included.
    """
    lines, engine = order_table(orders, engine)
    history = history_months_of(lines, as_of, engine)
    months = adapted_window(
        12, history, minimum=MIN_GROWTH_MONTHS, what="the growth part of the tier score"
    )
    growth = None if isinstance(months, Skipped) else revenue_growth(orders, as_of, months, engine)
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
    history = history_months_of(ds, as_of)
    months = adapted_window(
        months, history, minimum=MIN_MIGRATION_MONTHS, what="the tier migration"
    )
    if isinstance(months, Skipped):
        return months
    start = as_of - pd.DateOffset(months=months)
    before = value_tiers(features_for(ds, start), ds, start, weights=weights)
    return tier_migration(before, tiers, revenue, start=start, end=as_of, months=months)


@step("The tier migration")
def migration_caption(migration: TierMigration) -> str:
    """What the two migration tables show: the dates of their rows and columns."""
    return (
        f"Tier migration from {formats.date(migration.start)} (rows) to "
        f"{formats.date(migration.end)} (columns): accounts, then their current revenue."
    )


@step("The tier migration")
def migration_sentence(migration: TierMigration) -> str:
    """How many accounts moved up (and down) at least one tier over the migration span."""
    return (
        f"{migration.moved_up} accounts moved up at least one tier in the last "
        f"{migration.months} months; {migration.moved_down} moved down."
    )
