"""The tables of a data set read from the load-once cache, each read when first asked for.

A notebook uses some of the tables (notebook 02 only accounts and orders); reading and
converting the others into pandas is pure cost: at 100k accounts the touchpoints alone take
~0.5 GB in every kernel that reads them, ten times that at 1M.
:class:`LazyTables` is the ``tables`` mapping of a :class:`~helpers.loading.Dataset` read from
an entry (:func:`helpers.loading.entry.read_entry`): which tables exist is known at once (so
``"leads" in ds.tables`` and ``Dataset.require`` cost nothing), a table's frame is built on its
first ``[]``/``get`` and then kept, so every later access gives the same object (the engine's
uploads and shared features are keyed by frame identity).

Assumptions
-----------
- The entry's files are opened when the data set is read (:func:`read_entry` checks each one's
  size and row count there), so a later read still finds them when another process prunes the
  entry meanwhile (an open file outlives its deletion).
- A file that still fails when its table is read (damaged after the check) is not fatal: the
  data set is loaded again from its source through ``rebuild`` and the table taken from that
  (the same validated data; an entry is only kept for unchanged files), the entry being dropped.
- Iterating values or items reads every table (as a plain dict holds them all); assigning a
  table replaces it (tests and interactive work do).
- An engine-side step that only aggregates a table asks for it as an Ibis table
  (:meth:`LazyTables.engine_table`): when its frame has not been built, DuckDB scans the open
  entry file in place (:func:`helpers.engine.parquet_scan`), so the table never passes through
  pandas in that kernel; the file holds the validated frame as written (its dtypes were checked
  when the entry was read).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

import pandas as pd
import pyarrow as pa

from helpers.engine import (
    DUCKDB,
    Engine,
    engine_of,
    mark,
    memtable,
    parquet_scan,
    stable,
    to_pandas,
)

_log = logging.getLogger("helpers.loading.cache")

#: What reading a table may raise when its file was damaged after the entry was checked.
READ_ERRORS = (OSError, ValueError, KeyError, TypeError, pa.ArrowException)


class LazyTables(MutableMapping[str, pd.DataFrame]):
    """``{table name: frame}`` whose frames are built by ``readers[name]()`` on first access.

    ``rebuild`` (optional) gives every table of the same data set another way (a fresh load)
    when a reader fails; without it the reader's error is raised. ``rows`` (optional): each
    table's row count, known without reading it. ``files`` (optional): each table's open
    Parquet file (a ``pyarrow.NativeFile``), which the engine may scan in place
    (:meth:`engine_table`). ``views`` (optional): for a table, a function of column names
    giving its engine table without a file of its own (a filtered data set's orders: the
    parent's scan restricted to the kept accounts, :mod:`helpers.loading.filtered`); it counts
    the table's rows too. :meth:`mark` records the data set's engine on the frames read so
    far and on those read later.
    """

    def __init__(
        self,
        readers: Mapping[str, Callable[..., pd.DataFrame]],
        rebuild: Callable[[], Mapping[str, pd.DataFrame]] | None = None,
        rows: Mapping[str, int] | None = None,
        files: Mapping[str, pa.NativeFile] | None = None,
        views: Mapping[str, Callable[[list[str]], Any]] | None = None,
    ) -> None:
        self._readers = dict(readers)
        self._rows = dict(rows or {})
        self._files = dict(files or {})
        self._views = dict(views or {})
        self._frames: dict[str, pd.DataFrame] = {}
        self._scanned: dict[tuple[str, tuple[str, ...]], Any] = {}  # engine_table's scans
        self._rebuild = rebuild
        self._engine: Engine | None = None

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name in self._frames:
            return self._frames[name]
        reader = self._readers[name]  # KeyError for a table the data set does not have
        try:
            frame = reader()
        except READ_ERRORS as exc:
            if self._rebuild is None:
                raise
            _log.warning("cached table %s could not be read (%s); loading it again", name, exc)
            fresh = self._rebuild()
            self._rebuild = None  # one fresh load serves every table not read yet
            self._files.clear()  # the entry is dropped: the engine gets the fresh frames
            self._scanned.clear()
            self._readers = {n: kept_reader(f) for n, f in fresh.items()} | {
                n: kept_reader(f) for n, f in self._frames.items()
            }
            frame = self._readers[name]()
        if self._engine is not None:
            mark([frame], self._engine)
        self._frames[name] = frame
        self._readers[name] = kept_reader(frame)  # lets the reader (and its open file) go
        self._files.pop(name, None)  # (kept open only by a scan of it, for that scan)
        return frame

    def __setitem__(self, name: str, frame: pd.DataFrame) -> None:
        self._files.pop(name, None)  # the entry's file no longer holds this table
        self._views.pop(name, None)
        self._forget_scans(name)
        self._readers[name] = kept_reader(frame)
        self._frames[name] = frame

    def __delitem__(self, name: str) -> None:
        del self._readers[name]
        self._files.pop(name, None)
        self._views.pop(name, None)
        self._forget_scans(name)
        self._frames.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self._readers

    def __iter__(self) -> Iterator[str]:
        return iter(self._readers)

    def __len__(self) -> int:
        return len(self._readers)

    def __repr__(self) -> str:
        return f"LazyTables({list(self._readers)}, read: {self.read()})"

    def _forget_scans(self, name: str) -> None:
        for key in [k for k in self._scanned if k[0] == name]:
            del self._scanned[key]

    def rows(self, name: str) -> int:
        """Rows of table ``name``: recorded with the entry (checked against its file when it was
        opened) for a table not read yet, so a count does not read the table; a view's rows
        counted in the engine."""
        if name not in self._frames and name in self._rows and name in self._readers:
            return self._rows[name]
        if name not in self._frames and name in self._views:
            key = self.engine_table(name, ["account_id"])  # every viewed table has one
            counted = to_pandas(key.aggregate(n=key.count()), engine_of(key))
            self._rows[name] = int(counted["n"].iloc[0])
            return self._rows[name]
        return len(self[name])

    def known_rows(self, name: str) -> int | None:
        """Rows of table ``name`` when known without reading or counting it, else None."""
        if name in self._frames:
            return len(self._frames[name])
        return self._rows.get(name)

    def peek(self, name: str) -> pd.DataFrame:
        """Table ``name``'s frame without keeping it: the kept one when read, else read from
        its reader for the caller alone (a filtered data set takes its rows from it,
        :mod:`helpers.loading.filtered`). A reader that fails reads it the kept way
        (:meth:`__getitem__`, with its fallback)."""
        if name in self._frames:
            return self._frames[name]
        try:
            frame = self._readers[name]()
        except READ_ERRORS:
            return self[name]
        if self._engine is not None:
            mark([frame], self._engine)
        return frame

    def columns(self, name: str, names: list[str]) -> pd.DataFrame:
        """Columns ``names`` of table ``name``: from its frame when it has been read, else
        read from the entry alone, without reading (or keeping) the whole table; a summary
        of a few columns of the 36M touchpoints at 1M then costs seconds, not the table."""
        if name not in self._frames:
            reader = self._readers[name]  # KeyError for a table the data set does not have
            try:
                part = reader(list(names))
            except (*READ_ERRORS, KeyError) as exc:  # KeyError: a column not recorded
                _log.info("columns of cached table %s not read alone (%s)", name, exc)
            else:
                if self._engine is not None:
                    mark([part], self._engine)
                return part
        return self[name][list(names)]

    def engine_table(self, name: str, names: list[str]):
        """Columns ``names`` of table ``name`` as an Ibis table for an engine-side step: the
        entry file scanned in place when the table's frame has not been built and the engine
        can (DuckDB on Linux, :func:`helpers.engine.parquet_scan`), else a memtable of the
        frame (when built), else of the columns read alone (:meth:`columns`). The same rows
        and values either way.

        The same name and columns give the same table object, recorded as
        :func:`helpers.engine.stable`, so steps that keep results per input (the churn study's
        shared features, asked for four times per date) find them again: a scan handed out
        once is handed out again after the frame is read too (the same rows; a memtable would
        be a second object), until the table is replaced or the entry dropped; a memtable of
        the frame is the same one while the frame lives (:func:`helpers.engine.memtable`).
        Only columns read alone (no frame, no scan: Spark, a system without ``/proc``) give a
        new memtable per call, which is not kept (it holds a copy of the columns)."""
        if name not in self._readers:
            raise KeyError(name)  # a table the data set does not have
        names = list(names)
        kept = self._scanned.get((name, tuple(names)))
        if kept is not None:  # also once the frame is read: the same object, the same rows
            return kept
        if name not in self._frames and name in self._views:
            table = self._scanned[(name, tuple(names))] = self._views[name](names)
            return table
        file = self._files.get(name)
        if name not in self._frames and file is not None:
            try:
                scan = parquet_scan(file, self._engine or DUCKDB)
            except Exception as exc:  # noqa: BLE001 - any failure: the pandas way below works
                _log.info("cached table %s not scanned in place (%s)", name, exc)
                scan = None
            if scan is not None and set(names) <= set(scan.columns):
                table = self._scanned[(name, tuple(names))] = stable(scan.select(names), DUCKDB)
                return table
        if name in self._frames:
            return memtable(self._frames[name], names)
        return memtable(self.columns(name, names), names)

    def read(self) -> list[str]:
        """The tables whose frames have been built so far (in table order)."""
        return [n for n in self._readers if n in self._frames]

    def mark(self, engine: Engine) -> None:
        """Record ``engine`` on the frames read so far and on every frame read later."""
        self._engine = engine
        mark(self._frames.values(), engine)


def kept_reader(frame: pd.DataFrame) -> Callable[..., pd.DataFrame]:
    """A reader of a frame already in memory (all columns, or ``columns`` of it)."""
    return lambda columns=None: frame if columns is None else frame[columns]
