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

It mirrors **lifelines 0.30.3** (``SemiParametricPHFitter.fit`` and ``_preprocess_dataframe``;
the project pins ``lifelines>=0.30.3``). :func:`supported` sends everything else to lifelines'
own ``fit``: another lifelines version, a formula, robust or clustered standard errors, a
frame with repeated column names, a covariate or outcome column that is not a plain numpy
bool/int/float column, or any NaN or infinite value (lifelines raises its own errors there).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import lifelines
import numpy as np
import pandas as pd
from lifelines import utils

__all__ = ["MIRRORED_LIFELINES", "Prepared", "prepare", "supported"]

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
