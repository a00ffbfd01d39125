"""helpers.survival.efron: the vectorised Efron terms give lifelines' Cox model exactly."""

from __future__ import annotations

import warnings

import lifelines
import numpy as np
import pandas as pd
import pytest

from helpers.survival import efron
from helpers.survival.cox import cox_fitter


def _frame(seed: int, n: int = 250) -> pd.DataFrame:
    """Whole-day durations (many ties, several deaths per day), a stratum, integer weights and
    delayed entries for some rows."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    frame["d"] = (rng.random(n) < 0.3).astype(float)
    frame["T"] = rng.integers(1, 25, n).astype(float)
    frame["E"] = (rng.random(n) < 0.7).astype(float)
    frame["w"] = rng.integers(1, 4, n).astype(float)
    frame["tier"] = rng.choice(["gold", "silver", "bronze"], n)
    frame["entry"] = np.where(rng.random(n) < 0.3, np.floor(frame["T"] * rng.random(n)), 0.0)
    return frame


#: fit arguments and penalizer (lifelines adds the penalty outside the Efron terms: one case)
CASES = {
    "plain": ({}, 0.0),
    "strata": ({"strata": ["tier"]}, 0.0),
    "weights": ({"weights_col": "w"}, 0.0),
    "entry": ({"entry_col": "entry"}, 0.0),
    "all, penalized": ({"strata": ["tier"], "weights_col": "w", "entry_col": "entry"}, 0.1),
    "two strata, weights": ({"strata": ["tier", "d"], "weights_col": "w"}, 0.0),
}


def _data(frame: pd.DataFrame, kwargs: dict) -> pd.DataFrame:
    used = {"tier": "strata", "w": "weights_col", "entry": "entry_col"}
    return frame.drop(columns=[c for c, k in used.items() if k not in kwargs])


def _fit(fitter: lifelines.CoxPHFitter, frame: pd.DataFrame, kwargs: dict) -> lifelines.CoxPHFitter:
    data = _data(frame, kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fitter.fit(data, "T", "E", **kwargs)


@pytest.mark.parametrize("case", CASES)
def test_the_fit_is_lifelines_fit(case):
    kwargs, penalizer = CASES[case]
    frame = _frame(seed=len(case))
    # an unsorted index with repeated labels (a resample), an int event column
    frame = frame.set_axis(np.arange(len(frame))[::-1] // 2).astype({"E": int})
    mine = _fit(cox_fitter(penalizer), frame, kwargs)
    theirs = _fit(lifelines.CoxPHFitter(penalizer=penalizer), frame, kwargs)
    assert isinstance(mine, lifelines.CoxPHFitter)
    assert type(mine._model) is not type(theirs._model)  # the vectorised path did run
    np.testing.assert_allclose(mine.params_, theirs.params_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(mine.standard_errors_, theirs.standard_errors_, rtol=1e-8)
    assert mine.log_likelihood_ == pytest.approx(theirs.log_likelihood_, rel=1e-10)
    assert mine._ll_null_ == pytest.approx(theirs._ll_null_, rel=1e-10)
    for attr in ("baseline_hazard_", "baseline_survival_", "_central_values"):
        pd.testing.assert_frame_equal(
            getattr(mine, attr), getattr(theirs, attr), check_exact=False, rtol=1e-9
        )
    pd.testing.assert_frame_equal(mine.summary, theirs.summary, check_exact=False, rtol=1e-7)
    pd.testing.assert_frame_equal(
        mine.variance_matrix_, theirs.variance_matrix_, check_exact=False, rtol=1e-9
    )
    assert mine.concordance_index_ == pytest.approx(theirs.concordance_index_, rel=1e-12)
    # the preprocessing (efron_fit.prepare): same sorted rows, labels, dtypes and scaling
    for attr in ("durations", "event_observed", "weights", "entries", "_norm_mean", "_norm_std"):
        expected = getattr(theirs._model, attr)
        if expected is None:
            assert getattr(mine._model, attr) is None
        else:
            pd.testing.assert_series_equal(getattr(mine._model, attr), expected, check_exact=True)
    pd.testing.assert_frame_equal(
        mine._model._predicted_partial_hazards_,
        theirs._model._predicted_partial_hazards_,
        check_exact=False,
        rtol=1e-9,
    )
    data = _data(frame, kwargs)
    pd.testing.assert_frame_equal(
        mine.predict_survival_function(data.head(5)),
        theirs.predict_survival_function(data.head(5)),
        check_exact=False,
        rtol=1e-9,
    )
    assert mine.score(data) == pytest.approx(theirs.score(data), rel=1e-10)


def _lifelines_terms(x, t, e, w, beta, entries=None):
    """lifelines' own per-row (or, with entries, per-death-time) Efron terms."""
    fitter = lifelines.fitters.coxph_fitter.SemiParametricPHFitter()
    args = (pd.DataFrame(x), pd.Series(t), pd.Series(e), pd.Series(w))
    if entries is None:
        return fitter._get_efron_values_single(*args, None, beta)
    return lifelines.CoxTimeVaryingFitter._get_gradients(x, e, entries, t, w, beta)


@pytest.mark.parametrize("with_entries", [False, True])
def test_terms_equal_lifelines_at_any_beta(with_entries):
    rng = np.random.default_rng(5)
    n = 300
    x = rng.normal(size=(n, 4))
    t = np.sort(rng.integers(1, 20, n).astype(float))
    e = rng.random(n) < 0.6
    w = rng.integers(1, 3, n).astype(float)
    entries = np.floor(t * rng.random(n)) if with_entries else None
    beta = rng.normal(scale=0.3, size=4)
    h, g, ll = efron.efron_values(x, t, e, w, entries, beta)
    h0, g0, ll0 = _lifelines_terms(x, t, e, w, beta, entries)
    np.testing.assert_allclose(h, h0, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(g, g0, rtol=1e-10, atol=1e-10)
    assert ll == pytest.approx(ll0, rel=1e-12)


def test_a_three_way_tie_by_hand():
    """Rows: times 1,2,2,2,3; events 1,1,1,1,0; one covariate x = 0,1,2,3,4; beta 0.5.
    Efron at t=2 (three tied deaths, risk set rows 1-4): the l-th factor is
    S0 - l/3 * T0 with S0 = e^.5+e^1+e^1.5+e^2 and T0 = e^.5+e^1+e^1.5."""
    x = np.array([[0.0], [1.0], [2.0], [3.0], [4.0]])
    t = np.array([1.0, 2.0, 2.0, 2.0, 3.0])
    e = np.array([True, True, True, True, False])
    w = np.ones(5)
    beta = np.array([0.5])
    phi = np.exp(0.5 * x[:, 0])
    loglik = 0.5 * (0 + 1 + 2 + 3) - np.log(phi.sum())  # t=1: one death, all at risk
    s0, s1, s2 = phi[1:].sum(), (phi * x[:, 0])[1:].sum(), (phi * x[:, 0] ** 2)[1:].sum()
    t0, t1, t2 = phi[1:4].sum(), (phi * x[:, 0])[1:4].sum(), (phi * x[:, 0] ** 2)[1:4].sum()
    grad = (0 + 1 + 2 + 3) - (phi * x[:, 0]).sum() / phi.sum()
    hess = -((phi * x[:, 0] ** 2).sum() / phi.sum() - ((phi * x[:, 0]).sum() / phi.sum()) ** 2)
    for f in (0, 1 / 3, 2 / 3):
        d0, d1, d2 = s0 - f * t0, s1 - f * t1, s2 - f * t2
        loglik -= np.log(d0)
        grad -= d1 / d0
        hess -= d2 / d0 - (d1 / d0) ** 2
    h, g, ll = efron.efron_values(x, t, e, w, None, beta)
    assert ll == pytest.approx(loglik, rel=1e-13)
    assert g[0] == pytest.approx(grad, rel=1e-13)
    assert h[0, 0] == pytest.approx(hess, rel=1e-13)
    # Breslow (no tie correction) would give another value: the test sees the correction
    assert ll != pytest.approx(0.5 * 6 - np.log(phi.sum()) - 3 * np.log(s0), rel=1e-6)


def test_unsorted_rows_and_no_deaths():
    rng = np.random.default_rng(3)
    x, t = rng.normal(size=(50, 2)), rng.integers(1, 9, 50).astype(float)
    e, w, beta = rng.random(50) < 0.5, np.ones(50), np.array([0.2, -0.1])
    order = np.argsort(t, kind="stable")
    shuffled = efron.efron_values(x, t, e, w, None, beta)
    ordered = efron.efron_values(x[order], t[order], e[order], w[order], None, beta)
    for a, b in zip(shuffled, ordered, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    h, g, ll = efron.efron_values(x, t, np.zeros(50, bool), w, None, beta)
    assert ll == 0.0 and not g.any() and not h.any()


def test_the_project_fits_through_it():
    from helpers import survival as sv

    frame = _frame(seed=9, n=120).rename(columns={"T": "duration_days", "E": "event"})
    design = sv.design_matrix(frame, ["tier"], min_events=1)
    cph, _ = sv.fit_cox(design, 0.0)
    assert isinstance(cph, efron.CoxPHFitter) and isinstance(
        cph._model, efron.SemiParametricPHFitter
    )


@pytest.mark.parametrize("case", ["plain", "strata"])
def test_partial_hazards_are_lifelines_own_arithmetic_on_the_same_fit(case):
    """The direct column path of predict_log_partial_hazard gives lifelines' floats bit for
    bit on the same fitted model: columns in another order, extra columns (outcome, strata),
    a non-default index; a numpy array still takes lifelines' path."""
    kwargs, _ = CASES[case]
    frame = _frame(seed=3)
    fitted = _fit(cox_fitter(), frame, kwargs)
    data = _data(frame, kwargs).set_axis(np.arange(len(frame)) * 7 + 5)
    shuffled = data[data.columns[::-1]]
    model = fitted._model
    theirs = lifelines.fitters.coxph_fitter.SemiParametricPHFitter.predict_log_partial_hazard
    for x in (data, shuffled):
        mine = fitted.predict_log_partial_hazard(x)
        pd.testing.assert_series_equal(mine, theirs(model, x), check_exact=True)
        pd.testing.assert_series_equal(
            fitted.predict_partial_hazard(x), np.exp(theirs(model, x)), check_exact=True
        )
    covariates = data[list(fitted.params_.index)].to_numpy()
    assert np.array_equal(fitted.predict_log_partial_hazard(covariates), theirs(model, covariates))
    # the training scores a fit keeps come through the same path
    expected = np.exp(theirs(model, _data(frame, kwargs))).sort_index()
    kept = fitted._predicted_partial_hazards_["P"].to_numpy()
    assert np.allclose(np.sort(kept), np.sort(expected.to_numpy()), rtol=0, atol=0)


def test_partial_hazards_of_rows_with_repeated_labels_number_them_as_lifelines_does():
    """lifelines numbers the rows 0..n-1 (with a warning) when the index repeats a label; a fit
    on resampled rows (repeated labels) needs that to line its training scores up."""
    rows = _frame(seed=4).sample(n=400, replace=True, random_state=0)
    fitted = _fit(cox_fitter(), rows, {})
    theirs = _fit(lifelines.CoxPHFitter(), rows, {})
    rows = _data(rows, {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mine = fitted.predict_log_partial_hazard(rows)
    assert list(mine.index) == list(range(len(rows)))
    np.testing.assert_allclose(mine, theirs.predict_log_partial_hazard(rows), rtol=1e-9)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 10, 1001])
def test_the_median_of_a_dummy_column_is_numpys(n):
    rng = np.random.default_rng(n)
    for share in (0.0, 0.3, 0.5, 0.7, 1.0):
        values = (rng.random(n) < share).astype(float)
        balanced = rng.permutation(np.r_[np.zeros(n // 2), np.ones(n - n // 2)])
        for v in (values, balanced, np.r_[values[:-1], 2.0]):  # the last: not 0/1
            assert efron._median(v) == np.quantile(v, 0.5)
