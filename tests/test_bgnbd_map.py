"""The kept-function MAP fit (helpers.survival.bgnbd_map) against pymc-marketing's own
``fit(method="map")``: the same posterior to the last bit, and no compile for a second data
set."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.survival import bgnbd, bgnbd_map


def _library_fit(cls, names, data: pd.DataFrame):
    model = cls(model_config=bgnbd._priors(names, "flat"))
    bgnbd._quiet(lambda: model.fit(data=data, method="map", progressbar=False))
    return model


def _assert_same_posterior(ours, library) -> None:
    a, b = ours.idata.posterior, library.idata.posterior
    assert sorted(a.data_vars) == sorted(b.data_vars)
    for name in b.data_vars:
        assert a[name].shape == b[name].shape == (1, 1), name
        assert np.array_equal(a[name].values, b[name].values), name  # exactly, not approx


def test_beta_geo_fits_equal_the_library_fit_on_two_data_sets(cdnow):
    bg, _ = bgnbd._models()
    cols = ["customer_id", "frequency", "recency", "T"]
    first = bgnbd.fit_beta_geo(cdnow)  # compiles (or finds the kept functions)
    second = bgnbd.fit_beta_geo(cdnow.iloc[:700])  # the kept functions on other data
    library = _library_fit(bg, bgnbd.PARAMS, cdnow.iloc[:700][cols])
    _assert_same_posterior(second, library)
    one = cdnow.iloc[:5]
    assert np.array_equal(bgnbd.p_alive(second, one), bgnbd.p_alive(library, one))
    # each returned model holds its own data and fit, not the kept model's last data set
    assert len(first.data) == len(cdnow) and len(second.data) == 700
    assert bgnbd.parameters(first) != bgnbd.parameters(second)


def test_gamma_gamma_fit_equals_the_library_fit(cdnow):
    _, gg = bgnbd._models()
    repeat = cdnow[cdnow["frequency"] > 0][["customer_id", "frequency", "monetary_value"]]
    ours = bgnbd.fit_gamma_gamma(cdnow)
    _assert_same_posterior(ours, _library_fit(gg, bgnbd.SPEND_PARAMS, repeat))


def test_a_second_fit_compiles_no_function(cdnow, monkeypatch):
    bgnbd.fit_beta_geo(cdnow.iloc[:300])  # the kept functions exist after this
    import sys

    pfunc = sys.modules["pytensor.compile.function.pfunc"]  # the module, not its function

    calls = []
    original = pfunc.orig_function
    monkeypatch.setattr(
        pfunc, "orig_function", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    bgnbd.fit_beta_geo(cdnow.iloc[:400])
    assert calls == []  # pymc-marketing's fit compiles 7 functions each time
    assert "beta_geo:flat" in bgnbd_map._CACHE


def test_a_new_process_loads_the_kept_functions_from_disk(cdnow, tmp_path, monkeypatch):
    """What a second kernel meets: no kept functions in the process, their pickled copy on
    disk. It compiles nothing and fits to the same floats as a fresh compile."""
    monkeypatch.setattr(bgnbd_map, "store_path", lambda key: tmp_path / f"{key}.pkl")
    monkeypatch.setattr(bgnbd_map, "_CACHE", {})
    fresh = bgnbd.fit_beta_geo(cdnow.iloc[:500])  # compiles and writes the disk copy
    assert (tmp_path / "beta_geo:flat.pkl").stat().st_size > 0
    monkeypatch.setattr(bgnbd_map, "_CACHE", {})  # a new process
    monkeypatch.setattr(bgnbd_map, "_compile", lambda template: pytest.fail("compiled"))
    loaded = bgnbd.fit_beta_geo(cdnow.iloc[:500])
    _assert_same_posterior(loaded, fresh)
    # and the loaded functions read the data set they are given, not the pickled one
    other = bgnbd.fit_beta_geo(cdnow.iloc[:900])
    _assert_same_posterior(
        other,
        _library_fit(
            bgnbd._models()[0],
            bgnbd.PARAMS,
            cdnow.iloc[:900][["customer_id", "frequency", "recency", "T"]],
        ),
    )


def test_a_damaged_disk_copy_is_rebuilt(cdnow, tmp_path, monkeypatch):
    monkeypatch.setattr(bgnbd_map, "store_path", lambda key: tmp_path / f"{key}.pkl")
    monkeypatch.setattr(bgnbd_map, "_CACHE", {})
    (tmp_path / "gamma_gamma:flat.pkl").write_bytes(b"not a pickle")
    compiled = []
    original = bgnbd_map._compile
    monkeypatch.setattr(bgnbd_map, "_compile", lambda t: compiled.append(1) or original(t))
    bgnbd.fit_gamma_gamma(cdnow)
    assert compiled == [1]
    with (tmp_path / "gamma_gamma:flat.pkl").open("rb") as handle:
        assert isinstance(pickle.load(handle), bgnbd_map._Compiled)  # replaced by a good copy


def test_the_disk_key_changes_with_model_and_versions_and_is_off_with_the_cache(monkeypatch):
    import pytensor

    key = bgnbd_map.store_path("beta_geo:flat")
    assert key == bgnbd_map.store_path("beta_geo:flat")
    assert key != bgnbd_map.store_path("beta_geo:default")
    assert key.parent == Path(pytensor.config.compiledir) / "b2b-insights-map"
    monkeypatch.setattr(pytensor, "__version__", "0.0.0-other")
    assert bgnbd_map.store_path("beta_geo:flat") != key
    monkeypatch.setenv("B2B_CACHE", "off")
    assert not bgnbd_map._disk_enabled()
