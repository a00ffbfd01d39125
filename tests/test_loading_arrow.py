"""The Arrow fast path of a Parquet load (issue #15): the same Dataset as the pandas path.

For Parquet inputs the load keeps the Arrow text columns that cleaning leaves unchanged as they
are (``clean.coerce_types(arrow=...)``, ``parse.clean_is_noop``): Arrow-backed ``str`` sharing
the file's buffers, which DuckDB checks (``checks_sql._register``) and the cache stores
(``entry.write_entry``) without copying. Each test here runs both paths and asks for the exact
same frames (values, dtypes, attrs), warnings and errors (file, column, line numbers).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from helpers.loading import Dataset, clean_text, load_dataset, read
from helpers.loading import clean as clean_module
from helpers.loading import dataset as dataset_module
from helpers.loading.parse import TEXT, clean_is_noop
from helpers.validation import DataValidationError

#: Cells that cleaning changes in one way or another, and cells it leaves alone.
TRICKY = [
    "a", "abc_1", "A", "aB", " a", "a ", "a\t", "\ta", "a b", "a-b", "a/b", "", "\x1ca", "a\x1f",
    "é", "aé", "éa", "Ä", "a\u00a0", "\u2003a", "x.y", "ß", "İ", "a_b", "T-1", "L000123", "ǅ",
]  # fmt: skip


def _slow(monkeypatch: pytest.MonkeyPatch) -> None:
    """Load without Arrow tables: the pandas path of every stage (the reference)."""
    monkeypatch.setattr(
        dataset_module,
        "read_raw_arrow",
        lambda spec, findings=None: (read.read_raw(spec, findings), None),
    )


def _assert_same(got: Dataset, want: Dataset) -> None:
    assert list(got.tables) == list(want.tables)
    for name, frame in want.tables.items():
        pd.testing.assert_frame_equal(got.tables[name], frame, check_exact=True)
        assert got.tables[name].attrs == frame.attrs, name
        assert object not in set(frame.dtypes), name  # all text is TEXT on either path
    assert got.warnings == want.warnings
    assert got.fingerprint == want.fingerprint


@pytest.mark.parametrize("lower", [False, True])
def test_clean_is_noop_only_when_cleaning_changes_nothing(lower):
    rng = np.random.default_rng(15)
    cells = TRICKY + ["".join(rng.choice(list("aZ -/_é\t1"), size=3)) for _ in range(40)]
    for cell in cells:
        for values in ([cell], ["x", None, cell][1:]):
            arrow = pa.chunked_array([pa.array(values, pa.string())])
            plain = pd.Series(arrow.to_pandas(), dtype=object)
            unchanged = clean_text(plain, lower=lower).tolist() == plain.tolist()
            if clean_is_noop(arrow, lower=lower):
                assert unchanged, (cell, lower)
    assert clean_is_noop(pa.chunked_array([pa.array(["a_1", None, "b"])]), lower=True)
    assert clean_is_noop(pa.chunked_array([pa.array(["Ab", "x y"]).slice(0, 0)]), lower=True)
    assert clean_is_noop(pa.array(["A b", "ok"]).slice(1), lower=True)  # offsets of a slice
    assert not clean_is_noop(pa.array(["ok", "A b"]).slice(1), lower=True)
    assert not clean_is_noop(pa.array([1, 2]), lower=False)


@pytest.mark.slow  # three demo loads (~10 s); the small Parquet sources below cover each stage
def test_demo_fast_path_loads_the_same_dataset_and_cache_entry(demo_dir, monkeypatch, tmp_path):
    fast = load_dataset("demo", cache=False)
    monkeypatch.setenv("B2B_CACHE_DIR", str(tmp_path / "cache"))
    stored = load_dataset("demo", cache=True)  # a miss: written from the Arrow columns
    warm = load_dataset("demo", cache=True)  # a hit
    with monkeypatch.context() as patched:
        _slow(patched)
        slow = load_dataset("demo", cache=False)
    for got in (fast, stored, warm):
        _assert_same(got, slow)


def test_demo_fast_path_is_taken(demo_dir, monkeypatch):
    """The demo's text columns are clean: the build keeps their Arrow columns as they are,
    never cleaning them value by value (else the equality test above would compare the pandas
    path with itself), and the frames share the Parquet files' text bytes."""
    cleaned: list[str] = []
    real = clean_module.clean_text

    def spy(values: pd.Series, *, lower: bool) -> pd.Series:
        cleaned.append(str(values.name))
        return real(values, lower=lower)

    monkeypatch.setattr(clean_module, "clean_text", spy)
    config = dataset_module.resolve_source("demo")
    ds = dataset_module._build(config, config.analysis_date)
    assert not {"touchpoint_id", "lead_id", "status", "channel", "account_id"} & set(cleaned)
    ids = ds.tables["touchpoints"]["touchpoint_id"]
    assert ids.dtype == TEXT and ids.array._pa_array.num_chunks >= 1  # Arrow, not objects


def _parquet_source(folder: Path, demo_dir: Path, orders: pd.DataFrame, yaml_orders: str) -> Path:
    accounts = pd.read_parquet(demo_dir / "accounts.parquet").head(3)
    accounts["account_id"] = ["A1", "A2", "A3"]
    accounts["region"] = ["North ", "south", "North"]  # one cell to clean, the others not
    accounts.rename(columns={"account_id": "CustomerID"}).to_parquet(folder / "accounts.parquet")
    orders.to_parquet(folder / "orders.parquet")
    source = folder / "source.yaml"
    source.write_text(
        "analysis_date: 2024-06-30\ntables:\n  accounts:\n    file: accounts.parquet\n"
        "    columns: {account_id: CustomerID}\n"
        f"  orders:\n    file: orders.parquet\n{yaml_orders}",
        encoding="utf-8",
    )
    return source


ORDERS = pd.DataFrame(
    {
        "Customer": ["A1", "A1", "A2", "A3", "A2"],
        "order_date": pd.to_datetime(
            ["2024-01-05", "2024-02-01", "2024-03-01", "2024-04-01", "2024-05-01"]
        ).date,
        "net_amount": [10.0, -5.0, 7.5, 3.0, 2.0],
        "Status": ["Done", "returned", "done ", "Storno", None],
        "quantity": [1.0, 2.0, 1.0, 1.0, 3.0],
        "kind": ["a", "B", "c", "d", "e"],
    }
)


@pytest.mark.parametrize(
    "yaml_orders",
    [
        # renames, values map, fill_empty, constants and generated ids
        "    columns: {account_id: Customer, status: Status}\n"
        "    values: {status: {Done: completed, Storno: cancelled}}\n"
        "    fill_empty: {status: completed}\n"
        "    constants: {product_category: all}\n    generate: [order_id]\n",
        # one file column feeding two contract columns; an unmapped extra column kept
        "    columns: {account_id: Customer, status: Status, product_category: Customer}\n"
        "    values: {status: {Done: completed, Storno: cancelled}}\n"
        "    fill_empty: {status: completed}\n    generate: [order_id]\n",
    ],
)
def test_parquet_mappings_load_the_same_on_both_paths(tmp_path, monkeypatch, demo_dir, yaml_orders):
    source = _parquet_source(tmp_path, demo_dir, ORDERS, yaml_orders)
    fast = load_dataset(source, cache=False)
    monkeypatch.setenv("B2B_CACHE_DIR", str(tmp_path / "cache"))
    stored, warm = load_dataset(source, cache=True), load_dataset(source, cache=True)
    with monkeypatch.context() as patched:
        _slow(patched)
        slow = load_dataset(source, cache=False)
    assert slow.warnings  # the fill_empty warning names its row
    assert slow.absent_columns("orders")
    for got in (fast, stored, warm):
        _assert_same(got, slow)


def test_parquet_errors_are_the_same_on_both_paths(tmp_path, monkeypatch, demo_dir):
    broken = ORDERS.assign(Status=["completed", "completed", "completed", "cancelled", "returned"])
    broken.loc[3, "Customer"] = "A9"  # unknown account: an error naming its row
    broken.loc[0, "net_amount"] = -1.0  # negative amount not marked as a return
    source = _parquet_source(
        tmp_path,
        demo_dir,
        broken,
        "    columns: {account_id: Customer, status: Status, product_category: kind}\n"
        "    generate: [order_id]\n",
    )
    with pytest.raises(DataValidationError) as fast:
        load_dataset(source, cache=False)
    with monkeypatch.context() as patched:
        _slow(patched)
        with pytest.raises(DataValidationError) as slow:
            load_dataset(source, cache=False)
    assert len(slow.value.problems) >= 2
    assert fast.value.problems == slow.value.problems


def test_the_written_out_space_characters_are_those_python_strips():
    """The vectorised cleaning test treats these as white space; a character Python strips
    but the list lacks would let a dirty cell pass as clean."""
    from helpers.loading.parse import SPACE_CHARACTERS

    assert "".join(c for c in map(chr, range(0x110000)) if c.isspace()) == SPACE_CHARACTERS
