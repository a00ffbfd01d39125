"""How much history does the data have, and which analysis windows fit it? Months of order
history up to the analysis date, a window in months shortened to fit that history (or a
:class:`~helpers.steps.Skipped` saying how many months are missing), and whether a feature
varies at all beyond floating-point noise. The tier, migration, customer-type and cluster
steps share these checks so that short or flat data is skipped the same way everywhere.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.segmentation.codes import column_is
from helpers.steps import Skipped


def varies(values: pd.Series) -> bool:
    """Whether ``values`` (missing ones ignored) take more than one value, beyond floating
    point noise (a margin of 30% on every line gives rates that differ in the 16th digit)."""
    v = values.dropna()
    return bool(len(v)) and float(v.max() - v.min()) > 1e-9 * max(1.0, float(v.abs().max()))


def completed_dates(orders: pd.DataFrame) -> pd.Series:
    """``order_date`` of the completed lines of ``orders`` (status compared as integer codes
    kept per table, :func:`helpers.segmentation.codes.column_is`)."""
    return orders["order_date"][column_is(orders, "status", "completed")]


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
