"""Step results kept on disk (helpers.step_cache): reused only for data sets loaded from a
source with the same key, recomputed when anything in the key changes or the file is damaged, and the churn
study's definition and model shared with notebook 03's lifetime values."""

from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import pandas as pd
import pytest

from helpers import session, step_cache, survival
from helpers.lifetime_value import lifetime_values
from helpers.survival import cox, definition


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("B2B_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("B2B_CACHE", raising=False)
    return tmp_path


class _Data:
    """A stand-in data set: what a key reads of one (loaded from a source unless told)."""

    from_source = True
    fingerprint = "f" * 16
    filters: dict = {}
    analysis_date = "2025-12-31"
    attributes: dict = {}
    engine = "duckdb"


def _counting(calls: list, value):
    return lambda: calls.append(1) or value


def test_a_trusted_data_set_reuses_the_kept_result(cache_dir):
    ds = _Data()
    calls: list = []
    name = step_cache.key("step", ds, {"x": 1})
    assert step_cache.remembered(name, _counting(calls, {"a": 1.5})) == {"a": 1.5}
    assert step_cache.remembered(name, _counting(calls, {"a": 2.0})) == {"a": 1.5}
    assert calls == [1]
    assert (cache_dir / "results" / f"{name}.pkl").is_file()


def test_untrusted_data_and_a_switched_off_cache_always_compute(cache_dir, monkeypatch):
    calls: list = []
    untrusted = _Data()
    untrusted.from_source = False  # built in code: its fingerprint says nothing
    assert step_cache.key("step", untrusted, {"x": 1}) is None
    step_cache.remembered(None, _counting(calls, 1))
    step_cache.remembered(None, _counting(calls, 1))
    assert calls == [1, 1]
    ds = _Data()
    name = step_cache.key("step", ds, {"x": 1})
    step_cache.remembered(name, _counting(calls, 1))
    monkeypatch.setenv("B2B_CACHE", "off")
    assert step_cache.key("step", ds, {"x": 1}) is None
    step_cache.remembered(name, _counting(calls, 1))
    assert calls == [1, 1, 1, 1]


def test_the_key_changes_with_data_arguments_and_code(cache_dir, monkeypatch):
    ds = _Data()
    base = step_cache.key("step", ds, {"x": 1})
    assert step_cache.key("step", ds, {"x": 2}) != base
    assert step_cache.key("other", ds, {"x": 1}) != base
    filtered = _Data()
    filtered.filters = {"region": "north"}
    assert step_cache.key("step", filtered, {"x": 1}) != base
    changed = _Data()
    changed.fingerprint = "e" * 16
    assert step_cache.key("step", changed, {"x": 1}) != base
    spark = _Data()
    spark.engine = "pyspark"
    assert step_cache.key("step", spark, {"x": 1}) != base
    monkeypatch.setattr(step_cache, "code_version", lambda: "another-version")
    assert step_cache.key("step", ds, {"x": 1}) != base


def test_a_damaged_file_is_computed_and_replaced(cache_dir):
    ds = _Data()
    name = step_cache.key("step", ds, {"x": 1})
    (cache_dir / "results").mkdir()
    (cache_dir / "results" / f"{name}.pkl").write_bytes(b"not a pickle")
    calls: list = []
    assert step_cache.remembered(name, _counting(calls, 7)) == 7
    assert step_cache.remembered(name, _counting(calls, 8)) == 7
    assert calls == [1]


def test_a_second_caller_waits_for_the_first_and_reads_its_result(cache_dir):
    ds = _Data()
    name = step_cache.key("step", ds, {"x": 1})
    calls: list = []

    def slow():
        calls.append("first")
        time.sleep(0.5)
        return "computed once"

    first = threading.Thread(target=step_cache.remembered, args=(name, slow))
    first.start()
    time.sleep(0.1)  # the first holds the lock now
    assert step_cache.remembered(name, _counting(calls, "again")) == "computed once"
    first.join()
    assert calls == ["first"]


def test_only_the_newest_results_are_kept(cache_dir):
    ds = _Data()
    for i in range(step_cache.MAX_RESULTS + 3):
        step_cache.remembered(step_cache.key("step", ds, {"x": i}), lambda i=i: i)
    assert len(list((cache_dir / "results").glob("*.pkl"))) == step_cache.MAX_RESULTS


def test_notebook_03_lifetime_values_reuse_notebook_02_churn_model(cache_dir, monkeypatch):
    """02's steps on a session's data set keep the definition and the model; 03's lifetime
    values on a new session of the same data read them (nothing is fitted again) and give the
    same table as when they fit them themselves."""
    ds, as_of, _ = session.start("02-churn-survival", "demo", output=str(cache_dir / "out"))
    made = survival.define_churn(ds, as_of, None, {})  # 02's call, TIER_WEIGHTS={}
    fitted = survival.churn_model(made, list(cox.DEFAULT_COVARIATES), {}, seed=42)
    assert made.key is not None
    fresh = lifetime_values(ds, as_of, n_boot=50, n_refits=0)

    ds2, as_of2, _ = session.start("03-channel-economics", "demo", output=str(cache_dir / "o"))
    monkeypatch.setattr(definition, "_define_churn", lambda *a: pytest.fail("defined again"))
    monkeypatch.setattr(cox, "_churn_model", lambda *a: pytest.fail("fitted again"))
    reused = lifetime_values(ds2, as_of2, n_boot=50, n_refits=0)
    assert reused.table.equals(fresh.table)
    again = survival.churn_model(survival.define_churn(ds2, as_of2), seed=42)
    assert again.cox.params_.equals(fitted.cox.params_)
    assert again.ph.equals(fitted.ph)
    # a data set built in code with the same fingerprint is computed, not served another's
    # result (the shapes tests give every shape the fingerprint "x"); a filter is a new key
    copied = dataclasses.replace(ds2, tables={**ds2.tables, "orders": ds2["orders"].head(5000)})
    assert not copied.from_source
    with pytest.raises(pytest.fail.Exception, match="defined again"):
        survival.define_churn(copied, as_of2)
    region = sorted(ds2.tables["accounts"]["region"].unique())[0]
    sliced = ds2.filter({"region": region})
    assert sliced.from_source
    with pytest.raises(pytest.fail.Exception, match="defined again"):
        survival.define_churn(sliced, as_of2)


def test_load_dataset_marks_what_it_made_from_a_source(cache_dir):
    from helpers.loading import load_dataset

    for cache in (True, False):
        ds = load_dataset("demo", cache=cache)
        assert ds.from_source and step_cache.trusted(ds)
        assert not dataclasses.replace(ds).from_source  # a copy made in code is not


def test_notebook_03_second_ltv_reuses_notebook_02_bgnbd_fit(cache_dir, monkeypatch):
    """02's BG/NBD step on a session's data set is kept (models included: they pickle by
    reference to helpers.survival.bgnbd_models); 03's call reads it, fits nothing, and its
    models predict what the fitted ones predict."""
    from helpers.survival import bgnbd

    ds, as_of, _ = session.start("02-churn-survival", "demo", output=str(cache_dir / "out"))
    fitted = survival.buy_till_you_die(ds, as_of, 7, 90)  # 02's call
    ds2, as_of2, _ = session.start("03-channel-economics", "demo", output=str(cache_dir / "o"))
    monkeypatch.setattr(bgnbd, "_buy_till_you_die", lambda *a: pytest.fail("fitted again"))
    reused = survival.buy_till_you_die(ds2, as_of2, 7)  # 03's call (horizon by default)
    assert reused.params == fitted.params and reused.spend_params == fitted.spend_params
    assert reused.accounts.equals(fitted.accounts)
    summary = bgnbd.rfm_summary(ds2["orders"], as_of2, 7).head(50)
    for periods in (4.0, 13.0):
        assert np.array_equal(
            bgnbd.expected_purchases(reused.model, summary, periods),
            bgnbd.expected_purchases(fitted.model, summary, periods),
        )
    assert np.array_equal(
        bgnbd.p_alive(reused.model, summary), bgnbd.p_alive(fitted.model, summary)
    )
    with pytest.raises(pytest.fail.Exception, match="fitted again"):
        survival.buy_till_you_die(ds2, as_of2, 7, horizon_days=30)  # another key


def test_notebook_02_reads_the_features_notebook_01_computed(cache_dir, monkeypatch):
    """Features on a session's data set are kept on disk: a new kernel (an empty in-process
    memo) on the same data reads them, identical; another date, threshold or a data set made
    in code is computed."""
    from helpers import features

    ds, as_of, _ = session.start("01-customer-segmentation", "demo", output=str(cache_dir / "a"))
    made = features.features_for(ds, as_of)  # 01's call (threshold 180)
    features.clear_shared_features()  # what a new kernel starts with
    ds2, as_of2, _ = session.start("02-churn-survival", "demo", output=str(cache_dir / "b"))
    monkeypatch.setattr(features, "customer_features", lambda *a, **k: pytest.fail("again"))
    got = features.features_for(ds2, as_of2, 180)
    pd.testing.assert_frame_equal(got, made, check_exact=True)
    assert got.attrs == made.attrs
    for other in ({"as_of": as_of2 - pd.Timedelta(days=1)}, {"churn_threshold_days": 90}):
        with pytest.raises(pytest.fail.Exception, match="again"):
            features.features_for(ds2, **{"as_of": as_of2, **other})
    copied = dataclasses.replace(ds2, tables={**ds2.tables})
    features.clear_shared_features()  # (the same frames would be this kernel's memo's hit)
    with pytest.raises(pytest.fail.Exception, match="again"):
        features.features_for(copied, as_of2, 180)
