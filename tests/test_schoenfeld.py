"""helpers.survival.schoenfeld: the vectorised Schoenfeld residuals are lifelines' own, and so
are the scaled residuals and the proportional-hazards test built on them."""

from __future__ import annotations

import types
import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines.fitters.coxph_fitter import SemiParametricPHFitter as LifelinesSemiParametric
from lifelines.statistics import proportional_hazard_test

from helpers import survival as sv
from helpers.survival import cox
from helpers.survival.cox import cox_fitter
from helpers.survival.efron import SemiParametricPHFitter
from helpers.survival.schoenfeld import schoenfeld_residuals

#: lifelines' per-row loop, the reference every value here is compared with
LIFELINES_LOOP = LifelinesSemiParametric._compute_schoenfeld_within_strata


def _frame(seed: int, n: int = 300) -> pd.DataFrame:
    """Whole-day durations on 12 days (about 25 rows and 15 deaths per day: many ties), a
    binary and three normal covariates, integer weights, and a stratum ('none' has no death)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    frame["d"] = (rng.random(n) < 0.3).astype(float)
    frame["T"] = rng.integers(1, 13, n).astype(float)
    frame["E"] = (rng.random(n) < 0.6).astype(float)
    frame["w"] = rng.integers(1, 4, n).astype(float)
    frame["tier"] = rng.choice(["gold", "silver", "bronze"], n)
    frame.loc[frame.index[:20], "tier"] = "none"
    frame.loc[frame.index[:20], "E"] = 0.0
    return frame


#: fit arguments and penalizer of each case
CASES = {
    "ties": ({}, 0.0),
    "strata": ({"strata": ["tier"]}, 0.0),
    "weights": ({"weights_col": "w"}, 0.0),
    "penalized, strata, weights": ({"strata": ["tier"], "weights_col": "w"}, 0.1),
}


def _fit(data: pd.DataFrame, duration: str, event: str, penalizer: float = 0.0, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cox_fitter(penalizer).fit(data, duration, event, **kwargs)


def _both(model, data: pd.DataFrame) -> tuple[dict, dict]:
    """The fitted model's residuals, scaled residuals and PH test, computed once with the
    project's residuals and once with lifelines' loop put back on the same fitted object."""
    fitted = model._model
    assert isinstance(fitted, SemiParametricPHFitter)  # the project's fitter, not lifelines'
    assert type(fitted)._compute_schoenfeld_within_strata is not LIFELINES_LOOP
    out = []
    for loop in (None, LIFELINES_LOOP):
        if loop is not None:
            fitted._compute_schoenfeld_within_strata = types.MethodType(loop, fitted)
        try:
            out.append(
                {
                    "schoenfeld": model.compute_residuals(data, "schoenfeld"),
                    "scaled": model.compute_residuals(data, "scaled_schoenfeld"),
                    "test": proportional_hazard_test(model, data, time_transform="rank").summary,
                }
            )
        finally:
            fitted.__dict__.pop("_compute_schoenfeld_within_strata", None)
    return out[0], out[1]


def _assert_same(mine: dict, theirs: dict) -> None:
    for kind in ("schoenfeld", "scaled"):
        pd.testing.assert_index_equal(mine[kind].index, theirs[kind].index)  # same rows, order
        pd.testing.assert_index_equal(mine[kind].columns, theirs[kind].columns)
        np.testing.assert_allclose(mine[kind], theirs[kind], rtol=1e-9, atol=1e-9)
    pd.testing.assert_index_equal(mine["test"].index, theirs["test"].index)
    for column in ("test_statistic", "p"):
        np.testing.assert_allclose(mine["test"][column], theirs["test"][column], rtol=1e-9)


@pytest.mark.parametrize("case", CASES)
def test_residuals_and_ph_test_are_lifelines(case):
    kwargs, penalizer = CASES[case]
    frame = _frame(seed=len(case))
    data = frame.drop(
        columns=[c for c, k in {"tier": "strata", "w": "weights_col"}.items() if k not in kwargs]
    )
    model = _fit(data, "T", "E", penalizer, **kwargs)
    mine, theirs = _both(model, data)
    _assert_same(mine, theirs)
    assert (mine["schoenfeld"].abs().to_numpy() > 1e-3).mean() > 0.5  # not all zeros


@pytest.fixture(scope="module")
def demo_design(demo) -> cox.Design:
    """The churn study's design on the demo data, as :func:`helpers.survival.cox.churn_model`
    builds it (default threshold, covariates and references)."""
    return cox.design_matrix(sv.define_churn(demo, demo.analysis_date).survival)


def test_the_demo_churn_design_and_its_stratified_remedy(demo_design):
    """The churn study's design, fitted as ``ph_check`` fits it (without delayed entry), and the
    same design stratified on size."""
    design = demo_design
    data = design.data.drop(columns=["entry_days"], errors="ignore")
    model = _fit(data, "duration_days", "event", 0.01)
    _assert_same(*_both(model, data))

    size = [c for c in data.columns if c.startswith("size_band=")]
    label = design.levels["size_band"].reindex(data.index).to_numpy()
    stratified = data.drop(columns=size).assign(size_band=label)
    model = _fit(stratified, "duration_days", "event", 0.01, strata=["size_band"])
    _assert_same(*_both(model, stratified))


@pytest.mark.parametrize("entry", [False, True])
def test_ph_check_gives_lifelines_result(demo_design, monkeypatch, entry):
    """``ph_check`` on the demo design as with lifelines' loop; with delayed entry (a third of
    the accounts observed from a later day) it refits without it first, both ways."""
    design = demo_design
    if entry:
        rng = np.random.default_rng(11)
        data = design.data[design.data["duration_days"] > 0]  # lifelines: entry < duration
        days = data["duration_days"]
        late = np.where(rng.random(len(days)) < 1 / 3, np.floor(days * rng.random(len(days))), 0)
        design = cox.Design(data.assign(entry_days=late), design.covariates, design.references)
    model, _ = cox.fit_cox(design, 0.01)
    assert model.entry_col == ("entry_days" if entry else None)
    mine = cox.ph_check(model, design)
    monkeypatch.setattr(SemiParametricPHFitter, "_compute_schoenfeld_within_strata", LIFELINES_LOOP)
    theirs = cox.ph_check(model, design)
    pd.testing.assert_frame_equal(mine, theirs, check_exact=False, rtol=1e-9, atol=0)


def test_unsorted_rows_and_edge_groups_follow_lifelines_rule():
    """Called directly on rows in any order, ties are runs of equal consecutive durations and
    the risk set is the rows from the run's start on (lifelines' loop); a run without deaths
    and a stratum without deaths give zeros."""
    rng = np.random.default_rng(7)
    n = 60
    x = rng.normal(size=(n, 2))
    t = rng.integers(1, 6, n).astype(float)
    e = rng.random(n) < 0.5
    w = rng.integers(1, 3, n).astype(float)
    beta = np.array([0.4, -0.7])
    owner = types.SimpleNamespace(params_=pd.Series(beta))
    args = (pd.DataFrame(x), pd.Series(t), pd.Series(e), pd.Series(w))
    mine = schoenfeld_residuals(*args, beta)
    np.testing.assert_allclose(mine, LIFELINES_LOOP(owner, *args, None), rtol=1e-12, atol=1e-12)
    assert (mine[~e] == 0).all() and (np.abs(mine[e]).sum(axis=1) > 1e-6).mean() > 0.8
    none = pd.Series(np.zeros(n, bool))
    assert (schoenfeld_residuals(args[0], args[1], none, args[3], beta) == 0).all()
