"""What does the segmentation study conclude? The key findings of notebook 01 as plain
sentences (revenue concentration, the A-accounts, the strategic accounts' share of revenue) and
its headline numbers as the declared :class:`helpers.schemas.SegmentationMetrics`, where a
skipped input leaves its fields ``null`` with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd

from helpers import formats, quarterly
from helpers.features import orders_table
from helpers.schemas import Fields, SegmentationMetrics
from helpers.steps import Skipped

if TYPE_CHECKING:
    from helpers.leads import LeadGrading, Lookalikes
    from helpers.loading import Dataset
    from helpers.segmentation.behaviour import Clusters


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
        f"{formats.share(concentration['top_20pct_share'])} of revenue; the top 1% alone "
        f"{formats.share(concentration['top_1pct_share'])} (Gini {concentration['gini']:.2f}).",
        f"{a.sum():,} A-accounts ({formats.share(a.mean())} of {len(abc):,} accounts) make 80% of revenue.",
        f"{len(strategic)} strategic accounts hold {formats.share(share)} of revenue.",
    ]


def _quarterly_concentration(ds: Dataset, as_of: pd.Timestamp) -> dict[str, float] | Skipped:
    """:func:`helpers.quarterly.top_share_by_quarter` of the top 20% of accounts."""
    if "orders" not in ds.tables:
        return Skipped(
            f"the data source '{ds.source}' has no orders table",
            "the segmentation starts from orders: add the order lines to the source YAML",
        )
    orders = orders_table(ds)  # summed in the engine
    return quarterly.top_share_by_quarter(orders, as_of, top=0.20, engine=ds.engine)


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
    ``null`` with the reason in ``skipped``. ``quarterly_top20_share`` is the revenue share
    of the top 20% of buying accounts in each of the last 8 complete quarters
    (:func:`helpers.quarterly.top_share_by_quarter`).
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
        "quarterly_top20_share": fields.take(
            "quarterly_top20_share", _quarterly_concentration(ds, as_of)
        ),
    }
    return SegmentationMetrics(
        data_fingerprint=ds.fingerprint,
        currency=ds.currency,
        analysis_date=f"{as_of:%Y-%m-%d}",
        filters=dict(ds.filters),
        source=ds.source,
        skipped=fields.skipped,
        **values,
    )
