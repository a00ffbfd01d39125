"""Account-level customer features "as of" a date, computed in the engine through Ibis.

The heavy aggregation (millions of order lines) runs in the engine (DuckDB by default), over
Parquet files or over the validated frames of a :class:`~helpers.loading.Dataset`, never in a
pandas ``groupby``; only the per-account table comes back to pandas. The expressions are Ibis,
so the same code runs on Spark or where a company's data lives (Postgres, BigQuery, Snowflake):
the source YAML's ``engine:`` chooses (:mod:`helpers.engine`), or pass Ibis tables of that
backend.

Definitions (all "as of" ``as_of``; nothing dated later is used):

* Orders counted: ``completed`` lines define activity (first/last order, frequency, quantity,
  categories); ``returned`` lines (negative amounts) reduce revenue and margin; ``cancelled``
  lines are ignored. Returns dated after ``as_of`` are not known yet and are not used.
* ``recency_days`` = ``silent_days`` = days from the last completed order to ``as_of``.
* ``churned`` = silent for at least ``churn_threshold_days``.
* Survival: ``duration_days`` is in whole days from the first order. For a churned account it is
  the last order (the event: nothing followed it). For an active account it is ``as_of -
  threshold`` (censored): a churn only becomes visible ``threshold`` days after the last order,
  so the last ``threshold`` days are outside what can be observed. (Censoring at the last order
  instead would hide the churns of the last ``threshold`` days and bias survival upwards: on the
  demo data the Kaplan-Meier median moved +16% that way.) Accounts whose first order is within the
  last ``threshold`` days are not yet at risk: ``in_survival`` is False and ``duration_days`` empty.

:func:`features_for` and :func:`shared_features` compute each (data, as-of day, threshold) once
per process and hand out copies; :func:`customer_features` computes on every call.
"""

from __future__ import annotations

import datetime as dt
import os
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import ibis
import pandas as pd
from ibis import _

from helpers import engine as engines

if TYPE_CHECKING:  # pragma: no cover
    from helpers.loading import Dataset

#: Account attributes carried into the features table when an accounts table is given.
ATTRIBUTES: tuple[str, ...] = (
    "account_name",
    "industry",
    "size_band",
    "region",
    "country",
    "business_line",
    "ownership_type",
    "business_type",
    "acquisition_channel",
    "acquired_date",
    "sales_rep",
)

OrdersLike = "pd.DataFrame | ibis.Table | str | os.PathLike[str] | Sequence[str]"


#: The order columns the engine-side steps on order lines read (features, order gaps, purchase
#: days): one list, so that a data set hands every such step the same engine table
#: (:func:`orders_table`) and a frame is uploaded once.
ORDER_COLUMNS = (
    "order_id",
    "account_id",
    "order_date",
    "net_amount",
    "gross_margin",
    "quantity",
    "product_category",
    "status",
)


def orders_table(dataset: Dataset) -> ibis.Table:
    """The data set's orders (:data:`ORDER_COLUMNS`) as an engine table
    (:meth:`helpers.loading.Dataset.engine_table`): read from the load-once cache, DuckDB scans
    the entry's file in place, so a kernel whose steps only aggregate the order lines in the
    engine never holds them in pandas (12.9M lines, ~1.4 GiB at 1M accounts); otherwise a
    memtable of the frame. The same data set gives the same table object on every call, so
    :func:`shared_features` finds its tables again. A loaded table has every contract column;
    a frame built in code may lack optional ones, and then gives those it has (as
    :func:`as_table` does)."""
    try:
        return dataset.engine_table("orders", list(ORDER_COLUMNS))
    except KeyError:
        if "orders" not in dataset.tables:
            raise
        present = dataset.tables["orders"].columns
        return dataset.engine_table("orders", [c for c in ORDER_COLUMNS if c in present])


def connection() -> ibis.BaseBackend:
    """The process-wide in-memory DuckDB connection (:func:`helpers.engine.connect`)."""
    return engines.connect(engines.DUCKDB)


def as_table(
    source: object,
    columns: Sequence[str] | None = None,
    engine: engines.Engine | str | None = None,
) -> ibis.Table:
    """An Ibis table from a pandas frame, an Ibis table, or Parquet path(s).

    Pandas frames become Ibis memtables, handed to the engine through Arrow when the
    expression runs (no copy of the data into Python objects); ``columns`` keeps only those
    columns of a frame (the hidden ``_source_row`` is dropped). The same frame and columns give
    the same memtable (:func:`helpers.engine.memtable`), so the engine receives each frame once:
    frames must not be changed in place once passed (as for :func:`shared_features`). Parquet paths are read by the
    ``engine`` (None: DuckDB; see :mod:`helpers.engine`).
    """
    if isinstance(source, ibis.Table):
        return source
    if isinstance(source, pd.DataFrame):
        keep = [c for c in (columns or source.columns) if c in source.columns]
        return engines.memtable(source, keep)
    if isinstance(source, (str, os.PathLike)) or (
        isinstance(source, Sequence) and all(isinstance(s, (str, os.PathLike)) for s in source)
    ):
        paths = (
            [os.fspath(source)]
            if isinstance(source, (str, os.PathLike))
            else [os.fspath(s) for s in source]
        )
        return engines.connect(engine).read_parquet(paths)
    raise TypeError(f"cannot make a table from {type(source).__name__}")


def as_day(value: str | dt.date | pd.Timestamp) -> dt.date:
    return pd.Timestamp(value).date()


def customer_features_expr(
    orders: ibis.Table,
    accounts: ibis.Table | None,
    as_of: str | dt.date | pd.Timestamp,
    churn_threshold_days: int = 180,
    attributes: Sequence[str] = (),
) -> ibis.Table:
    """The features as an (unexecuted) Ibis expression; see :func:`customer_features`."""
    day = ibis.literal(as_day(as_of), type="date")
    cutoff = ibis.literal(
        as_day(pd.Timestamp(as_of) - pd.Timedelta(days=churn_threshold_days)), type="date"
    )
    o = orders.mutate(order_date=orders.order_date.cast("date"))
    o = o.filter(o.order_date <= day, o.status.isin(["completed", "returned"]))
    done = o.status == "completed"
    per_account = o.group_by("account_id").aggregate(
        first_order=o.order_date.min(where=done),
        last_order=o.order_date.max(where=done),
        n_orders=o.order_id.nunique(where=done),
        # COUNT(*) FILTER, not SUM(CAST(... AS BIGINT)): DuckDB sums BIGINT into a 128-bit
        # state, ~10-15% more CPU for the whole query at 10M lines (bench_features_sql).
        n_lines=o.count(where=done),
        monetary_total=o.net_amount.sum(),
        returns_total=(-o.net_amount).sum(where=~done),
        margin_total=o.gross_margin.sum(),
        quantity_total=o.quantity.sum(where=done),
        n_categories=o.product_category.nunique(where=done),
    )
    if accounts is not None:
        carried = [c for c in (*ATTRIBUTES, *attributes) if c in accounts.columns]
        acc = accounts.select("account_id", *dict.fromkeys(carried))
        acc = acc.mutate(acquired_date=acc.acquired_date.cast("date"))
        acc = acc.filter(acc.acquired_date.isnull() | (acc.acquired_date <= day))
        t = acc.left_join(per_account, "account_id").drop("account_id_right")
    else:
        t = per_account
    t = t.mutate(
        n_orders=_.n_orders.fill_null(0),
        n_lines=_.n_lines.fill_null(0),
        n_categories=_.n_categories.fill_null(0),
        monetary_total=_.monetary_total.fill_null(0.0),
        returns_total=_.returns_total.fill_null(0.0),
        quantity_total=_.quantity_total.fill_null(0.0),
    )
    t = t.mutate(
        monetary_mean=ibis.ifelse(_.n_orders > 0, _.monetary_total / _.n_orders, ibis.null()),
        margin_rate=ibis.ifelse(
            _.monetary_total > 0, _.margin_total / _.monetary_total, ibis.null()
        ),
        tenure_days=lambda t: day.delta(t.first_order, unit="day"),
        recency_days=lambda t: day.delta(t.last_order, unit="day"),
    )
    t = t.mutate(
        silent_days=_.recency_days,
        churned=(_.recency_days >= churn_threshold_days).fill_null(False),
        in_survival=(_.first_order <= cutoff).fill_null(False),
    )
    t = t.mutate(
        duration_days=lambda t: ibis.cases(
            (t.churned, t.last_order.delta(t.first_order, unit="day")),
            (t.in_survival, cutoff.delta(t.first_order, unit="day")),
            else_=ibis.null("int64"),
        ),
        event=_.churned.cast("int64"),
    )
    # Final types in SQL, so the pandas frame arrives ready (no copies in Python).
    t = t.mutate(
        **{
            c: t[c].cast("timestamp")
            for c in ("first_order", "last_order", "acquired_date")
            if c in t.columns
        },
        **{
            c: t[c].cast("float64")
            for c in ("tenure_days", "recency_days", "silent_days", "duration_days")
        },
    )
    return t.order_by("account_id")


def customer_features(
    orders: object,
    accounts: object | None = None,
    as_of: str | dt.date | pd.Timestamp | None = None,
    churn_threshold_days: int = 180,
    attributes: Sequence[str] | None = None,
    engine: engines.Engine | str | None = None,
) -> pd.DataFrame:
    """One row per account with its behaviour up to ``as_of`` (see the module docstring).

    Parameters
    ----------
    orders, accounts
        pandas frames (contract columns), Ibis tables, or Parquet paths. Without ``accounts``
        the table has one row per account that has orders and no attributes. With it, every
        account acquired by ``as_of`` is kept, including those with no order yet.
    as_of
        The analysis date (day). Required.
    churn_threshold_days
        Silent days after which an account counts as churned (days).
    attributes
        Free account attributes (columns of ``accounts`` outside the contract) to carry into
        the result under their own names. None: those the loader declared on an accounts frame
        (``accounts.attrs["attributes"]``, from the source YAML's ``attributes:``), else none.
    engine
        Where the aggregation runs (:mod:`helpers.engine`): an :class:`~helpers.engine.Engine`
        or an ``engine:`` value (``"duckdb"``, ``"pyspark"``, an Ibis URL). None: the engine
        the loaded frames carry (the source YAML's ``engine:``), else DuckDB. Ibis tables bound
        to a backend run on that backend. Only the per-account table comes back.

    Returns
    -------
    pandas.DataFrame
        Columns: ``account_id``, the account attributes (contract ones, then free ones),
        ``first_order``, ``last_order``
        (dates), ``n_orders``, ``n_lines``, ``n_categories`` (counts), ``monetary_total``,
        ``returns_total``, ``margin_total``, ``monetary_mean`` (currency; mean is per order),
        ``margin_rate`` (share 0-1), ``quantity_total`` (units), ``tenure_days``,
        ``recency_days``, ``silent_days``, ``duration_days`` (days), ``churned``,
        ``in_survival`` (bool), ``event`` (0/1). Sorted by ``account_id``.

    Examples
    --------
    >>> from helpers.loading import load_dataset  # doctest: +SKIP
    >>> ds = load_dataset("demo")  # doctest: +SKIP
    >>> customer_features(ds["orders"], ds["accounts"], as_of="2025-12-31")  # doctest: +SKIP
    """
    if as_of is None:
        raise ValueError("customer_features needs an as_of date (the analysis date).")
    if churn_threshold_days < 1:
        raise ValueError(f"churn_threshold_days must be at least 1 day, got {churn_threshold_days}")
    engine = engines.resolve(engine, orders, accounts)
    o = as_table(orders, ORDER_COLUMNS, engine)
    if attributes is None:
        attributes = list(getattr(accounts, "attrs", {}).get("attributes", {}))
    a = (
        as_table(accounts, ("account_id", *ATTRIBUTES, *attributes), engine)
        if accounts is not None
        else None
    )
    expr = customer_features_expr(o, a, as_of, churn_threshold_days, tuple(attributes))
    return _tidy(engines.to_pandas(expr, engine))


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """Nanosecond datetimes (pandas' default unit, as in the loaded tables), in place."""
    for col in ("first_order", "last_order", "acquired_date"):
        if col in frame.columns and frame[col].dtype != "datetime64[ns]":
            frame[col] = frame[col].astype("datetime64[ns]")
    return frame


#: At most this many feature tables are kept by :func:`shared_features` per process ...
MEMO_ENTRIES = 8
#: ... and at most about this many bytes of them (pandas' shallow ``memory_usage``: text
#: columns count one pointer per value). The least recently used table goes first.
MEMO_BYTES = 1 << 30


@dataclass
class _Kept:
    orders: weakref.ref
    accounts: weakref.ref | None
    frame: pd.DataFrame
    nbytes: int

    def alive(self) -> bool:
        return self.orders() is not None and (self.accounts is None or self.accounts() is not None)


class MemoInfo(NamedTuple):
    """Counts of :func:`shared_features` since the process started (or the last clear):
    ``hits`` (tables handed out again), ``misses`` (tables computed), ``entries`` (tables
    kept now) and ``nbytes`` (their shallow size in bytes)."""

    hits: int
    misses: int
    entries: int
    nbytes: int


_memo: OrderedDict[tuple, _Kept] = OrderedDict()
_counts = {"hits": 0, "misses": 0}


def shared_features(
    orders: object,
    accounts: object | None = None,
    as_of: str | dt.date | pd.Timestamp | None = None,
    churn_threshold_days: int = 180,
    attributes: Sequence[str] | None = None,
    engine: engines.Engine | str | None = None,
    *,
    compute: Callable[[], pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """:func:`customer_features`, computed once per process for the same data and arguments.

    The churn study asks for the same table many times (the definition, the sensitivity, the
    tiers, the back-test and the recalibration each need the features at a few dates); each
    computation is a query in the engine (about a second on the demo data, mostly Ibis
    compiling the expression). Here a table is computed on the first call and a copy of it is
    handed out afterwards, so callers may change what they get.

    The key is the *identity* of the ``orders`` and ``accounts`` frames (with their shapes),
    the as-of day, the threshold (days), the attributes and the engine. Assumption: frames are
    not changed in place once passed (no step changes a loaded :class:`Dataset`'s tables;
    filtering makes new frames, which get their own tables). A change of shape (rows or
    columns added or dropped) is noticed; values changed in place (``frame[col] = ...`` on an
    existing column, ``.loc[...] = ...``) are not: code that does that after a call must pass
    a copy or call :func:`clear_shared_features` (which also forgets the frames' memtables,
    :func:`as_table`). A frame that is garbage-collected releases
    its tables. At most :data:`MEMO_ENTRIES` tables and about :data:`MEMO_BYTES` are kept,
    least recently used out first. The same holds for Ibis tables the engine records as
    stable (:func:`helpers.engine.is_stable`: the memtable of a frame, the scan of a cache
    entry, as :func:`orders_table` hands out), keyed by the table object. Parquet paths and
    other Ibis tables are not kept (they can change behind a path or a connection): they are
    computed on every call. ``compute``
    (optional) gives the table on a miss instead of :func:`customer_features` (the same
    table, e.g. kept by another process: :func:`features_for`).
    """
    keyed = _keyable(orders) and (accounts is None or _keyable(accounts))
    if not keyed or as_of is None or MEMO_ENTRIES < 1:
        return customer_features(orders, accounts, as_of, churn_threshold_days, attributes, engine)
    if attributes is None:
        attributes = list(getattr(accounts, "attrs", {}).get("attributes", {}))
    key = (
        id(orders),
        _shape(orders),
        None if accounts is None else (id(accounts), _shape(accounts)),
        as_day(as_of),
        int(churn_threshold_days),
        tuple(attributes),
        engines.resolve(engine, orders, accounts),
    )
    kept = _memo.get(key)
    if (
        kept is not None
        and kept.orders() is orders
        and (accounts is None or (kept.accounts is not None and kept.accounts() is accounts))
    ):
        _memo.move_to_end(key)
        _counts["hits"] += 1
        return kept.frame.copy()
    _counts["misses"] += 1
    if compute is None:
        frame = customer_features(orders, accounts, as_of, churn_threshold_days, attributes, engine)
    else:
        frame = compute()
    nbytes = int(frame.memory_usage(index=True, deep=False).sum())
    _memo.pop(key, None)  # a stale table of a collected frame whose id was reused
    _memo[key] = _Kept(
        weakref.ref(orders),
        None if accounts is None else weakref.ref(accounts),
        frame,
        nbytes,
    )
    _evict()
    return frame.copy() if key in _memo else frame  # a table over the budget is not kept


def _keyable(source: object) -> bool:
    """A frame, or an Ibis table whose data cannot change while it lives
    (:func:`helpers.engine.is_stable`: a memtable, a scan of a cache entry)."""
    return isinstance(source, pd.DataFrame) or engines.is_stable(source)


def _shape(source: object) -> tuple[int, int] | None:
    return source.shape if isinstance(source, pd.DataFrame) else None


def _evict() -> None:
    """Drop the tables of collected frames, then the least recently used ones over budget."""
    for key in [k for k, kept in _memo.items() if not kept.alive()]:
        del _memo[key]
    while _memo and (
        len(_memo) > MEMO_ENTRIES or sum(k.nbytes for k in _memo.values()) > MEMO_BYTES
    ):
        _memo.popitem(last=False)


def shared_features_info() -> MemoInfo:
    """Hits, misses (computations), tables kept and their bytes (:func:`shared_features`)."""
    return MemoInfo(
        _counts["hits"], _counts["misses"], len(_memo), sum(k.nbytes for k in _memo.values())
    )


def clear_shared_features() -> None:
    """Forget every table :func:`shared_features` keeps, and reset its counts (and the
    memtables of :func:`as_table`, :func:`helpers.engine.forget_memtables`)."""
    _memo.clear()
    engines.forget_memtables()
    _counts.update(hits=0, misses=0)


def features_for(
    dataset: Dataset, as_of: str | pd.Timestamp | None = None, churn_threshold_days: int = 180
) -> pd.DataFrame:
    """:func:`customer_features` on a loaded :class:`Dataset` (default as-of: its analysis date).

    Computed once per process for the same data set, date and threshold
    (:func:`shared_features`); each call gets its own copy. For a data set loaded from its
    source (:attr:`~helpers.loading.Dataset.from_source`) the table is also kept on disk
    (:mod:`helpers.step_cache`), so the other notebooks of a batch read it instead of
    computing it again: notebooks 01 and 02 both ask for the features on the analysis date
    (and, with the derived threshold at its usual 180 days, for the same table; ~2-3 s at
    100k accounts). A kept table is the pickled computed one, identical to the bit.
    """
    when = pd.Timestamp(as_of) if as_of else dataset.analysis_date
    accounts = dataset.tables.get("accounts")
    orders = orders_table(dataset)
    threshold = int(churn_threshold_days)

    def compute() -> pd.DataFrame:
        from helpers import step_cache  # it imports the loading package, which imports this

        def fresh() -> pd.DataFrame:
            return customer_features(orders, accounts, when, threshold, engine=dataset.engine)

        parts = {"as_of": str(as_day(when)), "threshold": threshold}
        return step_cache.remembered(step_cache.key("features", dataset, parts), fresh)

    return shared_features(
        orders, accounts, when, threshold, engine=dataset.engine, compute=compute
    )
