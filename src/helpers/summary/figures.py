"""Numbers for the leadership page read from a study's metrics, each with why it is not
available when it is not.

A number a study could not compute on its data is ``null`` in its file with the reason in its
``skipped`` field; wherever that number would appear (findings, moves, headline figures) the
page says "not available: <reason>", never a bare "n/a", 0 or NaN. A number that is missing
without a recorded reason reads "not available: not recorded in the <study> metrics".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from helpers import formats
from helpers.positions import position_of
from helpers.schemas import ChannelMetrics
from helpers.summary.runs import StudyRun


@dataclass(frozen=True)
class Figure:
    """One number for the page: its value, or None and why it is not available."""

    value: Any
    reason: str = ""

    def show(self, fmt: Callable[[Any], str]) -> str:
        return fmt(self.value) if self.value is not None else f"not available: {self.reason}"


def figure(run: StudyRun, name: str, key: str | None = None) -> Figure:
    """Field ``name`` of the run's metrics (``[key]`` of it when given) as a :class:`Figure`:
    a null field takes its reason from ``skipped``; a non-finite number counts as null."""
    metrics = run.metrics
    value = getattr(metrics, name)
    if value is None:
        return Figure(None, metrics.skipped.get(name, f"not recorded in the {run.study} metrics"))
    if key is not None:
        value = value.get(key)
    return checked(value, f"not recorded in the {run.study} metrics")


def checked(value: Any, reason: str) -> Figure:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return Figure(None, reason)
    return Figure(value)


def clause(text: Callable[..., str], gap: str, *figures: Figure) -> str:
    """``text(*values)`` when every figure is available, else ``"<gap> not available: <reason>"``
    with the first missing figure's reason."""
    missing = next((f for f in figures if f.value is None), None)
    if missing is None:
        return text(*(f.value for f in figures))
    return f"{gap} not available: {missing.reason}"


def count(value: Any) -> str:
    """A whole count for the page (:func:`helpers.formats.count`)."""
    return formats.count(value)


#: Columns of :func:`channel_table`.
CHANNEL_TABLE_COLUMNS = [
    "cac",
    "ltv_cac",
    "low",
    "high",
    "marginal",
    "marginal_low",
    "marginal_high",
    "verdict",
    "flag",
    "position",
]


def channel_table(channels: ChannelMetrics | None) -> pd.DataFrame:
    """The summary's channel table from the channel metrics, by channel code: paid channels
    with CAC (currency), LTV:CAC with its interval (``ltv_cac``, ``low``, ``high``), the
    marginal LTV:CAC with its interval, the ``verdict`` the channel study recorded
    (:func:`helpers.payback.verdict`; None when not recorded), the ``flag`` on the ratio and
    the cost ``position`` (a diagnostic, :data:`helpers.positions.POSITIONS`); best LTV:CAC
    first (without any LTV:CAC, cheapest CAC first). Columns of numbers a study could not
    compute are NaN."""
    costs = pd.DataFrame(channels.costs if channels and channels.costs else {}).T
    if costs.empty:
        return pd.DataFrame(columns=CHANNEL_TABLE_COLUMNS)
    paid = costs[costs["paid"].astype(bool)]
    ratio = pd.DataFrame(channels.ltv_cac or {}).T
    table = pd.DataFrame({"cac": paid["cac"].astype(float)})
    sources = {"ltv_cac": "ratio", "verdict": "verdict", "flag": "flag"}
    for col in CHANNEL_TABLE_COLUMNS[1:-1]:
        src = sources.get(col, col)
        table[col] = ratio[src].reindex(table.index) if src in ratio else None
    quadrant = pd.Series(channels.quadrant or {}, dtype=object).reindex(table.index)
    table["position"] = quadrant.map(position_of)
    for col in ("ltv_cac", "low", "high", "marginal", "marginal_low", "marginal_high"):
        table[col] = table[col].astype(float)
    return table.sort_values(["ltv_cac", "cac"], ascending=[False, True], na_position="last")
