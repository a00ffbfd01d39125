"""Revenue per period, summed in the engine: the table behind
:func:`helpers.decomposition.revenue_components` (module docstring there: the identity).

The order lines not cancelled are summed per (account, period) and then per period in the
engine (:mod:`helpers.engine`: DuckDB, Spark or a warehouse through Ibis; a cached data set's
Parquet file is scanned in place), so only one row per period comes back to pandas: at 1M
accounts the 12.9M order lines never enter pandas for it. Periods are pandas' (``Period``
ordinals: calendar months, quarters, years). Amounts are added exactly (:func:`exact_sum`), so
the sums are the same in every run and on every engine, and within 1e-15 of pandas' sums.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from helpers import engine as engines
from helpers.features import as_table

#: Period frequencies of :func:`~helpers.decomposition.revenue_components`: pandas' month,
#: quarter and year.
FREQS: tuple[str, ...] = ("M", "Q", "Y")

#: The order columns :func:`period_sums` reads.
ORDER_COLUMNS: tuple[str, ...] = ("account_id", "order_date", "net_amount", "status")

#: Per-period sums (currency) and counts (accounts) of :func:`period_sums`.
_SUMS: tuple[str, ...] = ("revenue", "new", "existing", "reactivated")
_COUNTS: tuple[str, ...] = ("new_accounts", "buyers", "retained", "reactivated_accounts")

#: The exact type amounts are summed in (:func:`exact_sum`): 29 digits before the point, 9 after.
EXACT_AMOUNT = "decimal(38, 9)"


def exact_sum(values: ibis.Value, where: ibis.Value | None = None) -> ibis.Value:
    """The sum of amounts ``values`` (currency; ``where``: only those rows) as a float, added
    exactly: each amount rounded to 9 decimals (a cent amount is then the decimal it was
    typed as), summed in :data:`EXACT_AMOUNT`, the total rounded to the nearest float once.

    Why: an engine adds floats in whatever order its threads finish, so a float sum may
    differ in its last bits from one run to the next (the per-period revenue at 100k
    accounts did); an exact sum is the same in every run, on every engine and with every
    thread count, and within 1e-15 of pandas' (compensated) float sum. Assumes amounts below
    1e29 in absolute value; a missing amount counts as nothing (as in pandas)."""
    return values.cast(EXACT_AMOUNT).sum(where=where).cast("float64")


def check_freq(freq: str) -> None:
    """Raise ``ValueError`` unless ``freq`` is one of :data:`FREQS`."""
    if freq not in FREQS:
        raise ValueError(f"freq must be 'M', 'Q' or 'Y', got {freq!r}")


def _ordinal(dates: ibis.Value, freq: str) -> ibis.Value:
    """Each date's period as pandas numbers it (``Period.ordinal``: months, quarters or years
    since 1970; calendar quarters and years, pandas' ``"Q"`` and ``"Y"``), in integer
    arithmetic every engine has."""
    years = dates.year() - 1970
    if freq == "M":
        return years * 12 + dates.month() - 1
    if freq == "Q":
        return years * 4 + dates.quarter() - 1
    return years


def _sums(
    orders: object, freq: str, end: pd.Timestamp | None, engine: engines.Engine
) -> pd.DataFrame:
    """Per period (``period``: pandas ordinal) the terms of the identity, summed in the engine.

    The lines not cancelled up to ``end`` are summed per (account, period): ``value``
    (currency) and whether it bought (a completed line). Per account: its first period with a
    purchase; per (account, period): whether it bought in the period before. Per period:
    ``revenue``, ``new``, ``existing``, ``reactivated`` (currency), ``new_accounts``,
    ``buyers`` (accounts that bought), ``retained``, ``reactivated_accounts`` (accounts),
    ``bought`` (cells with a purchase, a line without an account included, as the former
    pandas grouping counted it for the span of periods) and ``last`` (its last line's date).
    Only accounts with a purchase count in the sums (as the account x period matrix did);
    an account's cell without a purchase (returns only) goes to the group it belonged to the
    period before, so the identity stays exact.
    """
    o = as_table(orders, ORDER_COLUMNS, engine)
    keep = (o.status != "cancelled").fill_null(True)  # a missing status is not "cancelled"
    if end is not None:
        keep &= o.order_date <= end
    o = o.filter(keep)
    o = o.mutate(period=_ordinal(o.order_date, freq))
    done = (o.status == "completed").fill_null(False)
    cells = o.group_by(["account_id", "period"]).aggregate(  # value exact, summed again below
        value=o.net_amount.cast(EXACT_AMOUNT).sum(),
        done=o.count(where=done),
        last=o.order_date.max(),
    )
    bought = cells.filter(cells.done > 0)
    first = bought.group_by("account_id").aggregate(first=bought.period.min())
    before = bought.select(prev_id=bought.account_id, prev_period=bought.period + 1)
    j = cells.left_join(first, cells.account_id == first.account_id)
    j = j.select(*cells.columns, first=first.first)
    j = j.left_join(before, (j.account_id == before.prev_id) & (j.period == before.prev_period))
    j = j.select(*cells.columns, first=j.first, prev=before.prev_id.notnull())
    counted = j.first.notnull()  # an account with a purchase (never a missing account)
    now = j.done > 0
    new = counted & (j.first == j.period)
    prev = j.prev.fill_null(False)
    again = counted & ~prev & ~new
    query = j.group_by("period").aggregate(
        revenue=j.value.sum(where=counted).cast("float64"),  # exact sums (see exact_sum)
        new=j.value.sum(where=new).cast("float64"),
        existing=j.value.sum(where=counted & prev).cast("float64"),
        reactivated=j.value.sum(where=again).cast("float64"),
        new_accounts=j.count(where=new),
        buyers=j.count(where=counted & now),
        retained=j.count(where=now & prev),
        reactivated_accounts=j.count(where=again & now),
        bought=j.count(where=now),
        last=j.last.max(),
    )
    out = engines.to_pandas(query, engine)
    out[list(_SUMS)] = out[list(_SUMS)].astype(float).fillna(0.0)
    out[[*_COUNTS, "bought"]] = out[[*_COUNTS, "bought"]].astype("int64")
    out["last"] = pd.to_datetime(out["last"]).astype("datetime64[ns]")
    return out.sort_values("period", ignore_index=True)


def lead_counts(leads: object, freq: str, engine: engines.Engine) -> pd.Series:
    """Leads created per period (index: pandas ordinal, int64), counted in the engine."""
    t = as_table(leads, ["created_date"], engine)
    t = t.filter(t.created_date.notnull())
    t = t.mutate(period=_ordinal(t.created_date, freq))
    counts = engines.to_pandas(t.group_by("period").aggregate(n=t.count()), engine)
    return pd.Series(counts["n"].to_numpy(dtype="int64"), index=counts["period"].to_numpy())


def period_table(
    sums: pd.DataFrame,
    leads: object,
    freq: str,
    start: str | pd.Timestamp | None,
    end: str | pd.Timestamp | None,
    engine: engines.Engine,
) -> pd.DataFrame:
    """The table of :func:`~helpers.decomposition.revenue_components` from :func:`period_sums`
    (which has a purchase) and the leads (a frame, an Ibis table or None; see there)."""
    span = sums.loc[sums["bought"] > 0, "period"]
    periods = pd.period_range(
        pd.Period(ordinal=int(span.min()), freq=freq),
        pd.Period(ordinal=int(span.max()), freq=freq),
        freq=freq,
    )
    rows = sums.set_index("period").reindex(periods.asi8)
    frame = pd.DataFrame(index=pd.Index(periods, name="period"))
    for name in _SUMS:
        frame[name] = rows[name].fillna(0.0).to_numpy()
    frame["new_accounts"] = rows["new_accounts"].fillna(0).to_numpy(dtype="int64")
    frame["new_volume"] = ratio(frame["new"], frame["new_accounts"])
    buyers = rows["buyers"].fillna(0).to_numpy(dtype="int64")
    frame["base"] = np.concatenate([[0], buyers[:-1]])  # bought in the period before
    frame["retained"] = rows["retained"].fillna(0).to_numpy(dtype="int64")
    frame["retention"] = ratio(frame["retained"], frame["base"])
    frame["repurchase_volume"] = ratio(frame["existing"], frame["retained"])
    frame["reactivated_accounts"] = rows["reactivated_accounts"].fillna(0).to_numpy(dtype="int64")
    if leads is not None:
        created = lead_counts(leads, freq, engine)
        frame["leads"] = created.reindex(periods.asi8, fill_value=0).to_numpy(dtype="int64")
        frame["conversion"] = ratio(frame["new_accounts"], frame["leads"])
    else:
        frame["leads"] = np.nan
        frame["conversion"] = np.nan
    last_day = pd.Timestamp(end) if end is not None else sums["last"].max()
    frame["complete"] = [p.end_time.normalize() <= last_day for p in periods]
    if start is not None:
        frame = frame[[p.end_time >= pd.Timestamp(start) for p in frame.index]]
    return frame


def period_sums(
    orders: object, freq: str, end: str | pd.Timestamp | None, engine: engines.Engine
) -> pd.DataFrame:
    """Per period (``period``: pandas ordinal) the terms of the identity, summed in the engine
    (see :func:`_sums`); no row for orders without a line."""
    return _sums(orders, freq, None if end is None else pd.Timestamp(end), engine)


def ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    """``num / den``, missing where ``den`` is not above 0 (a ratio without a base)."""
    return num / den.where(den > 0)
