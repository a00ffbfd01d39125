"""helpers.survival.concordance: lifelines' Harrell C, the same float, the same exceptions."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines import WeibullAFTFitter
from lifelines.datasets import load_rossi
from lifelines.fitters.coxph_fitter import SemiParametricPHFitter as LifelinesSemiParametric
from lifelines.utils import concordance_index as lifelines_c
from lifelines.utils import k_fold_cross_validation

from helpers.survival import efron
from helpers.survival.concordance import (
    concordance_index,
    concordance_summary_statistics,
    parametric_training_concordance,
)
from helpers.survival.cox import cox_fitter


def outcome(f, *args):
    """The value, or the exception's type and message."""
    try:
        return f(*args)
    except (ZeroDivisionError, ValueError) as e:
        return type(e).__name__, str(e)


# --- the rules, by hand (independent of lifelines) ---------------------------------------


def test_tie_rules_by_hand():
    # death at 1 vs censored at 1: comparable (the censored row outlived it); deaths at 2 and
    # 2: not comparable; death at 1 vs each death at 2: comparable. Scores put the censored
    # row above the death at 1 (correct), one death at 2 tied with the death at 1, one above.
    t = [1, 1, 2, 2]
    e = [1, 0, 1, 1]
    s = [5, 6, 5, 7]
    # pairs: (d1, c1) correct, (d1, d2a) tied, (d1, d2b) correct -> (2 + 0.5) / 3
    assert concordance_index(t, s, e) == (2 + 0.5) / 3
    assert concordance_summary_statistics(
        np.array(t, float), np.array(s, float), np.array(e, float)
    ) == (2, 1, 3)


def test_orientation_higher_score_is_longer_survival():
    assert concordance_index([1, 2, 3], [1, 2, 3]) == 1.0
    assert concordance_index([1, 2, 3], [3, 2, 1]) == 0.0
    assert concordance_index([1, 2, 3], [2, 2, 2]) == 0.5


def test_censored_rows_are_not_compared_with_later_rows():
    # the censored row at 1 says nothing about the rows at 2 and 3: only the two deaths
    # (2 before 3) are a pair, and their scores are in order
    assert concordance_index([1, 2, 3], [9, 1, 2], [0, 1, 1]) == 1.0


def test_all_censored_but_one():
    t = [3, 1, 2, 4, 5]
    s = [0.3, 0.1, 0.2, 0.5, 0.25]
    e = [0, 1, 0, 0, 0]  # the death at 1 against all four later rows: all correct
    assert concordance_index(t, s, e) == lifelines_c(t, s, e) == 1.0
    e = [1, 0, 0, 0, 0]  # the death at 3 against the rows at 4 and 5 (one each way)
    assert concordance_index(t, s, e) == lifelines_c(t, s, e) == 0.5


# --- errors: lifelines' types and messages -----------------------------------------------


@pytest.mark.parametrize(
    ("t", "s", "e"),
    [
        ([1, 2, 3], [1, 2, 3], [0, 0, 0]),  # all censored
        ([2, 2, 2], [1, 2, 3], [1, 1, 1]),  # deaths at one time only
        ([1, 2, 3], [1, 2, 3], [0, 0, 1]),  # the only death is the last row
        ([], [], None),  # empty
        ([1.0], [1.0], None),  # one row
        ([1, np.nan], [1, 2], None),
        ([1, 2], [np.nan, 2], None),
        ([1, 2], [1, 2], [1, np.nan]),
        ([1, 2], [1, 2, 3], None),  # shapes
        ([1, 2], [1, 2], [1, 1, 1]),
        ([[1, 2], [3, 4]], [[1, 2], [3, 4]], None),  # 2-d
    ],
)
def test_errors_are_lifelines(t, s, e):
    expected = outcome(lifelines_c, t, s, e)
    assert isinstance(expected, tuple)  # the case does raise
    assert outcome(concordance_index, t, s, e) == expected


# --- the same float as lifelines --------------------------------------------------------


def test_every_small_case_up_to_three_rows():
    """Every case of 1-3 rows (as a multiset: the order of rows does not matter) with times
    and scores in {0, 1, 2} and any censoring."""
    rows = list(itertools.product(range(3), range(3), (0, 1)))  # (time, score, event)
    for n in (1, 2, 3):
        for case in itertools.combinations_with_replacement(rows, n):
            t, s, e = zip(*case, strict=True)
            assert outcome(concordance_index, t, s, e) == outcome(lifelines_c, t, s, e)


def test_random_small_cases_four_and_five_rows():
    rng = np.random.default_rng(4)
    for _ in range(300):
        n = int(rng.integers(4, 6))
        t, s = rng.integers(0, 3, n), rng.integers(0, 3, n)
        e = rng.integers(0, 2, n)
        assert outcome(concordance_index, t, s, e) == outcome(lifelines_c, t, s, e)


@pytest.mark.parametrize("seed", range(6))
def test_heavy_ties_in_times_and_scores(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 400))
    t = rng.integers(0, int(rng.integers(2, 20)), n).astype(float)  # few distinct times
    s = rng.integers(0, int(rng.integers(1, 10)), n) / 3  # few distinct scores (floats)
    e = rng.random(n) < rng.uniform(0.05, 0.95)
    assert concordance_index(t, s, e) == lifelines_c(t, s, e)


def test_integer_float_and_boolean_inputs():
    rng = np.random.default_rng(7)
    t = rng.integers(0, 30, 300)
    s = rng.integers(-5, 5, 300)
    e = rng.integers(0, 2, 300)
    expected = lifelines_c(t, s, e)
    assert concordance_index(t, s, e) == expected
    assert concordance_index(t.astype(float), s.astype(np.float32), e.astype(bool)) == expected
    assert concordance_index(list(t), list(s), list(e)) == expected
    # (n, 1) columns are flattened, as lifelines does
    assert concordance_index(t[:, None], s[None, :], e[:, None]) == expected
    # event flags other than 0/1 are deaths when nonzero (lifelines' astype(bool))
    flags = e * 2.5
    assert concordance_index(t, s, flags) == lifelines_c(t, s, flags) == expected


def test_none_events_means_all_deaths():
    t, s = [1, 2, 2, 3], [1, 3, 2, 0]
    assert concordance_index(t, s) == lifelines_c(t, s) == concordance_index(t, s, [1] * 4)


def test_pandas_series_with_any_index():
    rng = np.random.default_rng(8)
    index = rng.permutation(200) + 1000  # positions matter, labels do not
    t = pd.Series(rng.integers(0, 40, 200), index=index)
    s = pd.Series(rng.normal(size=200), index=index[::-1])
    e = pd.Series(rng.integers(0, 2, 200).astype(bool), index=index)
    assert concordance_index(t, s, e) == lifelines_c(t, s, e)


def test_signed_zero_and_infinite_scores():
    t = [1, 2, 3, 4, 5]
    s = [0.0, -0.0, np.inf, -np.inf, np.inf]
    assert concordance_index(t, s) == lifelines_c(t, s)


def test_twenty_thousand_rows():
    rng = np.random.default_rng(9)
    n = 20_000
    t = rng.integers(0, 700, n).astype(float)  # whole days: many tied times
    s = np.round(rng.normal(size=n), 2)  # a few hundred distinct scores
    e = rng.random(n) < 0.3
    assert concordance_index(t, s, e) == lifelines_c(t, s, e)
    assert concordance_index(t, -s, e) == lifelines_c(t, -s, e)


# --- the fitted models ------------------------------------------------------------------


@pytest.fixture(scope="module")
def rossi() -> pd.DataFrame:
    df = load_rossi()
    df["week"] = df["week"] // 4  # heavy ties in time
    return df


def lifelines_training_c(cph) -> float:
    """lifelines' own ``concordance_index_`` computation on the same fitted model."""
    model = cph._model
    return LifelinesSemiParametric.concordance_index_.fget(model)


@pytest.mark.parametrize("strata", [None, ["wexp"], ["wexp", "mar"]])
def test_cox_training_concordance_is_lifelines(rossi, strata):
    cph = cox_fitter(0.01).fit(rossi, "week", "arrest", strata=strata)
    ours = cph.concordance_index_
    assert "_concordance_index_" in vars(cph._model)  # cached, as lifelines does
    del cph._model._concordance_index_
    assert ours == lifelines_training_c(cph)
    # a refit drops the cached value
    cph.fit(rossi.iloc[:300], "week", "arrest", strata=strata)
    assert cph.concordance_index_ != ours
    del cph._model._concordance_index_
    assert cph.concordance_index_ == lifelines_training_c(cph)


def test_cox_score_is_lifelines(rossi):
    cph = cox_fitter(0.05).fit(rossi.iloc[:300], "week", "arrest")
    test = rossi.iloc[300:]
    expected = LifelinesSemiParametric.score(cph._model, test, "concordance_index")
    assert cph.score(test, scoring_method="concordance_index") == expected
    # other scoring methods are lifelines' own
    assert cph.score(test) == LifelinesSemiParametric.score(cph._model, test)


def test_cross_validation_is_lifelines(rossi, monkeypatch):
    def cv() -> list[float]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return k_fold_cross_validation(
                cox_fitter(0.01), rossi[["week", "arrest", "age", "prio"]], "week", "arrest", k=3,
                scoring_method="concordance_index", seed=42,
            )  # fmt: skip

    ours = cv()
    monkeypatch.setattr(efron.SemiParametricPHFitter, "score", LifelinesSemiParametric.score)
    assert ours == cv()


def test_parametric_training_concordance_is_lifelines(rossi):
    df = rossi.iloc[:200][["week", "arrest", "age", "prio"]].assign(week=lambda d: d["week"] + 0.5)
    fitter = WeibullAFTFitter(penalizer=0.01).fit(df, "week", "arrest")
    ours = parametric_training_concordance(fitter)
    assert ours == fitter.concordance_index_  # lifelines computes it afterwards


def test_parametric_training_concordance_without_pairs_is_half():
    class Fitted:  # a fitted model's attributes, every row censored
        durations = pd.Series([1.0, 2.0])
        event_observed = pd.Series([0, 0])
        _predicted_median = pd.Series([1.0, 2.0])

    assert parametric_training_concordance(Fitted()) == 0.5
