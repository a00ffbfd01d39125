"""helpers.engine: the ``engine:`` setting, the backend it connects to (DuckDB by default), and
the engine-side steps following the engine that the loaded frames carry.

Spark itself is in ``test_spark_parity.py`` (marked ``spark``: tens of seconds of start-up);
here an Ibis URL to an in-memory SQLite stands for a warehouse, so the URL path runs on every
``make test``.
"""

from __future__ import annotations

import sys

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from helpers import engine
from helpers.features import (
    connection,
    customer_features,
    features_for,
    orders_table,
)
from helpers.loading import Dataset
from helpers.order_gaps import gap_counts
from helpers.survival.bgnbd import purchase_days
from helpers.survival.definition import export_start


def assert_same_table(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Same columns in the same order, same dtypes, same rows; numbers equal to 1e-9."""
    assert list(got.columns) == list(expected.columns)
    assert got.dtypes.to_dict() == expected.dtypes.to_dict()
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(
    ("value", "master", "expected"),
    [
        (None, None, engine.Engine("duckdb")),
        ("duckdb", None, engine.Engine("duckdb")),
        ("PySpark", None, engine.Engine("pyspark")),
        ("pyspark", "spark://host:7077", engine.Engine("pyspark", "spark://host:7077")),
        ("postgres://me@db.example/sales", None, engine.Engine("postgres://me@db.example/sales")),
        ("bigquery://project/dataset", None, engine.Engine("bigquery://project/dataset")),
        ("snowflake://me@acct/db/schema", None, engine.Engine("snowflake://me@acct/db/schema")),
    ],
)
def test_parse_accepts_the_documented_settings(value, master, expected):
    assert engine.parse(value=value, spark_master=master) == expected


@pytest.mark.parametrize(
    ("value", "master", "message"),
    [
        ("spark", None, "engine 'spark' is not known; use duckdb (default), pyspark, or an Ibis"),
        ("postgress://me@db/sales", None, "engine URL scheme 'postgress' is not an Ibis backend"),
        (5, None, "engine must be duckdb, pyspark or an Ibis connection URL, got 5"),
        ("", None, "engine must be duckdb, pyspark or an Ibis connection URL, got ''"),
        ("duckdb", "local[2]", "spark_master is only for engine: pyspark"),
        ("pyspark", "", "spark_master must be a Spark master URL such as local[2]"),
    ],
)
def test_parse_refuses_unknown_settings(value, master, message):
    with pytest.raises(ValueError) as info:
        engine.parse(value=value, spark_master=master)
    assert str(info.value).startswith(message)


def test_engine_names_itself_without_a_password():
    assert str(engine.Engine("postgres://me:secret@db/sales")) == "postgres://me:***@db/sales"
    assert str(engine.Engine("pyspark")) == "pyspark (local[2])"
    assert str(engine.Engine("pyspark", "local[4]")) == "pyspark (local[4])"


def test_default_connection_is_the_one_in_process_duckdb():
    backend = engine.connect()
    assert backend.name == "duckdb"
    assert engine.connect(engine="duckdb") is backend
    assert connection() is backend  # features' DuckDB is the engine's, not a second one
    # no progress bar drawn on stdout (it landed in the notebooks' outputs at 1M accounts)
    setting = "select current_setting('enable_progress_bar')"
    assert backend.raw_sql(setting).fetchall() == [(False,)]


@pytest.mark.parametrize(("setting", "threads"), [(None, 1), ("", 1), ("2", 2)])
def test_duckdb_runs_one_thread_unless_asked_for_more(monkeypatch, setting, threads):
    """Float sums split over threads add in an order that changes with the thread count (the
    100k-account features on 2 threads differ in their last bits from 1 thread's): one thread
    unless ``B2B_DUCKDB_THREADS`` asks for more, wherever the process runs (JupyterLab, a
    batch kernel, a script)."""
    if setting is None:
        monkeypatch.delenv("B2B_DUCKDB_THREADS", raising=False)
    else:
        monkeypatch.setenv("B2B_DUCKDB_THREADS", setting)
    backend = engine._new_backend(engine.parse("duckdb"))
    assert backend.raw_sql("select current_setting('threads')").fetchall() == [(threads,)]


def test_spark_without_pyspark_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(RuntimeError, match=r"pip install -e '\.\[spark\]'"):
        engine.spark_session(master="local[1]")


def test_a_warehouse_without_its_driver_says_which_extra_to_install(monkeypatch):
    def missing(url, **kwargs):
        raise ImportError("psycopg is not installed")

    monkeypatch.setattr(ibis, "connect", missing)
    with pytest.raises(RuntimeError) as info:
        engine.connect(engine="postgresql://me:secret@db/sales")
    assert "ibis-framework[postgres]" in str(info.value)
    assert "secret" not in str(info.value)


def _orders() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": ["O1", "O2", "O3"],
            "account_id": ["A1", "A1", "A2"],
            "order_date": pd.to_datetime(["2025-01-01", "2025-03-01", "2025-02-01"]),
            "net_amount": [100.0, 50.0, 80.0],
            "gross_margin": [30.0, 10.0, 20.0],
            "quantity": [1.0, 2.0, 3.0],
            "product_category": ["x", "y", "x"],
            "status": ["completed"] * 3,
        }
    )


def test_steps_given_loaded_frames_run_on_the_engine_the_frames_carry(monkeypatch):
    asked: list[engine.Engine] = []
    duckdb = engine.connect()

    def recording(engine=None):  # runs on DuckDB, records what was asked for
        asked.append(engine)
        return duckdb

    monkeypatch.setattr(engine, "connect", recording)
    spark = engine.Engine("pyspark", "local[1]")
    ds = Dataset(
        tables={"orders": _orders()},
        source="test",
        analysis_date=pd.Timestamp("2025-06-30"),
        fingerprint="0",
        engine=spark,
    )
    assert engine.engine_of(ds["orders"]) == spark
    assert engine.engine_of(ds.filter(criteria=None)["orders"]) == spark
    features_for(ds)
    customer_features(ds["orders"], as_of="2025-06-30")  # frames only: their mark decides
    gap_counts(ds["orders"], as_of="2025-06-30")
    purchase_days(ds["orders"], as_of="2025-06-30")
    assert asked == [spark] * 4
    customer_features(_orders(), as_of="2025-06-30")  # an unmarked frame: DuckDB
    customer_features(ds["orders"], as_of="2025-06-30", engine="duckdb")  # the argument wins
    assert asked[4:] == [engine.DUCKDB] * 2
    # the data set's engine table of the orders (a memtable here) carries the engine too
    table = orders_table(ds)
    assert engine.engine_of(table) == spark and engine.is_stable(table)
    gap_counts(table, as_of="2025-06-30")
    purchase_days(table, as_of="2025-06-30")
    assert export_start(table) == ds["orders"]["order_date"].min()
    assert asked[6:] == [spark] * 3


def test_the_marked_frames_still_write_to_parquet(tmp_path):
    ds = Dataset(
        tables={"orders": _orders()},
        source="test",
        analysis_date=pd.Timestamp("2025-06-30"),
        fingerprint="0",
        engine=engine.Engine("pyspark"),
    )
    ds["orders"].to_parquet(tmp_path / "orders.parquet")
    back = pd.read_parquet(tmp_path / "orders.parquet")
    assert engine.engine_of(back) == engine.Engine("pyspark")


def test_a_sql_database_by_url_gives_the_duckdb_tables(demo):
    """An Ibis URL (in-memory SQLite, standing in for a warehouse) runs the same expressions."""
    as_of = demo.analysis_date
    expected = features_for(demo)
    got = customer_features(demo["orders"], demo["accounts"], as_of, engine="sqlite://")
    assert len(got) == len(demo["accounts"]) and np.isfinite(got["monetary_total"]).all()
    assert_same_table(got, expected)
    assert gap_counts(demo["orders"], as_of, engine="sqlite://") == gap_counts(
        demo["orders"], as_of
    )


def test_memtable_is_made_once_per_frame_and_columns_and_again_after_a_change():
    frame = pd.DataFrame(
        {
            "n": [1.0, 2.0],
            "s": ["a", None],
            "d": pd.to_datetime(["2024-01-01", "2024-01-02"]),
        }
    )
    first = engine.memtable(frame, ["n", "s", "d"])
    assert engine.memtable(frame, ["n", "s", "d"]) is first
    assert engine.memtable(frame, ["n", "s"]) is not first  # other columns
    assert engine.memtable(frame.copy(), ["n", "s", "d"]) is not first  # another frame
    assert engine.memtable(frame[frame["n"] > 1], ["n", "s", "d"]) is not first  # a slice
    frame["n"] = [5.0, 6.0]  # a replaced column is noticed
    again = engine.memtable(frame, ["n", "s", "d"])
    assert again is not first
    assert engine.to_pandas(again)["n"].tolist() == [5.0, 6.0]
    frame["d"] = frame["d"] + pd.Timedelta(days=1)
    assert engine.memtable(frame, ["n", "s", "d"]) is not again
    engine.forget_memtables()
    assert engine.memtable(frame, ["n"]) is not engine.memtable(frame.copy(), ["n"])


def test_only_the_tables_recorded_as_stable_are_and_they_leave_when_collected():
    """Memtables are stable (their frame is not changed in place once passed); an Ibis table
    of a connection is not (its rows can change behind it), nor an equal but other object."""
    frame = _orders()
    table = engine.memtable(frame, ["account_id", "net_amount"])
    assert engine.is_stable(table)
    assert not engine.is_stable(table.select("account_id", "net_amount"))  # equal, not it
    assert not engine.is_stable(ibis.memtable(frame[["account_id"]]))
    assert not engine.is_stable(frame) and not engine.is_stable(None)
    other = engine.stable(ibis.memtable(frame[["account_id"]]), engine.Engine("pyspark"))
    assert engine.is_stable(other) and engine.engine_of(other) == engine.Engine("pyspark")
    ident = id(other)
    del other
    import gc

    gc.collect()
    assert ident not in engine._stable  # a collected table leaves the record


def test_a_collected_frame_releases_its_memtable_at_once():
    """The memtable (a copy of the columns) goes with its frame, not at some later call."""
    import gc

    engine.forget_memtables()
    frame = pd.DataFrame({"n": np.arange(5.0)})
    kept = pd.DataFrame({"n": np.arange(3.0)})
    engine.memtable(frame, ["n"])
    engine.memtable(kept, ["n"])
    assert len(engine._uploads) == 2
    del frame
    gc.collect()
    assert [u.frame() is kept for u in engine._uploads.values()] == [True]


def _views(con) -> set[str]:
    return {r[0] for r in con.con.execute("select view_name from duckdb_views()").fetchall()}


def test_the_backend_lets_go_of_a_memtable_no_expression_uses():
    """Ibis keeps a memtable registered in DuckDB (and its Arrow data alive) until the process
    exits; a memtable whose frame and expressions are gone is dropped at the next upload or
    query, one still in use stays and still runs."""
    import gc

    engine.forget_memtables()
    con = engine.connect()
    gone = pd.DataFrame({"n": np.arange(5.0)})
    kept = pd.DataFrame({"n": np.arange(3.0)})
    gone_table = engine.memtable(gone, ["n"])
    kept_table = engine.memtable(kept, ["n"])
    assert engine.to_pandas(gone_table.aggregate(s=gone_table.n.sum()))["s"].item() == 10
    assert engine.to_pandas(kept_table.aggregate(s=kept_table.n.sum()))["s"].item() == 3
    gone_name, kept_name = gone_table.op().name, kept_table.op().name
    assert {gone_name, kept_name} <= _views(con)
    del gone, gone_table
    gc.collect()
    assert engine.to_pandas(kept_table.aggregate(s=kept_table.n.max()))["s"].item() == 2
    assert gone_name not in _views(con)
    assert kept_name in _views(con)


def test_an_outermost_step_gives_memory_back_once(monkeypatch):
    """A step that calls steps gives memory back when it ends, not after each inner step."""
    from helpers import steps

    calls = []
    monkeypatch.setattr(steps, "give_back", lambda: calls.append(1))

    @steps.step("inner")
    def inner() -> int:
        return 1

    @steps.step("outer")
    def outer() -> int:
        return inner() + inner()

    assert outer() == 2
    assert calls == [1]
    assert inner() == 1
    assert calls == [1, 1]


def test_giving_memory_back_drops_the_dead_memtables():
    import gc

    from helpers import memory

    con = engine.connect()
    frame = pd.DataFrame({"n": np.arange(4.0)})
    table = engine.memtable(frame, ["n"])
    engine.to_pandas(table.aggregate(s=table.n.sum()))
    name = table.op().name
    del frame, table
    gc.collect()
    assert name in _views(con)
    memory.give_back()
    assert name not in _views(con)


def _upload_as_ibis_makes_it(data: pd.DataFrame):
    """The old path (the oracle): ``ibis.memtable(data)``'s schema and the Arrow table its
    DuckDB upload registers (``Table.from_pandas`` with that schema)."""
    import pyarrow as pa
    from ibis.formats.pyarrow import PyArrowSchema

    schema = ibis.memtable(data).schema()
    return schema, pa.Table.from_pandas(data, schema=PyArrowSchema.from_ibis(schema))


@pytest.mark.parametrize("index", [None, [7, 3, 5, 1]])
def test_memtable_uploads_what_ibis_memtable_of_the_frame_uploads(index):
    """The one Arrow conversion gives Ibis' schema and the table Ibis' own upload made, for
    text (with None and NaN), numbers, booleans, datetimes (with NaT), mixed objects and a
    filtered frame's index; and the engine reads the same rows back. The one difference: a
    column without values (``e``), Arrow's ``null`` in Ibis' upload, is text here (Ibis'
    upload of it as pandas text is the oracle; :mod:`helpers.engine_types`)."""
    frame = pd.DataFrame(
        {
            "s": ["a", None, "é", float("nan")],
            "i": [1, 2, 3, 4],
            "f": [1.5, float("nan"), 0.1, -2.0],
            "b": [True, False, True, True],
            "d": pd.to_datetime(
                ["2024-01-01", None, "2024-02-29T13:00", "2023-12-31"], format="ISO8601"
            ),
            "o": [b"x", b"y", None, b"z"],
            "e": [None, None, None, None],
            "m": [1, 2.5, 3, None],
        },
        index=index,
    )
    for columns in (["s", "i", "f", "b", "d"], ["o", "e", "m"]):
        data = frame[columns]
        typed = data.astype({"e": "string"}) if "e" in columns else data
        schema, table = _upload_as_ibis_makes_it(typed)
        got, got_schema = engine._to_arrow(data)
        assert got_schema == schema
        assert got.schema.types == table.schema.types and got.column_names == columns
        assert got.equals(table.select(columns))
        mem = engine.memtable(frame, columns)
        assert mem.schema() == schema
        pd.testing.assert_frame_equal(
            engine.to_pandas(mem), engine.to_pandas(ibis.memtable(typed)), check_exact=True
        )


def test_memtable_uploads_str_columns_without_copying_their_text():
    """An Arrow-backed ``str`` column travels as its own large_string chunks (no cast to
    string, which copied every value): the same Ibis schema as the object column's, and the
    engine reads the same rows back, missing values included."""
    text = pd.StringDtype("pyarrow", na_value=float("nan"))
    objects = pd.DataFrame({"s": ["a", None, "é", "b"], "i": [1, 2, 3, 4]})
    frame = objects.astype({"s": text})
    got, schema = engine._to_arrow(frame)
    uploaded, own = got.column("s").chunks[0], frame["s"].array._pa_array.chunks[0]
    assert uploaded.buffers()[2].address == own.buffers()[2].address  # the same text bytes
    assert schema == engine._to_arrow(objects)[1]
    assert got.column("s").to_pylist() == ["a", None, "é", "b"]
    mem = engine.memtable(frame, ["s", "i"])
    back = engine.to_pandas(mem.filter(mem.s == "é"))
    assert list(back["i"]) == [3]
    pd.testing.assert_frame_equal(
        engine.to_pandas(mem.order_by("i")),
        engine.to_pandas(ibis.memtable(objects)).sort_values("i"),
    )


@pytest.mark.parametrize("where", [None, "sqlite://"])
def test_batches_hold_the_rows_of_the_whole_result_in_its_types(where):
    """DuckDB (streamed) and a SQL database by URL (Ibis' batches): at most ``rows`` rows per
    batch, typed as the whole result, together the whole result; an empty result, no rows."""
    frame = pd.DataFrame({"i": np.arange(10), "s": list("abcdefghié"), "b": np.arange(10) % 3 == 0})
    mem = engine.memtable(frame, list(frame.columns))
    expr = mem.filter(mem.i != 4).mutate(d=mem.i.cast("float64") / 2)
    whole = engine.to_arrow(expr, where)
    batches = list(engine.to_batches(expr, where, rows=3))
    assert [b.num_rows <= 3 for b in batches] == [True] * len(batches) and len(batches) >= 3
    assert all(b.schema.equals(whole.schema) for b in batches)
    assert pa.Table.from_batches(batches).sort_by("i").equals(whole.sort_by("i"))
    assert whole.num_rows == 9
    none = engine.to_batches(mem.filter(mem.i > 100), where, rows=3)
    assert sum(b.num_rows for b in none) == 0
