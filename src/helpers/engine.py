"""Where the engine-side steps run: DuckDB (default), a Spark session, or a warehouse via Ibis.

The heavy steps are Ibis expressions: every step that reads the order lines (per-account
features, :mod:`helpers.features`; the order gaps counted per length,
:mod:`helpers.order_gaps`; notebook 00's table summary, order checks
and revenue by period, :mod:`helpers.health`, :mod:`helpers.revenue_periods`; tier growth and
customer types, :mod:`helpers.segmentation`; the quarterly series, :mod:`helpers.quarterly`;
purchase days and the BG/NBD summary, :mod:`helpers.survival.bgnbd`; the BG/NBD value's margin
per account, :func:`helpers.btyd_value.margin_seen`; revenue after a conversion,
:mod:`helpers.attribution_value`; payback margins, :mod:`helpers.payback_period`) or the
touchpoints (attribution paths, numbered and summed per step, :mod:`helpers.attribution_paths`;
the leads' early touches,
:func:`helpers.leads.early_behaviour`), and the funnel counts per channel
(:func:`helpers.funnel.conversion`). This module turns the data
source's ``engine:`` setting into the Ibis backend that executes them and brings the (small,
per-account) result back as pandas.

Settings (the source YAML's ``engine:`` key, parsed by :func:`parse`):

* ``duckdb`` (default): an in-process, in-memory DuckDB (memory cap ``B2B_DUCKDB_MEMORY_LIMIT``,
  512 MB by default, so large aggregations spill to disk; one thread unless
  ``B2B_DUCKDB_THREADS`` says otherwise, so that float sums come out the same bits
  everywhere).
* ``pyspark``: a Spark session (``spark_master:``, ``local[2]`` by default) through
  ``ibis.pyspark.connect``; needs ``pip install -e '.[spark]'`` and a Java runtime. Starting
  Spark takes tens of seconds; the session is made once per process.
* an Ibis connection URL (``postgres://user@host/db``, ``bigquery://project/dataset``,
  ``snowflake://user@account/db/schema``, ...): ``ibis.connect(url)``. Untested here; the
  backend's extra must be installed (``pip install 'ibis-framework[postgres]'``).

Assumptions: validated pandas tables reach the engine as Ibis memtables (uploaded when the
expression runs; fine for Spark in local mode and for a warehouse's temporary tables, the
uploaded data is what the loader validated; a table of the load-once cache that no step has read
into pandas is scanned in place instead, :func:`parquet_scan`). :func:`memtable` makes one
memtable per frame and column list and hands it out again, so each backend receives a frame
once (converted to Arrow, or to a Spark frame, once) however many steps use it; Ibis tables
already bound to a backend (e.g. ``con.table("orders")`` of a warehouse) run on that backend
whatever the setting. Connections are made on first use and kept for the process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from helpers.engine_settings import (  # re-exported: the setting is part of this module's API
    DEFAULT_SPARK_MASTER as DEFAULT_SPARK_MASTER,
)
from helpers.engine_settings import DUCKDB as DUCKDB
from helpers.engine_settings import NAMED as NAMED
from helpers.engine_settings import Engine as Engine
from helpers.engine_settings import parse as parse
from helpers.engine_settings import url_scheme
from helpers.engine_settings import url_schemes as url_schemes
from helpers.engine_types import untyped_type
from helpers.text_arrays import arrow_text


def engine_of(*frames: object) -> Engine:
    """The engine recorded on loaded tables (``frame.attrs["engine"]``, set by the
    :class:`~helpers.loading.Dataset`; for an Ibis table, the engine :func:`stable` recorded
    with it), else DuckDB. Frames without the mark are ignored."""
    for frame in frames:
        kept = _stable.get(id(frame))
        if kept is not None and kept[0]() is frame and kept[1] is not None:
            return kept[1]
        found = getattr(frame, "attrs", {}).get("engine") if frame is not None else None
        if isinstance(found, dict):
            return Engine(**found)
    return DUCKDB


def resolve(engine: Engine | str | None, *frames: object) -> Engine:
    """``engine`` itself (a string is parsed), or when None the one the frames carry."""
    if engine is None:
        return engine_of(*frames)
    return engine if isinstance(engine, Engine) else parse(engine)


def connect(engine: Engine | str | None = None):
    """The Ibis backend of ``engine`` (None: DuckDB), made on first use and kept.

    Raises ``RuntimeError`` with the install command when the engine's package is missing
    (pyspark, or the warehouse backend's driver).
    """
    return _connect(resolve(engine))


@cache
def _connect(engine: Engine):
    backend = _new_backend(engine)
    _backends.append(backend)
    return backend


def _new_backend(engine: Engine):
    import ibis

    if engine.kind == "duckdb":
        # A memory cap makes DuckDB spill large aggregations to disk instead of growing:
        # 10M order lines peak at ~0.8 GB with 512 MB here, ~1.1 GB without (bench_features).
        limit = os.environ.get("B2B_DUCKDB_MEMORY_LIMIT", "512MB")
        # One thread unless B2B_DUCKDB_THREADS asks for more: float sums split over threads
        # add in an order that depends on the thread count and the scheduling (DuckDB's own
        # float tests run single-threaded for that reason). Measured: the 100k-account
        # features on 2 threads differ in their last bits from the 1-thread table a batch
        # kernel computes. With one thread a notebook gives the same bytes in JupyterLab, in a
        # batch and on any machine; more threads trade that for speed.
        threads = int(os.environ.get("B2B_DUCKDB_THREADS") or 1)
        config = {"memory_limit": limit, "preserve_insertion_order": False, "threads": threads}
        import duckdb

        backend = ibis.duckdb.connect(**config)
        # no progress bar: outside Jupyter DuckDB draws one on stdout for queries over 2 s
        # (at 1M accounts, in scripts and benchmarks' logs); a session setting (DuckDB refuses
        # it as a global option at connect). In a Jupyter kernel without ipywidgets DuckDB
        # refuses to change it at all, and draws none there: left as it is
        with contextlib.suppress(duckdb.Error):
            backend.raw_sql("SET enable_progress_bar = false")
        return backend
    if engine.kind == "pyspark":
        return ibis.pyspark.connect(spark_session(engine.spark_master or DEFAULT_SPARK_MASTER))
    try:
        return ibis.connect(engine.name)
    except ImportError as exc:  # Ibis knows the backend, its driver is not installed
        scheme = url_scheme(engine.name)
        raise RuntimeError(
            f"engine {engine}: the Ibis backend '{scheme}' is not installed here; install it "
            f"with pip install 'ibis-framework[{scheme}]'"
        ) from exc


def spark_session(master: str = DEFAULT_SPARK_MASTER):
    """A Spark session on ``master`` (``getOrCreate``: an active session is reused, and keeps
    the settings fixed at its start).

    pandas frames travel to and from Spark through Arrow (without it PySpark converts them row
    by row in Python and ships them inside its tasks). Local masters get settings
    for small machines: two shuffle partitions instead of 200, no web UI (no port to collide
    with other sessions), no console progress bars.
    """
    try:
        from pyspark.sql import SparkSession
    except ModuleNotFoundError as exc:
        raise RuntimeError(
            "engine pyspark needs PySpark and a Java runtime: pip install -e '.[spark]' "
            "(and e.g. apt-get install openjdk-17-jre-headless)"
        ) from exc
    builder = SparkSession.builder.master(master).appName("b2b-insights")
    builder = builder.config("spark.sql.session.timeZone", "UTC").config(
        "spark.sql.execution.arrow.pyspark.enabled", "true"
    )
    if master.startswith("local"):
        builder = (
            builder.config("spark.sql.shuffle.partitions", "2")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
        )
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def to_pandas(expr, engine: Engine | str | None = None) -> pd.DataFrame:
    """Run ``expr`` and return the result as pandas (through Arrow, without Ibis' extra copies).

    An expression bound to a backend (built from that backend's tables) runs there; an
    unbound one (pandas frames as memtables) runs on ``engine`` (None: DuckDB).
    """
    return to_arrow(expr, engine).to_pandas()


def to_arrow(expr, engine: Engine | str | None = None):
    """Run ``expr`` and return the result as a ``pyarrow.Table`` (no pandas conversion: for
    callers that take columns as numpy arrays or encode strings themselves). Where it runs:
    as :func:`to_pandas`."""
    drop_dead_memtables()
    backend = _bound_backend(expr) or connect(engine)
    return backend.to_pyarrow(expr)


def to_batches(expr, engine: Engine | str | None = None, rows: int = 1_000_000) -> Iterator[Any]:
    """Run ``expr`` and yield its result as ``pyarrow.RecordBatch``es of at most about ``rows``
    rows each, typed as the expression's schema says (as :func:`to_arrow`'s table), for
    callers that reduce each batch to something smaller as it arrives instead of holding the
    whole result (the leads' early touches, :func:`helpers.leads.early_behaviour`; the payback
    margins, :func:`helpers.payback_period.margin_months`).
    Where it runs: as :func:`to_pandas`. Read every batch before running anything else on
    the same engine (DuckDB ends a streamed result when its connection runs another query).

    DuckDB streams the result (at most a few batches in memory). Ibis 12's DuckDB
    ``to_pyarrow_batches`` calls the cursor's ``fetch_record_batch``, which DuckDB 2.0 no
    longer has, so the relation's ``to_arrow_reader`` is read directly. Other backends use
    Ibis' ``to_pyarrow_batches``; PySpark's collects the whole table first and then slices
    it, so there the batches save nothing.
    """
    drop_dead_memtables()
    backend = _bound_backend(expr) or connect(engine)
    if backend.name == "duckdb":
        reader = backend._to_duckdb_relation(expr).to_arrow_reader(rows)
    else:
        reader = backend.to_pyarrow_batches(expr, chunk_size=rows)
    schema = expr.as_table().schema().to_pyarrow()
    for batch in reader:
        yield batch if batch.schema.equals(schema) else batch.cast(schema)


def _bound_backend(expr):
    try:
        return expr._find_backend(use_default=False)
    except Exception:  # memtables only: no backend bound yet
        return None


def mark(frames: Iterable[pd.DataFrame], engine: Engine) -> None:
    """Record ``engine`` on each frame (``attrs["engine"]``, a plain dict so the frame still
    writes to Parquet with its attrs), where :func:`engine_of` reads it."""
    for frame in frames:
        frame.attrs["engine"] = dataclasses.asdict(engine)


#: At most this many memtables are kept by :func:`memtable` (least recently used out first).
MEMTABLES = 32


@dataclasses.dataclass
class _Upload:
    frame: weakref.ref
    marks: tuple
    table: Any  # ibis.Table


_uploads: OrderedDict[tuple, _Upload] = OrderedDict()
#: Every backend :func:`connect` has made in this process.
_backends: list[Any] = []
#: Names of memtables whose Ibis node has been garbage-collected (no expression refers to them
#: any more); :func:`drop_dead_memtables` drops them from the backends.
_dead: list[str] = []


def memtable(frame: pd.DataFrame, columns: Sequence[str]):
    """An Ibis memtable of ``frame[columns]``: the same one for the same frame and columns.

    A memtable is uploaded to a backend once (DuckDB: converted to Arrow and registered; Spark:
    a Spark frame), so handing out the same one spares every later step that conversion (at
    100k accounts the 1.3M-line orders frame took about 0.3 s per conversion, 20 times in the
    churn notebook). The key is the frame's *identity* and the column list, guarded by cheap
    checks: the frame's shape and, for each column, its values array (a column replaced by
    ``frame[col] = ...`` or a dtype change gets a new memtable). The limit is the one
    :func:`helpers.features.shared_features` documents: values changed in place
    (``.loc[...] = ...``) are not noticed; code that does that must pass a copy or call
    :func:`forget_memtables`. A frame that is garbage-collected releases its memtables at
    once (a weak reference's callback); at most :data:`MEMTABLES` are kept. The memtable holds
    a copy of the columns (as before).
    """
    import ibis

    drop_dead_memtables()
    columns = list(columns)
    key = (id(frame), tuple(columns))
    marks = _marks(frame, columns)
    kept = _uploads.get(key)
    if kept is not None and kept.frame() is frame and _same(kept.marks, marks):
        _uploads.move_to_end(key)
        return kept.table
    arrow, schema = _to_arrow(frame[columns])
    table = ibis.memtable(arrow, schema=schema)
    weakref.finalize(table.op(), _dead.append, table.op().name)
    _uploads.pop(key, None)  # a stale one (changed columns, or a collected frame's id reused)
    _uploads[key] = _Upload(weakref.ref(frame, _forgetter(key)), marks, table)
    while len(_uploads) > MEMTABLES:
        _uploads.popitem(last=False)
    return stable(table, engine_of(frame))


#: Ibis tables recorded by :func:`stable`, by identity: a weak reference to the table (a
#: collected table leaves) and the engine its data belongs to (None: not known).
_stable: dict[int, tuple[weakref.ref, Engine | None]] = {}


def stable(table: Any, engine: Engine | None = None) -> Any:
    """Record that ``table`` (an Ibis table) reads data that does not change while the table
    lives, and return it: a memtable of a frame (:func:`memtable`; frames are not changed in
    place once passed) or a scan of a load-once cache entry (written once, kept open). A step
    that keeps results per input may then key them by the table's identity
    (:func:`helpers.features.shared_features`); an Ibis table of a warehouse connection is
    never recorded (its rows can change behind it), so such steps compute on every call.
    ``engine``: the engine of the data set the table comes from, which :func:`engine_of`
    then finds for it as it does for a loaded frame (a memtable of a Spark data set's frame
    runs on Spark)."""
    ident = id(table)

    def gone(ref: weakref.ref) -> None:
        if _stable.get(ident, (None,))[0] is ref:
            del _stable[ident]

    _stable[ident] = (weakref.ref(table, gone), engine)
    return table


def is_stable(table: object) -> bool:
    """Whether ``table`` is one :func:`stable` recorded (the object itself, not an equal one)."""
    kept = _stable.get(id(table))
    return kept is not None and kept[0]() is table


def _to_arrow(data: pd.DataFrame):
    """The schema of ``ibis.memtable(data)`` and the Arrow table its upload makes, converting
    each text column once.

    Why not ``ibis.memtable(data)``: Ibis infers a text (object) column's type by converting
    the whole column to Arrow and dropping it, then converts it again on upload (at 100k
    accounts the touchpoints' lead ids and channels: about 1 s each time). Here the types are
    Ibis' (Arrow's inference for object columns, Ibis' pandas mapping for the rest) and each
    column is what Ibis' upload makes of it (``pa.array(column, type, from_pandas=True)``, as
    ``Table.from_pandas`` with that schema does per column); an object column's first
    conversion is kept when it already has that type. A column with no value to be typed by
    (an object column of no rows or only missing values, which Arrow types ``null`` and no
    engine can compare; an all-missing float64 column named as a contract column that is not
    a number) is uploaded as nulls of its contract column's type, else text
    (:func:`helpers.engine_types.untyped_type`): frames built in code then run through the
    steps as loaded ones do."""
    import ibis
    import pyarrow as pa
    from ibis.formats.pandas import PandasType
    from ibis.formats.pyarrow import PyArrowSchema, PyArrowType

    first: dict[str, Any] = {}
    types = {}
    for name in data.columns:
        column = data[name]
        if column.dtype == object:
            first[name] = _chunked(pa.array(column, from_pandas=True))
            types[name] = PyArrowType.to_ibis(first[name].type)
        else:
            types[name] = PandasType.to_ibis(column.dtype)
        wanted = untyped_type(name, column, types[name])
        if wanted is not None:  # a column without values, built in code: typed by its name
            types[name] = ibis.dtype(wanted)
            first[name] = _chunked(pa.nulls(len(column), PyArrowType.from_ibis(types[name])))
    schema = ibis.schema(types)
    target = PyArrowSchema.from_ibis(schema)
    arrays = [
        first[f.name]
        if f.name in first and first[f.name].type == f.type
        else _own_text(data[f.name], f.type)
        or _chunked(pa.array(data[f.name], type=f.type, from_pandas=True))
        for f in target
    ]
    fields = [pa.field(f.name, a.type) for f, a in zip(target, arrays, strict=True)]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields)), schema


def _chunked(array: Any) -> Any:
    import pyarrow as pa

    return array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])


def _own_text(column: pd.Series, wanted: Any) -> Any:
    """An Arrow-backed text column's own chunks (:func:`helpers.text_arrays.arrow_text`),
    uploaded as they are where Ibis' type is string: casting them to string copied every value
    and offset (at 1M accounts the touchpoints' lead ids and channels, about 1 GB kept as long
    as the memtable); the engines read both as the same text. None for any other column."""
    import pyarrow as pa

    return arrow_text(column) if pa.types.is_string(wanted) else None


def _forgetter(key: tuple):
    """The callback that drops ``key``'s memtable (its copy of the columns and the arrays it
    compares) as soon as its frame is garbage-collected, unless the key holds a newer upload by
    then (a new frame at the same address)."""

    def forget(ref: weakref.ref) -> None:
        kept = _uploads.get(key)
        if kept is not None and kept.frame is ref:
            del _uploads[key]

    return forget


def _marks(frame: pd.DataFrame, columns: list[str]) -> tuple:
    """The frame's shape and each column's dtype and values array (kept, so its memory cannot
    be reused by a replacement while compared: address equality then means the same array)."""
    found = []
    for name in columns:
        values = frame[name].array
        if isinstance(frame[name].dtype, np.dtype):  # numbers, text objects, naive datetimes
            values = np.asarray(values)  # a view of the frame's block, not a copy
            found.append((values.dtype, values.__array_interface__["data"][0], values))
        else:  # an extension array: the object itself
            found.append((values.dtype, id(values), values))
    return (frame.shape, tuple(found))


def _same(old: tuple, new: tuple) -> bool:
    if old[0] != new[0] or len(old[1]) != len(new[1]):
        return False
    return all(
        a[0] == b[0] and a[1] == b[1] and np.shape(a[2]) == np.shape(b[2])
        for a, b in zip(old[1], new[1], strict=True)
    )


def forget_memtables() -> None:
    """Forget every memtable :func:`memtable` keeps (after changing a frame's values in place)."""
    _uploads.clear()


def drop_dead_memtables() -> None:
    """Drop the memtables no expression refers to any more from every backend that holds them.

    Why by hand: Ibis registers a memtable in a backend when an expression using it first runs
    and drops it only at interpreter exit (its finalizers are ``atexit`` hooks), so a DuckDB
    connection kept every frame ever uploaded, as Arrow, for the rest of the kernel (at 1M
    accounts, among others, the 36M touchpoints' columns of the attribution paths). A weak
    reference's finalizer on each memtable's node records its name when the node is collected;
    the names are dropped here, called before every upload and query (:func:`memtable`,
    :func:`to_arrow`, :func:`to_batches`), not in the finalizer itself: that can run during a
    DuckDB call (a garbage collection while DuckDB scans Python data), where using the
    connection again is not safe. Dropping a name a backend never registered does nothing.
    """
    while _dead:
        name = _dead.pop()
        for backend in _backends:
            with contextlib.suppress(Exception):  # a closed connection: nothing left to free
                if backend.name == "duckdb":
                    backend.con.unregister(name)
                else:
                    drop = backend._make_memtable_finalizer(name)
                    if drop is not None:
                        drop()


#: Files scanned in place by :func:`parquet_scan`, by (engine, device, inode): the open file
#: and the backend's view of it. Kept for the process (see there).
_scans: dict[tuple[Engine, int, int], tuple[Any, Any]] = {}
_PROC_FD = "/proc/self/fd"


def parquet_scan(file: Any, engine: Engine | str | None = None):
    """An Ibis table that reads the Parquet file open as ``file`` (a ``pyarrow.NativeFile``)
    in place, or None where that is not possible (an engine other than DuckDB, a system
    without ``/proc/self/fd``).

    Why: a step that only aggregates a large table in the engine (the touchpoints at 1M
    accounts: 36M rows, ~2 GB as pandas columns) then never holds it in pandas nor uploads it;
    DuckDB reads the row groups it needs under its memory cap. The file is named through its
    descriptor (``/proc/self/fd/N``), not its path, so a load-once cache entry pruned by
    another process meanwhile is still read (an open file outlives its deletion), as the
    loader's own readers do. Assumption: the file is not changed in place while open (cache
    entries are written once and renamed into place). The file and the view are kept for the
    life of the process: the view names the descriptor, so closing it (and the number being
    reused by another file) must not happen while an expression may still read it; one file
    per table of each entry read this way (the same file opened again reuses the first).
    """
    engine = resolve(engine)
    if engine.kind != "duckdb" or not os.path.isdir(_PROC_FD):
        return None
    stat = os.fstat(file.fileno())
    key = (engine, stat.st_dev, stat.st_ino)
    kept = _scans.get(key)
    if kept is None:
        view = connect(engine).read_parquet(f"{_PROC_FD}/{file.fileno()}")
        kept = _scans[key] = (file, view)
    return kept[1]
