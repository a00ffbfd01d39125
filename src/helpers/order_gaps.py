"""The gaps between an account's consecutive purchase days, as counts per gap length.

A gap is the number of whole days from one purchase day of an account to its next (only
``completed`` orders count; several orders on one day are one purchase day; nothing after
``as_of`` is used). Everything the churn study asks of the gaps (the derived churn threshold,
the order cadence, the share of gaps within the threshold, the histogram) depends only on
their distribution, and gap lengths are whole days: so the engine counts the gaps per length
(:func:`gap_counts`) and pandas holds one row per distinct length (a few hundred: at most
the days of history), not one per account and purchase day (8M at 1M accounts, ~0.6 GB of
pandas and of the step cache's pickle of the churn definition). :class:`GapCounts` answers the
questions from the counts with the floats pandas gives on the per-gap series.

Gaps up to an earlier day (the back-test derives its threshold at its start): a gap looks back
only, to the account's previous purchase day, so the gaps up to ``day`` are those of purchase
days on or before it, and :func:`gap_counts` at ``day`` gives them (a second engine query, the
same as the first). Counts per (purchase day, gap) would answer every earlier day from one
query, but that table is not small: 20,439 rows for the demo's 23,003 gaps (2,883 accounts),
158,533 for 764,409 gaps at 100k accounts (more rows than accounts), growing with the square of
the history's length rather than with the number of distinct gap lengths (260 and 395).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from helpers import engine as engines
from helpers.features import as_day, as_table


@dataclass(frozen=True, eq=False)
class GapCounts:
    """How many gaps (days between consecutive purchase days) have each length.

    ``values`` are the distinct gap lengths in days, strictly increasing; ``counts`` how many
    gaps have each (positive integers). ``len()`` is the number of gaps. Every statistic is
    the one pandas computes on the series of all gaps (each value repeated ``count`` times),
    to the same float: :meth:`quantile` (``Series.quantile``, linear interpolation),
    :meth:`median`, :meth:`share_at_most`.

    Example
    -------
    >>> gaps = GapCounts.of([30, 10, 30, 65])
    >>> gaps.values.tolist(), gaps.counts.tolist(), len(gaps)
    ([10, 30, 65], [1, 2, 1], 4)
    >>> gaps.quantile(0.25), gaps.median(), gaps.share_at_most(30)
    (25.0, 30.0, 0.75)
    """

    values: np.ndarray
    counts: np.ndarray

    def __post_init__(self) -> None:
        values = np.array(self.values)  # copies: the arrays below are read-only
        counts = np.array(self.counts, dtype=np.int64)
        if values.ndim != 1 or values.shape != counts.shape:
            raise ValueError("values and counts must be one-dimensional and of the same length")
        if values.dtype.kind not in "iuf":
            raise ValueError(f"gap values must be numbers, not {values.dtype}")
        if len(values) and (np.any(np.diff(values) <= 0) or np.any(counts <= 0)):
            raise ValueError("values must be strictly increasing and counts positive")
        values.flags.writeable = counts.flags.writeable = False
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "counts", counts)
        object.__setattr__(self, "_ends", np.cumsum(counts))  # gaps up to each value

    @classmethod
    def of(cls, gaps: ArrayLike) -> GapCounts:
        """The counts of a sequence of gaps (one number per gap, in days; NaN dropped)."""
        array = pd.Series(gaps).dropna().to_numpy()
        if array.dtype.kind in "O":
            array = array.astype(float)
        values, counts = np.unique(array, return_counts=True)
        return cls(values, counts.astype(np.int64))

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> GapCounts:
        """From a frame with one row per distinct gap: ``gap_days`` and ``count`` (any order)."""
        frame = frame.sort_values("gap_days")
        return cls(frame["gap_days"].to_numpy(np.int64), frame["count"].to_numpy(np.int64))

    def __len__(self) -> int:
        return int(self._ends[-1]) if len(self._ends) else 0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GapCounts):
            return NotImplemented
        return np.array_equal(self.values, other.values) and np.array_equal(
            self.counts, other.counts
        )

    __hash__ = None  # type: ignore[assignment]  # equal by content, and arrays are not hashable

    def __repr__(self) -> str:
        return f"GapCounts({len(self)} gaps, {len(self.values)} distinct lengths)"

    @property
    def empty(self) -> bool:
        """No gap at all (no account has two purchase days)."""
        return len(self.values) == 0

    def _at(self, position: int) -> float | int:
        """The gap at 0-based ``position`` of all gaps sorted."""
        return self.values[np.searchsorted(self._ends, position, side="right")]

    def quantile(self, q: float) -> float:
        """The ``q`` quantile (0-1) of all gaps, days: pandas' ``Series.quantile(q)`` with
        its default linear interpolation, as the same float (NaN when there is no gap).

        pandas hands ``q * 100`` to ``np.percentile``, which divides by 100 again, takes the
        virtual position ``(n - 1) * q`` in the sorted gaps and interpolates between the gaps
        on either side with numpy's ``_lerp`` (from the upper one when the fraction is 0.5 or
        more); each step is repeated here in the same float operations."""
        if not 0 <= q <= 1:
            raise ValueError(f"quantile must be between 0 and 1, got {q}")
        n = len(self)
        if n == 0:
            return math.nan
        share = float(np.true_divide(np.float64(q) * 100.0, 100))
        virtual = (n - 1) * share
        if virtual >= n - 1:
            return float(self.values[-1])
        below = math.floor(virtual)
        fraction = virtual - below
        a, b = self._at(below), self._at(below + 1)
        diff = float(b - a)
        if fraction >= 0.5:
            return float(b) - diff * (1 - fraction)
        return float(a) + diff * fraction

    def median(self) -> float:
        """The median gap (days; pandas' ``Series.median``: the mean of the two middle gaps
        for an even number; NaN when there is no gap)."""
        n = len(self)
        if n == 0:
            return math.nan
        if n % 2:
            return float(self._at(n // 2))
        return (float(self._at(n // 2 - 1)) + float(self._at(n // 2))) / 2

    def share_at_most(self, days: float) -> float:
        """Share 0-1 of the gaps no longer than ``days`` (NaN when there is no gap)."""
        n = len(self)
        if n == 0:
            return math.nan
        within = int(self.counts[self.values <= days].sum())
        return within / n

    def clipped(self, upper: float) -> tuple[np.ndarray, np.ndarray]:
        """The gap values capped at ``upper`` days (floats; NaN caps nothing) and their
        counts, for a weighted histogram: ``ax.hist(values, weights=counts)`` draws what
        ``ax.hist`` draws for ``Series.clip(upper=upper)`` of all gaps."""
        values = self.values.astype(float)
        if not math.isnan(upper):
            values = np.minimum(values, upper)
        return values, self.counts.copy()


def gap_days_expr(orders: object, as_of: str | dt.date | pd.Timestamp) -> ibis.Table:
    """The gaps as an (unexecuted) Ibis expression: one row per account and purchase day
    after its first, with ``gap_days`` (days since the account's previous purchase day).
    ``orders`` is an Ibis table (the engine's) with ``account_id``, ``order_date`` and
    ``status``."""
    day = ibis.literal(as_day(as_of), type="date")
    o = orders.select("account_id", "order_date", "status")
    o = o.mutate(order_date=o.order_date.cast("date"))
    days = (
        o.filter(o.status == "completed", o.order_date <= day)
        .select("account_id", "order_date")
        .distinct()
    )
    w = ibis.window(group_by="account_id", order_by="order_date")
    gaps = days.mutate(previous=days.order_date.lag().over(w))
    return gaps.filter(gaps.previous.notnull()).mutate(
        gap_days=gaps.order_date.delta(gaps.previous, unit="day")
    )


def gap_counts(
    orders: object,
    as_of: str | dt.date | pd.Timestamp,
    engine: engines.Engine | str | None = None,
) -> GapCounts:
    """How many gaps between consecutive purchase days have each length (days), as of
    ``as_of`` (see the module): counted in the engine, one row per distinct length comes back.

    ``orders``: a pandas frame, an Ibis table (:func:`helpers.features.orders_table`) or
    Parquet path(s); runs on ``engine`` (None: the one ``orders`` carries, else DuckDB; see
    :func:`helpers.features.customer_features`). An hour of ``as_of`` is ignored (its day
    counts). Used to derive a churn threshold from the company's own order cadence
    (:func:`helpers.survival.definition.default_threshold`).
    """
    engine = engines.resolve(engine, orders)
    gaps = gap_days_expr(as_table(orders, ("account_id", "order_date", "status"), engine), as_of)
    counted = gaps.group_by("gap_days").aggregate(count=gaps.count())
    return GapCounts.from_frame(engines.to_pandas(counted, engine))
