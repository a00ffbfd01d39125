"""The kept-function MAP fit (helpers.survival.bgnbd_map) against pymc-marketing's own
``fit(method="map")``: the same posterior to the last bit, and no compile for a second data
set."""

from __future__ import annotations

import numpy as np
import pandas as pd

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
