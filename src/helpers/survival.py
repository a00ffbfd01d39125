"""Survival-based churn: who will leave, and when (lifelines models, own metrics).

Churn is silence: an account that has not bought for ``threshold`` days has churned at its
last order; one still inside its silent window is censored (see :mod:`helpers.features` for
the exact censoring rule). Durations are whole days from the first order (lifelines' Cox fit
cost grows with the number of distinct event times).

Metrics lifelines lacks (Uno's C, time-dependent AUC, Brier score and IBS against a
Kaplan-Meier baseline) are written here in a few vectorised lines each, with the inverse
probability of censoring weights of Uno et al. (2011) and Graf et al. (1999); scikit-survival
would bring a compiled dependency for four formulas.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from lifelines import (
    CoxPHFitter,
    KaplanMeierFitter,
    LogLogisticAFTFitter,
    WeibullAFTFitter,
)
from lifelines.exceptions import ConvergenceError
from lifelines.statistics import multivariate_logrank_test, pairwise_logrank_test
from lifelines.utils import concordance_index
from statsmodels.stats.multitest import multipletests

from helpers.features import customer_features, order_gaps

DEFAULT_COVARIATES: tuple[str, ...] = (
    "ownership_type",
    "size_band",
    "acquisition_channel",
    "industry",
    "business_type",
)


# --- defining churn ---------------------------------------------------------------------------


def default_threshold(gaps: pd.Series, quantile: float = 0.99, step: int = 30) -> int:
    """Churn threshold from the company's own cadence (days).

    The ``quantile`` of the gaps between consecutive purchase days of all accounts, rounded up
    to a multiple of ``step`` days: a live account almost never stays silent that long, so
    silence beyond it is read as churn. Raises ``ValueError`` when there are no repeat orders.
    """
    gaps = pd.Series(gaps).dropna()
    if gaps.empty:
        raise ValueError(
            "No account has two orders on different days: the churn threshold "
            "cannot be derived from the data; set CHURN_THRESHOLD_DAYS."
        )
    return int(math.ceil(gaps.quantile(quantile) / step) * step)


def threshold_sensitivity(
    orders: pd.DataFrame,
    accounts: pd.DataFrame | None,
    as_of: pd.Timestamp,
    thresholds: Sequence[int],
) -> pd.DataFrame:
    """Churn rate and Kaplan-Meier median lifetime for each threshold (days).

    ``churn_rate`` is the share of accounts with orders that are silent for at least the
    threshold; ``median_days`` is the KM median of the lifetime (NaN when survival never
    drops below one half).
    """
    rows = []
    for n in thresholds:
        f = customer_features(orders, accounts, as_of, n)
        f = f[f["n_orders"] > 0]
        s = f[f["in_survival"]]
        km = KaplanMeierFitter().fit(s["duration_days"], s["event"])
        rows.append(
            {
                "threshold_days": n,
                "accounts": len(f),
                "churned": int(f["churned"].sum()),
                "churn_rate": float(f["churned"].mean()),
                "median_days": float(km.median_survival_time_),
            }
        )
    return pd.DataFrame(rows).set_index("threshold_days")


def survival_frame(features: pd.DataFrame) -> pd.DataFrame:
    """The rows that are at risk (``in_survival``) with whole-day durations."""
    s = features[features["in_survival"]].copy()
    s["duration_days"] = s["duration_days"].astype(float)
    return s


# --- Kaplan-Meier and log-rank ---------------------------------------------------------------


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
        return {
            "all accounts": KaplanMeierFitter(label="all accounts").fit(
                frame["duration_days"], frame["event"]
            )
        }, []
    groups, merged = merge_small_groups(frame[column], frame["event"], min_events)
    fits = {}
    for name in sorted(groups.unique()):
        part = frame[groups == name]
        fits[name] = KaplanMeierFitter(label=name).fit(part["duration_days"], part["event"])
    return fits, merged


def median_table(fits: dict[str, KaplanMeierFitter]) -> pd.DataFrame:
    """Median lifetime (days) with its 95% interval and counts, per fitted group."""
    from lifelines.utils import median_survival_times

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


def logrank(frame: pd.DataFrame, column: str, min_events: int = 10) -> tuple[float, pd.DataFrame]:
    """Multivariate log-rank p-value and pairwise tests with Holm-corrected p-values."""
    groups, _ = merge_small_groups(frame[column], frame["event"], min_events)
    if groups.nunique() < 2:
        return float("nan"), pd.DataFrame()
    overall = multivariate_logrank_test(frame["duration_days"], groups, frame["event"])
    pairs = pairwise_logrank_test(frame["duration_days"], groups, frame["event"]).summary
    pairs = pairs.reset_index().rename(columns={"level_0": "group_a", "level_1": "group_b"})
    pairs["p_holm"] = multipletests(pairs["p"], method="holm")[1]
    return float(overall.p_value), pairs[["group_a", "group_b", "test_statistic", "p", "p_holm"]]


# --- Cox model ---------------------------------------------------------------------------------


@dataclass
class Design:
    """A Cox design matrix: one-hot covariates against named reference levels.

    ``strata`` names covariates kept as one label column each (a baseline hazard per level)
    instead of dummies; :func:`remedy_ph` uses it for covariates that break proportional
    hazards.
    """

    data: pd.DataFrame
    covariates: list[str]
    references: dict[str, str]
    notes: list[str] = field(default_factory=list)
    strata: list[str] = field(default_factory=list)
    #: each covariate's level per row as the model saw it (small levels merged into 'other')
    levels: dict[str, pd.Series] = field(default_factory=dict)


def design_matrix(
    frame: pd.DataFrame,
    covariates: Sequence[str] = DEFAULT_COVARIATES,
    references: dict[str, str] | None = None,
    min_events: int = 10,
) -> Design:
    """Dummy-coded covariates for lifelines, with documented reference levels.

    The reference of each covariate is ``references[col]`` when given, else its most frequent
    level. Levels with fewer than ``min_events`` events are merged into ``other`` (noted);
    columns that are constant or exact linear combinations of others are dropped (noted).
    """
    references = dict(references or {})
    notes: list[str] = []
    parts = [frame[["duration_days", "event"]].astype(float)]
    used: dict[str, str] = {}
    levels: dict[str, pd.Series] = {}
    for col in covariates:
        if col not in frame.columns or frame[col].isna().all():
            notes.append(f"{col}: not in the data, left out of the model")
            continue
        values, merged = merge_small_groups(_levels(frame, col), frame["event"], min_events)
        if merged:
            notes.append(
                f"{col}: levels with fewer than {min_events} churn events merged into "
                f"'other' ({', '.join(merged)})"
            )
        if values.nunique() < 2:
            notes.append(f"{col}: a single level in this selection, left out of the model")
            continue
        ref = references.get(col)
        if ref not in set(values):
            ref = values.value_counts().sort_index().idxmax()
        used[col] = ref
        levels[col] = values
        dummies = pd.get_dummies(values, prefix=col, prefix_sep="=", dtype=float)
        parts.append(dummies.drop(columns=f"{col}={ref}"))
    data = pd.concat(parts, axis=1)
    x = data.drop(columns=["duration_days", "event"])
    keep: list[str] = []
    for c in x.columns:  # greedy rank check: drop a column that adds no rank
        trial = x[[*keep, c]].to_numpy()
        if np.linalg.matrix_rank(trial) > len(keep):
            keep.append(c)
        else:
            notes.append(f"{c}: collinear with other covariates, dropped")
    data = data[["duration_days", "event", *keep]]
    return Design(data, list(used), used, notes, levels=levels)


def fit_cox(
    design: Design, penalizer: float = 0.0, strata: Sequence[str] | None = None
) -> tuple[CoxPHFitter, list[str]]:
    """Fit a Cox model; on a convergence failure retry with stronger penalizers (noted)."""
    notes = []
    for p in [penalizer, *[x for x in (0.01, 0.1, 1.0) if x > penalizer]]:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cph = CoxPHFitter(penalizer=p).fit(
                    design.data, "duration_days", "event", strata=list(strata) if strata else None
                )
            if p != penalizer:
                notes.append(
                    f"the Cox fit did not converge without a penalty; refitted with penalizer {p}"
                )
            return cph, notes
        except ConvergenceError:
            continue
    raise ConvergenceError(
        "The Cox model did not converge even with penalizer 1.0; "
        "check the covariates for separation."
    )


def choose_penalizer(
    design: Design,
    grid: Sequence[float] = (0.0, 0.01, 0.05, 0.2),
    folds: int = 4,
    seed: int = 42,
    tolerance: float = 0.002,
) -> tuple[float, pd.Series]:
    """Smallest penalizer whose mean cross-validated concordance is within ``tolerance`` of
    the best one (returns it and the CV concordance of every penalizer tried)."""
    from lifelines.utils import k_fold_cross_validation

    scores = {}
    for p in grid:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s = k_fold_cross_validation(
                CoxPHFitter(penalizer=p),
                design.data,
                "duration_days",
                "event",
                k=folds,
                scoring_method="concordance_index",
                seed=seed,
            )
        scores[p] = float(np.mean(s))
    series = pd.Series(scores, name="cv_concordance")
    # the smallest penalty whose CV concordance is within `tolerance` of the best: a stronger
    # penalty must earn its bias (shrunken hazard ratios) with a real gain in ranking
    good = series[series >= series.max() - tolerance]
    return float(min(good.index)), series


def ph_check(cph: CoxPHFitter, design: Design, alpha: float = 0.01) -> pd.DataFrame:
    """Proportional-hazards test per covariate (scaled Schoenfeld residuals vs rank of time),
    Holm-corrected; ``violated`` marks p_holm < ``alpha``."""
    from lifelines.statistics import proportional_hazard_test

    test = proportional_hazard_test(cph, design.data, time_transform="rank").summary
    out = test[["test_statistic", "p"]].copy()
    out["p_holm"] = multipletests(out["p"], method="holm")[1]
    out["violated"] = out["p_holm"] < alpha
    out["covariate"] = [c.split("=")[0] for c in out.index]
    return out


def remedy_ph(
    cph: CoxPHFitter, design: Design, check: pd.DataFrame, penalizer: float
) -> tuple[CoxPHFitter, Design, str]:
    """When a covariate breaks proportional hazards, stratify on it and refit; say which.

    Returns the model, the design it was fitted on (use it for every prediction: a stratified
    model needs the stratum label of each account) and a sentence for the reader.
    """
    bad = check[check["violated"]]
    if bad.empty:
        return cph, design, "No covariate breaks proportional hazards (Holm-corrected p ≥ 0.01)."
    worst = bad.sort_values("p").iloc[0]["covariate"]
    cols = [c for c in design.data.columns if c.startswith(f"{worst}=")]
    # the level itself, not decoded from the dummies: a dummy dropped as collinear would read
    # as the reference level
    label = design.levels[worst].reindex(design.data.index).to_numpy()
    stratified = Design(
        design.data.drop(columns=cols).assign(**{worst: label}),
        design.covariates,
        design.references,
        design.notes,
        strata=[worst],
        levels=design.levels,
    )
    refit, _ = fit_cox(stratified, penalizer, strata=[worst])
    return (
        refit,
        stratified,
        f"{worst} breaks proportional hazards (Holm-corrected p < 0.01): the model "
        f"is refitted stratified by {worst} (its own baseline hazard per level).",
    )


def aft_comparison(design: Design, cph: CoxPHFitter) -> pd.DataFrame:
    """Weibull and log-logistic AFT models by AIC, beside the Cox model's concordance.

    AFT fits need positive durations: 0.5 day is added to all durations (single-order churned
    accounts have duration 0). Cox's partial-likelihood AIC is not comparable with the full
    likelihood AIC of the parametric models, so only concordance is shown for Cox.
    """
    data = design.data.copy()
    data["duration_days"] = data["duration_days"] + 0.5
    rows = [
        {
            "model": "Cox (semi-parametric)",
            "AIC": float("nan"),
            "concordance": float(cph.concordance_index_),
        }
    ]
    for name, fitter in (
        ("Weibull AFT", WeibullAFTFitter(penalizer=0.01)),
        ("log-logistic AFT", LogLogisticAFTFitter(penalizer=0.01)),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitter.fit(data, "duration_days", "event")
        rows.append(
            {
                "model": name,
                "AIC": float(fitter.AIC_),
                "concordance": float(fitter.concordance_index_),
            }
        )
    return pd.DataFrame(rows).set_index("model")


def forest_table(cph: CoxPHFitter) -> pd.DataFrame:
    """Hazard ratios with 95% intervals, sorted (for the forest plot)."""
    s = cph.summary
    out = pd.DataFrame(
        {
            "log_hr": s["coef"],
            "low": s["coef lower 95%"],
            "high": s["coef upper 95%"],
            "hazard_ratio": s["exp(coef)"],
            "p": s["p"],
        }
    )
    return out.sort_values("log_hr")


def forest_plot(table: pd.DataFrame, ax=None):
    """Hazard ratios on a log scale with their 95% intervals (1 = same risk as reference)."""
    import matplotlib.pyplot as plt

    from helpers import theme

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.3 * len(table) + 1.5))
    y = np.arange(len(table))
    colors = [theme.BAD if v > 0 else theme.GOOD for v in table["log_hr"]]
    ax.errorbar(
        np.exp(table["log_hr"]),
        y,
        fmt="none",
        ecolor="#999999",
        xerr=[
            np.exp(table["log_hr"]) - np.exp(table["low"]),
            np.exp(table["high"]) - np.exp(table["log_hr"]),
        ],
    )
    ax.scatter(np.exp(table["log_hr"]), y, color=colors, zorder=3)
    ax.axvline(1.0, color="#444444", lw=1)
    ax.set_xscale("log")
    ax.set_yticks(y, table.index)
    ax.set_xlabel("hazard ratio vs reference level (log scale; > 1 = churns sooner)")
    return ax


# --- back-test ---------------------------------------------------------------------------------


@dataclass
class Backtest:
    """Scores of accounts alive at ``start`` and what happened to them afterwards."""

    start: pd.Timestamp
    horizon_days: int
    frame: pd.DataFrame  # account_id, risk, p_cox_h, p_churn_h, time (days from start), event
    metrics: dict[str, float]
    calibration: pd.DataFrame
    recalibration: Recalibration | None = None


def outcomes_after(
    orders: pd.DataFrame,
    accounts: pd.DataFrame | None,
    start: pd.Timestamp,
    as_of: pd.Timestamp,
    threshold: int,
) -> pd.DataFrame:
    """For accounts active at ``start``: days from ``start`` to churn (their last order), or
    censored at ``as_of - threshold`` (the last day a churn can be seen), using data to as_of."""
    then = customer_features(orders, accounts, start, threshold)
    alive = then[(then["n_orders"] > 0) & ~then["churned"]][["account_id"]]
    now = customer_features(orders, accounts, as_of, threshold).set_index("account_id")
    now = now.loc[alive["account_id"]]
    limit = (as_of - pd.Timedelta(days=threshold) - start).days
    time = np.where(now["churned"], (now["last_order"] - start).dt.days.clip(lower=0), limit)
    return pd.DataFrame(
        {
            "account_id": now.index,
            "time": time.astype(float),
            "event": now["churned"].astype(int).to_numpy(),
        }
    )


def _censoring_km(time: np.ndarray, event: np.ndarray) -> KaplanMeierFitter:
    return KaplanMeierFitter().fit(time, 1 - event)


def _g(km: KaplanMeierFitter, t: np.ndarray) -> np.ndarray:
    """Censoring survival G(t-) (left limit), floored to avoid division by zero."""
    values = km.survival_function_at_times(np.maximum(np.asarray(t, float) - 1e-9, 0)).to_numpy()
    return np.maximum(values, 1e-6)


def uno_c(time: np.ndarray, event: np.ndarray, risk: np.ndarray, tau: float) -> float:
    """Uno's concordance truncated at ``tau``: IPCW-weighted pairs (i churns first, before tau).

    O(n^2) in memory-light blocks; fine for the tens of thousands of accounts a back-test has.
    """
    time, event, risk = map(np.asarray, (time, event, risk))
    g = _g(_censoring_km(time, event), time)
    i_idx = np.flatnonzero((event == 1) & (time < tau))
    num = den = 0.0
    for chunk in np.array_split(i_idx, max(1, len(i_idx) // 2000 + 1)):
        w = 1.0 / g[chunk] ** 2
        later = time[None, :] > time[chunk, None]
        higher = risk[chunk, None] > risk[None, :]
        ties = risk[chunk, None] == risk[None, :]
        den += float((w[:, None] * later).sum())
        num += float((w[:, None] * later * (higher + 0.5 * ties)).sum())
    return num / den if den else float("nan")


def auc_at(time: np.ndarray, event: np.ndarray, risk: np.ndarray, t: float) -> float:
    """Cumulative/dynamic AUC at ``t`` (Uno et al. 2007): cases churned by t (IPCW-weighted)
    against controls still alive after t."""
    time, event, risk = map(np.asarray, (time, event, risk))
    g = _g(_censoring_km(time, event), time)
    cases = (time <= t) & (event == 1)
    controls = time > t
    if not cases.any() or not controls.any():
        return float("nan")
    w = 1.0 / g[cases]
    rc, rk = risk[cases], np.sort(risk[controls])
    below = np.searchsorted(rk, rc, side="left")
    equal = np.searchsorted(rk, rc, side="right") - below
    return float((w * (below + 0.5 * equal)).sum() / (w.sum() * len(rk)))


def brier_at(time: np.ndarray, event: np.ndarray, surv_t: np.ndarray, t: float) -> float:
    """IPCW Brier score at ``t`` (Graf et al. 1999) for predicted survival probabilities."""
    time, event, surv_t = map(np.asarray, (time, event, surv_t))
    km = _censoring_km(time, event)
    g_t = float(_g(km, np.array([t]))[0])
    died = (time <= t) & (event == 1)
    alive = time > t
    score = (died * surv_t**2 / _g(km, time)) + (alive * (1 - surv_t) ** 2 / g_t)
    return float(score.mean())


def integrated_brier(time, event, surv_fn, times: np.ndarray) -> float:
    """Integrated Brier score over ``times`` (trapezoid, divided by the time span)."""
    scores = np.array([brier_at(time, event, surv_fn(t), t) for t in times])
    return float(np.trapezoid(scores, times) / (times[-1] - times[0]))


def _fit_and_score(
    orders: pd.DataFrame,
    accounts: pd.DataFrame,
    at: pd.Timestamp,
    until: pd.Timestamp,
    horizon_days: int,
    threshold: int,
    covariates: Sequence[str],
    references: dict[str, str] | None,
    penalizer: float | None,
    seed: int = 42,
):
    """Fit the churn model (:func:`fit_churn_model`, the same pipeline as the study's) on the
    data to ``at``, score the accounts active then and follow them to ``until``. Returns the
    features at ``at``, the model, the scored accounts' design rows, age and silence
    (days), outcomes (:func:`outcomes_after`), relative risk and Cox probability of churn
    within the horizon."""
    past = customer_features(orders, accounts, at, threshold)
    model = fit_churn_model(survival_frame(past), covariates, references, seed, penalizer)
    out = outcomes_after(orders, accounts, at, until, threshold)
    alive = past.set_index("account_id").loc[out["account_id"]].reset_index()
    x = _align(alive, model.cox_design)
    # condition on survival to the last order, not to today: the silence since then is
    # information (an account silent for months may already have placed its final order)
    age = (alive["last_order"] - alive["first_order"]).dt.days.to_numpy(float)
    silent = (at - alive["last_order"]).dt.days.to_numpy(float)
    risk = model.cox.predict_partial_hazard(x).to_numpy()
    p_cox = 1 - _conditional_survival(model.cox, x, age, (silent + horizon_days)[:, None])[:, 0]
    return past, model, x, age, silent, out, risk, p_cox


@dataclass
class Recalibration:
    """Logistic landmark recalibration of the Cox horizon probability (see
    :func:`fit_recalibration`): ``coef`` on [1, logit p_cox, log(1 + silent days),
    silent days / threshold], for the churn threshold (days) it was learnt with."""

    landmark: pd.Timestamp
    threshold: int
    coef: np.ndarray
    accounts: int
    events: int

    def apply(self, p_cox: np.ndarray, silent: np.ndarray) -> np.ndarray:
        """Calibrated P(churn within the horizon) (0-1) from the Cox probability and the days
        of silence since the last order."""
        z = _recalibration_features(p_cox, silent, self.threshold) @ self.coef
        return 1 / (1 + np.exp(-z))


def _recalibration_features(p: np.ndarray, silent: np.ndarray, threshold: int) -> np.ndarray:
    p = np.clip(np.asarray(p, float), 1e-4, 1 - 1e-4)
    silent = np.asarray(silent, float)
    return np.column_stack(
        [np.ones(len(p)), np.log(p / (1 - p)), np.log1p(silent), silent / threshold]
    )


def fit_recalibration(
    orders: pd.DataFrame,
    accounts: pd.DataFrame,
    end: pd.Timestamp,
    horizon_days: int,
    threshold: int,
    covariates: Sequence[str] = DEFAULT_COVARIATES,
    references: dict[str, str] | None = None,
    penalizer: float | None = 0.01,
) -> Recalibration | None:
    """Learn how the Cox horizon probability maps to what happens, from the data to ``end``.

    Why: the Cox model dates churn at the last order and treats an account as alive from its
    last order on, but a long silence since then is itself strong evidence that the last order
    was the final one, which the model's timeline cannot see. Its horizon probabilities
    therefore run low (measured on the demo: 21% predicted against 33% observed). The remedy
    is a landmark model: at ``L = end - horizon - threshold`` (the latest date whose horizon
    outcome is known by ``end``), refit the Cox model on the data to L, score the accounts
    active then, and regress whether each churned within the horizon on the logit of its Cox
    probability and its silence (logistic regression, statsmodels). Only data up to ``end`` is
    used, so the back-test stays honest. ``None`` when the landmark has too few accounts or
    events, or the regression does not converge.
    """
    import statsmodels.api as sm

    landmark = end - pd.Timedelta(days=horizon_days + threshold)
    try:
        *_, silent, out, _, p_cox = _fit_and_score(
            orders,
            accounts,
            landmark,
            end,
            horizon_days,
            threshold,
            covariates,
            references,
            penalizer,
        )
    except (ValueError, ConvergenceError, KeyError):
        return None
    y = ((out["time"].to_numpy() <= horizon_days) & (out["event"].to_numpy() == 1)).astype(float)
    events = int(y.sum())
    if events < MIN_EVENTS_FOR_COX or len(y) - events < MIN_EVENTS_FOR_COX:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = sm.Logit(y, _recalibration_features(p_cox, silent, threshold)).fit(disp=0)
        except Exception:  # noqa: BLE001 - singular or separated: no recalibration, noted
            return None
    if not fit.mle_retvals.get("converged", False):
        return None
    return Recalibration(landmark, threshold, np.asarray(fit.params), len(y), events)


def run_backtest(
    orders: pd.DataFrame,
    accounts: pd.DataFrame,
    as_of: pd.Timestamp,
    back_days: int,
    horizon_days: int,
    threshold: int,
    covariates: Sequence[str] = DEFAULT_COVARIATES,
    references: dict[str, str] | None = None,
    penalizer: float | None = None,
    seed: int = 42,
) -> Backtest:
    """Fit as of ``as_of - back_days``, score accounts alive then, compare with what happened.

    Requires ``back_days >= horizon_days + threshold`` so that every churn inside the horizon
    is visible by ``as_of``. The churn probabilities are the Cox model's recalibrated by
    :func:`fit_recalibration` on data to the back-test's start only. Metrics: Harrell's C, Uno's
    C (truncated at the horizon) and AUC at the horizon of the Cox risk; Brier score at the
    horizon of the calibrated probability, of the uncalibrated Cox probability and of a
    Kaplan-Meier baseline (no covariates); IBS over (0, horizon] of the Cox curves and of the
    Kaplan-Meier baseline. Ranking metrics of the calibrated probability as well (it is what
    cuts the pre-churn list). The model is the study's pipeline (:func:`fit_churn_model`) on the
    data to the start, its penalizer chosen there by cross-validation unless ``penalizer`` is
    given.
    """
    if back_days < horizon_days + threshold:
        raise ValueError(
            f"The back-test needs back_days ≥ horizon + threshold "
            f"({horizon_days} + {threshold}); got {back_days}."
        )
    start = as_of - pd.Timedelta(days=back_days)
    past, model, x, age, silent, out, risk, p_cox = _fit_and_score(
        orders,
        accounts,
        start,
        as_of,
        horizon_days,
        threshold,
        covariates,
        references,
        penalizer,
        seed,
    )
    cph = model.cox
    recal = fit_recalibration(
        orders, accounts, start, horizon_days, threshold, covariates, references, model.penalizer
    )
    p_churn = recal.apply(p_cox, silent) if recal is not None else p_cox
    surv = 1 - p_churn
    frame = out.assign(risk=risk, p_cox_h=p_cox, p_churn_h=p_churn)
    t, e = frame["time"].to_numpy(), frame["event"].to_numpy()
    km = KaplanMeierFitter().fit(
        survival_frame(past)["duration_days"], survival_frame(past)["event"]
    )
    base_surv = _km_conditional(km, age, silent + horizon_days)
    grid = np.linspace(horizon_days / 10, horizon_days, 10)

    def model_surv(tt):
        return _conditional_survival(cph, x, age, (silent + tt)[:, None])[:, 0]

    def km_surv(tt):
        return _km_conditional(km, age, silent + tt)

    metrics = {
        "harrell_c": float(concordance_index(t, -risk, e)),
        "uno_c": uno_c(t, e, risk, tau=horizon_days),
        "auc_at_horizon": auc_at(t, e, risk, horizon_days),
        "harrell_c_probability": float(concordance_index(t, -p_churn, e)),
        "auc_at_horizon_probability": auc_at(t, e, p_churn, horizon_days),
        "brier_model": brier_at(t, e, surv, horizon_days),
        "brier_cox_uncalibrated": brier_at(t, e, 1 - p_cox, horizon_days),
        "brier_km": brier_at(t, e, base_surv, horizon_days),
        "ibs_model": integrated_brier(t, e, model_surv, grid),
        "ibs_km": integrated_brier(t, e, km_surv, grid),
        "penalizer": model.penalizer,
        "accounts": int(len(frame)),
        "churned_in_horizon": int(((t <= horizon_days) & (e == 1)).sum()),
    }
    cal = frame.assign(observed=((t <= horizon_days) & (e == 1)).astype(float))
    cal["bin"] = pd.qcut(cal["p_churn_h"].rank(method="first"), 10, labels=False)
    calibration = cal.groupby("bin").agg(
        predicted=("p_churn_h", "mean"),
        observed=("observed", "mean"),
        accounts=("observed", "size"),
    )
    return Backtest(start, horizon_days, frame, metrics, calibration, recal)


def _align(frame: pd.DataFrame, design: Design) -> pd.DataFrame:
    """The design's columns for new rows (levels unseen in training -> ``other`` when the
    design has it, else the reference): dummies as 0/1, strata as their label."""
    cols = [c for c in design.data.columns if c not in ("duration_days", "event")]
    out = pd.DataFrame(0.0, index=frame.index, columns=[c for c in cols if c not in design.strata])
    for c in out.columns:
        col, level = c.split("=", 1)
        if level == "other":
            # the levels the model kept apart (a dummy dropped as collinear included)
            known = (
                set(design.levels[col]) - {"other"}
                if col in design.levels
                else {k.split("=", 1)[1] for k in cols if k.startswith(f"{col}=")}
            )
            out[c] = (~_levels(frame, col).isin(known | {design.references.get(col)})).astype(float)
        else:
            out[c] = (_levels(frame, col) == level).astype(float)
    for col in design.strata:
        known = set(design.data[col])
        fallback = "other" if "other" in known else design.references[col]
        values = _levels(frame, col)
        out[col] = values.where(values.isin(known), fallback).to_numpy()
    return out


def _levels(frame: pd.DataFrame, column: str) -> pd.Series:
    """A covariate's levels as :func:`design_matrix` saw them (missing -> ``unknown``)."""
    values = frame[column].astype(object)
    return values.where(values.notna(), "unknown").astype(str)


def _cumulative_hazard(cph: CoxPHFitter, stratum: object = None):
    """Baseline cumulative hazard (of ``stratum`` for a stratified model) as a function of days,
    extended past the last event time with the mean hazard of its final 180 days (older
    accounts than any churn seen in the data would otherwise get zero risk)."""
    base = cph.baseline_cumulative_hazard_
    bh = (base[stratum] if stratum is not None else base.iloc[:, 0]).to_numpy()
    bt = base.index.to_numpy(float)
    # the curve ends at its own last event: lifelines puts every stratum on the timeline shared
    # by all of them (and any curve runs on past its last event through censored times), so a
    # flat stretch after the last event would otherwise give a zero slope: zero risk for ever
    rises = np.flatnonzero(np.diff(bh, prepend=0.0) > 0)
    last = rises[-1] if len(rises) else len(bh) - 1
    bt, bh = bt[: last + 1], bh[: last + 1]
    span = min(180.0, bt[-1]) or 1.0  # the final 180 days (or all of a shorter curve)
    slope = (bh[-1] - np.interp(bt[-1] - span, bt, bh, left=0.0)) / span

    def cumhaz(t):
        t = np.asarray(t, float)
        return np.interp(t, bt, bh, left=0.0) + np.maximum(t - bt[-1], 0) * slope

    return cumhaz


def _conditional_survival(
    cph: CoxPHFitter, x: pd.DataFrame, age: np.ndarray, ahead: np.ndarray
) -> np.ndarray:
    """P(T > age + ahead | T > age) per row (days); ``ahead`` is a grid (k,) or per row (n, k).

    A stratified model uses each row's own stratum baseline (``x`` holds the stratum label,
    as :func:`_align` builds it).
    """
    ph = cph.predict_partial_hazard(x).to_numpy()[:, None]
    ahead = np.asarray(ahead, float)
    ahead = np.broadcast_to(ahead[None, :] if ahead.ndim == 1 else ahead, (len(x), ahead.shape[-1]))
    age = np.asarray(age, float)
    if cph.strata:
        strata = [cph.strata] if isinstance(cph.strata, str) else list(cph.strata)
        keys = x[strata].apply(tuple, axis=1) if len(strata) > 1 else x[strata[0]]
        groups = pd.Series(np.arange(len(x))).groupby(keys.to_numpy()).indices
    else:
        groups = {None: np.arange(len(x))}
    cum = np.empty(ahead.shape)
    for key, rows in groups.items():
        cumhaz = _cumulative_hazard(cph, key)
        cum[rows] = cumhaz(age[rows, None] + ahead[rows]) - cumhaz(age[rows])[:, None]
    return np.exp(-cum * ph)


def _km_conditional(km: KaplanMeierFitter, age: np.ndarray, ahead: float) -> np.ndarray:
    s0 = km.survival_function_at_times(age).to_numpy()
    s1 = km.survival_function_at_times(age + ahead).to_numpy()
    return np.where(s0 > 0, s1 / np.maximum(s0, 1e-12), 0.0)


def oracle_c(backtest: Backtest, planted: pd.Series) -> float:
    """Harrell's C of the planted log-hazards on the back-test's own accounts and outcomes."""
    lp = planted.reindex(backtest.frame["account_id"]).to_numpy()
    f = backtest.frame
    return float(concordance_index(f["time"], -lp, f["event"]))


# --- pre-churn list and lifetime value ---------------------------------------------------------


def current_scores(
    features: pd.DataFrame,
    cph: CoxPHFitter,
    design: Design,
    as_of: pd.Timestamp,
    horizon_days: int,
    recalibration: Recalibration | None = None,
) -> pd.DataFrame:
    """Active accounts with P(churn within the horizon | their history) and revenue per day.

    ``p_cox`` is the Cox model's probability; ``p_churn`` is the same recalibrated for the
    silence (:func:`fit_recalibration`) when a recalibration is given, else equal to it.
    """
    active = features[(features["n_orders"] > 0) & ~features["churned"]].copy()
    x = _align(active, design)
    age = (active["last_order"] - active["first_order"]).dt.days.to_numpy(float)
    silent = active["silent_days"].to_numpy(float)
    surv = _conditional_survival(cph, x, age, (silent + horizon_days)[:, None])[:, 0]
    active["p_cox"] = 1 - surv
    active["p_churn"] = (
        recalibration.apply(active["p_cox"].to_numpy(), silent)
        if recalibration is not None
        else active["p_cox"]
    )
    return with_rates(active)


def with_rates(features: pd.DataFrame) -> pd.DataFrame:
    """Add revenue and margin per active day (currency/day): totals over the span from first to
    last order plus 30 days (so single-order accounts are not divided by zero)."""
    out = features.copy()
    span = (out["last_order"] - out["first_order"]).dt.days.fillna(0) + 30
    out["revenue_per_day"] = out["monetary_total"].clip(lower=0) / span
    out["margin_per_day"] = out["margin_total"].fillna(0).clip(lower=0) / span
    return out


def prechurn_list(
    scores: pd.DataFrame, threshold: int, fraction: float, horizon_days: int, cutoff: float
) -> pd.DataFrame:
    """Accounts to call: silent for ≥ fraction × threshold days, or P(churn) ≥ cutoff; ranked by
    revenue at risk = P(churn) × expected revenue in the horizon (currency)."""
    silent = scores["silent_days"] >= fraction * threshold
    risky = scores["p_churn"] >= cutoff
    out = scores[silent | risky].copy()
    out["expected_revenue"] = out["revenue_per_day"] * horizon_days
    out["revenue_at_risk"] = out["p_churn"] * out["expected_revenue"]
    out["reason"] = np.where(
        silent[out.index] & risky[out.index],
        "silent and high risk",
        np.where(silent[out.index], "silent", "high risk"),
    )
    cols = [
        "account_id",
        "account_name",
        "sales_rep",
        "region",
        "silent_days",
        "p_churn",
        "expected_revenue",
        "revenue_at_risk",
        "reason",
    ]
    return out.sort_values(["revenue_at_risk", "account_id"], ascending=[False, True])[
        [c for c in cols if c in out.columns]
    ].reset_index(drop=True)


def lifetime_value(
    scores: pd.DataFrame,
    cph: CoxPHFitter,
    design: Design,
    as_of: pd.Timestamp,
    horizon_days: int = 3 * 365,
    discount_per_year: float = 0.10,
    at_acquisition: bool = False,
) -> pd.Series:
    """Survival-based lifetime value per account (currency).

    Discounted restricted mean remaining lifetime over ``horizon_days`` — the integral of
    ``exp(-r u) S(age + u | x) / S(age | x)`` — times the account's margin per day (its margin so
    far over its tenure). ``at_acquisition=True`` values every account from age 0 (what a new
    customer of its profile is worth; used for LTV:CAC).
    """
    x = _align(scores, design)
    grid = np.linspace(0, horizon_days, 61)
    if at_acquisition:
        surv = _conditional_survival(cph, x, np.zeros(len(scores)), grid)
    else:
        age = (scores["last_order"] - scores["first_order"]).dt.days.to_numpy(float)
        silent = (as_of - scores["last_order"]).dt.days.to_numpy(float)
        surv = _conditional_survival(cph, x, age, silent[:, None] + grid[None, :])
    r = math.log1p(discount_per_year) / 365.25
    disc = np.exp(-r * grid)
    rmst = np.trapezoid(surv * disc[None, :], grid, axis=1)
    return pd.Series(rmst * scores["margin_per_day"].to_numpy(), index=scores.index, name="ltv")


def bootstrap_mean(
    values: pd.Series, groups: pd.Series, n_boot: int = 500, seed: int = 42, level: float = 0.95
) -> pd.DataFrame:
    """Mean per group with a percentile bootstrap interval (accounts resampled in each group)."""
    rng = np.random.default_rng(seed)
    rows = []
    for name, part in values.groupby(groups, sort=True):
        v = part.to_numpy(float)
        means = rng.choice(v, size=(n_boot, len(v)), replace=True).mean(axis=1)
        lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
        rows.append(
            {
                "group": name,
                "mean": float(v.mean()),
                "low": float(lo),
                "high": float(hi),
                "n": int(len(v)),
            }
        )
    return pd.DataFrame(rows).set_index("group")


def gaps_for(orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    """Gap days between consecutive purchase days (see :func:`helpers.features.order_gaps`)."""
    return order_gaps(orders, as_of)["gap_days"]


# --- the whole study ---------------------------------------------------------------------------

#: Fewest churn events for a Cox model (below: Kaplan-Meier only, with a note).
MIN_EVENTS_FOR_COX = 20
KM_SEGMENTS: tuple[str, ...] = ("tier", "acquisition_channel", "industry", "ownership_type")


@dataclass
class ChurnStudy:
    """Everything the churn notebook shows; ``cox`` is None when there are too few events."""

    as_of: pd.Timestamp
    threshold: int
    threshold_derived: bool
    gaps: pd.Series
    features: pd.DataFrame
    survival: pd.DataFrame
    sensitivity: pd.DataFrame
    notes: list[str]
    design: Design | None = None
    cox_design: Design | None = None
    cox: CoxPHFitter | None = None
    penalizer: float = 0.0
    cv: pd.Series | None = None
    ph: pd.DataFrame | None = None
    ph_note: str = ""
    aft: pd.DataFrame | None = None
    backtest: Backtest | None = None
    recalibration: Recalibration | None = None
    scores: pd.DataFrame | None = None
    prechurn: pd.DataFrame | None = None
    ltv_by_tier: pd.DataFrame | None = None
    ltv_by_channel: pd.DataFrame | None = None
    ltv_definition: dict = field(default_factory=dict)


def churn_study(
    ds,
    as_of: pd.Timestamp,
    threshold: int | None = None,
    prechurn_fraction: float = 2 / 3,
    horizon_days: int = 90,
    covariates: Sequence[str] = DEFAULT_COVARIATES,
    references: dict[str, str] | None = None,
    backtest_days: int = 365,
    risk_cutoff: float = 0.5,
    ltv_horizon_days: int = 3 * 365,
    discount_per_year: float = 0.10,
    n_boot: int = 300,
    seed: int = 42,
    sensitivity_thresholds: Sequence[int] = (60, 90, 180, 365),
) -> ChurnStudy:
    """Run every step of the churn study on a loaded (and filtered) :class:`Dataset`."""
    ds.require("orders", "accounts", purpose="The churn study")
    orders, accounts = ds["orders"], ds["accounts"]
    gaps = gaps_for(orders, as_of)
    derived = threshold is None
    threshold = default_threshold(gaps) if derived else int(threshold)
    features = _buying_features(ds, as_of, threshold)
    surv = survival_frame(features)
    sens = threshold_sensitivity(
        orders, accounts, as_of, sorted({*sensitivity_thresholds, threshold})
    )
    study = ChurnStudy(as_of, threshold, derived, gaps, features, surv, sens, notes=[])
    study.ltv_definition = ltv_definition(
        None if derived else threshold,
        covariates,
        references,
        ltv_horizon_days,
        discount_per_year,
        n_boot,
        seed,
    )
    events = int(surv["event"].sum())
    if events < MIN_EVENTS_FOR_COX:
        study.notes.append(
            f"Only {events} churn events (accounts silent for {threshold}+ days) in this "
            f"selection: Kaplan-Meier curves are shown, but a Cox model needs at least "
            f"{MIN_EVENTS_FOR_COX} events to say anything about drivers, so none is fitted."
        )
        return study
    model = fit_churn_model(surv, covariates, references, seed)
    study.design, study.cox_design, study.cox = model.design, model.cox_design, model.cox
    study.penalizer, study.cv, study.ph, study.ph_note = (
        model.penalizer,
        model.cv,
        model.ph,
        model.ph_note,
    )
    study.notes += model.notes
    study.aft = aft_comparison(model.design, model.unstratified)
    try:
        study.backtest = run_backtest(
            orders,
            accounts,
            as_of,
            backtest_days,
            horizon_days,
            threshold,
            covariates,
            references,
            seed=seed,
        )
    except (ValueError, ConvergenceError) as exc:
        study.notes.append(f"No back-test: {exc}")
    recal = fit_recalibration(
        orders, accounts, as_of, horizon_days, threshold, covariates, references, study.penalizer
    )
    study.recalibration = recal
    if recal is None:
        study.notes.append(
            "The churn probabilities are the Cox model's, not recalibrated for the silence "
            f"since the last order (too little history before {as_of:%Y-%m-%d} minus "
            f"{horizon_days + threshold} days): they run low, read them as a ranking."
        )
    scores = current_scores(features, model.cox, model.cox_design, as_of, horizon_days, recal)
    study.scores = scores
    study.prechurn = prechurn_list(scores, threshold, prechurn_fraction, horizon_days, risk_cutoff)
    ltv = lifetime_value(
        scores, model.cox, model.cox_design, as_of, ltv_horizon_days, discount_per_year
    )
    study.ltv_by_tier = bootstrap_mean(ltv, scores["tier"].astype(str), n_boot, seed)
    study.ltv_by_channel = new_customer_ltv(
        features, model, as_of, ltv_horizon_days, discount_per_year, n_boot, seed
    )
    return study


@dataclass
class ChurnModel:
    """The churn study's Cox model: ``cox`` (stratified when a covariate broke proportional
    hazards) is fitted on ``cox_design``; ``unstratified`` on ``design``."""

    design: Design
    cox_design: Design
    cox: CoxPHFitter
    unstratified: CoxPHFitter
    penalizer: float
    cv: pd.Series
    ph: pd.DataFrame
    ph_note: str
    notes: list[str]


def fit_churn_model(
    surv: pd.DataFrame,
    covariates: Sequence[str] = DEFAULT_COVARIATES,
    references: dict[str, str] | None = None,
    seed: int = 42,
    penalizer: float | None = None,
) -> ChurnModel:
    """Design matrix, penalizer chosen by cross-validation (unless given), Cox fit,
    proportional-hazards check and remedy: the one model pipeline behind the churn study's
    scores, its back-test and recalibration, and the channel study's LTV."""
    design = design_matrix(surv, covariates, references)
    if penalizer is None:
        penalizer, cv = choose_penalizer(design, seed=seed)
    else:
        cv = pd.Series({penalizer: float("nan")}, name="cv_concordance")
    cph, fit_notes = fit_cox(design, penalizer)
    ph = ph_check(cph, design)
    cox, cox_design, ph_note = remedy_ph(cph, design, ph, penalizer)
    return ChurnModel(
        design, cox_design, cox, cph, penalizer, cv, ph, ph_note, [*design.notes, *fit_notes]
    )


def new_customer_ltv(
    features: pd.DataFrame,
    model: ChurnModel,
    as_of: pd.Timestamp,
    horizon_days: int = 3 * 365,
    discount_per_year: float = 0.10,
    n_boot: int = 300,
    seed: int = 42,
) -> pd.DataFrame:
    """Lifetime value of a *new* customer per acquisition channel (currency): every buying
    account valued from age 0 with its own profile and margin rate, averaged per channel with
    a 95% bootstrap interval (columns mean, low, high, n)."""
    every = with_rates(features)
    values = lifetime_value(
        every,
        model.cox,
        model.cox_design,
        as_of,
        horizon_days,
        discount_per_year,
        at_acquisition=True,
    )
    return bootstrap_mean(values, every["acquisition_channel"], n_boot, seed)


def ltv_definition(
    threshold: int | None = None,
    covariates: Sequence[str] = DEFAULT_COVARIATES,
    references: dict[str, str] | None = None,
    ltv_horizon_days: int = 3 * 365,
    discount_per_year: float = 0.10,
    n_boot: int = 300,
    seed: int = 42,
) -> dict:
    """Everything that defines ``ltv_by_channel`` besides the data (JSON-ready): written to the
    churn metrics, and compared by the channel study before it reuses them."""
    return {
        "churn_threshold_days": "derived" if threshold is None else int(threshold),
        "covariates": list(covariates),
        "references": dict(references or {}),
        "ltv_horizon_days": int(ltv_horizon_days),
        "discount_per_year": float(discount_per_year),
        "n_boot": int(n_boot),
        "seed": int(seed),
    }


def channel_ltv(
    ds,
    as_of: pd.Timestamp,
    threshold: int | None = None,
    covariates: Sequence[str] = DEFAULT_COVARIATES,
    references: dict[str, str] | None = None,
    ltv_horizon_days: int = 3 * 365,
    discount_per_year: float = 0.10,
    n_boot: int = 300,
    seed: int = 42,
) -> tuple[pd.DataFrame | None, list[str]]:
    """The churn study's ``ltv_by_channel`` without the rest of the study (no threshold
    sensitivity, parametric models or back-test): same threshold rule, same model, same
    numbers for the same arguments. ``None`` (with a note) when there are too few churn events
    for a Cox model."""
    ds.require("orders", "accounts", purpose="Lifetime value by channel")
    threshold = default_threshold(gaps_for(ds["orders"], as_of)) if threshold is None else threshold
    features = _buying_features(ds, as_of, int(threshold))
    surv = survival_frame(features)
    events = int(surv["event"].sum())
    if events < MIN_EVENTS_FOR_COX:
        return None, [
            f"Only {events} churn events in this selection: too few for the survival model "
            "behind lifetime value, so LTV:CAC is not computed."
        ]
    model = fit_churn_model(surv, covariates, references, seed)
    table = new_customer_ltv(
        features, model, as_of, ltv_horizon_days, discount_per_year, n_boot, seed
    )
    return table, model.notes


def _buying_features(ds, as_of: pd.Timestamp, threshold: int) -> pd.DataFrame:
    """Customer features of accounts with an order by ``as_of``, with their value tier."""
    from helpers.features import features_for
    from helpers.segmentation import revenue_growth, value_tier

    features = features_for(ds, as_of, threshold)
    features = features[features["n_orders"] > 0].copy()
    if features.empty:
        raise ValueError("No account in this selection has an order by the analysis date.")
    features["tier"] = value_tier(features, revenue_growth(ds["orders"], as_of)).to_numpy()
    return features


def findings(study: ChurnStudy, horizon_days: int) -> list[str]:
    """Key findings as plain sentences, computed from the study."""
    from helpers.reporting import money, pct

    f, s = study.features, study.survival
    km = KaplanMeierFitter().fit(s["duration_days"], s["event"])
    median = km.median_survival_time_
    out = [
        f"{pct(f['churned'].mean())} of the {len(f):,} buying accounts have gone silent for "
        f"{study.threshold}+ days (our churn definition"
        + (", derived from the order cadence)." if study.threshold_derived else ").")
    ]
    if np.isfinite(median):
        out.append(
            f"Half of all accounts stop buying within {median / 30.4:.0f} months of "
            "their first order (Kaplan-Meier median)."
        )
    if study.cox is not None:
        table = forest_table(study.cox)
        worst = table.index[-1]
        out.append(
            f"The riskiest profile is {worst.replace('=', ' = ')}: it churns "
            f"{np.exp(table.loc[worst, 'log_hr']):.1f}× as fast as the reference "
            "level, other things equal."
        )
    if study.prechurn is not None and len(study.prechurn):
        at_risk = study.prechurn["revenue_at_risk"].sum()
        out.append(
            f"{len(study.prechurn):,} active accounts are on the pre-churn list, with "
            f"{money(at_risk)} of expected revenue at risk in the next {horizon_days} "
            "days."
        )
    return out


def metrics(study: ChurnStudy) -> dict:
    """Headline numbers for ``metrics.json``; the channel study reads ``ltv_by_channel``
    (per acquisition channel: ``mean``, ``low``, ``high``, ``n``; currency)."""
    s = study.survival
    km = KaplanMeierFitter().fit(s["duration_days"], s["event"])
    out = {
        "churn_threshold_days": study.threshold,
        "threshold_derived": study.threshold_derived,
        "accounts": len(study.features),
        "churn_rate": float(study.features["churned"].mean()),
        "km_median_days": float(km.median_survival_time_),
        "notes": study.notes,
        "ltv_definition": study.ltv_definition,
    }
    if study.cox is not None:
        out["cox_concordance"] = float(study.cox.concordance_index_)
        out["penalizer"] = study.penalizer
        out["log_hazard_ratios"] = forest_table(study.cox)["log_hr"].to_dict()
    if study.backtest is not None:
        out["backtest"] = study.backtest.metrics
    if study.prechurn is not None:
        out["prechurn_accounts"] = len(study.prechurn)
        out["revenue_at_risk"] = float(study.prechurn["revenue_at_risk"].sum())
    for key in ("ltv_by_tier", "ltv_by_channel"):
        table = getattr(study, key)
        if table is not None:
            out[key] = table.to_dict(orient="index")
    return out
