"""Report tables of the segmentation study: the steps' results written for readers.

Each function takes a step's result and returns a small DataFrame of *text* (every number
written by :mod:`helpers.formats`: money with the data's currency, shares in percent, counts
with separators), with readable column names, no code names from the data and no row numbers
that mean nothing (the first column names the row; show it with ``reporting.styled(...,
hide_index=True)``). The results themselves are unchanged, so the metrics read the numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from helpers import formats
from helpers.segmentation.behaviour import Clusters
from helpers.segmentation.tiers import TierMigration
from helpers.segmentation.trends import type_summary
from helpers.steps import step


def text_columns(
    frame: pd.DataFrame, kinds: Mapping[str, str], currency: str | None = None
) -> pd.DataFrame:
    """``frame`` with each column of ``kinds`` (``{column: kind}``, a kind of
    :data:`helpers.formats.KINDS` or ``"share1"`` for a share to one decimal) written as text;
    other columns as they are."""
    out = frame.copy()
    for column, kind in kinds.items():
        if column not in out:
            continue
        if kind == "share1":
            out[column] = out[column].map(lambda v: formats.share(v, 1))
        elif kind == "money":
            out[column] = out[column].map(lambda v: formats.money(v, currency))
        else:
            out[column] = out[column].map(formats.KINDS[kind])
    return out


def _named_rows(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    """The index as a first column ``label``, its values by :func:`formats.display_name`."""
    names = [formats.display_name(v) for v in frame.index]
    return frame.reset_index(drop=True).assign(**{label: names})[[label, *map(str, frame.columns)]]


@step("Revenue concentration")
def concentration_view(concentration: Mapping[str, float]) -> pd.DataFrame:
    """:func:`~helpers.segmentation.concentration` as two columns: ``measure`` in words and
    ``value`` (shares in percent, the Gini coefficient 0-1 to two decimals)."""
    rows = [
        (f"Share of revenue from the top {p}% of accounts", formats.share(concentration[k]))
        for p, k in ((1, "top_1pct_share"), (5, "top_5pct_share"), (10, "top_10pct_share"))
        if k in concentration
    ]
    top20 = concentration["top_20pct_share"]
    rows.append(("Share of revenue from the top 20% of accounts", formats.share(top20)))
    rows.append(("Gini coefficient (0 equal, 1 one account)", f"{concentration['gini']:.2f}"))
    rows.append(("Accounts", formats.count(concentration["accounts"])))
    return pd.DataFrame(rows, columns=["measure", "value"])


@step("The ABC classes")
def abc_view(abc_table: pd.DataFrame) -> pd.DataFrame:
    """:func:`~helpers.segmentation.abc_table` for readers: class, accounts, shares in %."""
    frame = abc_table.rename(
        columns={"account_share": "share of accounts", "revenue_share": "share of revenue"}
    )
    frame = text_columns(
        frame, {"accounts": "count", "share of accounts": "share", "share of revenue": "share"}
    )
    return frame.rename_axis("class").reset_index()


@step("RFM")
def rfm_view(segments: pd.DataFrame, currency: str | None = None) -> pd.DataFrame:
    """:func:`~helpers.segmentation.rfm_segments` for readers: segment, accounts and the mean
    revenue per account in ``currency``."""
    frame = segments.rename(columns={"mean_revenue": "mean revenue per account"})
    frame = text_columns(
        frame, {"accounts": "count", "mean revenue per account": "money"}, currency
    )
    return _named_rows(frame, "segment")


@step("The value tiers")
def tier_view(profile: pd.DataFrame, currency: str | None = None) -> pd.DataFrame:
    """:func:`~helpers.segmentation.tier_profile` for readers: tier, accounts, revenue in
    ``currency``, orders per account, median margin rate and share of revenue."""
    frame = profile.rename(
        columns={
            "mean_orders": "orders per account",
            "margin_rate": "median margin rate",
            "revenue_share": "share of revenue",
        }
    )
    kinds = {
        "accounts": "count",
        "revenue": "money",
        "orders per account": "number",
        "median margin rate": "share1",
        "share of revenue": "share",
    }
    return _named_rows(text_columns(frame, kinds, currency), "tier")


def _migration(table: pd.DataFrame, migration: TierMigration, cell: Any) -> pd.DataFrame:
    out = table.map(cell)
    out.index = [formats.display_name(v) for v in table.index]
    out.columns = [formats.display_name(v) for v in table.columns]
    start = formats.date(migration.start)
    return out.rename_axis(f"tier on {start}").rename_axis(
        f"tier on {formats.date(migration.end)}", axis=1
    )


@step("The tier migration")
def migration_counts_view(migration: TierMigration) -> pd.DataFrame:
    """The migration's accounts (rows: the tier at the start, columns: at the end, both named
    with their dates) as counts with separators."""
    return _migration(migration.counts, migration, formats.count)


@step("The tier migration")
def migration_money_view(migration: TierMigration, currency: str | None = None) -> pd.DataFrame:
    """The migration's current revenue (rows: the tier at the start, columns: at the end) in
    ``currency``."""
    return _migration(migration.money, migration, lambda v: formats.money(v, currency))


@step("The customer types")
def types_view(types: pd.DataFrame, revenue: pd.Series, currency: str | None = None):
    """:func:`~helpers.segmentation.type_summary` for readers: type, accounts, revenue in
    ``currency``, shares of the typed accounts and of their revenue."""
    frame = type_summary(types, revenue).rename(
        columns={"account_share": "share of accounts", "revenue_share": "share of revenue"}
    )
    kinds = {
        "accounts": "count",
        "revenue": "money",
        "share of accounts": "share",
        "share of revenue": "share",
    }
    return _named_rows(text_columns(frame, kinds, currency), "type")


@step("The behavioural clustering")
def silhouette_view(result: Clusters) -> pd.DataFrame:
    """The silhouette (-1 to 1, higher: better separated) per number of clusters tried, the
    chosen number marked."""
    return pd.DataFrame(
        {
            "clusters": [str(k) for k in result.silhouettes.index],
            "silhouette": [f"{v:.2f}" for v in result.silhouettes],
            "chosen": ["yes" if k == result.k else "" for k in result.silhouettes.index],
        }
    )


@step("The cluster profile")
def cluster_view(result: Clusters, currency: str | None = None) -> pd.DataFrame:
    """Per named cluster the medians of its behaviour back on their own scales: order value
    (``currency``), orders per active month, margin rate and product categories bought, and
    its accounts (features the data lacks are left out)."""
    profile = result.features.groupby(result.names).median()
    columns = {
        "log_order_value": ("median order value", lambda v: formats.money(np.exp(v), currency)),
        "log_orders_per_month": ("orders per active month", lambda v: f"{np.exp(v):.1f}"),
        "margin_rate": ("margin rate", lambda v: formats.share(v, 1)),
        "log_breadth": ("product categories", lambda v: f"{np.expm1(v):.1f}"),
    }
    out = pd.DataFrame({"cluster": profile.index.astype(str)})
    for column, (label, write) in columns.items():
        if column in profile:
            out[label] = [write(v) for v in profile[column]]
    out["accounts"] = [formats.count(n) for n in result.names.value_counts()[profile.index]]
    return out


__all__ = [
    "abc_view",
    "cluster_view",
    "concentration_view",
    "migration_counts_view",
    "migration_money_view",
    "rfm_view",
    "silhouette_view",
    "text_columns",
    "tier_view",
    "types_view",
]
