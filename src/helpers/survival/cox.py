"""The Cox model: design matrix, penalizer, fit, proportional-hazards check and remedy, AFT.

Covariates are dummy-coded against named reference levels (the most frequent level unless
given); levels with fewer than ``min_events`` churn events merge into ``other``; constant and
collinear columns are dropped with a note. The penalizer is the smallest whose cross-validated
concordance is within a tolerance of the best. A covariate that breaks proportional hazards
(scaled Schoenfeld residuals, Holm-corrected) is stratified on (its own baseline hazard per
level). :func:`fit_churn_model` is the one pipeline behind the churn study's scores, its
back-test and recalibration, and the channel study's lifetime values.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.exceptions import ConvergenceError
from lifelines.statistics import proportional_hazard_test
from lifelines.utils import k_fold_cross_validation

from helpers import step_cache
from helpers.steps import Skipped, step
from helpers.survival.definition import ChurnDefinition
from helpers.survival.efron import CoxPHFitter as _EfronCoxPHFitter
from helpers.survival.kaplan_meier import holm, merge_small_groups

DEFAULT_COVARIATES: tuple[str, ...] = (
    "ownership_type",
    "size_band",
    "acquisition_channel",
    "industry",
    "business_type",
)

#: The reference level of each contract covariate: the group every hazard ratio compares with.
#: Business-meaningful where the business has a natural baseline: the most common ownership
#: form, the middle size band, the brand owner. Channels and industries have none: their most
#: frequent level is the reference (the report names it). A notebook's ``REFERENCES``
#: parameter overrides any of them; a reference absent from the selection falls back to the
#: most frequent level, with a note.
DEFAULT_REFERENCES: dict[str, str] = {
    "ownership_type": "private",
    "size_band": "medium",
    "business_type": "brand_owner",
}

#: The outcome columns of a design: lifetime (days from origin), churn event, delayed entry.
OUTCOME_COLUMNS: tuple[str, ...] = ("duration_days", "event", "entry_days")

#: Fewest churn events for a Cox model (below: Kaplan-Meier only, with a sentence).
MIN_EVENTS_FOR_COX = 20


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
    #: numeric covariates: (mean, standard deviation) they were standardised with
    numeric: dict[str, tuple[float, float]] = field(default_factory=dict)


def design_matrix(
    frame: pd.DataFrame,
    covariates: Sequence[str] = DEFAULT_COVARIATES,
    references: dict[str, str] | None = None,
    min_events: int = 10,
) -> Design:
    """Dummy-coded covariates for lifelines, with documented reference levels.

    The reference of each covariate is ``references[col]`` when given, else
    :data:`DEFAULT_REFERENCES`, else its most frequent level (a reference that is not in the
    data falls back to the most frequent level, noted). Levels with fewer than ``min_events``
    events are merged into ``other`` (noted); columns that are constant or exact linear
    combinations of others are dropped (noted). A numeric covariate with more than
    :data:`NUMERIC_LEVELS` distinct values (e.g. a monthly charge) enters linearly, standardised
    (its hazard ratio is per standard deviation; missing values at the mean, noted).
    """
    references = {**DEFAULT_REFERENCES, **(references or {})}
    notes: list[str] = []
    outcome = [c for c in OUTCOME_COLUMNS if c in frame.columns]
    if "entry_days" in outcome and not (frame["entry_days"] > 0).any():
        outcome.remove("entry_days")  # no delayed entry: a plain fit
    parts = [frame[outcome].astype(float)]
    used: dict[str, str] = {}
    levels: dict[str, pd.Series] = {}
    numeric: dict[str, tuple[float, float]] = {}
    for col in covariates:
        if col not in frame.columns or frame[col].isna().all():
            notes.append(f"{col}: not in the data, left out of the model")
            continue
        if is_numeric_covariate(frame[col]):
            values = frame[col].astype(float)
            mean, sd = float(values.mean()), float(values.std())
            if not sd > 0:
                notes.append(f"{col}: the same value for every account, left out of the model")
                continue
            if values.isna().any():
                notes.append(f"{col}: {int(values.isna().sum())} missing values set to the mean")
            numeric[col] = (mean, sd)
            parts.append(((values.fillna(mean) - mean) / sd).rename(col))
            continue
        values, merged = merge_small_groups(
            covariate_levels(frame, col), frame["event"], min_events
        )
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
            fallback = values.value_counts().sort_index().idxmax()
            if ref is not None:
                notes.append(
                    f"{col}: the reference level '{ref}' is not in this selection; "
                    f"'{fallback}' (the most frequent) is the reference instead"
                )
            ref = fallback
        used[col] = ref
        levels[col] = values
        dummies = pd.get_dummies(values, prefix=col, prefix_sep="=", dtype=float)
        parts.append(dummies.drop(columns=f"{col}={ref}"))
    data = pd.concat(parts, axis=1)
    x = data.drop(columns=outcome)
    keep: list[str] = []
    for c in x.columns:  # greedy rank check: drop a column that adds no rank
        trial = x[[*keep, c]].to_numpy()
        if np.linalg.matrix_rank(trial) > len(keep):
            keep.append(c)
        else:
            notes.append(f"{c}: collinear with other covariates, dropped")
    data = data[[*outcome, *keep]]
    return Design(data, [*used, *numeric], used, notes, levels=levels, numeric=numeric)


#: The ``reference`` of a numeric covariate's hazard ratio in :func:`forest_table`.
PER_SD = "per standard deviation"

#: A numeric covariate with more distinct values than this enters linearly (standardised).
NUMERIC_LEVELS = 10


def is_numeric_covariate(values: pd.Series) -> bool:
    """True for a number column with more than :data:`NUMERIC_LEVELS` distinct values (a
    column with few values, e.g. a 1-5 rating, is a category)."""
    return (
        pd.api.types.is_numeric_dtype(values)
        and not pd.api.types.is_bool_dtype(values)
        and values.nunique() > NUMERIC_LEVELS
    )


def cox_fitter(penalizer: float = 0.0) -> CoxPHFitter:
    """An unfitted Cox model: lifelines' ``CoxPHFitter`` (Breslow baseline, Efron ties) with
    the vectorised Efron terms of :mod:`helpers.survival.efron` (same fit, several times
    faster). Every Cox fit of the project is made by this constructor."""
    return _EfronCoxPHFitter(penalizer=penalizer)


def entry_column(design: Design) -> str | None:
    return "entry_days" if "entry_days" in design.data.columns else None


def fit_cox(
    design: Design, penalizer: float = 0.0, strata: Sequence[str] | None = None
) -> tuple[CoxPHFitter, list[str]]:
    """Fit a Cox model; on a convergence failure retry with stronger penalizers (noted)."""
    notes = []
    for p in [penalizer, *[x for x in (0.01, 0.1, 1.0) if x > penalizer]]:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cph = cox_fitter(p).fit(
                    design.data,
                    "duration_days",
                    "event",
                    strata=list(strata) if strata else None,
                    entry_col=entry_column(design),
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
    scores = {}
    for p in grid:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s = k_fold_cross_validation(
                cox_fitter(p),
                design.data,
                "duration_days",
                "event",
                k=folds,
                scoring_method="concordance_index",
                fitter_kwargs={"entry_col": entry_column(design)},
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
    if cph.entry_col is not None:
        # lifelines has no Schoenfeld residuals under delayed entry: the test runs on the same
        # model refitted without it (the shape of each effect over time is what is tested)
        data = design.data.drop(columns=[cph.entry_col])
        strata = list(design.strata) or None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cph = cox_fitter(cph.penalizer).fit(data, "duration_days", "event", strata=strata)
        test = proportional_hazard_test(cph, data, time_transform="rank").summary
    else:
        test = proportional_hazard_test(cph, design.data, time_transform="rank").summary
    out = test[["test_statistic", "p"]].copy()
    out["p_holm"] = holm(out["p"])
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
    bad = check[check["violated"] & check["covariate"].isin(design.levels)]
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


def forest_table(cph: CoxPHFitter, references: dict[str, str] | None = None) -> pd.DataFrame:
    """Log hazard ratios with 95% intervals (``low``, ``high``), the hazard ratio and its
    p-value per level, sorted; ``reference`` names the level each row is compared with (the
    covariate's reference in ``references``)."""
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
    refs = references or {}
    out["reference"] = [
        f"{c.split('=')[0]}={refs.get(c.split('=')[0], '?')}" if "=" in c else PER_SD
        for c in out.index
    ]
    return out.sort_values("log_hr")


@dataclass(frozen=True)
class ChurnModel:
    """The churn study's Cox model: ``cox`` (stratified when a covariate broke proportional
    hazards) is fitted on ``cox_design``; ``unstratified`` on ``design``. ``ph`` is the
    proportional-hazards test per covariate, ``ph_note`` the sentence on it and its remedy."""

    design: Design
    cox_design: Design
    cox: CoxPHFitter
    unstratified: CoxPHFitter
    penalizer: float
    cv: pd.Series
    ph: pd.DataFrame
    ph_note: str
    notes: list[str]

    ph_after: pd.DataFrame | None = None  # the PH test of the stratified model, if any

    @property
    def forest(self) -> pd.DataFrame:
        """Hazard ratios of the model predicted with (:func:`forest_table`), against the
        model's reference levels; a stratified covariate has none (see ``stratified_on``)."""
        return forest_table(self.cox, self.design.references)

    @property
    def stratified_on(self) -> list[str]:
        """Covariates the model is stratified on (they broke proportional hazards)."""
        return list(self.cox_design.strata)

    @property
    def references(self) -> dict[str, str]:
        """The reference level of each covariate in the model."""
        return self.design.references


def fit_churn_model(
    surv: pd.DataFrame,
    covariates: Sequence[str] = DEFAULT_COVARIATES,
    references: dict[str, str] | None = None,
    seed: int = 42,
    penalizer: float | None = None,
    design: Design | None = None,
) -> ChurnModel:
    """Design matrix (unless given), penalizer chosen by cross-validation (unless given), Cox
    fit, proportional-hazards check and remedy: the one model pipeline behind the churn
    study's scores, its back-test and recalibration, and the channel study's LTV."""
    design = design_matrix(surv, covariates, references) if design is None else design
    if penalizer is None:
        penalizer, cv = choose_penalizer(design, seed=seed)
    else:
        cv = pd.Series({penalizer: float("nan")}, name="cv_concordance")
    cph, fit_notes = fit_cox(design, penalizer)
    ph = ph_check(cph, design)
    cox, cox_design, ph_note = remedy_ph(cph, design, ph, penalizer)
    ph_after = None
    if cox_design.strata:  # re-check the remedy: the other covariates under the strata
        try:
            ph_after = ph_check(cox, cox_design)
        except (ValueError, KeyError, np.linalg.LinAlgError) as exc:
            ph_note += f" The check after stratifying could not run ({exc})."
        else:
            still = sorted(set(ph_after.loc[ph_after["violated"], "covariate"]))
            ph_note += (
                f" After stratifying, {', '.join(still)} still break(s) proportional hazards: "
                "read their hazard ratios as averages over time."
                if still
                else " After stratifying, no other covariate breaks proportional hazards."
            )
    return ChurnModel(
        design,
        cox_design,
        cox,
        cph,
        penalizer,
        cv,
        ph,
        ph_note,
        [*design.notes, *fit_notes],
        ph_after,
    )


# --- new rows in a fitted design ------------------------------------------------------------


def align(frame: pd.DataFrame, design: Design) -> pd.DataFrame:
    """The design's columns for new rows (levels unseen in training -> ``other`` when the
    design has it, else the reference): dummies as 0/1, strata as their label."""
    cols = [c for c in design.data.columns if c not in OUTCOME_COLUMNS]
    out = pd.DataFrame(0.0, index=frame.index, columns=[c for c in cols if c not in design.strata])
    # each covariate's levels once (not once per dummy of it)
    named = {c.split("=", 1)[0] for c in out.columns if c not in design.numeric}
    levels = {col: covariate_levels(frame, col) for col in sorted(named | set(design.strata))}
    for c in out.columns:
        if c in design.numeric:
            mean, sd = design.numeric[c]
            out[c] = ((frame[c].astype(float).fillna(mean) - mean) / sd).to_numpy()
            continue
        col, level = c.split("=", 1)
        if level == "other":
            # the levels the model kept apart (a dummy dropped as collinear included)
            known = (
                set(design.levels[col]) - {"other"}
                if col in design.levels
                else {k.split("=", 1)[1] for k in cols if k.startswith(f"{col}=")}
            )
            out[c] = (~levels[col].isin(known | {design.references.get(col)})).astype(float)
        else:
            out[c] = (levels[col] == level).astype(float)
    for col in design.strata:
        known = set(design.data[col])
        fallback = "other" if "other" in known else design.references[col]
        values = levels[col]
        out[col] = values.where(values.isin(known), fallback).to_numpy()
    return out


def covariate_levels(frame: pd.DataFrame, column: str) -> pd.Series:
    """A covariate's levels as :func:`design_matrix` saw them (missing -> ``unknown``)."""
    values = frame[column].astype(object)
    return values.where(values.notna(), "unknown").astype(str)


# --- steps of the churn study --------------------------------------------------------------


@step("The Cox model")
def churn_model(
    definition: ChurnDefinition,
    covariates: Sequence[str] = DEFAULT_COVARIATES,
    references: dict[str, str] | None = None,
    seed: int = 42,
) -> ChurnModel | Skipped:
    """:func:`fit_churn_model` on the study's survival rows, or Skipped with the reason:
    fewer than :data:`MIN_EVENTS_FOR_COX` churn events, or no covariate that varies. Kept on
    disk with its definition (:mod:`helpers.step_cache`; ``definition.key``): notebook 03's
    lifetime values reuse notebook 02's model."""
    name = None
    if definition.key is not None:
        name = step_cache.key_of(
            "churn-model",
            {
                "definition": definition.key,
                "covariates": list(covariates),
                "references": dict(references or {}),
                "seed": int(seed),
            },
        )
    return step_cache.remembered(
        name, lambda: _churn_model(definition, covariates, references, seed)
    )


def _churn_model(
    definition: ChurnDefinition,
    covariates: Sequence[str],
    references: dict[str, str] | None,
    seed: int,
) -> ChurnModel | Skipped:
    events = definition.events
    if events < MIN_EVENTS_FOR_COX:
        return Skipped(
            f"only {events} churn events (accounts silent for {definition.threshold}+ days) "
            "in this selection",
            f"a Cox model needs at least {MIN_EVENTS_FOR_COX} to say anything about drivers; "
            "the Kaplan-Meier curves above still hold",
        )
    design = design_matrix(definition.survival, covariates, references)
    if design.data.columns.difference(OUTCOME_COLUMNS).empty:
        return Skipped(
            "no covariate varies in this selection (" + "; ".join(design.notes) + ")",
            "account attributes that differ between accounts would let a Cox model weigh them",
        )
    return fit_churn_model(definition.survival, covariates, references, seed, design=design)
