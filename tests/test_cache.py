"""Load once (helpers.loading.cache): a validated data set is stored once and read back as is."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest
from fixtures.exports import shapes

from helpers import session
from helpers.engine import DUCKDB
from helpers.loading import Dataset, cache, load_dataset
from helpers.loading import dataset as dataset_module
from helpers.loading.parse import TEXT

SRC = Path(__file__).resolve().parents[1] / "src"
OLD = 1_600_000_000_000_000_000  # 2020-09-13 in ns: files "left alone" long ago


@pytest.fixture(scope="module")
def fresh_demo(demo_dir) -> Dataset:
    """The demo loaded without the cache (do not modify: module-scoped)."""
    return load_dataset("demo", cache=False)


@pytest.fixture
def demo_root(tmp_path_factory, monkeypatch) -> Path:
    """One cache folder for the demo tests of this module (the demo is parsed into it once)."""
    folder = tmp_path_factory.getbasetemp() / "demo-cache"
    monkeypatch.setenv(cache.DIR_VARIABLE, str(folder))
    monkeypatch.delenv(cache.SWITCH_VARIABLE, raising=False)
    return folder


def _assert_same(got: Dataset, want: Dataset) -> None:
    """Every table identical (dtypes, index, values, order, attrs) and every other field."""
    assert list(got.tables) == list(want.tables)
    for name in want.tables:
        pd.testing.assert_frame_equal(got.tables[name], want.tables[name], check_exact=True)
        assert got.tables[name].attrs == want.tables[name].attrs, name
    for field in ("source", "analysis_date", "fingerprint", "warnings", "currency"):
        assert getattr(got, field) == getattr(want, field), field
    assert (got.display_names, got.attributes, got.filters) == (
        want.display_names,
        want.attributes,
        want.filters,
    )


def _no_reading(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the raw file was parsed although the data set is cached")

    monkeypatch.setattr(dataset_module, "read_raw_arrow", refuse)


def _age(folder: Path) -> None:
    """Give every file of ``folder`` an old modification time (its digest may be remembered)."""
    for path in folder.iterdir():
        if path.is_file():
            os.utime(path, ns=(OLD, OLD))


def test_second_load_reads_the_cache_not_the_files(tmp_path, root, monkeypatch):
    source = shapes.write_shape5(tmp_path)  # CSV + Excel, a dropped total row (a warning)
    first = load_dataset(source)
    assert cache.last_outcome == "miss" and len(cache.entries(root)) == 1
    _no_reading(monkeypatch)
    second = load_dataset(source)
    assert cache.last_outcome == "hit"
    _assert_same(second, first)
    assert second.warnings and second.warnings[0].rows[0].startswith("line ")


def test_the_demo_from_the_cache_is_identical_to_a_fresh_load(fresh_demo, demo_root):
    fresh = fresh_demo
    load_dataset("demo")
    cached = load_dataset("demo")
    assert cache.last_outcome == "hit"
    _assert_same(cached, fresh)
    assert cached["orders"]["_source_row"].tolist() == fresh["orders"]["_source_row"].tolist()


@pytest.mark.parametrize("write", [shapes.write_shape1, shapes.write_shape2, shapes.write_shape3])
def test_own_data_from_the_cache_is_identical_to_a_fresh_load(tmp_path, root, write):
    source = write(tmp_path)
    fresh = load_dataset(source, cache=False)
    load_dataset(source)
    cached = load_dataset(source)
    assert cache.last_outcome == "hit"
    _assert_same(cached, fresh)


def test_one_changed_byte_of_a_raw_file_misses_the_cache(tmp_path, root, monkeypatch):
    monkeypatch.setattr(cache, "SETTLED_SECONDS", 0.0)  # remember digests of files just written
    source = shapes.write_shape1(tmp_path)
    _age(tmp_path)
    before = load_dataset(source)
    assert load_dataset(source) is not None and cache.last_outcome == "hit"
    orders = tmp_path / "orders.csv"
    text = orders.read_text(encoding="utf-8")
    # same size, and the modification time put back: only the content (and ctime) changed
    orders.write_text(text.replace("C3,2024-03-01,2,20.00", "C3,2024-03-01,2,29.00"), "utf-8")
    os.utime(orders, ns=(OLD, OLD))
    after = load_dataset(source)
    assert cache.last_outcome == "miss" and after.fingerprint != before.fingerprint
    assert after["orders"]["net_amount"].sum() == pytest.approx(
        before["orders"]["net_amount"].sum() + 9
    )
    assert len(cache.entries(root)) == 2


def test_a_remembered_digest_spares_reading_the_file_again(tmp_path, root, monkeypatch):
    source = shapes.write_shape1(tmp_path)
    load_dataset(source)  # written just now: the digest is not remembered yet
    assert not (root / "digests").exists()
    monkeypatch.setattr(cache, "SETTLED_SECONDS", 0.0)
    load_dataset(source)  # hashed once more, now remembered
    load_dataset(source)
    monkeypatch.setattr(cache, "_sha256_file", lambda path: pytest.fail(f"{path} hashed again"))
    _no_reading(monkeypatch)
    load_dataset(source)
    assert cache.last_outcome == "hit"


def test_a_changed_mapping_misses_the_cache(tmp_path, root):
    source = shapes.write_shape1(tmp_path)
    load_dataset(source)
    yaml_text = source.read_text(encoding="utf-8")
    source.write_text(yaml_text.replace("product_category: all", "product_category: misc"))
    changed = load_dataset(source)
    assert cache.last_outcome == "miss"
    assert set(changed["orders"]["product_category"]) == {"misc"}
    source.write_text(yaml_text.replace("currency: GBP", "currency: EUR"))  # not in fingerprint
    assert load_dataset(source).currency == "EUR" and cache.last_outcome == "miss"


def test_a_new_contract_version_or_loading_code_misses_the_cache(tmp_path, root, monkeypatch):
    source = shapes.write_shape1(tmp_path)
    load_dataset(source)
    monkeypatch.setattr(cache, "CONTRACT_VERSION", cache.CONTRACT_VERSION + 1)
    load_dataset(source)
    assert cache.last_outcome == "miss"
    load_dataset(source)
    assert cache.last_outcome == "hit"
    code = tmp_path / "rules.py"
    code.write_text("RULE = 1\n")
    monkeypatch.setattr(cache, "CODE_FILES", (*cache.CODE_FILES, code))
    load_dataset(source)
    code.write_text("RULE = 2\n")
    load_dataset(source)
    assert cache.last_outcome == "miss"


def test_the_analysis_date_asked_for_is_part_of_the_key(tmp_path, root):
    source = shapes.write_shape1(tmp_path)  # analysis_date: 2024-12-31
    load_dataset(source)
    same = load_dataset(source, analysis_date="2024-12-31")  # the same date: the same entry
    assert cache.last_outcome == "hit" and same.analysis_date == pd.Timestamp("2024-12-31")
    later = load_dataset(source, analysis_date="2025-06-30")
    assert cache.last_outcome == "miss" and later.analysis_date == pd.Timestamp("2025-06-30")
    with pytest.raises(ValueError, match="after"):
        load_dataset(source, analysis_date="2024-05-01")  # orders after it: nothing stored
    assert len(cache.entries(root)) == 2


def test_turned_off_by_argument_or_environment(tmp_path, root, monkeypatch):
    source = shapes.write_shape1(tmp_path)
    load_dataset(source, cache=False)
    monkeypatch.setenv(cache.SWITCH_VARIABLE, "off")
    load_dataset(source)
    assert cache.entries(root) == []
    load_dataset(source, cache=True)  # the argument wins
    assert len(cache.entries(root)) == 1


def test_a_damaged_entry_is_ignored_and_rebuilt(tmp_path, root, monkeypatch):
    source = shapes.write_shape2(tmp_path)
    fresh = load_dataset(source)
    (entry,) = cache.entries(root)
    table = entry / "accounts.parquet"
    table.write_bytes(table.read_bytes()[:100])  # truncated
    rebuilt = load_dataset(source)
    assert cache.last_outcome == "miss"
    _assert_same(rebuilt, fresh)
    (entry,) = cache.entries(root)
    (entry / "manifest.json").write_text("{not json")
    _assert_same(load_dataset(source), fresh)
    assert cache.last_outcome == "miss"
    _no_reading(monkeypatch)
    _assert_same(load_dataset(source), fresh)
    assert cache.last_outcome == "hit"


def test_debris_without_a_manifest_is_replaced(tmp_path, root):
    source = shapes.write_shape1(tmp_path)
    fresh = load_dataset(source)
    (entry,) = cache.entries(root)
    (entry / "manifest.json").unlink()  # e.g. a half-deleted folder copied from elsewhere
    _assert_same(load_dataset(source), fresh)
    assert cache.last_outcome == "miss" and len(cache.entries(root)) == 1


def test_two_writers_of_one_key_both_succeed_and_one_entry_stays(tmp_path, root):
    ds = load_dataset(shapes.write_shape2(tmp_path), cache=False)
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            start.wait()
            cache.write_entry(root, "k" * 32, ds)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(p.name for p in root.iterdir()) == ["k" * 32]  # no temporary folder left
    _assert_same(cache.read_entry(root, "k" * 32), ds)


def test_two_processes_loading_at_once_build_once(tmp_path, root):
    source = shapes.write_shape1(tmp_path)
    script = (
        "import sys; from helpers.loading import cache, load_dataset; "
        f"ds = load_dataset({str(source)!r}); print(cache.last_outcome, ds.fingerprint)"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    runs = [
        subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = sorted(run.communicate(timeout=120)[0].split() for run in runs)
    assert all(run.returncode == 0 for run in runs)
    assert [o[0] for o in outputs] == ["hit", "miss"]  # the second waited for the first
    assert outputs[0][1] == outputs[1][1]
    assert len(cache.entries(root)) == 1
    _assert_same(load_dataset(source), load_dataset(source, cache=False))


def test_filters_applied_after_the_cache_give_the_same_slice(fresh_demo, demo_root, tmp_path):
    fresh = fresh_demo.filter({"region": "north"})
    load_dataset("demo")
    cached = load_dataset("demo").filter({"region": "north"})
    assert cache.last_outcome == "hit"
    _assert_same(cached, fresh)
    ds, _, _ = session.start(
        "01-customer-segmentation", "demo", {"region": "north"}, "", str(tmp_path)
    )
    assert cache.last_outcome == "hit"
    _assert_same(ds, fresh)


def test_a_table_parquet_would_change_is_not_cached(tmp_path, root):
    ds = load_dataset(shapes.write_shape1(tmp_path), cache=False)
    odd = Dataset(
        tables={"orders": ds["orders"].assign(product_category=1)},  # numbers in a text column
        source=ds.source,
        analysis_date=ds.analysis_date,
        fingerprint=ds.fingerprint,
    )
    odd.tables["orders"]["product_category"] = odd.tables["orders"]["product_category"].astype(
        object
    )
    with pytest.raises(cache.Uncacheable, match="product_category"):
        cache.write_entry(root, "u" * 32, odd)
    as_objects = ds["orders"].astype({"status": object})  # text, but not the loaded str dtype
    odd.tables["orders"] = as_objects
    with pytest.raises(cache.Uncacheable, match="status: dtype object"):
        cache.write_entry(root, "u" * 32, odd)
    odd.tables["orders"] = ds["orders"].astype({"status": "category"})  # an extension dtype
    with pytest.raises(cache.Uncacheable, match="status"):
        cache.write_entry(root, "u" * 32, odd)
    assert cache.entries(root) == []


def test_a_cache_folder_that_cannot_be_written_only_costs_the_reuse(tmp_path, monkeypatch):
    source = shapes.write_shape1(tmp_path)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setenv(cache.DIR_VARIABLE, str(blocked))
    _assert_same(load_dataset(source), load_dataset(source, cache=False))
    assert cache.last_outcome == "uncacheable"


def test_prune_keeps_the_most_recently_used_and_clear_removes_all(tmp_path, root, monkeypatch):
    monkeypatch.setattr(cache, "RECENT_SECONDS", -1.0)
    for n, write in enumerate((shapes.write_shape1, shapes.write_shape2, shapes.write_shape3)):
        folder = tmp_path / str(n)
        folder.mkdir()
        load_dataset(write(folder))
        (latest,) = cache.entries(root)[:1]
        os.utime(latest / "manifest.json", (1e9 + n, 1e9 + n))
    assert cache.prune(root, keep=2) == 1 and len(cache.entries(root)) == 2
    assert cache.clear(root) == 2 and not root.exists()


def test_a_dataset_from_the_cache_runs_on_its_sources_engine(tmp_path, root):
    source = shapes.write_shape1(tmp_path)
    source.write_text(source.read_text(encoding="utf-8") + "engine: 'sqlite://'\n")
    first = load_dataset(source)
    second = load_dataset(source)
    assert cache.last_outcome == "hit"
    assert second.engine == first.engine != DUCKDB
    assert all(
        frame.attrs["engine"] == first["orders"].attrs["engine"] for frame in second.tables.values()
    )


def test_id_columns_are_stored_without_a_dictionary_and_read_back_the_same(tmp_path, root):
    frame = pd.DataFrame(
        {
            "order_id": ["O1", "O2", None, "O4"],  # distinct: stored without a dictionary
            "amount": [1.0, 2.0, 3.0, 4.0],
            "status": ["done", "done", None, "done"],  # repeated: with one
            "_source_row": [2, 3, 4, 5],
        }
    ).astype({"order_id": TEXT, "status": TEXT})
    frame.attrs = {"file": "orders.csv"}
    ds = Dataset(
        tables={"orders": frame},
        source="s",
        analysis_date=pd.Timestamp("2025-01-01"),
        fingerprint="f" * 16,
    )
    folder = cache.write_entry(root, "d" * 32, ds)
    manifest = (folder / "manifest.json").read_text(encoding="utf-8")
    assert '"distinct_text": [\n    "order_id"\n   ]' in manifest
    got = cache.read_entry(root, "d" * 32)
    _assert_same(got, ds)
    assert list(got["orders"].columns) == list(frame.columns)
    assert got["orders"]["order_id"].dtype == TEXT and pd.isna(got["orders"]["order_id"].iloc[2])


def test_a_build_uses_every_core_and_gives_the_kernels_count_back(tmp_path, root, monkeypatch):
    """A batch kernel runs Arrow on one thread (OMP_NUM_THREADS=1); the kernel that builds a
    new data set, which the others wait for, reads and converts with every core."""
    import pyarrow as pa

    source = shapes.write_shape1(tmp_path)
    seen = []
    real = dataset_module._build
    monkeypatch.setattr(
        dataset_module, "_build", lambda *a: seen.append(pa.cpu_count()) or real(*a)
    )
    before = pa.cpu_count()
    pa.set_cpu_count(1)
    try:
        load_dataset(source)
        assert cache.last_outcome == "miss"
        assert seen == [os.cpu_count()] and pa.cpu_count() == 1
    finally:
        pa.set_cpu_count(before)


def test_the_build_and_each_table_read_give_arrows_kept_memory_back(tmp_path, root, monkeypatch):
    """mimalloc keeps freed memory (0.55 GB after a 100k build): the kernel that builds gives
    it back once the built frames are gone, and each table read gives back its temporaries."""
    from helpers.loading import entry

    calls = []
    monkeypatch.setattr(entry, "give_back", lambda: calls.append("read"))
    monkeypatch.setattr(cache, "give_back", lambda: calls.append("build"))
    ds = load_dataset(shapes.write_shape2(tmp_path))
    assert cache.last_outcome == "miss" and calls == ["build"]
    ds["orders"]
    assert calls == ["build", "read"]
