"""One entry of the load-once cache (:mod:`helpers.loading.cache`): a validated data set stored
as one Parquet file per table and a ``manifest.json``, written into a temporary folder and
renamed into place, read back into the same frames.

Only what Parquet gives back exactly is stored: numbers, booleans, naive ``datetime64[ns]`` and
text columns (Arrow-backed ``str``, :data:`~helpers.loading.parse.TEXT`) under a range index;
anything else raises :class:`Uncacheable` (the load then works without the cache). Id-like text
columns (``distinct_text`` in the manifest) are stored without a Parquet dictionary. An
entry that cannot be read, or differs from its manifest, is removed and reported as missing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from helpers.loading import read
from helpers.loading.lazy_tables import READ_ERRORS, LazyTables
from helpers.loading.parse import TEXT
from helpers.loading.read import arrow_to_pandas
from helpers.memory import give_back
from helpers.validation import Problem

if TYPE_CHECKING:
    from helpers.loading.dataset import Dataset

#: Layout of an entry (manifest fields, file names, what the Parquet files hold); bump when it
#: changes. 3: tables written from Arrow without pandas metadata (same frames read back).
#: 4: text columns are Arrow-backed ``str`` (:data:`~helpers.loading.parse.TEXT`), missing text NaN.
ENTRY_FORMAT = 4

_log = logging.getLogger("helpers.loading.cache")  # one logger for the whole cache


class Uncacheable(ValueError):
    """A table Parquet would not give back exactly (the data set is used without caching)."""


def _encode(value: Any) -> Any:
    """``attrs`` values as JSON, tuples and dicts tagged so they come back as they were."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, tuple):
        return {"tuple": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"dict": {k: _encode(v) for k, v in value.items()}}
    raise Uncacheable(f"attrs value of type {type(value).__name__}")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if "tuple" in value:
            return tuple(_decode(v) for v in value["tuple"])
        return {k: _decode(v) for k, v in value["dict"].items()}
    return value


@contextlib.contextmanager
def every_core() -> Iterator[None]:
    """Arrow's thread pool at the machine's core count while a data set is built or a table
    read from an entry (a batch kernel's ``OMP_NUM_THREADS=1`` makes it one thread): reading
    Parquet and converting to pandas give the same frames with any number of threads. The
    process that builds is the one the others wait for (the lock of
    :func:`~helpers.loading.cache.cached_load`); a kernel reading a table uses the other core
    when the other job's kernel is waiting or starting (at 1M accounts the touchpoints take
    20-40 s on one thread)."""
    before = pa.cpu_count()
    pa.set_cpu_count(max(before, os.cpu_count() or 1))
    try:
        yield
    finally:
        pa.set_cpu_count(before)


def _to_arrow(frame: pd.DataFrame) -> pa.Table:
    """``frame`` (range index, checked by :func:`_check_exact`) as an Arrow table without pandas
    metadata, whose :func:`read.arrow_to_pandas` is ``frame``: numbers, dates and the text
    columns' Arrow buffers are shared, not copied."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return table.replace_schema_metadata(None)


def _check_exact(name: str, frame: pd.DataFrame) -> None:
    """Raise :class:`Uncacheable` unless Parquet gives ``frame`` back exactly: numbers,
    booleans, naive ``datetime64[ns]`` and :data:`~helpers.loading.parse.TEXT` columns under a range index."""
    index = frame.index
    if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
        raise Uncacheable(f"{name}: index is not a range from 0")
    if not all(isinstance(c, str) for c in frame.columns) or frame.columns.has_duplicates:
        raise Uncacheable(f"{name}: column names are not unique text")
    for column in frame.columns:
        dtype = frame[column].dtype
        numeric = isinstance(dtype, np.dtype) and (dtype.kind in "biuf" or dtype == "M8[ns]")
        if not (numeric or dtype == TEXT):
            raise Uncacheable(f"{name}.{column}: dtype {dtype} is not among those stored")


def write_entry(root: Path, key: str, ds: Dataset) -> Path:
    """Store ``ds`` (unfiltered) as entry ``key`` of ``root``; return the entry folder.

    Written into a temporary folder first, then renamed into place. When another process has
    put the same key in place meanwhile, its entry is kept and this one discarded (both calls
    succeed). Raises :class:`Uncacheable` when a table would not come back exactly.
    """
    for name, frame in ds.tables.items():
        _check_exact(name, frame)
    arrow = {name: _to_arrow(frame) for name, frame in ds.tables.items()}
    tables = [
        {
            "name": name,
            "file": f"{name}.parquet",
            "rows": len(frame),
            "dtypes": {str(c): str(t) for c, t in frame.dtypes.items()},
            "attrs": _encode(dict(frame.attrs)),
            "distinct_text": read.distinct_text(arrow[name]),
        }
        for name, frame in ds.tables.items()
    ]
    manifest = {
        "format": ENTRY_FORMAT,
        "key": key,
        "created": pd.Timestamp.now(tz="UTC").isoformat(),
        "source": ds.source,
        "analysis_date": pd.Timestamp(ds.analysis_date).isoformat(),
        "fingerprint": ds.fingerprint,
        "warnings": [dataclasses.asdict(w) for w in ds.warnings],
        "currency": ds.currency,
        "display_names": dict(ds.display_names),
        "attributes": dict(ds.attributes),
        "tables": tables,
    }
    root.mkdir(parents=True, exist_ok=True)
    final = root / key
    tmp = root / f".tmp-{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        # One table per thread: Arrow writes without the GIL (the files do not depend on it).
        # No dictionary for id columns (one value per row: Arrow would build one and give it
        # up) and no statistics (entries are read whole): same values, less work.
        def write(e: dict[str, Any]) -> None:
            table = arrow[e["name"]]
            repeated = [c for c in table.column_names if c not in e["distinct_text"]]
            options = {"use_dictionary": repeated, "write_statistics": False}
            pq.write_table(table, tmp / e["file"], **options)

        with ThreadPoolExecutor(max_workers=min(len(tables), os.cpu_count() or 1) or 1) as pool:
            list(pool.map(write, tables))
        for entry in tables:
            entry["bytes"] = (tmp / entry["file"]).stat().st_size
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        if final.exists() and not (final / "manifest.json").is_file():
            remove_entry(root, key)  # debris without a manifest: never a whole entry
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / "manifest.json").is_file():
                raise
            # another process put the same key in place first: keep its entry
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone after the rename, or the loser's copy
    return final


def _reader(
    name: str, parquet: pq.ParquetFile, entry: dict[str, Any]
) -> Callable[..., pd.DataFrame]:
    """The frame of table ``entry`` from its opened file (``columns``: only those, in that
    order), checked against the manifest's row count and dtypes (anything else raises
    ``ValueError``)."""

    def read(columns: list[str] | None = None) -> pd.DataFrame:
        with every_core():
            frame = arrow_to_pandas(parquet.read(columns=columns))
        give_back()  # the Parquet pages and the narrower text offsets the read freed
        dtypes = {str(c): str(t) for c, t in frame.dtypes.items()}
        recorded = entry["dtypes"] if columns is None else {c: entry["dtypes"][c] for c in columns}
        if len(frame) != entry["rows"] or dtypes != recorded:
            raise ValueError(f"{name} differs from its record")
        frame.attrs = _decode(entry["attrs"])
        return frame

    return read


def read_entry(
    root: Path, key: str, rebuild: Callable[[], Dataset] | None = None
) -> Dataset | None:
    """The data set stored as ``key``, or None when there is none or it is damaged.

    Its tables are a :class:`~helpers.loading.lazy_tables.LazyTables`: each file is opened and
    checked here (size and row count as recorded), and read into pandas when the table is
    first used; ``rebuild`` loads the same data set another way if a file fails then (its
    fingerprint must be the entry's, else the source has changed meanwhile: ``ValueError``).
    A damaged entry (unreadable manifest or file, a size or row count other than recorded) is
    removed so the next build replaces it.
    """
    from helpers.loading.dataset import Dataset

    folder = root / key
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        return None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest["format"] != ENTRY_FORMAT or manifest["key"] != key:
            raise ValueError("entry of another format or key")
        readers, files = {}, {}
        for entry in manifest["tables"]:
            path = folder / entry["file"]
            if path.stat().st_size != entry["bytes"]:
                raise ValueError(f"{entry['file']} has another size than recorded")
            files[entry["name"]] = pa.OSFile(str(path))  # open: outlives a prune
            parquet = pq.ParquetFile(files[entry["name"]])
            if parquet.metadata.num_rows != entry["rows"]:
                raise ValueError(f"{entry['file']} has another row count than recorded")
            readers[entry["name"]] = _reader(entry["file"], parquet, entry)

        def fallback() -> Mapping[str, pd.DataFrame]:
            remove_entry(root, key)
            if rebuild is None:
                raise ValueError(f"cache entry {key} became unreadable; load the data set again")
            fresh = rebuild()
            if fresh.fingerprint != manifest["fingerprint"]:
                raise ValueError(
                    f"cache entry {key} became unreadable while in use and its source files "
                    "have changed since; run the notebook again"
                )
            return fresh.tables

        ds = Dataset(
            tables=LazyTables(
                readers, fallback, {e["name"]: e["rows"] for e in manifest["tables"]}, files
            ),
            source=manifest["source"],
            analysis_date=pd.Timestamp(manifest["analysis_date"]),
            fingerprint=manifest["fingerprint"],
            warnings=[
                Problem(w["file"], w["column"], w["rule"], tuple(w["rows"]), w["count"])
                for w in manifest["warnings"]
            ],
            currency=manifest["currency"],
            display_names=manifest["display_names"],
            attributes=manifest["attributes"],
        )
    except READ_ERRORS as exc:
        _log.warning("ignoring damaged cache entry %s (%s); it is rebuilt", folder, exc)
        remove_entry(root, key)
        return None
    with contextlib.suppress(OSError):
        os.utime(manifest_path)  # last use, for pruning
    return ds


def remove_entry(root: Path, key: str) -> None:
    """Delete entry ``key``: renamed aside first, so nobody sees it half deleted."""
    aside = root / f".trash-{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        os.rename(root / key, aside)
    except OSError:
        return  # already gone (another process removed or is replacing it)
    shutil.rmtree(aside, ignore_errors=True)
