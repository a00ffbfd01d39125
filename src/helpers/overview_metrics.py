"""Notebook 00's headline numbers: :func:`metrics` builds its declared schema
(:class:`helpers.schemas.OverviewMetrics`) from the revenue components and the split of the
revenue change (:mod:`helpers.decomposition`), with the period's first and last day and the
same period a year earlier for the leadership summary's KPI strip; :func:`headline_table` shows
them to readers. Re-exported by :mod:`helpers.decomposition`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from helpers import formats
from helpers.schemas import Fields, OverviewMetrics
from helpers.steps import Skipped

if TYPE_CHECKING:
    from helpers.decomposition import RevenueChange
    from helpers.loading import Dataset


#: The fields of :class:`helpers.schemas.OverviewMetrics` that come from the revenue change.
CHANGE_FIELDS: tuple[str, ...] = (
    "period",
    "compared_with",
    "revenue",
    "revenue_before",
    "revenue_change",
    "share_existing",
    "share_new",
    "share_reactivated",
    "retention",
    "new_accounts",
    "top_driver",
    "top_driver_contribution",
    "drivers",
    "retention_before",
    "new_accounts_before",
)


def _finite(value: float) -> float | None:
    """``value`` as a float, None when it is not finite (a ratio without a base)."""
    return float(value) if np.isfinite(value) else None


def _change_values(components: pd.DataFrame, change: RevenueChange) -> dict[str, Any]:
    a, b = components.loc[change.after], components.loc[change.before]
    top = change.top
    return {
        "period": str(change.after),
        "compared_with": str(change.before),
        "revenue": float(a["revenue"]),
        "revenue_before": float(b["revenue"]),
        "revenue_change": float(a["revenue"] - b["revenue"]),
        "share_existing": float(a["existing"] / a["revenue"]),
        "share_new": float(a["new"] / a["revenue"]),
        "share_reactivated": float(a["reactivated"] / a["revenue"]),
        "retention": float(a["retention"]),
        "new_accounts": int(a["new_accounts"]),
        "top_driver": str(top["driver"]),
        "top_driver_contribution": float(top["contribution"]),
        "drivers": {row.driver: float(row.contribution) for row in change.drivers.itertuples()},
        "retention_before": _finite(b["retention"]),
        "new_accounts_before": int(b["new_accounts"]),
    }


def period_days(change: RevenueChange) -> dict[str, str]:
    """The first and last day (YYYY-MM-DD) of the period the change goes to, so that figures
    over another number of days can be scaled to it (``period_start``, ``period_end``)."""
    return {
        "period_start": f"{change.after.start_time:%Y-%m-%d}",
        "period_end": f"{change.after.end_time:%Y-%m-%d}",
    }


def year_earlier(components: pd.DataFrame, change: RevenueChange) -> dict[str, float] | Skipped:
    """The revenue of the same period a year before the period the change goes to
    (``revenue_year_before``, currency: 2024Q4 for 2025Q4, Dec 2024 for Dec 2025, 2024 for
    2025) and that period's revenue minus it (``revenue_change_year``, currency). Skipped when
    the data has no revenue row for the year-earlier period (a history shorter than a year and
    a period)."""
    after = change.after
    earlier = pd.Period(after.start_time - pd.DateOffset(years=1), freq=after.freq)
    if earlier not in components.index:
        first = components.index[0] if len(components) else "none"
        return Skipped(
            f"the data has no revenue for {earlier}, a year before {after} (its first period "
            f"is {first})",
            "a year-on-year change needs more than a year of orders",
        )
    before = float(components.loc[earlier, "revenue"])
    return {
        "revenue_year_before": before,
        "revenue_change_year": float(components.loc[after, "revenue"]) - before,
    }


def metrics(
    *,
    ds: Dataset,
    as_of: pd.Timestamp,
    components: pd.DataFrame | Skipped,
    change: RevenueChange | Skipped,
) -> OverviewMetrics:
    """The headline numbers of notebook 00 (:class:`helpers.schemas.OverviewMetrics`): rows
    per loaded table, the latest complete period's revenue (currency), its mix (shares 0-1)
    and what drove its change, the period's first and last day and the same period a year
    earlier (:func:`year_earlier`); a skipped ``change`` leaves those ``null`` with its
    reason."""
    fields = Fields()
    skipped = next((v for v in (components, change) if isinstance(v, Skipped)), None)
    values = skipped if skipped is not None else _change_values(components, change)
    taken = {name: fields.take(name, values, lambda v, n=name: v[n]) for name in CHANGE_FIELDS}
    if taken["retention_before"] is None and "retention_before" not in fields.skipped:
        fields.skipped["retention_before"] = (
            f"{taken['compared_with']} has no buyers in the period before it to retain"
        )
    days = skipped if skipped is not None else period_days(change)
    taken |= {n: fields.take(n, days, lambda v, n=n: v[n]) for n in ("period_start", "period_end")}
    year = skipped if skipped is not None else year_earlier(components, change)
    taken |= {
        n: fields.take(n, year, lambda v, n=n: v[n])
        for n in ("revenue_year_before", "revenue_change_year")
    }
    return OverviewMetrics(
        data_fingerprint=ds.fingerprint,
        currency=ds.currency,
        analysis_date=f"{as_of:%Y-%m-%d}",
        filters=dict(ds.filters),
        source=ds.source,
        rows={name: ds.rows(name) for name in ds.tables},  # counts read no table
        skipped=fields.skipped,
        **taken,
    )


#: Rows of :func:`headline_table`: metrics field -> (reader's label, kind of number).
_HEADLINE_ROWS: dict[str, tuple[str, str]] = {
    "analysis_date": ("Data as of", "date"),
    "period": ("Period", "period"),
    "revenue": ("Revenue in the period", "money"),
    "compared_with": ("Compared with", "period"),
    "revenue_before": ("Revenue in that period", "money"),
    "revenue_change": ("Change in revenue", "signed money"),
    "new_accounts": ("New accounts in the period", "count"),
    "retention": ("Retention of the previous period's buyers", "share"),
    "share_existing": ("Share of revenue from existing accounts", "share"),
    "share_new": ("Share of revenue from new accounts", "share"),
    "share_reactivated": ("Share of revenue from returning accounts", "share"),
    "top_driver": ("Largest driver of the change", "driver"),
    "top_driver_contribution": ("Its contribution", "signed money"),
}


def _headline_value(kind: str, value: Any, currency: str | None) -> str:
    if kind == "date":
        return formats.date(value)
    if kind == "period":
        return formats.period(value)
    if kind == "money":
        return formats.money(value, currency)
    if kind == "signed money":
        return ("+" if _positive(value) else "") + formats.money(value, currency)
    if kind == "count":
        return f"{formats.count(value)} accounts"
    if kind == "share":
        return formats.share(value)
    from helpers.decomposition import FACTOR_WORDS

    return FACTOR_WORDS.get(str(value), formats.display_name(value))


def _positive(value: Any) -> bool:
    """True for a finite number above zero (a change that gets a "+" sign)."""
    return formats.finite(value) and float(value) > 0


def headline_table(metrics: OverviewMetrics) -> pd.DataFrame:
    """The headline numbers of :func:`metrics` for readers: a two-column table (``measure``,
    ``value``) with labels and units (money in the metrics' currency, periods as "2025 Q4",
    shares in percent); a number the study could not compute reads "not available"."""
    rows = []
    for name, (label, kind) in _HEADLINE_ROWS.items():
        value = getattr(metrics, name)
        text = "not available" if value is None else _headline_value(kind, value, metrics.currency)
        rows.append({"measure": label, "value": text})
    return pd.DataFrame(rows)
