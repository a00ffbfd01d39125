"""Churn as silence: the threshold, its sensitivity, and the accounts at risk.

An account that has not bought for ``threshold`` days has churned at its last order; one still
inside its silent window is censored (see :mod:`helpers.features` for the exact censoring rule).
Durations are whole days from the first order (lifelines' Cox fit cost grows with the number of
distinct event times). ``threshold_days=None`` is the one way to say "derive the threshold from
the data" (:func:`default_threshold`). Features come from :func:`helpers.features.features_for`
and :func:`~helpers.features.shared_features`: each (data, as-of date, threshold) is computed
once per process, and every later step asking for the same table gets a copy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter

from helpers import engine as engines
from helpers import step_cache
from helpers.features import features_for, orders_table, shared_features
from helpers.order_gaps import GapCounts, gap_counts
from helpers.segmentation import revenue_growth, value_tier
from helpers.steps import Skipped, step

#: Thresholds (days) the sensitivity table always shows beside the chosen one.
SENSITIVITY_THRESHOLDS: tuple[int, ...] = (60, 90, 180, 365)


def default_threshold(
    gaps: GapCounts | pd.Series | Sequence[float], quantile: float = 0.99, step: int = 30
) -> int:
    """Churn threshold from the company's own cadence (days).

    The ``quantile`` of the gaps between consecutive purchase days of all accounts (pandas'
    linear interpolation, :meth:`GapCounts.quantile`), rounded up to a multiple of ``step``
    days: a live account almost never stays silent that long, so silence beyond it is read as
    churn. ``gaps``: their counts (:func:`gaps_for`), or one number per gap (NaN dropped).
    Raises ``ValueError`` when there are no repeat orders.
    """
    if not isinstance(gaps, GapCounts):
        gaps = GapCounts.of(gaps)
    if gaps.empty:
        raise ValueError(
            "No account has two orders on different days: the churn threshold "
            "cannot be derived from the data; set CHURN_THRESHOLD_DAYS."
        )
    return int(math.ceil(gaps.quantile(quantile) / step) * step)


def gaps_for(orders: object, as_of: pd.Timestamp) -> GapCounts:
    """How many gaps between consecutive purchase days, up to ``as_of``, have each length in
    days (:func:`helpers.order_gaps.gap_counts`, counted in the engine of ``orders``: a frame
    or the data set's :func:`~helpers.features.orders_table`)."""
    return gap_counts(orders, as_of)


def with_delayed_entry(features: pd.DataFrame, export_start: pd.Timestamp) -> pd.DataFrame:
    """Lifetimes counted from each account's origin, with delayed entry (left truncation).

    An account acquired before the export's first day (``export_start``) was a customer before
    the data begins: its lifetime starts at ``acquired_date`` (``origin``) and it enters the
    risk set only at ``entry_days`` = export start - origin (days). Without this, such accounts
    get lifetimes shortened to their first order in the export, while the ones that churned
    before the export began are missing altogether, and both bias survival. Every other
    account's origin is its first order (``entry_days`` 0). ``duration_days`` is moved to
    count from the origin. Without an ``acquired_date`` column nothing can be corrected (the
    report says so).
    """
    out = features.copy()
    origin = out["first_order"]
    if "acquired_date" in out.columns:
        acquired = pd.to_datetime(out["acquired_date"])
        early = acquired.notna() & (acquired < export_start) & (acquired < out["first_order"])
        origin = origin.where(~early, acquired)
    shift = (out["first_order"] - origin).dt.days.fillna(0).astype(float)
    out["origin"] = origin
    entry = (export_start - origin).dt.days.clip(lower=0).where(shift > 0, 0.0).astype(float)
    out["duration_days"] = out["duration_days"] + shift
    # an account whose only order falls on the export's first day churns at its entry age:
    # lifelines needs entry < duration, so it enters half a day earlier
    out["entry_days"] = entry.where(~(entry >= out["duration_days"]), out["duration_days"] - 0.5)
    return out


def export_start(orders: object) -> pd.Timestamp:
    """The first day of the orders export (the earliest order date of any status): of a frame
    in pandas, of an Ibis table (:func:`helpers.features.orders_table`) in its engine."""
    if isinstance(orders, pd.DataFrame):
        return pd.Timestamp(orders["order_date"].min())
    first = orders.aggregate(first=orders.order_date.min())
    first = engines.to_pandas(first, engines.resolve(None, orders))["first"].iloc[0]
    return pd.Timestamp(first).as_unit("ns")


def age_days(frame: pd.DataFrame) -> np.ndarray:
    """Each account's age at its last order (days from its origin: the acquisition date of an
    account acquired before the export began, else its first order)."""
    origin = frame["origin"] if "origin" in frame.columns else frame["first_order"]
    return (frame["last_order"] - origin).dt.days.to_numpy(float)


def fit_km(frame: pd.DataFrame, label: str | None = None) -> KaplanMeierFitter:
    """Kaplan-Meier fit of ``duration_days``/``event`` with delayed entry (``entry_days``)
    when the frame has it."""
    entry = frame["entry_days"] if "entry_days" in frame.columns else None
    return KaplanMeierFitter(label=label).fit(frame["duration_days"], frame["event"], entry=entry)


def survival_frame(features: pd.DataFrame) -> pd.DataFrame:
    """The rows that are at risk (``in_survival``) with whole-day durations."""
    s = features[features["in_survival"]].copy()
    s["duration_days"] = s["duration_days"].astype(float)
    return s


def buying_features(
    ds, as_of: pd.Timestamp, threshold: int, tier_weights: Mapping[str, float] | None = None
) -> pd.DataFrame:
    """Customer features of accounts with an order by ``as_of``, with their value tier (the
    segmentation study's tiers, weighted by ``tier_weights``; its defaults when None)."""
    features = features_for(ds, as_of, threshold)
    features = features[features["n_orders"] > 0].copy()
    features = with_delayed_entry(features, export_start(orders_table(ds)))
    if features.empty:
        raise ValueError("No account in this selection has an order by the analysis date.")
    growth = revenue_growth(ds, as_of)
    features["tier"] = value_tier(features, growth, tier_weights or None).to_numpy()
    return features


@dataclass(frozen=True)
class ChurnDefinition:
    """Who churned, under which threshold: the base of every later step.

    ``threshold`` in days (``derived`` when it came from the order gaps); ``gaps`` how many
    gaps between consecutive purchase days (up to ``as_of``) have each length in days
    (:class:`~helpers.order_gaps.GapCounts`: one row per distinct length, not per gap, so the
    definition the step cache pickles stays small); ``features`` one row per buying account
    (with ``tier``); ``survival`` the rows at risk with ``duration_days`` and ``event``.
    ``key``: the :mod:`helpers.step_cache` key it is kept under (None: not kept), so that steps
    on it (:func:`helpers.survival.churn_model`) can be kept too.
    """

    as_of: pd.Timestamp
    threshold: int
    derived: bool
    gaps: GapCounts
    features: pd.DataFrame
    survival: pd.DataFrame
    key: str | None = field(default=None, compare=False, repr=False)

    @property
    def events(self) -> int:
        """Number of churn events (accounts silent for ``threshold``+ days)."""
        return int(self.survival["event"].sum())

    @property
    def cadence_days(self) -> float:
        """The company's order cadence: the median gap between two purchase days of an
        account (days; 30 when no account has bought twice)."""
        return self.gaps.median() if len(self.gaps) else 30.0

    @property
    def left_truncated(self) -> int:
        """Accounts at risk that were customers before the export began (delayed entry)."""
        return int((self.survival["entry_days"] > 0).sum())

    @property
    def share_of_gaps_within(self) -> float:
        """Share 0-1 of all order gaps no longer than the threshold (NaN without a gap)."""
        return self.gaps.share_at_most(self.threshold)


@step("The churn definition")
def define_churn(
    ds,
    as_of: pd.Timestamp,
    threshold_days: int | None = None,
    tier_weights: Mapping[str, float] | None = None,
) -> ChurnDefinition | Skipped:
    """The churn threshold (days; derived from the order gaps when ``threshold_days`` is
    None) and the buying accounts' features and survival rows under it.

    On a data set loaded from a source (:attr:`helpers.loading.Dataset.from_source`) the
    result is kept on disk (:mod:`helpers.step_cache`): notebook 03's lifetime values reuse
    notebook 02's."""
    name = step_cache.key(
        "churn-definition",
        ds,
        {
            "as_of": str(pd.Timestamp(as_of)),
            "threshold_days": None if threshold_days is None else int(threshold_days),
            "tier_weights": {k: float(v) for k, v in (tier_weights or {}).items()},
        },
    )
    return step_cache.remembered(
        name, lambda: _define_churn(ds, as_of, threshold_days, tier_weights, name)
    )


def _define_churn(
    ds,
    as_of: pd.Timestamp,
    threshold_days: int | None,
    tier_weights: Mapping[str, float] | None,
    key: str | None,
) -> ChurnDefinition | Skipped:
    if "orders" not in ds.tables:
        return Skipped("the data has no orders table", "add orders to the source YAML")
    gaps = gaps_for(orders_table(ds), as_of)
    derived = threshold_days is None
    if derived and gaps.empty:
        return Skipped(
            "no account has two orders on different days, so the churn threshold cannot be "
            "derived from the order rhythm",
            "set CHURN_THRESHOLD_DAYS",
        )
    threshold = default_threshold(gaps) if derived else int(threshold_days)
    try:
        features = buying_features(ds, as_of, threshold, tier_weights)
    except ValueError as exc:
        return Skipped(str(exc).rstrip("."), "check the analysis date and the filters")
    survival = survival_frame(features)
    return ChurnDefinition(as_of, threshold, derived, gaps, features, survival, key)


def rethreshold(features: pd.DataFrame, as_of: pd.Timestamp, threshold: int) -> pd.DataFrame:
    """Customer features computed under one churn threshold, with the threshold-dependent
    columns (``churned``, ``in_survival``, ``duration_days``, ``event``) recomputed for
    ``threshold`` days: the same values :func:`helpers.features.customer_features` gives for
    that threshold (the rules of ``customer_features_expr``, in days between dates), without
    another pass over the order lines."""
    cutoff = pd.Timestamp(as_of).normalize() - pd.Timedelta(days=threshold)
    churned = (features["recency_days"] >= threshold).fillna(False).astype(bool)
    in_survival = (features["first_order"] <= cutoff).fillna(False).astype(bool)
    lifetime = (features["last_order"] - features["first_order"]).dt.days.astype(float)
    observed = (cutoff - features["first_order"]).dt.days.astype(float)
    duration = lifetime.where(churned, observed.where(in_survival, np.nan))
    return features.assign(
        churned=churned.to_numpy(),
        in_survival=in_survival.to_numpy(),
        duration_days=duration.to_numpy(),
        event=churned.to_numpy().astype("int64"),
    )


def threshold_sensitivity(
    orders: pd.DataFrame,
    accounts: pd.DataFrame | None,
    as_of: pd.Timestamp,
    thresholds: Sequence[int],
    base_threshold: int | None = None,
) -> pd.DataFrame:
    """Churn rate and Kaplan-Meier median lifetime for each threshold (days).

    ``churn_rate`` is the share of accounts with orders that are silent for at least the
    threshold; ``median_days`` is the KM median of the lifetime (``inf`` when survival never
    drops below one half). Thresholds under which no account is at risk yet (longer than the
    history) are left out. Every threshold's churn columns are derived (:func:`rethreshold`)
    from one feature table, the one computed under ``base_threshold`` days (default: the first
    threshold): the other columns do not depend on the threshold, so any base gives the same
    table; pass the threshold whose features are already computed (the study's own) to skip
    a pass over the order lines.
    """
    rows = []
    if base_threshold is None and len(thresholds):
        base_threshold = thresholds[0]
    base = shared_features(orders, accounts, as_of, base_threshold) if len(thresholds) else None
    for n in thresholds:
        f = rethreshold(base, as_of, n)
        f = with_delayed_entry(f[f["n_orders"] > 0], export_start(orders))
        if not f["in_survival"].any():
            continue  # a threshold longer than the history can see: no account at risk yet
        km = fit_km(survival_frame(f))
        rows.append(
            {
                "threshold_days": n,
                "accounts": len(f),
                "churned": int(f["churned"].sum()),
                "churn_rate": float(f["churned"].mean()),
                "median_days": float(km.median_survival_time_),
            }
        )
    return pd.DataFrame(rows).set_index("threshold_days")


@step("The threshold sensitivity")
def sensitivity(
    ds, definition: ChurnDefinition, thresholds: Sequence[int] = SENSITIVITY_THRESHOLDS
) -> pd.DataFrame:
    """:func:`threshold_sensitivity` at ``thresholds`` and the definition's own threshold
    (derived from the definition's feature table: no new pass over the order lines)."""
    return threshold_sensitivity(
        orders_table(ds),
        ds.tables.get("accounts"),
        definition.as_of,
        sorted({*thresholds, definition.threshold}),
        base_threshold=definition.threshold,
    )
