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
    logrank_test,
    multivariate_logrank_test,
    pairwise_logrank_test,
)
from lifelines.utils import median_survival_times

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

    How: lifelines builds its survival tables with pandas group-bys over every row (each pair
    of groups again), about 3 s for three segments at 100k accounts. Rows with the same group,
    duration and event are interchangeable, so they are collapsed into one row with their count
    as its case weight (lifelines' ``weights``): each table entry is a sum of ones either way,
    an exact integer, so the tables and everything computed from them are identical. The
    groups keep their order of first appearance (lifelines' group order in the multivariate
    test). Rows with a missing duration go to lifelines unchanged.
    """
    t = np.asarray(durations, dtype=float)
    if np.isnan(t).any():
        return (
            multivariate_logrank_test(durations, groups, events),
            pairwise_logrank_test(durations, groups, events),
        )
    codes, names = pd.factorize(np.asarray(groups), sort=False)
    counts = (
        pd.DataFrame({"g": codes, "t": t, "e": np.asarray(events)})
        .groupby(["g", "t", "e"], sort=True)
        .size()
        .reset_index(name="n")
    )
    g = np.asarray(names, dtype=object)[counts["g"].to_numpy()]
    t, e, w = counts["t"].to_numpy(), counts["e"].to_numpy(), counts["n"].to_numpy(float)
    overall = multivariate_logrank_test(t, g, e, weights=w)
    # pairwise_logrank_test's own loop (it takes no weights): sorted groups, each pair once
    pairs = StatisticalResult([], [], [], test_name="pairwise_logrank_test")
    for a, b in combinations(np.unique(g), 2):
        ia, ib = g == a, g == b
        pairs += logrank_test(
            t[ia], t[ib], e[ia], e[ib], weights_A=w[ia], weights_B=w[ib], name=[(a, b)]
        )
    return overall, pairs


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
