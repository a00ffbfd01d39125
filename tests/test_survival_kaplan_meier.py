"""Kaplan-Meier helpers: the Holm correction and the log-rank tests against their libraries."""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd
import pytest
from lifelines.statistics import multivariate_logrank_test, pairwise_logrank_test
from statsmodels.stats.multitest import multipletests

from helpers import survival as sv
from helpers.survival.kaplan_meier import holm, logrank_tests


@pytest.mark.parametrize("seed", range(5))
def test_holm_is_statsmodels_holm_to_the_last_bit(seed, monkeypatch):
    """Same floats as statsmodels (the oracle) in the order given, ties and values that
    correct above 1 included; and no garbage collection on the way (why it is hand-written)."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 1, 40) ** 3
    p[::7] = p[3]  # ties
    p[5] = 0.0
    want = multipletests(p, method="holm")[1]

    def no_collect(*_):
        raise AssertionError("gc.collect called")

    monkeypatch.setattr(gc, "collect", no_collect)
    got = holm(p)
    np.testing.assert_array_equal(got, want)
    assert got.max() == 1.0 and got[5] == 0.0


def test_holm_of_nothing_and_of_one():
    assert holm(np.array([])).shape == (0,)
    np.testing.assert_array_equal(holm([0.3]), [0.3])
    np.testing.assert_array_equal(holm([0.01, 0.04]), [0.02, 0.04])


def _rows(seed: int, n: int, n_groups: int) -> pd.DataFrame:
    """Whole-day durations with many ties, censoring, string groups in a shuffled order, a
    group without any churn and one whose durations miss the overall shortest."""
    rng = np.random.default_rng(seed)
    names = np.array([f"g{k}" for k in rng.permutation(n_groups)], dtype=object)
    g = names[rng.integers(0, n_groups, n)]
    t = np.floor(rng.exponential(200.0, n)) + (g == names[0]) * 3.0
    e = (rng.uniform(size=n) < 0.6).astype("int64")
    e[g == names[-1]] = 0
    return pd.DataFrame({"duration_days": t, "group": g, "event": e})


@pytest.mark.parametrize(("seed", "n", "n_groups"), [(0, 300, 2), (1, 1500, 4), (2, 2500, 6)])
def test_logrank_tests_give_lifelines_results_to_the_bit(seed, n, n_groups):
    """The tables built with numpy against lifelines on every row (the oracle): the same
    statistics and p-values, exactly, for the overall test and every pair."""
    f = _rows(seed, n, n_groups)
    overall, pairs = logrank_tests(f["duration_days"], f["group"], f["event"])
    want = multivariate_logrank_test(f["duration_days"], f["group"], f["event"])
    assert overall.test_statistic == want.test_statistic and overall.p_value == want.p_value
    want_pairs = pairwise_logrank_test(f["duration_days"], f["group"], f["event"]).summary
    pd.testing.assert_frame_equal(pairs.summary, want_pairs, check_exact=True)
    assert len(want_pairs) == n_groups * (n_groups - 1) // 2


def test_logrank_tests_see_censoring_and_the_grouping():
    """Dropping the censoring or mixing up the groups changes the answer (the tests above would
    catch a fast path that did either)."""
    f = _rows(3, 3000, 3)
    base, _ = logrank_tests(f["duration_days"], f["group"], f["event"])
    all_events, _ = logrank_tests(f["duration_days"], f["group"], np.ones(len(f), "int64"))
    shuffled, _ = logrank_tests(
        f["duration_days"], f["group"].sample(frac=1, random_state=1).to_numpy(), f["event"]
    )
    assert base.test_statistic != all_events.test_statistic
    assert base.test_statistic != shuffled.test_statistic


@pytest.mark.slow  # lifelines' own tests on the demo (about 10 s): `make test-slow`
def test_logrank_on_the_demo_segments_matches_lifelines(demo):
    """The study's own log-rank tables (merged small groups, Holm) against lifelines'."""
    from statsmodels.stats.multitest import multipletests

    surv = sv.define_churn(demo, demo.analysis_date).survival
    for column in sv.KM_SEGMENTS:
        p, pairs = sv.logrank(surv, column)
        groups, _ = sv.merge_small_groups(surv[column], surv["event"])
        want = multivariate_logrank_test(surv["duration_days"], groups, surv["event"])
        assert p == float(want.p_value)
        s = pairwise_logrank_test(surv["duration_days"], groups, surv["event"]).summary
        np.testing.assert_array_equal(pairs["p"], s["p"])
        np.testing.assert_array_equal(pairs["p_holm"], multipletests(s["p"], method="holm")[1])


def test_two_group_logrank_is_lifelines_to_the_bit_on_many_samples():
    """Two groups (every pairwise test) are where pandas' block layout decides the last bits:
    many samples of different sizes, all exactly lifelines' value."""
    for seed in range(12):
        f = _rows(100 + seed, 200 + 37 * seed, 2 + seed % 2)
        overall, _ = logrank_tests(f["duration_days"], f["group"], f["event"])
        want = multivariate_logrank_test(f["duration_days"], f["group"], f["event"])
        assert (overall.test_statistic, overall.p_value) == (want.test_statistic, want.p_value)


def test_missing_groups_and_a_single_group_go_to_lifelines_unchanged():
    """What the fast path does not handle, lifelines does (or refuses) as before."""
    f = _rows(7, 400, 3)
    one = f.assign(group="g")
    overall, _ = logrank_tests(one["duration_days"], one["group"], one["event"])
    want = multivariate_logrank_test(one["duration_days"], one["group"], one["event"])
    assert np.array_equal(overall.test_statistic, want.test_statistic, equal_nan=True)
    f.loc[f.index[:4], "group"] = None
    with pytest.raises(TypeError):  # lifelines' pairwise test cannot sort None with text
        pairwise_logrank_test(f["duration_days"], f["group"], f["event"])
    with pytest.raises(TypeError):
        logrank_tests(f["duration_days"], f["group"], f["event"])
