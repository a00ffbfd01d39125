"""helpers.survival.efron_fit: lifelines' Cox preprocessing without its pandas copies, and the
fits it leaves to lifelines."""

from __future__ import annotations

import warnings

import lifelines
import numpy as np
import pandas as pd
import pytest
from lifelines.fitters.coxph_fitter import SemiParametricPHFitter as Lifelines
from lifelines.utils import normalize

from helpers.survival import efron, efron_fit
from helpers.survival.cox import cox_fitter


def _frame(seed: int = 0, n: int = 200) -> pd.DataFrame:
    """Whole-day durations (ties, deaths and censored rows on the same day), an int covariate,
    a bool covariate, a float32 covariate, weights, delayed entries, two strata columns; an
    unsorted index with repeated labels."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "k": rng.integers(0, 5, n),
            "flag": rng.random(n) < 0.4,
            "f32": rng.normal(size=n).astype(np.float32),
            "T": rng.integers(1, 15, n),
            "E": (rng.random(n) < 0.6).astype(int),
            "w": rng.integers(1, 4, n).astype(float),
            "tier": rng.choice(["gold", "silver", "bronze"], n),
            "region": rng.choice([2, 1], n),
        }
    )
    frame["entry"] = np.floor(frame["T"] * rng.random(n) * (rng.random(n) < 0.3))
    return frame.set_axis(rng.integers(0, n // 2, n))


OPTIONS = {
    "plain": dict(drop=["w", "entry", "tier", "region"]),
    "weights, entry": dict(weights_col="w", entry_col="entry", drop=["tier", "region"]),
    "strata": dict(strata=["tier", "region"], weights_col="w", drop=["entry"]),
    "one stratum, entry": dict(strata="tier", entry_col="entry", drop=["w", "region"]),
    "no event column": dict(event_col=None, drop=["E", "w", "entry", "tier", "region"]),
}


def _lifelines_model(options: dict) -> Lifelines:
    model = Lifelines()
    model.duration_col, model.event_col = "T", options.get("event_col", "E")
    model.weights_col, model.entry_col = options.get("weights_col"), options.get("entry_col")
    model.strata = lifelines.utils._to_list_or_singleton(options.get("strata"))
    model.formula, model.robust, model.cluster_col = None, False, None
    return model


@pytest.mark.parametrize("case", OPTIONS)
def test_prepare_gives_lifelines_preprocessed_and_normalised_data(case):
    options = OPTIONS[case]
    df = _frame().drop(columns=options["drop"])
    theirs, mine = _lifelines_model(options), _lifelines_model(options)
    theirs._n_examples = mine._n_examples = len(df)
    assert efron_fit.supported(mine, df)
    X, T, E, W, entries, index, _ = theirs._preprocess_dataframe(df)
    prepared = efron_fit.prepare(mine, df)
    mean, std = X.mean(0), X.std(0)
    normalised = pd.DataFrame(normalize(X.values, mean.values, std.values), X.index, X.columns)
    pd.testing.assert_frame_equal(prepared.X, normalised, check_exact=True)
    pd.testing.assert_series_equal(prepared.mean, mean, check_exact=True)
    pd.testing.assert_series_equal(prepared.std, std, check_exact=True)
    for ours, expected in ((prepared.T, T), (prepared.E, E), (prepared.W, W)):
        pd.testing.assert_series_equal(ours, expected, check_exact=True)
    if entries is None:
        assert prepared.entries is None
    else:
        pd.testing.assert_series_equal(prepared.entries, entries, check_exact=True)
    pd.testing.assert_index_equal(prepared.original_index, index, exact=True)
    assert mine.regressors.mappings == theirs.regressors.mappings
    assert prepared.X.to_numpy().flags.f_contiguous  # one block, no copy by the frame


def test_prepare_warns_as_lifelines_on_a_low_variance_column():
    df = _frame().drop(columns=["w", "entry", "tier", "region"]).assign(tiny=1e-4)
    model = _lifelines_model(OPTIONS["plain"])
    model._n_examples = len(df)
    with pytest.warns(lifelines.exceptions.ConvergenceWarning, match=r"\['tiny'\]"):
        efron_fit.prepare(model, df)


@pytest.mark.parametrize(
    "kwargs, change",
    [
        ({"robust": True}, None),
        ({"cluster_col": "cluster"}, None),
        ({"formula": "a + k"}, None),
        ({}, "nan"),
        ({}, "object"),
        ({}, "version"),
    ],
)
def test_what_it_does_not_cover_is_lifelines_own_fit(kwargs, change, monkeypatch):
    df = _frame(n=120).drop(columns=["w", "entry", "tier", "region"])
    if "cluster_col" in kwargs:
        df["cluster"] = np.arange(len(df)) % 7
    if change == "nan":
        df.loc[df.index[3], "a"] = np.nan
    if change == "object":
        df["k"] = df["k"].astype(object)
    if change == "version":
        monkeypatch.setattr(lifelines, "__version__", "0.31.0")
    calls = []
    monkeypatch.setattr(efron_fit, "prepare", lambda *a: calls.append(a))

    def fit(fitter):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fitter.fit(df, "T", "E", **kwargs)

    if change == "nan":  # lifelines' own error
        with pytest.raises(TypeError, match="NaNs were detected"):
            fit(cox_fitter())
        assert not calls
        return
    mine, theirs = fit(cox_fitter()), fit(lifelines.CoxPHFitter())
    assert not calls and isinstance(mine._model, efron.SemiParametricPHFitter)
    np.testing.assert_allclose(mine.params_, theirs.params_, rtol=1e-9)
    np.testing.assert_allclose(mine.standard_errors_, theirs.standard_errors_, rtol=1e-9)
