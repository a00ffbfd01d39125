"""Kaplan-Meier curves and log-rank tests: how long accounts stay, overall and by segment.

Segments with fewer than ``min_events`` churn events are merged into ``other`` (their curves
would be noise). Pairwise log-rank p-values are Holm-corrected for multiple testing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.statistics import (
    StatisticalResult,
    multivariate_logrank_test,
    pairwise_logrank_test,
)
from lifelines.utils import median_survival_times
from scipy.stats import chi2

from helpers.steps import Skipped, step
from helpers.survival.definition import ChurnDefinition, fit_km

#: Segments the churn study compares by default (columns of the customer features). Value
#: tiers are compared separately, from a landmark date (:mod:`helpers.survival.tiers`).
KM_SEGMENTS: tuple[str, ...] = ("acquisition_channel", "industry", "ownership_type")


def merge_small_groups(
    values: pd.Series, events: pd.Series, min_events: int = 10
) -> tuple[pd.Series, list[str]]:
    """Groups with fewer than ``min_events`` events become ``"other"``; returns the merged
    labels and the names of the groups merged (for a note in the report)."""
    counts = events.groupby(values).sum()
    small = sorted(counts[counts < min_events].index.astype(str))
    merged = values.astype(str).where(~values.astype(str).isin(small), "other")
    return merged, small


def km_by(
    frame: pd.DataFrame, column: str | None = None, min_events: int = 10
) -> tuple[dict[str, KaplanMeierFitter], list[str]]:
    """Kaplan-Meier fits overall (``column=None``) or per group; small groups merged."""
    if column is None:
        return {"all accounts": fit_km(frame, "all accounts")}, []
    groups, merged = merge_small_groups(frame[column], frame["event"], min_events)
    fits = {}
    for name in sorted(groups.unique()):
        part = frame[groups == name]
        fits[name] = fit_km(part, name)
    return fits, merged


def median_table(fits: dict[str, KaplanMeierFitter]) -> pd.DataFrame:
    """Median lifetime (days) with its 95% interval and counts, per fitted group."""
    rows = []
    for name, km in fits.items():
        ci = median_survival_times(km.confidence_interval_)
        rows.append(
            {
                "group": name,
                "accounts": int(km.event_observed.size),
                "churned": int(km.event_observed.sum()),
                "median_days": float(km.median_survival_time_),
                "low": float(ci.iloc[0, 0]),
                "high": float(ci.iloc[0, 1]),
            }
        )
    return pd.DataFrame(rows).set_index("group")


def holm(pvalues) -> np.ndarray:
    """Holm-corrected p-values (step-down Bonferroni), in the order given: statsmodels'
    ``multipletests(pvalues, method="holm")[1]``, the same operations on the same numbers,
    so the same floats.

    Why hand-written: statsmodels' Holm branch calls ``gc.collect()`` on every call, a full
    collection of the process heap (0.3-1 s in the churn notebook at 100k accounts, where
    the heap holds the loaded tables; eight calls per run) for a five-line computation.
    """
    pvals = np.asarray(pvalues)
    order = np.argsort(pvals)
    pvals = np.take(pvals, order)
    corrected = np.maximum.accumulate(pvals * np.arange(len(pvals), 0, -1))
    corrected[corrected > 1] = 1
    out = np.empty_like(corrected)
    out[order] = corrected
    return out


def logrank_tests(
    durations: pd.Series, groups: pd.Series, events: pd.Series
) -> tuple[StatisticalResult, StatisticalResult]:
    """lifelines' ``multivariate_logrank_test`` and ``pairwise_logrank_test`` of the rows
    (``durations`` in days, group labels, ``events`` 0/1), with the same results to the bit.

    Why hand-written: lifelines builds its survival tables with a pandas group-by and an outer
    join per group (each pair of groups again), about 4 s for three segments at 100k
    accounts. Here the same tables (the rows removed and churned per distinct time and group,
    counts as float) come from one ``np.add.at`` each, laid out as lifelines lays them out
    (its first groups in one pandas block, the last in its own: the layout decides how pandas
    sums, hence the last bits), and lifelines' own arithmetic runs on them
    (:func:`_logrank_from_tables`). Rows with a missing duration or group, or a single group,
    go to lifelines unchanged.
    """
    t = np.asarray(durations, dtype=float)
    codes, names = pd.factorize(np.asarray(groups), sort=False)  # lifelines' group order
    if np.isnan(t).any() or (codes < 0).any() or len(names) < 2:
        return (
            multivariate_logrank_test(durations, groups, events),
            pairwise_logrank_test(durations, groups, events),
        )
    e = np.asarray(events) != 0
    u, p = _logrank(t, codes, e, len(names))
    overall = StatisticalResult(
        p,
        u,
        t_0=-1,
        null_distribution="chi squared",
        degrees_of_freedom=len(names) - 1,
        test_name="multivariate_logrank_test",
    )
    # pairwise_logrank_test's loop: sorted groups, each pair once, the first as group 0
    labels = np.asarray(names, dtype=object)[codes]
    pairs = StatisticalResult([], [], [], test_name="pairwise_logrank_test")
    for a, b in combinations(np.unique(labels), 2):
        ia, ib = np.flatnonzero(labels == a), np.flatnonzero(labels == b)
        rows = np.concatenate([ia, ib])
        two = np.r_[np.zeros(len(ia), dtype=np.intp), np.ones(len(ib), dtype=np.intp)]
        u, p = _logrank(t[rows], two, e[rows], 2)
        pairs += StatisticalResult(
            p,
            u,
            t_0=-1,
            null_distribution="chi squared",
            degrees_of_freedom=1,
            test_name="logrank_test",
            name=[(a, b)],
        )
    return overall, pairs


def _logrank(t: np.ndarray, codes: np.ndarray, died: np.ndarray, k: int) -> tuple[float, float]:
    """Log-rank statistic and p-value of ``k`` groups (``codes`` 0..k-1 in lifelines' order)."""
    times = np.unique(t)
    at = np.searchsorted(times, t)
    removed, observed = np.zeros((len(times), k)), np.zeros((len(times), k))
    np.add.at(removed, (at, codes), 1.0)
    np.add.at(observed, (at, codes), died.astype(float))
    index = pd.Index(times, name="event_at")
    return _logrank_from_tables(_as_lifelines(removed, index), _as_lifelines(observed, index), k)


def _as_lifelines(counts: np.ndarray, index: pd.Index) -> pd.DataFrame:
    """A (times x groups) table in the blocks of lifelines' ``group_survival_table_from_events``:
    the first groups' columns in one C-ordered block, the last group's in a block of its own."""
    k = counts.shape[1]
    frame = pd.DataFrame(
        np.ascontiguousarray(counts[:, :-1].T).T,
        index=index,
        columns=[str(j) for j in range(k - 1)],
    )
    frame[str(k - 1)] = counts[:, -1]
    return frame


def _logrank_from_tables(rm: pd.DataFrame, obs: pd.DataFrame, n_groups: int) -> tuple[float, float]:
    """lifelines 0.30's ``multivariate_logrank_test`` arithmetic (no weightings, no t_0),
    verbatim, on its removed (``rm``) and observed (``obs``) tables (MIT licence)."""
    n_ij = rm.sum(0).values - rm.cumsum(0).shift(1).fillna(0)
    d_i = obs.sum(1)
    n_i = rm.values.sum() - rm.sum(1).cumsum().shift(1).fillna(0)
    ev_i = n_ij.mul(d_i / n_i, axis="index")
    w_i = np.ones(d_i.shape[0])
    N_j = obs.mul(w_i, axis=0).sum(0).values  # noqa: N806 - lifelines' names
    ev = ev_i.mul(w_i, axis=0).sum(0)
    Z_j = N_j - ev  # noqa: N806
    assert abs(Z_j.sum()) < 10e-8, "Sum is not zero."
    factor = (((n_i - d_i) / (n_i - 1)).replace([np.inf, np.nan], 1)) * d_i / n_i**2
    n_ij["_"] = n_i.values
    V_ = (n_ij.mul(w_i, axis=0)).mul(np.sqrt(factor), axis="index").fillna(0)  # noqa: N806
    V = -np.dot(V_.T, V_)  # noqa: N806
    ix = np.arange(n_groups)
    V[ix, ix] = V[ix, ix] - V[-1, ix]
    V = V[:-1, :-1]  # noqa: N806
    U = Z_j.iloc[:-1] @ np.linalg.pinv(V[:-1, :-1]) @ Z_j.iloc[:-1]  # noqa: N806
    return U, chi2.sf(U, n_groups - 1)


def logrank(frame: pd.DataFrame, column: str, min_events: int = 10) -> tuple[float, pd.DataFrame]:
    """Multivariate log-rank p-value and pairwise tests with Holm-corrected p-values."""
    groups, _ = merge_small_groups(frame[column], frame["event"], min_events)
    if groups.nunique() < 2:
        return float("nan"), pd.DataFrame()
    overall, pairwise = logrank_tests(frame["duration_days"], groups, frame["event"])
    pairs = pairwise.summary
    pairs = pairs.reset_index().rename(columns={"level_0": "group_a", "level_1": "group_b"})
    pairs["p_holm"] = holm(pairs["p"])
    return float(overall.p_value), pairs[["group_a", "group_b", "test_statistic", "p", "p_holm"]]


@dataclass(frozen=True)
class KaplanMeier:
    """Kaplan-Meier curves overall and per segment, their medians and log-rank tests.

    ``overall`` maps "all accounts" to its fit; ``segments`` maps each segment column to its
    fits (or the reason it has none); ``medians`` is the median lifetime table (days, 95%
    interval) of every segment; ``logrank`` the overall p-value per segment and ``pairs`` the
    pairwise tests whose Holm-corrected p-value is below 0.05.
    """

    overall: dict[str, KaplanMeierFitter]
    segments: dict[str, dict[str, KaplanMeierFitter] | Skipped]
    medians: pd.DataFrame
    logrank: pd.DataFrame | Skipped  # Skipped when no segment has two groups to compare
    pairs: pd.DataFrame | Skipped  # Skipped when no pair differs

    @property
    def median_days(self) -> float:
        """KM median lifetime of all accounts (days; ``inf`` when never reached)."""
        return float(self.overall["all accounts"].median_survival_time_)

    @property
    def median_interval(self) -> tuple[float, float]:
        """95% interval of the median lifetime (days; ``inf`` where not reached)."""
        row = median_table(self.overall).iloc[0]
        return float(row["low"]), float(row["high"])


@step("The Kaplan-Meier curves")
def kaplan_meier(
    definition: ChurnDefinition, segments: Sequence[str] = KM_SEGMENTS, min_events: int = 10
) -> KaplanMeier:
    """KM fits of all accounts and of each segment column present in the data (a segment
    column absent or with one group is skipped with its reason), medians and log-rank tests."""
    frame = definition.survival
    overall, _ = km_by(frame)
    fits: dict[str, dict[str, KaplanMeierFitter] | Skipped] = {}
    medians, pvalues, pairs = {}, {}, {}
    for column in segments:
        if column not in frame.columns or frame[column].isna().all():
            fits[column] = Skipped(f"the data has no {column.replace('_', ' ')} column")
            continue
        fits[column], _ = km_by(frame, column, min_events)
        medians[column] = median_table(fits[column])
        p, table = logrank(frame, column, min_events)
        if np.isfinite(p):  # a segment left with one group (after merging) has no test
            pvalues[column] = p
        if len(table):
            pairs[column] = table[table["p_holm"] < 0.05]
    return KaplanMeier(
        overall=overall,
        segments=fits,
        medians=pd.concat(medians, names=["segment"]) if medians else pd.DataFrame(),
        logrank=pd.DataFrame({"log-rank p-value": pvalues})
        if pvalues
        else Skipped(
            f"no segment has two groups with {min_events}+ churn events", step="The log-rank tests"
        ),
        pairs=pd.concat(pairs, names=["segment"])
        if pairs and any(len(t) for t in pairs.values())
        else Skipped(
            "no pair of levels differs (Holm-corrected p ≥ 0.05)", step="Pairs that differ"
        ),
    )
