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

S0 and S1 are reverse cumulative sums over the rows sorted by time. Σ_l summand_l and
Σ_l summand_l summand_lᵀ expand into S1, T1 and five per-group sums of scalars (denom, f denom,
denom², f denom², f² denom²): nothing per death and covariate. The S2 term never forms a d×d
matrix per group: Σ_g w̄_g A_g S2_g = Xᵀ diag(φ_i C_i) X, where C_i adds w̄_g A_g
(A_g = Σ_l denom_l) over the groups whose risk set holds row i; the T2 term only involves the
tied deaths (row i's own group). O(n d²) per evaluation, no n×d×d array, and no n×d
temporary either (column by column, and 8 MB row blocks for the product: above glibc's 32 MB
mmap threshold every temporary is fresh pages, whose faults cost more than the arithmetic).

Rows at risk at t: ``T_i >= t`` (lifelines' risk set), and with delayed entry
``entry_i < t <= T_i`` (lifelines' ``CoxTimeVaryingFitter`` rule, the path it takes when
``entry_col`` is given).

Besides the Efron terms, the fitter replaces three pandas-heavy steps of lifelines' fit with
numpy computing the same values (tested against lifelines): the per-stratum parts, the Breslow
baseline hazards and the training medians (``_central_values``, lifelines' ``describe()``);
and it fits with one BLAS thread (see :func:`_blas_controller`). Its Schoenfeld residuals (the
proportional-hazards test) come from :mod:`helpers.survival.schoenfeld`, also lifelines' values.
"""

from __future__ import annotations

import functools
import warnings
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter as _LifelinesCoxPHFitter
from lifelines import utils
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
    x = _values(X).astype(float, copy=False)
    t = _values(T).astype(float, copy=False)
    e = _values(E).astype(bool, copy=False)
    w = _values(weights).astype(float, copy=False)
    start = None if entries is None else _values(entries).astype(float, copy=False)
    n, d = x.shape
    if n > 1 and np.any(t[1:] < t[:-1]):  # lifelines passes rows sorted by time
        order = np.argsort(t, kind="stable")
        x, t, e, w = x[order], t[order], e[order], w[order]
        start = None if start is None else start[order]
    death = np.flatnonzero(e)
    if death.size == 0:
        return np.zeros((d, d)), np.zeros(d), 0.0

    phi = w * np.exp(x @ beta)

    # tie groups: the distinct death times; deaths are contiguous per group (sorted by time)
    t_death = t[death]
    first = np.flatnonzero(np.r_[True, t_death[1:] != t_death[:-1]])
    times = t_death[first]
    size = np.diff(np.r_[first, death.size])  # D_g
    group = np.repeat(np.arange(times.size), size)  # of each death
    frac = (np.arange(death.size) - np.repeat(first, size)) / size[group]  # f = l / D_g
    w_bar = np.add.reduceat(w[death], first) / size

    # risk sets: rows with T >= t_g (reverse cumulative sums from the first row at t_g), less
    # the rows that enter at or after t_g under delayed entry. Column by column: no n×d
    # temporary (a large one costs more in page faults than its arithmetic)
    tails = _Tails(np.searchsorted(t, times, side="left"))
    if start is not None:
        by_entry = np.argsort(start, kind="stable")
        late = _Tails(np.searchsorted(start[by_entry], times, side="left"))
    risk0, tie0 = tails(phi), np.add.reduceat(phi[death], first)
    risk1, tie1 = np.empty((times.size, d)), np.empty((times.size, d))
    for j in range(d):
        phi_x = phi * x[:, j]
        risk1[:, j] = tails(phi_x)
        tie1[:, j] = np.add.reduceat(phi_x[death], first)
        if start is not None:
            risk1[:, j] -= late(phi_x[by_entry])
    if start is not None:
        risk0 = risk0 - late(phi[by_entry])

    denom = 1.0 / (risk0[group] - frac * tie0[group])
    x_death_sum = x.T @ np.where(e, w, 0.0)
    log_lik = float(x_death_sum @ beta + w_bar[group] @ np.log(denom))

    # per group, with summand_l = (S1 - f T1) denom_l expanded: Σ_l summand_l and
    # Σ_l summand_l summand_lᵀ from the per-group sums of denom, f denom, denom², f denom²,
    # f² denom² (no deaths×d array)
    def per_group(values: np.ndarray) -> np.ndarray:
        return w_bar * np.bincount(group, values, minlength=times.size)

    a_g, b_g = per_group(denom), per_group(frac * denom)
    p_g, q_g, r_g = per_group(denom**2), per_group(frac * denom**2), per_group(frac**2 * denom**2)
    gradient = x_death_sum - (risk1.T @ a_g - tie1.T @ b_g)
    cross = (risk1 * q_g[:, None]).T @ tie1
    a2 = (risk1 * p_g[:, None]).T @ risk1 - cross - cross.T + (tie1 * r_g[:, None]).T @ tie1

    # Σ_g w̄_g (A_g S2_g - B_g T2_g) = Xᵀ diag(φ_i c_i) X, c_i = Σ w̄_g A_g over the groups
    # whose risk set holds row i, less w̄_g B_g of its own group for a death
    cum = np.r_[0.0, np.cumsum(a_g)]  # groups at or before a time
    coef = cum[np.searchsorted(times, t, side="right")]
    if start is not None:
        coef -= cum[np.searchsorted(times, start, side="right")]
    coef[death] -= b_g[group]
    scale = phi * coef
    a1 = np.zeros((d, d))
    step = max(4096, (1 << 20) // max(d, 1))  # rows per product: an 8 MB temporary at most
    for lo in range(0, n, step):
        rows = x[lo : lo + step]
        a1 += (rows * scale[lo : lo + step, None]).T @ rows
    hessian = a2 - a1
    return (hessian + hessian.T) / 2, gradient, log_lik


class _Tails:
    """Sums of ``values[at[g]:]`` for every ``g`` (positions may repeat or equal n), for many
    ``values`` of the same length: the positions are sorted out once."""

    def __init__(self, at: np.ndarray) -> None:
        self.positions, self.back = np.unique(at, return_inverse=True)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        inside = self.positions < len(values)
        out = np.zeros(len(self.positions))
        if inside.any():
            blocks = np.add.reduceat(values, self.positions[inside])  # to the next position
            out[inside] = np.cumsum(blocks[::-1])[::-1]
        return out[self.back]


class SemiParametricPHFitter(_SemiParametricPHFitter):
    """lifelines' Breslow-baseline Cox fitter with :func:`efron_values` as its Efron terms
    (every path: with and without strata, weights and delayed entry)."""

    def _choose_gradient_calculator(self, T: pd.Series, X: pd.DataFrame, entries: Any) -> Any:
        return efron_values

    @CensoringType.right_censoring
    def fit(
        self,
        df: pd.DataFrame,
        duration_col: str | None = None,
        event_col: str | None = None,
        show_progress: bool = False,
        initial_point: np.ndarray | None = None,
        strata: Any = None,
        weights_col: str | None = None,
        cluster_col: str | None = None,
        robust: bool = False,
        batch_mode: bool | None = None,
        timeline: Any = None,
        formula: str | None = None,
        entry_col: str | None = None,
        fit_options: dict | None = None,
    ) -> SemiParametricPHFitter:
        """lifelines 0.30.3's ``SemiParametricPHFitter.fit``, line for line, with its
        preprocessing, means, standard deviations and normalised copy replaced by
        :func:`helpers.survival.efron_fit.prepare` (same values); lifelines' own ``fit`` for
        whatever :func:`~helpers.survival.efron_fit.supported` does not cover."""
        self._time_fit_was_called = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S") + " UTC"
        self.duration_col = duration_col
        self.event_col = event_col
        self.robust = robust
        self.cluster_col = cluster_col
        self.weights_col = weights_col
        self._n_examples = df.shape[0]
        self._batch_mode = batch_mode
        self.strata = utils._to_list_or_singleton(utils.coalesce(strata, self.strata))
        self.formula = formula
        self.entry_col = entry_col
        if not efron_fit.supported(self, df):
            return super().fit(
                df, duration_col, event_col, show_progress, initial_point, strata, weights_col,
                cluster_col, robust, batch_mode, timeline, formula, entry_col, fit_options,
            )  # fmt: skip

        X, T, E, weights, entries, original_index, mean, std = efron_fit.prepare(self, df)
        self._clusters = None

        self.durations = T.copy()
        self.event_observed = E.copy()
        self.weights = weights.copy()
        self.entries = entries

        if self.strata is not None:
            self.durations.index = original_index
            self.event_observed.index = original_index
            self.weights.index = original_index

        self._central_values = self._compute_central_values_of_raw_training_data(df, self.strata)

        self._norm_mean = mean
        self._norm_std = std
        X_norm = X  # noqa: N806 (lifelines' names) normalised in place by prepare()

        params_, ll_, variance_matrix_, baseline_hazard_, baseline_cumulative_hazard_, model = (
            self._fit_model(
                X_norm,
                T,
                E,
                weights=weights,
                entries=entries,
                fit_options=utils.coalesce(fit_options, dict()),
                initial_point=initial_point,
                show_progress=show_progress,
            )
        )

        self.log_likelihood_ = ll_
        self.model = model
        self.variance_matrix_ = variance_matrix_
        self.params_ = pd.Series(params_, index=pd.Index(X.columns, name="covariate"), name="coef")
        self.baseline_hazard_ = baseline_hazard_
        self.baseline_cumulative_hazard_ = baseline_cumulative_hazard_
        self.timeline = utils.coalesce(timeline, self.baseline_cumulative_hazard_.index)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._predicted_partial_hazards_ = (
                self.predict_partial_hazard(df)
                .to_frame(name="P")
                .reindex(original_index)
                .assign(T=self.durations, E=self.event_observed, W=self.weights)
                .set_index(X.index)
            )

        self.standard_errors_ = self._compute_standard_errors(X_norm, T, E, weights)
        self.confidence_intervals_ = self._compute_confidence_intervals()
        self.baseline_survival_ = self._compute_baseline_survival()

        if hasattr(self, "_concordance_index_"):
            del self._concordance_index_

        return self

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
        [np.quantile(v if g is None else v[g], 0.5) for v in columns]
        for g in ([None] if groups is None else groups)
    ]
    out = pd.DataFrame(np.array(medians).reshape(-1, len(columns)), index=index, columns=df.columns)
    if (df.dtypes != np.float64).any():
        out = out.astype(df.dtypes.to_dict())
    return out


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
