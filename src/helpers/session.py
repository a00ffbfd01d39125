"""The first code cell of every study notebook: theme, data, as-of date and output folder.

``ds, as_of, out = session.start("02-churn-survival", DATA_SOURCE, FILTERS, ANALYSIS_DATE,
OUTPUT_DIR)`` loads and validates the data source (:func:`helpers.loading.load_dataset`; the
validated, unfiltered data set is read from the load-once cache, :mod:`helpers.loading.cache`,
when an earlier notebook, rerun or slice of the same files, mapping and code stored it), keeps
the slice ``FILTERS`` names, takes the as-of date from ``ANALYSIS_DATE`` (empty: the
data's own analysis date), creates the output folder (:func:`helpers.reporting.output_dir`)
and applies the house chart theme.

With ``parameters=globals()`` it first checks the notebook's parameter values against its
``parameters`` cell (:func:`helpers.runner.parameters.check_namespace`, the batch's rules), so a
wrong value given to papermill or typed in JupyterLab stops with one clear sentence before any
data is loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from helpers import theme
from helpers.loading import Dataset, load_dataset
from helpers.reporting import output_dir
from helpers.runner.parameters import check_namespace


class Session(NamedTuple):
    """What a study notebook works on: the (filtered) dataset, the as-of date, the folder."""

    ds: Dataset
    as_of: pd.Timestamp
    out: Path


def as_of_date(ds: Dataset, analysis_date: str = "") -> pd.Timestamp:
    """``analysis_date`` (YYYY-MM-DD) as a Timestamp, or the data's own analysis date."""
    return pd.Timestamp(analysis_date) if analysis_date else ds.analysis_date


#: The unfiltered data set of each source loaded in this process (see :func:`unfiltered`).
_LOADED: dict[str, Dataset] = {}


def unfiltered(data_source: str) -> Dataset:
    """The whole data set behind a slice (the one :func:`start` loaded, else loaded now): a
    slice's study may need company-wide figures, e.g. every lead to allocate spend."""
    if str(data_source) not in _LOADED:
        _LOADED[str(data_source)] = load_dataset(data_source)
    return _LOADED[str(data_source)]


def start(
    notebook: str,
    data_source: str,
    filters: Mapping[str, Any] | None = None,
    analysis_date: str = "",
    output: str = "",
    *,
    parameters: Mapping[str, Any] | None = None,
) -> Session:
    """Theme applied, data loaded and filtered, as-of date and output folder resolved.

    ``parameters``: the notebook's namespace (``globals()``); when given, its parameter values
    are checked against the notebook's ``parameters`` cell first (``notebook`` names the file,
    see :func:`helpers.runner.parameters.notebook_file`) and a
    :class:`~helpers.runner.parameters.ParameterError` says what does not fit.
    """
    if parameters is not None:
        check_namespace(notebook, parameters)
    theme.apply()
    _LOADED[str(data_source)] = load_dataset(data_source)
    ds = _LOADED[str(data_source)].filter(dict(filters or {}))
    return Session(ds, as_of_date(ds, analysis_date), output_dir(output, notebook))
