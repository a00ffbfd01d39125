"""The declared, versioned schema of every study's ``metrics.json``.

A study writes its headline numbers through one of the dataclasses below (``metrics(...)`` of
each study module builds it) and the leadership summary reads them back through :func:`read`,
which accepts only the declared fields of the declared version: a key nobody declares cannot
reach the summary, and a file written by another version of a schema is refused with a
sentence that says to rerun the study.

A field a study could not compute on its data is ``null`` in the file, and ``skipped`` maps the
field's name to the reason (:class:`Fields`, from a :class:`helpers.steps.Skipped` result).

Units: money in the data's currency, shares 0-1, durations in days unless a name says
otherwise. Nested tables are ``{row: {column: value}}`` as ``DataFrame.to_dict("index")``.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from helpers.steps import Skipped

METRICS_FILE = "metrics.json"

Table = dict[str, dict[str, Any]]  # {row: {column: value}}


class MetricsSchemaError(ValueError):
    """A metrics file that does not match the schema it claims (or any schema)."""


@dataclass(frozen=True, kw_only=True)
class StudyMetrics:
    """Fields every study run writes: which data, as of when, which slice."""

    SCHEMA: ClassVar[str] = ""
    VERSION: ClassVar[int] = 0

    data_fingerprint: str
    analysis_date: str  # YYYY-MM-DD
    filters: dict[str, Any]
    source: str  # "demo" or the own-data YAML path
    currency: str | None = None  # the data source's currency (money fields are in it)
    #: field name -> why it is null (what is missing; what would enable it)
    skipped: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON object written to ``metrics.json`` (schema name and version first)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {"schema": self.SCHEMA, "schema_version": self.VERSION, **values}


@dataclass(frozen=True, kw_only=True)
class OverviewMetrics(StudyMetrics):
    """Notebook 00, data overview and revenue drivers (revenue of completed lines net of
    returns, currency; ``period``/``compared_with`` are pandas period labels, e.g. 2025Q4)."""

    SCHEMA: ClassVar[str] = "overview"
    #: 2: currency (and, without a version change, the year-earlier comparison, the period's
    #: first/last day and retention/new accounts before, absent from files written before)
    VERSION: ClassVar[int] = 2

    rows: dict[str, int]  # rows per loaded table
    period: str | None
    compared_with: str | None
    revenue: float | None
    revenue_before: float | None
    revenue_change: float | None
    new_accounts: int | None
    retention: float | None  # share of the previous period's buyers who bought again
    share_existing: float | None
    share_new: float | None
    share_reactivated: float | None
    drivers: dict[str, float] | None  # LMDI contribution per factor (currency)
    top_driver: str | None
    top_driver_contribution: float | None
    #: revenue of the same period a year earlier (e.g. 2024Q4 for 2025Q4), and revenue minus it
    revenue_year_before: float | None = None
    revenue_change_year: float | None = None
    period_start: str | None = None  # the period's first day, YYYY-MM-DD
    period_end: str | None = None  # the period's last day, YYYY-MM-DD
    #: retention and new accounts of the compared_with period (the change's "before")
    retention_before: float | None = None
    new_accounts_before: int | None = None


@dataclass(frozen=True, kw_only=True)
class SegmentationMetrics(StudyMetrics):
    """Notebook 01, customer segmentation (shares 0-1; counts of accounts)."""

    SCHEMA: ClassVar[str] = "segmentation"
    #: 2: currency (and, without a version change, quarterly_top20_share)
    VERSION: ClassVar[int] = 2

    top_1pct_share: float | None
    top_5pct_share: float | None
    top_10pct_share: float | None
    top_20pct_share: float | None
    gini: float | None
    abc_counts: dict[str, int] | None
    tier_counts: dict[str, int] | None
    tier_revenue_share: dict[str, float] | None
    strategic_accounts: int | None
    clusters: int | None
    cluster_stability: float | None  # adjusted Rand index under 80% subsamples
    customer_types: dict[str, int] | None
    lead_grade_conversion: dict[str, float] | None
    lead_score_auc: float | None
    lookalike: dict[str, float] | None  # auc, base_rate, lift_top_decile, train/test leads
    #: revenue share of the top 20% of the accounts that bought in each of the last 8 complete
    #: quarters ({"2025Q4": share}; helpers.quarterly.top_share_by_quarter)
    quarterly_top20_share: dict[str, float] | None = None


@dataclass(frozen=True, kw_only=True)
class ChurnMetrics(StudyMetrics):
    """Notebook 02, churn survival (days; shares 0-1; money in currency)."""

    SCHEMA: ClassVar[str] = "churn"
    # 2: references, intervals, stratified_on, revenue_at_risk_interval; 3: bgnbd, p_alive_auc; 4: currency
    # (and, without a version change, quarterly_churn)
    VERSION: ClassVar[int] = 4

    churn_threshold_days: int | None
    threshold_derived: bool
    horizon_days: int
    accounts: int | None  # buying accounts
    churn_rate: float | None
    km_median_days: float | None  # null also when the median is not reached (see skipped)
    cox_concordance: float | None  # of the model predicted with (stratified if remedied)
    cox_concordance_unstratified: float | None  # the model before any PH remedy
    stratified_on: list[str] | None  # covariates that broke proportional hazards
    references: dict[str, str] | None  # the level each covariate's hazard ratios compare with
    penalizer: float | None
    log_hazard_ratios: dict[str, float] | None  # "column=level" vs the column's reference
    log_hazard_ratio_intervals: dict[str, list[float]] | None  # 95%: [low, high]
    backtest: dict[str, float] | None
    prechurn_accounts: int | None
    revenue_at_risk: float | None  # over the next horizon_days
    revenue_at_risk_interval: list[float] | None  # 95%: [low, high] of what may be lost
    ltv_by_tier: Table | None  # mean, low, high (95% bootstrap), n
    ltv_by_channel: Table | None  # lifetime value of a new customer per acquisition channel
    ltv_definition: dict[str, Any]  # helpers.survival.LtvSettings.as_dict()
    notes: list[str]
    #: BG/NBD view (helpers.survival.bgnbd_metrics): r, alpha (periods of period_days), a, b,
    #: mean_p_alive, share_p_alive_below_half, spend_frequency_r, holdout_error, auc_p_alive, auc_cox
    bgnbd: dict[str, float] | None = None
    #: AUC at horizon_days of 1 - P(alive) computed at the back-test start (beside backtest's
    #: auc_at_horizon of the Cox risk)
    p_alive_auc: float | None = None
    #: of the accounts active at each of the last 8 complete quarters' first day, the share
    #: whose silence reached churn_threshold_days in it ({"2025Q4": share};
    #: helpers.quarterly.churn_by_quarter)
    quarterly_churn: dict[str, float] | None = None


@dataclass(frozen=True, kw_only=True)
class ChannelMetrics(StudyMetrics):
    """Notebook 03, channel economics (money in currency; counts of leads and customers)."""

    SCHEMA: ClassVar[str] = "channels"
    #: 2: costs add mature_spend/leads/customers (CAC on matured cohorts); ltv_cac adds
    #: cac_low/high, marginal(_low/_high), verdict, payback_low/high; spend_allocation is new; 3: currency (and, without a version change, cac_all with its
    #: window and quarterly_cac)
    VERSION: ClassVar[int] = 3

    costs: Table | None  # per channel: spend, leads, inquiries, customers, cost per each
    # per paid channel: ltv, cac (+ interval), ratio, low, high, marginal (+ interval),
    # verdict, flag, payback months (+ interval)
    ltv_cac: Table | None
    quadrant: dict[str, str] | None  # per paid channel: cost-quadrant strategy
    elasticity: dict[str, float] | None  # leads per spend, log-log slope
    attribution_model: str
    attribution: dict[str, float] | None  # attributed conversions per channel
    attributed_revenue: dict[str, float] | None
    ltv_source: str
    # how a slice's spend was obtained (own column, allocated by lead share, or company-wide);
    # empty for the whole company
    spend_allocation: str | None = ""
    findings: list[str]
    #: paid channels' spend over the new customers they won in the study's window
    #: [window_start, window_end] (YYYY-MM-DD): leads created in it, all of them (not only
    #: matured cohorts as the per-channel cac of ``costs``)
    cac_all: float | None = None
    window_start: str | None = None
    window_end: str | None = None
    #: paid spend of each of the last 8 complete quarters over the paid deals won in it
    #: ({"2025Q4": currency per customer}; helpers.quarterly.cac_by_quarter)
    quarterly_cac: dict[str, float] | None = None


@dataclass(frozen=True, kw_only=True)
class SummaryMetrics:
    """Notebook 90, the leadership summary (what it said, from which runs)."""

    SCHEMA: ClassVar[str] = "summary"
    #: 2: kpis
    VERSION: ClassVar[int] = 2

    data_fingerprint: str | None
    filters: dict[str, Any]
    source: str
    findings: list[str]
    moves: list[str]
    notes: list[str]
    sources: Table
    #: the KPI strip (helpers.summary.kpi), one entry per KPI, exactly the keys: key, label,
    #: value (float or null), text (formatted with its unit/currency), period (reader's words),
    #: comparison ("" when none), status ("good", "bad" or "neutral"), reason (why value is
    #: null, else "")
    kpis: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {"schema": self.SCHEMA, "schema_version": self.VERSION, **values}


#: Every study's schema by its name (the ``schema`` key of a metrics file).
SCHEMAS: dict[str, type] = {
    cls.SCHEMA: cls
    for cls in (OverviewMetrics, SegmentationMetrics, ChurnMetrics, ChannelMetrics, SummaryMetrics)
}

M = TypeVar("M")


class Fields:
    """Collects the fields of a metrics object from step results that may be :class:`Skipped`.

    >>> fields = Fields()
    >>> fields.take("cox_concordance", Skipped("only 5 churn events"), lambda m: 0.7) is None
    True
    >>> fields.skipped
    {'cox_concordance': 'only 5 churn events'}
    """

    def __init__(self) -> None:
        self.skipped: dict[str, str] = {}

    def take(self, name: str, result: Any, extract: Callable[[Any], Any] = lambda r: r) -> Any:
        """``extract(result)``, or None (with the reason noted under ``name``) when skipped."""
        if isinstance(result, Skipped):
            self.skipped[name] = result.why()
            return None
        return extract(result)


def _matches(value: Any, annotation: Any) -> bool:
    """Loose JSON type check of ``value`` against a field annotation."""
    if annotation is Any:
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is dict or annotation is dict:
        return isinstance(value, dict)
    if origin is list or annotation is list:
        return isinstance(value, list)
    return isinstance(value, annotation)


def from_json(data: Mapping[str, Any], schema: type[M], where: str = "metrics") -> M:
    """A metrics object of ``schema`` from its JSON object; refuses another schema or version,
    a missing or undeclared field, and a value of the wrong JSON type."""
    name, version = data.get("schema"), data.get("schema_version")
    if name != schema.SCHEMA or version != schema.VERSION:
        raise MetricsSchemaError(
            f"{where}: written as schema {name!r} version {version!r}, expected "
            f"{schema.SCHEMA!r} version {schema.VERSION}; rerun the study with this code."
        )
    hints = typing.get_type_hints(schema)
    declared = {f.name for f in dataclasses.fields(schema)}
    given = set(data) - {"schema", "schema_version"}
    unknown, missing = (
        sorted(given - declared),
        sorted(
            f.name
            for f in dataclasses.fields(schema)
            if f.name not in given
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ),
    )
    if unknown or missing:
        raise MetricsSchemaError(
            f"{where}: fields not in schema {schema.SCHEMA!r} v{schema.VERSION}: "
            f"{', '.join(unknown) or 'none'}; missing: {', '.join(missing) or 'none'}."
        )
    wrong = [k for k in given if not _matches(data[k], hints[k])]
    if wrong:
        raise MetricsSchemaError(
            f"{where}: wrong type for {', '.join(sorted(wrong))} (schema {schema.SCHEMA!r})."
        )
    return schema(**{k: data[k] for k in given})


def read(folder: str | Path, schema: type[M]) -> M:
    """The metrics a study run wrote to ``folder``, as the declared ``schema``."""
    path = Path(folder) / METRICS_FILE
    data = json.loads(path.read_text(encoding="utf-8"))
    return from_json(data, schema, where=str(path))
