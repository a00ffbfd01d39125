"""Who our customers are by segment: revenue, accounts and value tiers per level of an account
attribute (the notebook's ``SEGMENTS``: contract columns such as ``industry`` or free
attributes the source YAML declares, e.g. ``Contract``).

A categorical attribute is taken level by level (a missing value is the level "unknown"); a
numeric attribute (a free attribute declared ``numeric``) is cut into quartiles of its accounts
(fewer groups when values repeat), each level named by its range. A segment column the data does
not have is named in the result (what is missing, which columns could be used instead), and the
step is skipped when none of the asked columns exists.

Descriptive only: a level with a large revenue share is where revenue sits, not a cause of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from helpers import formats
from helpers.steps import Skipped, step

#: Segments of notebook 01 when its ``SEGMENTS`` parameter is not changed.
SEGMENTS: tuple[str, ...] = ("industry", "size_band", "region")
#: Value tiers counted as "strategic or key" in the profile.
TOP_TIERS: tuple[str, ...] = ("strategic", "key")
#: Columns of the features table that are behaviour, not attributes: never segments.
_BEHAVIOUR = {"account_id", "first_order", "last_order", "churned", "in_survival", "event"}


def _levels(values: pd.Series) -> pd.Series:
    """Levels of one segment column: text as it is (missing: "unknown"); numbers in quartile
    ranges such as "12–40" (missing: "unknown")."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        known = values.dropna()
        if known.nunique() <= 4:
            out = values.map(lambda v: formats.number(v, missing="unknown"))
            return out.astype(str)
        cuts = pd.qcut(known, 4, duplicates="drop")
        names = {
            c: f"{formats.number(c.left)}–{formats.number(c.right)}" for c in cuts.cat.categories
        }
        return cuts.map(names).astype(str).reindex(values.index).fillna("unknown")
    return values.astype("string").fillna("unknown").astype(str)


@step("Segments", optional=("tiers",))
def segment_profile(
    features: pd.DataFrame, tiers: pd.Series | Skipped, segments: Sequence[str] = SEGMENTS
) -> pd.DataFrame | Skipped:
    """Per segment column and level (rows; index ``segment``, ``level``): ``accounts``,
    ``revenue`` (currency, completed lines net of returns), ``revenue_share`` (0-1 of the
    selection's revenue), ``account_share`` (0-1), ``mean_revenue`` (currency per account) and
    ``top_tier_share`` (0-1: accounts in the strategic or key tier; NaN when the tiers are a
    :class:`Skipped`: the profile still stands without them). Levels
    in order of revenue, largest first. ``attrs["missing"]`` names the asked columns the data
    does not have; Skipped when it has none of them."""
    present = [c for c in segments if c in features.columns and c not in _BEHAVIOUR]
    missing = [c for c in segments if c not in present]
    if not present:
        usable = sorted(
            c
            for c in features.columns
            if c not in _BEHAVIOUR
            and not pd.api.types.is_numeric_dtype(features[c])
            and not pd.api.types.is_datetime64_any_dtype(features[c])
            and features[c].nunique() > 1
        )
        return Skipped(
            f"the data has none of the segment columns {', '.join(segments) or '(none asked)'}",
            "set SEGMENTS to account attributes the data has"
            + (f" ({', '.join(usable)})" if usable else ", or declare attributes in the source"),
        )
    revenue = features["monetary_total"].fillna(0.0)
    total = float(revenue.clip(lower=0).sum()) or np.nan
    top = (
        features["account_id"].map(tiers).isin(TOP_TIERS)
        if isinstance(tiers, pd.Series)
        else pd.Series(np.nan, index=features.index)
    )
    parts = []
    for column in present:
        frame = pd.DataFrame(
            {"level": _levels(features[column]), "revenue": revenue, "top": top.astype(float)}
        )
        part = frame.groupby("level", sort=False).agg(
            accounts=("revenue", "size"), revenue=("revenue", "sum"), top=("top", "mean")
        )
        part = part.sort_values(["revenue", "accounts"], ascending=False)
        part.insert(0, "segment", column)
        parts.append(part.reset_index())
    out = pd.concat(parts, ignore_index=True)
    out["revenue_share"] = out["revenue"] / total
    out["account_share"] = out["accounts"] / len(features)
    out["mean_revenue"] = out["revenue"] / out["accounts"]
    out = out.rename(columns={"top": "top_tier_share"}).set_index(["segment", "level"])
    out = out[
        ["accounts", "account_share", "revenue", "revenue_share", "mean_revenue", "top_tier_share"]
    ]
    out.attrs["missing"] = missing
    return out


def segment_view(
    profile: pd.DataFrame | Skipped,
    currency: str | None = None,
    names: Mapping[str, str] | None = None,
) -> pd.DataFrame | Skipped:
    """:func:`segment_profile` as a reader's table: segment and level by display name, counts,
    money with ``currency``, shares in percent."""
    if isinstance(profile, Skipped):
        return profile
    rows = profile.reset_index()
    return pd.DataFrame(
        {
            "segment": rows["segment"].map(lambda c: formats.display_name(c, names)),
            "level": rows["level"].map(lambda v: formats.display_name(v, names)),
            "accounts": rows["accounts"].map(formats.count),
            "share of accounts": rows["account_share"].map(formats.share),
            "revenue": rows["revenue"].map(lambda v: formats.money(v, currency)),
            "share of revenue": rows["revenue_share"].map(formats.share),
            "revenue per account": rows["mean_revenue"].map(lambda v: formats.money(v, currency)),
            "strategic or key": rows["top_tier_share"].map(formats.share),
        }
    )


def segment_sentence(
    profile: pd.DataFrame | Skipped, names: Mapping[str, str] | None = None
) -> str | Skipped:
    """Per segment column, the level that brings the most revenue, with its share of revenue
    and of accounts; then the asked columns the data does not have."""
    if isinstance(profile, Skipped):
        return profile
    out = []
    for column, part in profile.groupby(level="segment", sort=False):
        level, row = part.index[0][1], part.iloc[0]
        out.append(
            f"By {formats.display_name(column, names).lower()}, "
            f"{formats.display_name(level, names)} brings the most revenue: "
            f"{formats.share(row['revenue_share'])} of it from "
            f"{formats.share(row['account_share'])} of the accounts "
            f"({formats.count(row['accounts'])})."
        )
    missing = profile.attrs.get("missing") or []
    if missing:
        out.append(
            f"Not in the data, so not shown: {', '.join(missing)} "
            "(map them in the source YAML or declare them as attributes)."
        )
    return " ".join(out)
