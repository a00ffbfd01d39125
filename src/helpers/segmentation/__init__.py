"""Who are our customers: concentration, value tiers and other segmentations of accounts.

Notebook 01 calls the *steps* of this package one section at a time (concentration, RFM, value
tiers and their migration, customer types, behavioural clusters) and ends with
:func:`findings` and :func:`metrics`. Money is the data's currency (revenue of completed lines
net of returns, as :mod:`helpers.features` computes it); shares are 0-1; counts are accounts.
Every name is re-exported here, so callers write ``segmentation.value_tiers(...)``.

Modules: :mod:`.windows` (months of history, windows that fit it), :mod:`.revenue` (account
features, revenue, concentration, Lorenz, ABC), :mod:`.rfm_scores` (RFM scores and segments),
:mod:`.tiers` (tier score, value tiers, tier migration), :mod:`.trends` (customer types by the
trend of order value), :mod:`.behaviour` (behavioural clusters), :mod:`.segments` (revenue,
accounts and tiers per level of the ``SEGMENTS`` attributes), :mod:`.study` (findings and
metrics), :mod:`.tables` (the steps' results as report tables of text).
"""

from helpers.segmentation.behaviour import (
    CLUSTER_FEATURES,
    MIN_CLUSTER_ACCOUNTS,
    Clusters,
    behaviour_clusters,
    cluster_features,
    cluster_profile,
    cluster_projection,
    cluster_sentence,
    cluster_stability,
    clusters,
    name_clusters,
    silhouettes,
)
from helpers.segmentation.revenue import (
    abc_classes,
    abc_table,
    account_features,
    account_revenue,
    concentration,
    concentration_sentence,
    concentration_table,
    lorenz,
)
from helpers.segmentation.rfm_scores import (
    RFM_SEGMENTS,
    champions_sentence,
    quintile_score,
    rfm,
    rfm_heat,
    rfm_segments,
)
from helpers.segmentation.segments import (
    SEGMENTS,
    segment_profile,
    segment_sentence,
    segment_view,
)
from helpers.segmentation.study import findings, metrics
from helpers.segmentation.tables import (
    abc_view,
    cluster_view,
    concentration_view,
    migration_counts_view,
    migration_money_view,
    rfm_view,
    silhouette_view,
    tier_view,
    types_view,
)
from helpers.segmentation.tiers import (
    MIN_GROWTH_MONTHS,
    MIN_MIGRATION_MONTHS,
    TIER_WEIGHTS,
    TIERS,
    TierMigration,
    migration_caption,
    migration_sentence,
    revenue_growth,
    tier_migration,
    tier_migration_since,
    tier_moves,
    tier_profile,
    tier_score,
    value_tier,
    value_tiers,
)
from helpers.segmentation.trends import (
    MIN_TYPE_MONTHS,
    TYPE_FDR,
    account_types,
    customer_types,
    type_summary,
    types_sentence,
)
from helpers.segmentation.windows import adapted_window, history_months, varies

__all__ = [
    "SEGMENTS",
    "segment_profile",
    "segment_sentence",
    "segment_view",
    "abc_view",
    "cluster_view",
    "concentration_view",
    "migration_counts_view",
    "migration_money_view",
    "rfm_view",
    "silhouette_view",
    "tier_view",
    "types_view",
    "CLUSTER_FEATURES",
    "MIN_CLUSTER_ACCOUNTS",
    "MIN_GROWTH_MONTHS",
    "MIN_MIGRATION_MONTHS",
    "MIN_TYPE_MONTHS",
    "RFM_SEGMENTS",
    "TIERS",
    "TIER_WEIGHTS",
    "TYPE_FDR",
    "Clusters",
    "TierMigration",
    "abc_classes",
    "abc_table",
    "account_features",
    "account_revenue",
    "account_types",
    "adapted_window",
    "behaviour_clusters",
    "champions_sentence",
    "cluster_features",
    "cluster_profile",
    "cluster_projection",
    "cluster_sentence",
    "cluster_stability",
    "clusters",
    "concentration",
    "concentration_sentence",
    "concentration_table",
    "customer_types",
    "findings",
    "history_months",
    "lorenz",
    "metrics",
    "migration_caption",
    "migration_sentence",
    "name_clusters",
    "quintile_score",
    "revenue_growth",
    "rfm",
    "rfm_heat",
    "rfm_segments",
    "silhouettes",
    "tier_migration",
    "tier_migration_since",
    "tier_moves",
    "tier_profile",
    "tier_score",
    "type_summary",
    "types_sentence",
    "value_tier",
    "value_tiers",
    "varies",
]
