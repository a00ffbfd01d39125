"""lifelines' Cox model with a vectorised Efron partial likelihood: same model, same outputs.

:class:`CoxPHFitter` is lifelines' :class:`lifelines.CoxPHFitter` (Breslow baseline, Efron
ties, penalizer, strata, weights, delayed entry) whose Newton-Raphson calls
:func:`efron_values` for the log partial likelihood, its gradient and Hessian instead of
lifelines' own per-row loop. Everything else is lifelines': the Newton-Raphson steps and their
convergence rules, the penalty (added outside, by lifelines), the strata (lifelines calls the
function once per stratum and adds the results), the baseline hazard, standard errors,
``summary``, ``predict_*``, ``check_assumptions``. The fitted object is a real
``lifelines.CoxPHFitter``.

Why hand-written: lifelines computes the Efron terms in pure Python, one row at a time
(``SemiParametricPHFitter._get_efron_values_single``) or one distinct time at a time
(``_get_efron_values_batch``; ``CoxTimeVaryingFitter._get_gradients`` under delayed entry, which
scans every row at every death time). On the demo's 2,490 accounts that loop was 13.9 s of the
channel study's 67 fits (20.6 s). No maintained Python library offers a faster Efron fit with
lifelines' outputs: statsmodels' ``PHReg`` and scikit-survival's ``CoxPHSurvivalAnalysis`` have
their own APIs and penalties, and the project's predictions, PH tests and reports are built on
lifelines' fitted object. The terms below are lifelines', regrouped and summed with arrays.

Per tie group *g* (a distinct death time t_g with D_g deaths, l = 0..D_g-1, f = l / D_g),
lifelines adds, with φ_i = w_i exp(x_i β), risk-set sums S0, S1, S2 of φ, φx, φxxᵀ over the
rows at risk at t_g and tie sums T0, T1, T2 over the D_g deaths::

    denom_l = 1 / (S0 - f T0),   summand_l = (S1 - f T1) denom_l,   w̄_g = Σ w_deaths / D_g
    gradient += Σ w x (deaths) - w̄_g Σ_l summand_l
    loglik   += Σ w x (deaths)·β + w̄_g Σ_l log denom_l
    hessian  += w̄_g (Σ_l summand_l summand_lᵀ - S2 Σ_l denom_l + T2 Σ_l f denom_l)

S0 and S1 are reverse cumulative sums over the rows sorted by time, taken over the runs of
rows of equal (time, death) (a group's deaths are its death runs). Σ_l summand_l and
Σ_l summand_l summand_lᵀ expand into S1, T1 and five per-group sums of scalars (denom, f denom,
denom², f denom², f² denom²): nothing per death and covariate. The S2 term never forms a d×d
matrix per group: Σ_g w̄_g A_g S2_g = Xᵀ diag(φ_i C_i) X, where C_i adds w̄_g A_g
(A_g = Σ_l denom_l) over the groups whose risk set holds row i; the T2 term only involves the
tied deaths (row i's own group). O(n d²) per evaluation, no n×d×d array, and no n×d
temporary either: one pass over the rows in 1 MB blocks (φx, its sums per run, then φCx and
the product; above glibc's 32 MB mmap threshold every temporary is fresh pages, whose faults
cost more than the arithmetic). What does not depend on β (the groups, runs, and each row's
span of risk sets: :class:`_EfronPlan`) is worked out once per stratum and fit.

Rows at risk at t: ``T_i >= t`` (lifelines' risk set), and with delayed entry
``entry_i < t <= T_i`` (lifelines' ``CoxTimeVaryingFitter`` rule, the path it takes when
``entry_col`` is given).

Besides the Efron terms, the fitter replaces pandas-heavy steps of lifelines' fit with numpy
computing the same values (tested against lifelines): the preprocessing, means, standard
deviations and normalised copy (:mod:`helpers.survival.efron_fit`, lifelines 0.30.3's ``fit``
without its copies of the frame), the per-stratum parts, the Breslow baseline hazards and the
training medians (``_central_values``, lifelines' ``describe()``); and it fits with one BLAS
thread (see :func:`_blas_controller`). Its Schoenfeld residuals (the proportional-hazards test)
come from :mod:`helpers.survival.schoenfeld`, also lifelines' values.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter as _LifelinesCoxPHFitter
from lifelines.fitters.coxph_fitter import SemiParametricPHFitter as _SemiParametricPHFitter
from lifelines.utils import CensoringType, make_simpliest_hashable
from threadpoolctl import ThreadpoolController

from helpers.survival import efron_fit
from helpers.survival.concordance import cox_score_concordance, cox_training_concordance
from helpers.survival.schoenfeld import schoenfeld_residuals

__all__ = ["CoxPHFitter", "efron_values"]


def _values(a: Any) -> np.ndarray:
    return a.to_numpy() if isinstance(a, pd.Series | pd.DataFrame) else np.asarray(a)


def efron_values(
    X: pd.DataFrame | np.ndarray,
    T: pd.Series | np.ndarray,
    E: pd.Series | np.ndarray,
    weights: pd.Series | np.ndarray,
    entries: pd.Series | np.ndarray | None,
    beta: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Hessian (d×d), gradient (d) and log partial likelihood of a Cox model with Efron ties,
    at ``beta``: lifelines' ``_get_efron_values_single`` signature and values.

    ``X`` (n×d covariates, as lifelines passes them: normalised), ``T`` durations (any unit;
    sorted or not), ``E`` death indicator, ``weights`` case weights, ``entries`` delayed-entry
    times (None: every row at risk from time 0). One stratum; no penalty (lifelines adds both
    around this call).
    """
    raw = [_values(a) for a in (X, T, E, weights)]
    start = None if entries is None else _values(entries)
    return _EfronPlan(*raw[1:], start, x=raw[0]).values(raw[0], beta)


class _EfronTerms:
    """:func:`efron_values` for one Newton-Raphson run (lifelines asks
    ``_choose_gradient_calculator`` once per fit): the β-free part (:class:`_EfronPlan`) of
    each stratum is worked out at the first step and kept, keyed by the memory of the arrays
    lifelines passes (the same Series, or the same slices of them, at every step; the arrays
    are kept alive with the plan, so an address cannot be reused by other data)."""

    def __init__(self) -> None:
        self.plans: dict[tuple, tuple[list[np.ndarray], _EfronPlan]] = {}

    def __call__(
        self, X: Any, T: Any, E: Any, weights: Any, entries: Any, beta: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, float]:
        arrays = [_values(a) for a in (X, T, E, weights)]
        if entries is not None:
            arrays.append(_values(entries))
        key = tuple((a.__array_interface__["data"][0], a.shape, a.strides) for a in arrays)
        if key not in self.plans:
            start = None if entries is None else arrays[4]
            self.plans[key] = (arrays, _EfronPlan(*arrays[1:4], start, x=arrays[0]))
        return self.plans[key][1].values(arrays[0], beta)


def _reverse_cumsum(values: np.ndarray) -> np.ndarray:
    """``out[k] = values[k:].sum(axis=0)``, with one more row (zeros) at the end."""
    out = np.zeros((len(values) + 1, *values.shape[1:]))
    out[:-1] = np.cumsum(values[::-1], axis=0)[::-1]
    return out


class _EfronPlan:
    """What the Efron terms of one stratum need besides β: the rows sorted by time, the tie
    groups, the runs of rows of equal (time, death) (the sums over rows are sums over runs)
    and, per row, how many death times its risk set spans."""

    def __init__(
        self,
        T: np.ndarray,
        E: np.ndarray,
        weights: np.ndarray,
        entries: np.ndarray | None,
        x: np.ndarray | None = None,
    ) -> None:
        t, e = T.astype(float, copy=False), E.astype(bool, copy=False)
        w = weights.astype(float, copy=False)
        start = None if entries is None else entries.astype(float, copy=False)
        self.order = None
        if t.size > 1 and np.any(t[1:] < t[:-1]):  # lifelines passes rows sorted by time
            self.order = np.argsort(t, kind="stable")
            t, e, w = t[self.order], e[self.order], w[self.order]
            start = None if start is None else start[self.order]
        self.t, self.e, self.w = t, e, w
        death = self.death = np.flatnonzero(e)
        if death.size == 0:
            return
        # tie groups: the distinct death times (deaths of a group contiguous: sorted by time)
        t_death = t[death]
        first = np.flatnonzero(np.r_[True, t_death[1:] != t_death[:-1]])
        self.times = times = t_death[first]
        size = np.diff(np.r_[first, death.size])  # D_g
        self.group = np.repeat(np.arange(times.size), size)  # of each death
        self.frac = (np.arange(death.size) - np.repeat(first, size)) / size[self.group]
        self.w_bar = np.add.reduceat(w[death], first) / size
        self.w_death = np.where(e, w, 0.0)
        # runs of equal (time, death): a group's risk set is the runs from the first one at
        # its time on; its tied deaths are its death runs
        runs = self.runs = np.flatnonzero(np.r_[True, (t[1:] != t[:-1]) | (e[1:] != e[:-1])])
        self.risk_from = np.searchsorted(t[runs], times, side="left")
        dead_runs = np.flatnonzero(e[runs])
        self.dead_runs = dead_runs
        self.dead_run_group = np.searchsorted(times, t[runs[dead_runs]])
        # per row: death times up to its own (risk sets holding it), and with delayed entry up
        # to its entry (those it is not in: entry_i < t_g is lifelines' rule)
        self.in_sets = np.searchsorted(times, t, side="right")
        self.late = None
        if start is not None:  # rows that miss some risk sets, by how many (sorted by that)
            before = np.searchsorted(times, start, side="right")
            late = np.flatnonzero(before)
            self.late = late[np.argsort(before[late], kind="stable")]
            until = before[self.late]
            self.late_starts = np.flatnonzero(np.r_[True, until[1:] != until[:-1]])
            self.late_until = until[self.late_starts]  # each bin's count of missed sets
        # blocks of rows (a 1 MB block of covariates: in cache for its three uses) and, per
        # block, where the runs it holds start in it
        n = t.size
        self.step = max(1024, (1 << 17) // max(1 if x is None else x.shape[1], 1))
        self.blocks = []
        for lo in range(0, n, self.step):
            hi = min(lo + self.step, n)
            ids = np.arange(np.searchsorted(runs, lo, "right") - 1, np.searchsorted(runs, hi))
            self.blocks.append((lo, hi, np.maximum(runs[ids], lo) - lo, ids))
        self.x_death_sum = None if x is None else self._x(x).T @ self.w_death

    def _x(self, x: np.ndarray) -> np.ndarray:
        x = x.astype(float, copy=False)
        return x if self.order is None else x[self.order]

    def _risk_and_tie(
        self, per_run: np.ndarray, late_rows: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per group: the sums over its risk set and over its deaths, from the sums over each
        run (``per_run``) and the values of the rows in ``self.late`` (delayed entry)."""
        risk = _reverse_cumsum(per_run)[self.risk_from]
        tie = np.zeros((self.times.size, *per_run.shape[1:]))
        np.add.at(tie, self.dead_run_group, per_run[self.dead_runs])
        if self.late is not None:  # less the rows entering at or after the group's time
            late = np.zeros((self.times.size + 1, *per_run.shape[1:]))
            late[self.late_until] = np.add.reduceat(late_rows, self.late_starts, axis=0)
            risk -= _reverse_cumsum(late[1:])[: self.times.size]
        return risk, tie

    def values(self, x: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """:func:`efron_values` at ``beta`` for covariates ``x`` (rows as given to the plan)."""
        x = self._x(x)
        n, d = x.shape
        if self.death.size == 0:
            return np.zeros((d, d)), np.zeros(d), 0.0
        group, frac, w_bar, n_groups = self.group, self.frac, self.w_bar, self.times.size
        phi = np.exp(x @ beta)
        phi *= self.w
        late = self.late
        risk0, tie0 = self._risk_and_tie(
            np.add.reduceat(phi, self.runs), None if late is None else phi[late]
        )
        denom = 1.0 / (risk0[group] - frac * tie0[group])
        x_death_sum = x.T @ self.w_death if self.x_death_sum is None else self.x_death_sum
        log_lik = float(x_death_sum @ beta + w_bar[group] @ np.log(denom))

        # per group, with summand_l = (S1 - f T1) denom_l expanded: Σ_l summand_l and
        # Σ_l summand_l summand_lᵀ from the per-group sums of denom, f denom, denom², f denom²,
        # f² denom² (no deaths×d array)
        def per_group(values: np.ndarray) -> np.ndarray:
            return w_bar * np.bincount(group, values, minlength=n_groups)

        f_denom, denom2 = frac * denom, denom * denom
        a_g, b_g = per_group(denom), per_group(f_denom)
        p_g, q_g, r_g = (
            per_group(denom2),
            per_group(frac * denom2),
            per_group(frac * f_denom * denom),
        )

        # Σ_g w̄_g (A_g S2_g - B_g T2_g) = Xᵀ diag(φ_i c_i) X, c_i = Σ w̄_g A_g over the groups
        # whose risk set holds row i, less w̄_g B_g of its own group for a death
        cum = np.r_[0.0, np.cumsum(a_g)]  # groups at or before a time
        coef = cum[self.in_sets]
        if late is not None:
            coef[late] -= np.repeat(
                cum[self.late_until], np.diff(np.r_[self.late_starts, late.size])
            )
        coef[self.death] -= b_g[group]

        # one pass over the rows, a block at a time: φx (its sums per run give S1 and T1), then
        # φcx for the S2 part; no n×d temporary (a large one costs more in page faults than
        # its arithmetic)
        per_run = np.zeros((self.runs.size, d))
        a1 = np.zeros((d, d))
        buffer = np.empty((min(self.step, n), d), order="F")
        for lo, hi, starts, ids in self.blocks:
            rows, y = x[lo:hi], buffer[: hi - lo]
            np.multiply(rows, phi[lo:hi, None], out=y)
            per_run[ids] += np.add.reduceat(y, starts, axis=0)
            y *= coef[lo:hi, None]
            a1 += y.T @ rows
        risk1, tie1 = self._risk_and_tie(
            per_run, None if late is None else x[late] * phi[late, None]
        )
        gradient = x_death_sum - (risk1.T @ a_g - tie1.T @ b_g)
        cross = (risk1 * q_g[:, None]).T @ tie1
        a2 = (risk1 * p_g[:, None]).T @ risk1 - cross - cross.T + (tie1 * r_g[:, None]).T @ tie1
        hessian = a2 - a1
        return (hessian + hessian.T) / 2, gradient, log_lik


class SemiParametricPHFitter(efron_fit.FitWithoutCopies, _SemiParametricPHFitter):
    """lifelines' Breslow-baseline Cox fitter with :func:`efron_values` as its Efron terms
    (every path: with and without strata, weights and delayed entry), fitted without
    lifelines' copies of the frame (:class:`~helpers.survival.efron_fit.FitWithoutCopies`)."""

    def _choose_gradient_calculator(self, T: pd.Series, X: pd.DataFrame, entries: Any) -> Any:
        return _EfronTerms()  # efron_values, with its β-free part kept between steps

    def _compute_schoenfeld_within_strata(
        self, X: pd.DataFrame, T: pd.Series, E: pd.Series, weights: pd.Series, entries: None
    ) -> np.ndarray:
        """lifelines' Schoenfeld residuals of one stratum (rows in the order given), computed by
        :func:`helpers.survival.schoenfeld.schoenfeld_residuals` instead of lifelines' per-row
        loop: behind ``compute_residuals`` and ``proportional_hazard_test``."""
        return schoenfeld_residuals(X, T, E, weights, self.params_)

    @property
    def concordance_index_(self) -> float:
        """lifelines' training concordance (Harrell's C of the negated partial hazards, pairs
        within each stratum), counted by :mod:`helpers.survival.concordance`: same value,
        without lifelines' pure-Python tree."""
        if not hasattr(self, "_concordance_index_"):  # lifelines' cache, dropped by a refit
            predicted = self._predicted_partial_hazards_
            self._concordance_index_ = cox_training_concordance(predicted, self.strata)
        return self._concordance_index_

    def predict_log_partial_hazard(self, X: Any) -> pd.Series:
        """lifelines' log partial hazard, (x - mean(x_train))·β; for a DataFrame holding the
        model's columns (no formula) the columns are taken as one float array instead of
        lifelines' ``transform_df`` (a concat and a copy of the frame: 3.5 s of a 1M-row fit,
        which scores its own training rows). Same arithmetic, same floats."""
        names = self.params_.index
        if isinstance(X, pd.DataFrame) and self.formula is None and names.isin(X.columns).all():
            # column-major like lifelines' array: BLAS sums a row's terms in the same order
            values = np.empty((len(X), len(names)), order="F")
            for j, name in enumerate(names):  # one column at a time: no frame copy, no merge
                values[:, j] = X[name].to_numpy(dtype=float)
            if X.index.is_unique:  # lifelines' labels (it lists them; the same Index)
                index = X.index
            else:
                index = pd.RangeIndex(len(X))
                warnings.warn(  # lifelines' numbering and warning (lifelines.utils._get_index)
                    "DataFrame Index is not unique, defaulting to incrementing index instead.",
                    stacklevel=2,
                )
            return pd.Series(log_partial_hazards(self, values), index=index)
        return super().predict_log_partial_hazard(X)

    def score(self, df: pd.DataFrame, scoring_method: str = "log_likelihood") -> float:
        """lifelines' ``score``; its ``"concordance_index"`` (the scoring of
        ``k_fold_cross_validation``) counted by :mod:`helpers.survival.concordance`."""
        if scoring_method == "concordance_index":
            return cox_score_concordance(self, df)
        return super().score(df, scoring_method)

    def _compute_central_values_of_raw_training_data(
        self, df: pd.DataFrame, strata: Any = None, name: str = "baseline"
    ) -> pd.DataFrame:
        """lifelines' "central" row (median of each numeric column, per stratum), used only by
        ``plot_partial_effects_on_outcome``: computed with one quantile per column where lifelines
        runs ``DataFrame.describe(include="all")`` per stratum (3.4 s of the channel study's
        67 fits); lifelines' own code for anything but plain int/float columns without NaN."""
        cols = df.columns.drop(strata) if strata is not None else df.columns
        plain = all(
            pd.api.types.is_float_dtype(df[c]) or pd.api.types.is_integer_dtype(df[c]) for c in cols
        )
        if df.size == 0 or not plain or df[cols].isna().to_numpy().any():
            return super()._compute_central_values_of_raw_training_data(df, strata, name)
        if strata is None:
            return _medians(df, [name])
        rows = df.groupby(strata).indices  # stratum -> positions, in lifelines' order
        keys = list(rows)
        index = (
            pd.MultiIndex.from_tuples(keys)
            if all(isinstance(k, tuple) for k in keys)
            else pd.Index(keys)
        )
        out = _medians(df[cols], index, list(rows.values()))
        out.index = out.index.rename(make_simpliest_hashable(strata))
        return out

    def _partition_by_strata(
        self,
        X: pd.DataFrame,
        T: pd.Series,
        E: pd.Series,
        entries: pd.Series | None,
        weights: pd.Series,
    ) -> Any:
        """lifelines' per-stratum parts (same order, same rows) by position: lifelines selects
        each by label on a non-unique index (``.loc[[stratum]]``), a fifth of a stratified fit."""
        for stratum, rows in X.groupby(self.strata).indices.items():
            if rows[-1] - rows[0] + 1 == len(rows):  # contiguous (a fit sorts by stratum)
                rows = slice(rows[0], rows[-1] + 1)
            parts = (X.iloc[rows], T.iloc[rows], E.iloc[rows], weights.iloc[rows])
            yield (*parts, None if entries is None else entries.iloc[rows]), stratum

    def _compute_baseline_hazard(self, partial_hazards: pd.DataFrame, name: Any) -> pd.DataFrame:
        """lifelines' Breslow baseline hazard (deaths over the partial hazards at risk, per
        distinct duration), summed with numpy instead of a pandas groupby."""
        times, at = np.unique(partial_hazards["T"].to_numpy(float), return_inverse=True)
        w = partial_hazards["W"].to_numpy(float)
        risk = np.bincount(at, partial_hazards["P"].to_numpy(float) * w, minlength=times.size)
        deaths = np.bincount(at, partial_hazards["E"].to_numpy(float) * w, minlength=times.size)
        risk = np.cumsum(risk[::-1])[::-1]
        return pd.DataFrame({name: deaths / risk}, index=pd.Index(times))

    def _compute_baseline_hazards(self, predicted_partial_hazards_: pd.DataFrame) -> pd.DataFrame:
        """lifelines' baseline hazards: one column per stratum on every distinct duration (0
        where a stratum has no row), joined once instead of one merge per stratum."""
        if not self.strata:
            return self._compute_baseline_hazard(predicted_partial_hazards_, "baseline hazard")
        index = pd.Index(self.durations.unique()).sort_values()
        names, columns = [], []
        for name, part in predicted_partial_hazards_.groupby(self.strata):
            names.append(name)
            columns.append(self._compute_baseline_hazard(part, name)[name].reindex(index))
        values = np.column_stack(columns) if columns else np.empty((len(index), 0))
        out = pd.DataFrame(values, index=index, columns=pd.Index(names, tupleize_cols=False))
        return out.fillna(0)


def _medians(df: pd.DataFrame, index: Any, groups: list[np.ndarray] | None = None) -> pd.DataFrame:
    """Each column's median (as ``describe`` computes its 50%: numpy's linear-interpolation
    quantile) in the column's dtype, one row per entry of ``index``: all rows, or the rows at
    the positions of each of ``groups``."""
    columns = [df[c].to_numpy(dtype=float) for c in df.columns]  # one column at a time
    medians = [
        [_median(v if g is None else v[g]) for v in columns]
        for g in ([None] if groups is None else groups)
    ]
    out = pd.DataFrame(np.array(medians).reshape(-1, len(columns)), index=index, columns=df.columns)
    if (df.dtypes != np.float64).any():
        out = out.astype(df.dtypes.to_dict())
    return out


def _median(values: np.ndarray) -> float:
    """``np.quantile(values, 0.5)``; for a column of 0s and 1s (a dummy covariate, an event
    flag) from the count of 0s instead of a partition of the column (8 ms per 1M rows): the
    two middle order statistics are then known, and numpy interpolates between them with the
    same fraction and arithmetic when given just those two."""
    n = values.size
    ones = np.count_nonzero(values)
    if n < 2 or ones != np.count_nonzero(values == 1.0):  # another value (or NaN) present
        return float(np.quantile(values, 0.5))
    zeros = n - ones  # sorted: zeros, then ones; the median sits at (n - 1) / 2
    below, above = (n - 1) // 2, n // 2
    pair = np.array([float(below >= zeros), float(above >= zeros)])
    return float(np.quantile(pair, ((n - 1) / 2 - below)))


class CoxPHFitter(_LifelinesCoxPHFitter):
    """lifelines' :class:`lifelines.CoxPHFitter` whose Breslow (default) fit computes the Efron
    terms with :func:`efron_values`: same arguments, same fitted attributes and methods, same
    numbers (to floating-point noise), several times faster. Named like lifelines' class so
    its ``repr`` and ``print_summary`` read as lifelines' model.

    Examples
    --------
    >>> from lifelines.datasets import load_rossi
    >>> cph = CoxPHFitter(penalizer=0.01).fit(load_rossi(), "week", "arrest")
    >>> round(float(cph.params_["age"]), 3)
    -0.054
    """

    def _fit_model_breslow(self, *args: Any, **kwargs: Any) -> SemiParametricPHFitter:
        model = SemiParametricPHFitter(
            penalizer=self.penalizer,
            l1_ratio=self.l1_ratio,
            strata=self.strata,
            alpha=self.alpha,
            label=self._label,
        )
        if not CensoringType.is_right_censoring(self):
            return super()._fit_model_breslow(*args, **kwargs)  # lifelines' error message
        with _blas_controller().limit(limits=1, user_api="blas"):
            model.fit(*args, **kwargs)
        return model


def log_partial_hazards(model: Any, values: np.ndarray) -> np.ndarray:
    """lifelines' log partial hazards, (x - training mean)·β, of the rows of ``values``: the
    fitted ``model``'s covariate columns in the fit's order, column-major as lifelines builds
    them (so BLAS sums each row's terms in lifelines' order). The same floats as lifelines'
    ``predict_log_partial_hazard`` (which divides by a standard deviation of 1 there, an exact
    no-op), without its pandas layer. ``values`` is overwritten (the means subtracted)."""
    values -= model._norm_mean.to_numpy()
    return np.dot(values, model.params_.to_numpy())


@functools.cache
def _blas_controller() -> ThreadpoolController:
    """The BLAS thread pools (numpy's and scipy's OpenBLAS), found once after both loaded.

    A fit runs with one BLAS thread: its matrix products are n×d by d×d at most (d: covariates),
    where OpenBLAS' second thread saves little and, on a machine whose cores are busy (two test
    workers or notebook kernels on two cores), its spin-waiting made one Efron evaluation on
    2,490 rows take 190 ms instead of 6 ms.
    """
    return ThreadpoolController()
