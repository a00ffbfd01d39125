"""lifelines' Cox fit (``SemiParametricPHFitter.fit``) without its pandas copies: same values.

lifelines' ``fit`` copies the frame, sorts every column by duration, pops the outcome columns,
concatenates the covariates into a new frame and casts it to float (``_preprocess_dataframe``),
reduces it twice in pandas (mean and standard deviation) and a third time for its low-variance
check, then makes a normalised copy for Newton-Raphson: on 1M accounts × 17 covariates about
1.1 s of a 2 s fit, and four 136 MB copies. :func:`prepare` builds the same sorted, normalised
covariates once, as one column-major float array (one column at a time: no frame copy), sorted
by the permutation lifelines' own ``sort_values`` call gives on the key columns; the means and
standard deviations are pandas' arithmetic on each contiguous column (the same floats), and the
covariates are normalised in place, exactly as lifelines' ``(X - mean) / std``.

:class:`FitWithoutCopies` (a mixin of the project's fitter) is lifelines' ``fit`` and
``_fit_model`` around it, the latter scoring the training rows on the array (``numpy.dot`` on
the frame would copy a column-major frame into row order first).

It mirrors **lifelines 0.30.3** (``SemiParametricPHFitter.fit``, ``_fit_model`` and ``_preprocess_dataframe``;
the project pins ``lifelines>=0.30.3``). :func:`supported` sends everything else to lifelines'
own ``fit``: another lifelines version, a formula, robust or clustered standard errors, a
frame with repeated column names, a covariate or outcome column that is not a plain numpy
bool/int/float column, or any NaN or infinite value (lifelines raises its own errors there).
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from typing import Any, NamedTuple

import lifelines
import numpy as np
import pandas as pd
import scipy.linalg
from lifelines import utils
from lifelines.utils import CensoringType

__all__ = ["MIRRORED_LIFELINES", "FitWithoutCopies", "Prepared", "prepare", "supported"]

#: the lifelines version whose ``fit`` and ``_preprocess_dataframe`` this module mirrors
MIRRORED_LIFELINES = "0.30.3"


class Prepared(NamedTuple):
    """lifelines' fit inputs: ``X`` (normalised covariates, sorted; one float block, column
    major), ``T`` (durations, float), ``E`` (bool), ``W`` (weights, their dtype), ``entries``
    (or None), ``original_index`` (the frame's labels in sorted order), ``mean`` and ``std``
    (per covariate, before normalising: lifelines' ``_norm_mean`` and ``_norm_std``)."""

    X: pd.DataFrame
    T: pd.Series
    E: pd.Series
    W: pd.Series
    entries: pd.Series | None
    original_index: pd.Index
    mean: pd.Series
    std: pd.Series


def _plain(column: pd.Series) -> bool:
    dtype = column.dtype
    return isinstance(dtype, np.dtype) and dtype.kind in "biuf"


def _special(model: Any) -> list[Any]:
    """The columns that are not covariates: duration, event, weights, entry, strata."""
    names = [model.duration_col, model.event_col, model.weights_col, model.entry_col]
    strata = [] if model.strata is None else utils._to_list(model.strata)
    return [c for c in names if c is not None] + list(strata)


def supported(model: Any, df: pd.DataFrame) -> bool:
    """Whether :func:`prepare` gives lifelines' values for this fit (``model``'s fit options
    already set, as lifelines' ``fit`` sets them before preprocessing)."""
    if lifelines.__version__ != MIRRORED_LIFELINES:
        return False
    if model.formula is not None or model.robust or model.cluster_col is not None:
        return False
    if not isinstance(df, pd.DataFrame) or not df.columns.is_unique or len(df) < 2:
        return False
    special = _special(model)
    if not all(c in df.columns for c in special):
        return False
    strata = [] if model.strata is None else utils._to_list(model.strata)
    numeric = [c for c in df.columns if c not in strata]  # every other column is a number
    if not all(_plain(df[c]) for c in numeric):
        return False
    return all(np.isfinite(df[c].to_numpy(dtype=float)).all() for c in numeric)


def _order(model: Any, df: pd.DataFrame) -> np.ndarray:
    """Positions of ``df``'s rows in lifelines' order: the permutation of its own
    ``df.sort_values(by=sort_by)`` (the same pandas call on the key columns only)."""
    keys = [model.duration_col, model.event_col] if model.event_col else [model.duration_col]
    if model.strata is not None:
        keys = utils._to_list(model.strata) + keys
    return df[keys].reset_index(drop=True).sort_values(by=keys).index.to_numpy()


def _mean_and_std(column: np.ndarray) -> tuple[float, float, float]:
    """pandas' ``mean``, ``var`` and ``std`` (ddof 1) of one contiguous float64 column, with
    pandas' own arithmetic (``nanops.nanmean``/``nanvar``, two-pass: sum, then the sum of
    squared deviations), so the floats are those of lifelines' ``X.mean(0)`` and ``X.std(0)``."""
    n = float(column.size)
    mean = column.sum(dtype=np.float64) / n
    var = ((mean - column) ** 2).sum(dtype=np.float64) / (n - 1.0)
    return mean, var, float(np.sqrt(var))


def prepare(model: Any, df: pd.DataFrame) -> Prepared:
    """lifelines 0.30.3's ``_preprocess_dataframe`` (the sorted X, T, E, W, entries and index),
    its pre-fit checks, the training means and standard deviations, and the normalised X of its
    ``fit``: the same values and labels. Call only when :func:`supported` says so."""
    order = _order(model, df)
    original_index = df.index.take(order)
    if model.strata is not None:  # lifelines' df.set_index(strata), on the sorted strata only
        index = df[utils._to_list(model.strata)].iloc[order].set_index(model.strata).index
    else:
        index = original_index
    n = len(df)

    def column(name: Any, dtype: Any = None) -> pd.Series:
        values = df[name].to_numpy()[order]
        return pd.Series(values if dtype is None else values.astype(dtype), index, name=name)

    T = column(model.duration_col, float)
    if model.event_col is not None:
        E = column(model.event_col, bool)
    else:
        E = pd.Series(np.ones(n), index=index, name="E").astype(bool)
    if model.weights_col is not None:
        W = column(model.weights_col)
    else:
        W = pd.Series(np.ones((n,)), index=index, name="weights")
    entries = column(model.entry_col) if model.entry_col is not None else None

    special = set(_special(model))
    names = [c for c in df.columns if c not in special]
    values = np.empty((n, len(names)), order="F")  # lifelines' float block, column major
    stats = np.empty((3, len(names)))
    for j, name in enumerate(names):  # one column at a time: no frame copy
        np.take(df[name].to_numpy(dtype=float), order, out=values[:, j])
        stats[:, j] = _mean_and_std(values[:, j])
    X = pd.DataFrame(values, index=index, columns=pd.Index(names, name="covariate"), copy=False)
    # lifelines' column mapping (without a formula: the covariate names, in the frame's order)
    model.regressors = utils.CovariateParameterMappings(
        {"beta_": model.formula}, X, force_no_intercept=True
    )

    # lifelines' _check_values_pre_fitting: X's variance (already computed) and NaN (none:
    # supported() checked) here; its own checks of T, the weights and the entries below
    if (stats[1] < 1e-4).any():
        utils.check_low_var(X)  # lifelines' warning, its text
    utils.check_for_numeric_dtypes_or_raise(X)
    model._check_values_pre_fitting(X.iloc[:, :0], T, E, W, entries)

    mean = pd.Series(stats[0], index=X.columns)
    std = pd.Series(stats[2], index=X.columns)
    values -= stats[0]  # lifelines' utils.normalize, (X - mean) / std, in place
    values /= stats[2]
    return Prepared(X, T, E, W, entries, original_index, mean, std)


class FitWithoutCopies:
    """lifelines' ``SemiParametricPHFitter.fit`` and ``_fit_model`` on the data of
    :func:`prepare`: a mixin placed before lifelines' class (its own ``fit`` is the fallback)."""

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
    ) -> Any:
        """lifelines 0.30.3's ``SemiParametricPHFitter.fit``, line for line, with its
        preprocessing, means, standard deviations and normalised copy replaced by
        :func:`prepare` (same values); lifelines' own ``fit`` for
        whatever :func:`supported` does not cover."""
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
        if not supported(self, df):
            return super().fit(
                df, duration_col, event_col, show_progress, initial_point, strata, weights_col,
                cluster_col, robust, batch_mode, timeline, formula, entry_col, fit_options,
            )  # fmt: skip

        X, T, E, weights, entries, original_index, mean, std = prepare(self, df)
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

    def _fit_model(
        self,
        X: pd.DataFrame,
        T: pd.Series,
        E: pd.Series,
        weights: pd.Series,
        entries: pd.Series | None,
        fit_options: dict,
        initial_point: np.ndarray | None = None,
        show_progress: bool = True,
    ) -> tuple:
        """lifelines 0.30.3's ``_fit_model`` (Newton-Raphson, Breslow baseline, rescaling),
        with the training partial hazards computed on ``X``'s array: ``numpy.dot`` on the
        frame first copies a column-major frame (as :func:`prepare` builds it) into row order, 136 MB at 1M rows × 17 covariates."""
        beta_, ll_, hessian_ = self._newton_raphson_for_efron_model(
            X,
            T,
            E,
            weights,
            entries,
            initial_point=initial_point,
            show_progress=show_progress,
            **fit_options,
        )
        predicted_partial_hazards_ = (
            pd.DataFrame(np.exp(np.dot(X.to_numpy(), beta_)), columns=["P"])
            .assign(T=T.values, E=E.values, W=weights.values)
            .set_index(X.index)
        )
        baseline_hazard_ = self._compute_baseline_hazards(predicted_partial_hazards_)
        baseline_cumulative_hazard_ = self._compute_baseline_cumulative_hazard(baseline_hazard_)
        params_ = beta_ / self._norm_std.values  # rescaled back to the original scale
        if hessian_.size > 0:
            variance_matrix_ = pd.DataFrame(
                -scipy.linalg.inv(hessian_) / np.outer(self._norm_std, self._norm_std),
                index=X.columns,
                columns=X.columns,
            )
        else:  # possible if the df is trivial (no covariate columns)
            variance_matrix_ = pd.DataFrame(index=X.columns, columns=X.columns)
        return params_, ll_, variance_matrix_, baseline_hazard_, baseline_cumulative_hazard_, None
