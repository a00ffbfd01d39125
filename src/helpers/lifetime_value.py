"""What is a new customer of each channel worth? Lifetime value per acquisition channel.

Lifetime value (LTV) is the churn study's: the discounted gross margin of a new customer over
three years from the survival model, per acquisition channel. :func:`lifetime_values` is the
one place the channel study gets it from (a churn run's metrics when they describe the same
data and definition, otherwise fitted here). Money in the data's currency.

Interval (95%): the accounts are resampled within each channel and the Cox model is *refitted*
on every resample (:data:`N_REFITS` refits, the original penalizer, each warm-started at the original
coefficients, the design and its proportional-hazards remedy kept): :func:`refit_draws` with
:func:`cox_refit`. The draws also feed the LTV:CAC interval of :mod:`helpers.payback`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from helpers import formats, survival
from helpers.reporting import json_safe
from helpers.steps import Skipped, step
from helpers.survival.cox import align, cox_fitter, entry_column
from helpers.survival.efron import log_partial_hazards
from helpers.survival.predict import survival_by_profile

if TYPE_CHECKING:
    from helpers.loading import Dataset

#: Cox refits (account resamples) behind the LTV and LTV:CAC intervals. Measured on a loaded
#: 2-core machine: about 0.3-0.8 s each on the demo's 2,900 accounts when first measured, and
#: at 100k accounts about 0.3 s each (mostly the Cox fit; 15 refits 4-5 s, docs/benchmarks.md;
#: about 0.85 s each before the per-refit work was hoisted): :func:`refits_for` lowers the count
#: above 30k accounts and the source sentence says so. A 95% percentile interval from 50 draws
#: is coarse (its ends are interpolated between the 1st-2nd and 49th-50th draws): raise it for
#: a final report.
N_REFITS = 50
#: Account-refits the default refit count spends in all: 50 refits up to 30,000 accounts,
#: 15 at 100k (about a minute), never fewer than 10 (:func:`refits_for`).
REFIT_BUDGET = 1_500_000


def refits_for(accounts: int, most: int = N_REFITS) -> int:
    """The default number of Cox refits for ``accounts`` buying accounts: at most ``most``,
    :data:`REFIT_BUDGET` account-refits in all, never fewer than 10 (fewer refits: a coarser
    interval, said in the source sentence)."""
    return max(10, min(most, REFIT_BUDGET // max(accounts, 1)))


FITTED_HERE = "Lifetime values from the churn study's survival model, fitted here."


@dataclass(frozen=True)
class ChannelLtv:
    """Lifetime value of a new customer per acquisition channel.

    ``table``: index channel, columns ``mean``, ``low``, ``high`` (95% interval, currency)
    and ``n`` (customers). ``source``: one sentence saying where the values come from (with the
    model's notes). ``draws``: one row per Cox refit on resampled accounts, one column per
    channel (the mean LTV of a new customer in that refit; currency); None when the values were
    read from a churn run (its interval keeps the Cox fit fixed).
    """

    table: pd.DataFrame
    source: str
    draws: pd.DataFrame | None = None


def ltv_from_metrics(
    path: str | os.PathLike[str], expected: Mapping[str, Any]
) -> tuple[pd.DataFrame | None, str]:
    """``ltv_by_channel`` from a churn run's metrics.json, and a sentence saying where the
    lifetime values come from.

    The file is used only when it describes the same data and the same lifetime-value
    definition: every key of ``expected`` (``data_fingerprint``, ``analysis_date``,
    ``filters``, ``ltv_definition`` from :meth:`helpers.survival.LtvSettings.as_dict`; compared in
    their JSON form) must match. Otherwise, or when the file or its table is absent, the table
    is ``None`` and the sentence gives the reason (the caller then computes the values itself).
    """
    if not path:
        return None, ""
    p = Path(path)
    if not p.exists():
        return None, f"No churn metrics at `{p}`: lifetime values computed here."
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError):
        return (
            None,
            f"The churn metrics at `{p}` cannot be read as a metrics file: "
            "lifetime values computed here.",
        )
    differ = [k for k, v in expected.items() if data.get(k) != json_safe(v, 6)]
    if differ:
        return None, (
            f"The churn metrics at `{p}` describe other data ({', '.join(differ)} differ): "
            "lifetime values computed here."
        )
    table = data.get("ltv_by_channel")
    if not table:
        return None, f"The churn metrics at `{p}` hold no lifetime values: computed here."
    return pd.DataFrame(table).T, f"Lifetime values read from the churn study's `{p}`."


def refit_draws(
    frame: pd.DataFrame,
    estimate: Callable[[np.ndarray], pd.Series],
    *,
    by: str,
    n_refits: int = N_REFITS,
    seed: int = 42,
) -> pd.DataFrame:
    """``n_refits`` bootstrap draws of ``estimate``: each resamples the rows of ``frame`` with
    replacement within each group of column ``by`` (so every group keeps its size; rows
    without a group form one group of their own) and calls ``estimate`` with the resample's
    row *positions* in ``frame`` (the groups one after the other, in sorted order; the
    estimate refits its model on ``frame.iloc[positions]``, or on anything it precomputed per
    row of ``frame``, indexed by position). One row per draw, one column per entry of the
    estimate's Series; a draw whose fit fails (raises ``ConvergenceError``) is left out and
    counted in ``attrs['failed']``."""
    from lifelines.exceptions import ConvergenceError

    rng = np.random.default_rng(seed)
    groups = list(frame.groupby(by, sort=True, dropna=False).indices.values())
    rows, failed = [], 0
    for _ in range(n_refits):
        pos = np.concatenate([rng.choice(ix, size=len(ix), replace=True) for ix in groups])
        try:
            rows.append(estimate(pos))
        except ConvergenceError:
            failed += 1
    out = pd.DataFrame(rows).reset_index(drop=True)
    out.attrs["failed"] = failed
    return out


def cox_refit(
    definition: survival.ChurnDefinition, model: survival.ChurnModel, settings: survival.LtvSettings
) -> Callable[[np.ndarray], pd.Series]:
    """The estimate behind :func:`refit_draws` for the churn model: given the positions of
    resampled rows of ``definition.features``, refit the Cox model on their survival rows
    (same design and strata, the original penalizer, each warm-started at the original
    coefficients) and return :func:`helpers.survival.new_customer_ltv`'s mean per channel,
    valued on the point estimate's basis (:func:`helpers.survival.ltv_by_channel`: the same
    horizon, discount and the company's order cadence ``definition.cadence_days``, which sets
    each account's margin per day; the default 30 days valued every draw higher than the
    point whenever the cadence was longer, so the point could fall below its own interval).

    The same floats as calling :func:`~helpers.survival.new_customer_ltv` on
    ``definition.features.iloc[positions]`` with the refitted model (an oracle test keeps that
    path), with the work that does not depend on the refit done once: each account's margin per
    day (:func:`~helpers.survival.with_rates`), design row, covariate row
    (:func:`~helpers.survival.cox.align`), stratum and channel, indexed by position per refit.
    Each refit computes the partial hazards of the resample's covariate rows (the same matrix,
    row order and memory layout lifelines builds from the aligned frame, so the same BLAS
    product), and the discounted lifetime once per distinct (stratum, partial hazard)
    (:func:`~helpers.survival.predict.survival_by_profile`: a row's value depends on nothing
    else at acquisition). The bootstrap of ``new_customer_ltv`` is skipped: its interval is
    not used and its random numbers come from a generator of its own (seeded by
    ``settings.seed``) that nothing else draws from.

    Every refit starts from its own copy of the point model's coefficients on the scale
    lifelines' Newton-Raphson works in (covariates divided by their standard deviation:
    ``params_ * _norm_std``). Before, one shared array, a view of ``model.cox.params_`` on the
    reported scale, was the start of every refit: lifelines moves ``initial_point`` in place,
    so each refit started where the previous one ended (draws depending on the refit order)
    and the point model's coefficients were left overwritten; starting every refit on the
    reported scale instead left 3 of the demo's 50 refits unconverged.
    """
    design = model.cox_design
    start = (model.cox.params_ * model.cox._norm_std).to_numpy()
    features = definition.features
    # per row of features: its design row (-1 outside the survival rows), margin per day,
    # covariate row (columns by name), stratum and channel (codes in groupby's sorted order)
    in_survival = features["in_survival"].to_numpy(bool)
    design_row = design.data.index.get_indexer(features.index)
    margin = survival.with_rates(features, definition.cadence_days)["margin_per_day"].to_numpy()
    x = align(features, design)
    # lifelines' product on the matrix it builds from an aligned frame: (rows, covariates) in
    # column-major order (a DataFrame's values), columns in the fit's order; kept transposed
    # so that a resample's columns are one contiguous take
    covariates = np.ascontiguousarray(x[model.cox.params_.index].to_numpy(float).T)
    strata = _strata(x, design.strata)
    channel, channels = pd.factorize(features["acquisition_channel"], sort=True)
    grid = np.linspace(0, settings.horizon_days, 61)

    def estimate(pos: np.ndarray) -> pd.Series:
        rows = design_row[pos[in_survival[pos]]]
        data = design.data.take(rows).reset_index(drop=True)
        cph = cox_fitter(model.penalizer).fit(
            data,
            "duration_days",
            "event",
            strata=list(design.strata) or None,
            entry_col=entry_column(design),
            initial_point=start.copy(),
        )
        # lifelines' partial hazards without its pandas layer (a Series with a 100k-entry list
        # index per call, the larger part of its time); the oracle test of cox_refit checks them
        ph = np.exp(log_partial_hazards(cph, np.take(covariates, pos, axis=1).T))
        surv, where = survival_by_profile(
            cph, _groups(strata, pos), ph, np.zeros(len(pos)), grid, unconditional=True
        )
        rmst = survival.discounted_lifetime(surv, grid, settings.discount_per_year)
        values = rmst[where] * margin[pos]
        codes = channel[pos]
        means = [float(values[codes == c].mean()) for c in range(len(channels))]
        return pd.Series(means, index=pd.Index(channels, dtype=object, name="group"), name="mean")

    return estimate


def _strata(x: pd.DataFrame, strata: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """Each row's stratum as a code into the stratum keys of a stratified model (a label, or a
    tuple of labels for several strata: :func:`helpers.survival.predict.conditional_survival`'s
    keys); None without strata."""
    if not strata:
        return None
    keys = x[strata].apply(tuple, axis=1) if len(strata) > 1 else x[strata[0]]
    codes, uniques = pd.factorize(keys.to_numpy())
    return codes, np.asarray(uniques, dtype=object)


def _groups(strata: tuple[np.ndarray, np.ndarray] | None, pos: np.ndarray) -> dict:
    """The resample's rows (positions in ``pos``) per stratum key ({None: all} without)."""
    if strata is None:
        return {None: np.arange(len(pos))}
    codes = strata[0][pos]
    return {strata[1][c]: np.flatnonzero(codes == c) for c in np.unique(codes)}


@step("Lifetime value by channel")
def lifetime_values(
    ds: Dataset,
    as_of: pd.Timestamp,
    *,
    churn_metrics: str = "",
    n_boot: int = 300,
    seed: int = 42,
    n_refits: int | None = None,
) -> ChannelLtv | Skipped:
    """Lifetime value per acquisition channel (a :class:`ChannelLtv`): read from the churn
    run's ``churn_metrics`` file when it describes the same data (fingerprint, ``as_of``,
    filters) and the same definition (:class:`helpers.survival.LtvSettings` with ``n_boot``
    bootstrap resamples and ``seed``, the churn study's defaults otherwise), else fitted here
    by the churn study's own steps (:func:`helpers.survival.define_churn`,
    :func:`~helpers.survival.churn_model`, :func:`~helpers.survival.ltv_by_channel`: the same
    values as :func:`helpers.survival.channel_ltv`). When fitted here, ``n_refits`` Cox refits
    on resampled accounts (:func:`refit_draws` with :func:`cox_refit`) give the ``draws`` and
    the 95% interval (``low``, ``high``: percentiles of the draws; 0 refits keep the churn
    study's fixed-fit interval; None: :func:`refits_for` the number of accounts). Skipped when the survival model cannot be fitted (too few
    churn events), with its reason.

    The adapter between this study and the survival package: the notebook calls only this.
    """
    settings = survival.LtvSettings(n_boot=n_boot, seed=seed)
    same_data = {
        "data_fingerprint": ds.fingerprint,
        "analysis_date": as_of,
        "filters": ds.filters,
        "ltv_definition": settings.as_dict(),
    }
    table, source = ltv_from_metrics(churn_metrics, same_data)
    if table is not None:
        return ChannelLtv(table, source + " Its interval keeps the Cox fit fixed.")
    try:
        definition = survival.define_churn(ds, as_of, settings.threshold_days)
        model = survival.churn_model(definition, settings.covariates, settings.references, seed)
        table = survival.ltv_by_channel(definition, model, settings)
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as error:
        # a fit that fails on this data must not stop the report (lifelines' ConvergenceError
        # is a ValueError); the reason goes to the sentence and to the metrics
        return Skipped(
            f"the survival model behind the lifetime values could not be fitted ({error})",
            "the costs, funnel and attribution sections do not need it",
        )
    if isinstance(table, Skipped):
        return Skipped(table.reason, table.hint)
    notes = [source or FITTED_HERE, *model.notes]
    draws = None
    if n_refits is None:
        n_refits = refits_for(len(definition.features))
    if n_refits:
        draws = refit_draws(
            definition.features,
            cox_refit(definition, model, settings),
            by="acquisition_channel",
            n_refits=n_refits,
            seed=seed,
        )
        table = table.copy()
        table["low"] = draws.quantile(0.025).reindex(table.index)
        table["high"] = draws.quantile(0.975).reindex(table.index)
        notes.append(
            f"Intervals from {len(draws)} Cox refits on resampled accounts"
            + (f" ({draws.attrs['failed']} did not converge)." if draws.attrs["failed"] else ".")
        )
        notes += _missed(table, ds.display_names)
    return ChannelLtv(table, " ".join(notes), draws)


def _missed(table: pd.DataFrame, names: Mapping[str, str] | None) -> list[str]:
    """A sentence naming the channels whose refit interval leaves out their estimate (a
    percentile interval of few refits can; it is said, not hidden), or none."""
    out = table.index[(table["mean"] < table["low"]) | (table["mean"] > table["high"])]
    if out.empty:
        return []
    which = ", ".join(formats.display_name(c, names) for c in out)
    return [
        f"The interval of {which} misses its estimate: too few refits for a sharp interval "
        "(more refits, `N_REFITS`, for a final report)."
    ]


def ltv_source(ltv: ChannelLtv | Skipped) -> str:
    """Where the lifetime values come from, as one sentence (why they are missing, when
    skipped): shown above the LTV:CAC table and recorded as the metric ``ltv_source``."""
    return ltv.sentence() if isinstance(ltv, Skipped) else ltv.source
