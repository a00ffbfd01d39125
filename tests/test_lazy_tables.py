"""A data set read from the load-once cache builds each table when first used
(helpers.loading.lazy_tables), and gives the same frames as a fresh load whatever happens to the
entry meanwhile."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from fixtures.exports import shapes

from helpers import engine
from helpers.engine import Engine
from helpers.loading import cache, entry, load_dataset
from helpers.loading.lazy_tables import LazyTables


@pytest.fixture
def cached(tmp_path, root):
    """(source, fresh data set without the cache, data set read back from the cache)."""
    source = shapes.write_shape2(tmp_path)  # accounts and orders
    fresh = load_dataset(source, cache=False)
    load_dataset(source)
    got = load_dataset(source)
    assert cache.last_outcome == "hit"
    return source, fresh, got


def _open_files(folder: Path) -> list[str]:
    """The files under ``folder`` this process holds open (Linux)."""
    fds = Path("/proc/self/fd")
    links = [os.readlink(fd) for fd in fds.iterdir() if fd.is_symlink()]
    return sorted(Path(link).name for link in links if link.startswith(str(folder)))


def _same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert got.attrs == want.attrs


def test_tables_are_known_at_once_and_read_one_by_one(cached, monkeypatch):
    _, fresh, got = cached
    assert isinstance(got.tables, LazyTables) and got.tables.read() == []
    assert list(got.tables) == list(fresh.tables) and len(got.tables) == 2
    assert got.has("orders") and not got.has("leads") and "leads" not in got.tables
    assert got.tables.get("leads") is None
    conversions = []
    real = entry.arrow_to_pandas
    monkeypatch.setattr(entry, "arrow_to_pandas", lambda *a: conversions.append(1) or real(*a))
    orders = got["orders"]
    assert got.tables.read() == ["orders"] and len(conversions) == 1
    assert got.tables.get("orders") is orders and len(conversions) == 1  # kept, same object
    _same(orders, fresh["orders"])
    _same(got["accounts"], fresh["accounts"])
    assert len(conversions) == 2


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_each_file_stays_open_until_its_table_is_read(cached, root):
    _, _, got = cached
    assert _open_files(root) == ["accounts.parquet", "orders.parquet"]
    got["orders"]
    assert _open_files(root) == ["accounts.parquet"]
    got["accounts"]
    assert _open_files(root) == []


def test_frames_read_later_carry_the_data_sets_engine(cached):
    _, _, got = cached
    spark = Engine("pyspark", spark_master="local[1]")
    early = got["accounts"]
    other = dataclasses.replace(got, engine=spark)
    assert early.attrs["engine"]["name"] == "pyspark"  # marked when the engine was set
    assert other.columns("orders", ["status"]).attrs["engine"]["name"] == "pyspark"  # columns
    assert other["orders"].attrs["engine"]["name"] == "pyspark"  # and when read afterwards


def test_an_entry_removed_after_the_load_is_still_read(cached, root):
    _, fresh, got = cached
    assert cache.clear(root) >= 1 and not cache.entries(root)  # e.g. pruned by another batch
    _same(got["orders"], fresh["orders"])
    _same(got["accounts"], fresh["accounts"])
    assert not cache.entries(root)  # read from the files opened before, not loaded again


def test_a_table_that_fails_when_read_is_loaded_again_from_the_source(cached, root, monkeypatch):
    _, fresh, got = cached
    real = entry.arrow_to_pandas
    calls = []

    def damaged(*args):
        calls.append(1)
        if len(calls) == 1:
            raise pa.ArrowInvalid("corrupt page")  # e.g. the disk damaged the file
        return real(*args)

    monkeypatch.setattr(entry, "arrow_to_pandas", damaged)
    _same(got["orders"], fresh["orders"])
    assert cache.last_outcome == "miss"  # loaded again and stored again
    accounts = got.engine_table("accounts", ["account_id"])  # not a scan of the dropped entry
    assert engine._bound_backend(accounts) is None
    _same(got["accounts"], fresh["accounts"])
    assert len(cache.entries(root)) == 1


def test_a_failing_table_of_a_changed_source_is_an_error_not_other_data(cached, monkeypatch):
    source, _, got = cached
    monkeypatch.setattr(cache, "SETTLED_SECONDS", 0.0)
    orders = Path(source).parent / "invoices.csv"
    orders.write_text(orders.read_text().replace("29.85", "30.85"))
    monkeypatch.setattr(entry, "arrow_to_pandas", lambda *a: (_ for _ in ()).throw(OSError("gone")))
    with pytest.raises(ValueError, match="source files have changed since"):
        got["orders"]


def test_assigning_and_deleting_tables_work_as_on_a_dict(cached):
    _, fresh, got = cached
    small = fresh["orders"].head(2)
    got.tables["orders"] = small
    assert got["orders"] is small and got.tables.read() == ["orders"]
    del got.tables["accounts"]
    assert list(got.tables) == ["orders"] and not got.has("accounts")
    assert dict(got.tables) == {"orders": small}


def test_the_load_that_builds_gives_back_the_stored_entry_not_the_built_frames(tmp_path, root):
    """The kernel that builds a new entry lets the built frames go (every table, ~7 GB at 1M
    accounts) and reads back only what it uses, as the other kernels do: same frames."""
    source = shapes.write_shape2(tmp_path)
    fresh = load_dataset(source, cache=False)
    built = load_dataset(source)
    assert cache.last_outcome == "miss"
    assert isinstance(built.tables, LazyTables) and built.tables.read() == []
    for name in fresh.tables:
        _same(built[name], fresh[name])
    assert built.fingerprint == fresh.fingerprint and built.warnings == fresh.warnings


def test_columns_of_a_table_not_read_yet_are_read_alone(cached):
    """``Dataset.columns`` reads the asked columns from the entry without reading (or
    keeping) the whole table; once the table is read, they come from its frame."""
    _, fresh, got = cached
    part = got.columns("orders", ["order_date", "status"])
    assert got.tables.read() == []  # the table itself was not read
    _same(part, fresh["orders"][["order_date", "status"]])
    assert list(part.columns) == ["order_date", "status"]
    orders = got["orders"]
    again = got.columns("orders", ["status"])
    _same(again, orders[["status"]])
    _same(fresh.columns("orders", ["status"]), fresh["orders"][["status"]])  # a plain data set


def test_row_counts_read_no_table(cached):
    _, fresh, got = cached
    assert {n: got.rows(n) for n in got.tables} == {n: len(f) for n, f in fresh.tables.items()}
    assert got.tables.read() == []
    got.tables["orders"] = got["orders"].head(3)  # a replaced table counts as it is now
    assert got.rows("orders") == 3 and fresh.rows("orders") == len(fresh["orders"])


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in a fixed order (an engine gives no row order), values as plain Python objects."""
    return frame.astype(object).sort_values(list(frame.columns)).reset_index(drop=True)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_the_engine_scans_a_table_not_read_yet_in_place(cached, root):
    """``Dataset.engine_table`` of a table not read into pandas is DuckDB scanning the entry
    file (no frame built, no upload), with the rows and values of the table; it still reads
    when the entry is pruned meanwhile. Once the frame is built, the frame is uploaded."""
    _, fresh, got = cached
    names = ["account_id", "order_date", "net_amount", "status"]
    scan = got.engine_table("orders", names)
    assert got.tables.read() == [] and engine._bound_backend(scan) is not None  # a file scan
    assert scan.columns == tuple(names)
    want = _sorted(fresh["orders"][names])
    pd.testing.assert_frame_equal(_sorted(engine.to_pandas(scan)), want, check_exact=True)
    assert cache.clear(root) >= 1 and not cache.entries(root)  # pruned by another batch
    pd.testing.assert_frame_equal(_sorted(engine.to_pandas(scan)), want, check_exact=True)
    again = got.engine_table("orders", ["net_amount"])  # a later step: the same open file
    assert engine.to_pandas(again)["net_amount"].sum() == fresh["orders"]["net_amount"].sum()
    got["orders"]  # now a frame: a scan handed out stays the same object (steps key by it) ...
    assert got.engine_table("orders", names) is scan and engine.is_stable(scan)
    upload = got.engine_table("orders", names[:2])  # ... other columns: the frame's upload
    assert engine._bound_backend(upload) is None
    assert got.engine_table("orders", names[:2]) is upload  # the frame's memtable, kept
    pd.testing.assert_frame_equal(
        _sorted(engine.to_pandas(upload)), want[names[:2]], check_exact=True
    )
    got.tables["orders"] = got["orders"].head(3)  # a replaced table: no scan of the old file
    assert len(engine.to_pandas(got.engine_table("orders", names))) == 3
    with pytest.raises(KeyError):
        got.engine_table("leads", ["lead_id"])
    pd.testing.assert_frame_equal(  # a plain data set: its frame uploaded
        _sorted(engine.to_pandas(fresh.engine_table("orders", names))), want, check_exact=True
    )


def test_engines_that_cannot_scan_the_file_get_the_frames_columns(cached, monkeypatch):
    _, fresh, got = cached
    assert engine.parquet_scan(pa.BufferReader(b""), Engine("pyspark")) is None  # not DuckDB
    monkeypatch.setattr(engine, "_PROC_FD", "/no/such/folder")  # e.g. macOS, Windows
    table = got.engine_table("orders", ["order_id", "net_amount"])
    assert engine._bound_backend(table) is None and got.tables.read() == []
    pd.testing.assert_frame_equal(
        _sorted(engine.to_pandas(table)),
        _sorted(fresh["orders"][["order_id", "net_amount"]]),
        check_exact=True,
    )
