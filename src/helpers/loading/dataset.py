"""The validated data set (:class:`Dataset`) and the whole load (:func:`load_dataset`).

:func:`load_dataset` runs the steps of the other modules in order: resolve the source
(:mod:`~helpers.loading.config`), read each file (:mod:`~helpers.loading.read`), map, type and
complete its columns (:mod:`~helpers.loading.clean`), then the contract's rules
(:mod:`helpers.validation`). All problems are raised together.

Assumptions
-----------
- Tables are handled in contract order (:data:`helpers.contract.TABLES`), so messages and the
  fingerprint do not depend on the order of the YAML.
- A table whose columns are missing or whose cells do not parse is not checked further (the
  later rules would report consequences, not causes).
- The fingerprint covers the raw bytes of each file and its :class:`TableSource` (mapping,
  formats, encoding, path): the same files under another mapping are another data set.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping, MutableMapping
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.config import DEMO_SOURCE
from helpers.contract import TABLES
from helpers.engine import DUCKDB, Engine, mark, memtable
from helpers.loading import cache as _cache
from helpers.loading.checks_sql import (  # the contract's rules in DuckDB SQL
    check_not_after,
    check_references,
    check_rows,
    check_schema,
)
from helpers.loading.clean import coerce_types, complete_columns, map_columns
from helpers.loading.config import LATER_FIELDS, SourceConfig, TableSource, resolve_source
from helpers.loading.filtered import filtered_tables
from helpers.loading.lazy_tables import LazyTables
from helpers.loading.parse import snake_case
from helpers.loading.read import file_digest, read_raw_arrow
from helpers.text_arrays import is_text
from helpers.validation import (
    ROW_COLUMN,
    DataValidationError,
    Findings,
    MissingTableError,
    Problem,
)

#: Plain-language names of the tables, used in "this analysis needs ..." sentences.
TABLE_WORDS = {
    "accounts": "the accounts table (CRM customer list)",
    "orders": "the orders table (ERP order lines)",
    "leads": "the leads table (CRM opportunities)",
    "touchpoints": "the touchpoints table (marketing and sales interactions)",
    "channel_spend": "the channel_spend table (marketing spend by channel and month)",
}


@dataclasses.dataclass
class Dataset:
    """Validated tables of one data source.

    ``tables`` maps table names to frames with contract column names and coerced types; text
    columns are :data:`~helpers.loading.parse.TEXT` (Arrow-backed ``str``, a missing cell NaN).
    ``analysis_date`` is the export date (no record is later). ``fingerprint`` is a SHA-256
    over the raw input bytes and the mapping, so two reports can say whether they saw the
    same data. ``warnings`` lists what is odd but not fatal (shown in the data-health section).
    ``currency`` (e.g. ``"EUR"``, None when the source does not say) and ``display_names``
    (``{name in the data: name in reports}``) come from the source YAML for the reports.
    ``attributes`` maps the free account attributes the source declares to their kind
    (``categorical`` or ``numeric``); they are columns of the accounts table and of the account
    features under their own names, usable as segments and covariates. ``engine`` is where the
    engine-side steps run (the source YAML's ``engine:``, :mod:`helpers.engine`); each table
    carries it in ``attrs["engine"]``, so steps given the frames run there too. A data set
    read from the load-once cache builds each table's frame when it is first used
    (:class:`~helpers.loading.lazy_tables.LazyTables`): a study pays only for its tables.
    """

    tables: MutableMapping[str, pd.DataFrame]
    source: str
    analysis_date: pd.Timestamp
    fingerprint: str
    warnings: list[Problem] = dataclasses.field(default_factory=list)
    filters: dict[str, Any] = dataclasses.field(default_factory=dict)
    currency: str | None = None
    display_names: dict[str, str] = dataclasses.field(default_factory=dict)
    attributes: dict[str, str] = dataclasses.field(default_factory=dict)
    engine: Engine = DUCKDB

    def __post_init__(self) -> None:
        if isinstance(self.tables, LazyTables):  # read from the cache: frames built on first use
            self.tables.mark(self.engine)
        else:
            mark(self.tables.values(), self.engine)

    @property
    def from_source(self) -> bool:
        """Whether :func:`load_dataset` made this very object from its source (or
        :meth:`filter` from such a one): then its ``fingerprint`` (of the raw bytes and the
        mapping), ``filters`` and ``analysis_date`` stand for its content, and results computed
        from it may be shared with other notebooks (:mod:`helpers.step_cache`). A data set
        built in code, or copied with ``dataclasses.replace``, is not. Assumes its frames are
        not changed in place after the load (the notebooks only read them)."""
        return getattr(self, "_from_source", False) is True

    def absent_columns(self, name: str) -> tuple[str, ...]:
        """Contract columns of table ``name`` that the export did not have (added empty).

        Empty for a table that is not provided, and for sources that had every column.
        """
        frame = self.tables.get(name)
        return tuple(frame.attrs.get("absent", ())) if frame is not None else ()

    def has(self, name: str) -> bool:
        """Whether the source provides table ``name``."""
        return name in self.tables

    def __getitem__(self, name: str) -> pd.DataFrame:
        self.require(name, purpose="this step")
        return self.tables[name]

    def rows(self, name: str) -> int:
        """Rows of table ``name`` (``KeyError`` when the data set lacks it), without reading a
        cached table that has not been read yet."""
        if isinstance(self.tables, LazyTables):
            return self.tables.rows(name)
        return len(self.tables[name])

    def columns(self, name: str, names: list[str]) -> pd.DataFrame:
        """Columns ``names`` of table ``name`` (``KeyError`` when the data set lacks it). A
        data set read from the cache reads only those columns when the table has not been
        read yet (:meth:`LazyTables.columns`): summaries of a few columns do not load a
        whole table."""
        if isinstance(self.tables, LazyTables):
            return self.tables.columns(name, names)
        return self.tables[name][list(names)]

    def engine_table(self, name: str, names: list[str]):
        """Columns ``names`` of table ``name`` as an Ibis table for an engine-side step
        (``KeyError`` when the data set lacks it). A data set read from the cache lets DuckDB
        scan the entry file in place when the table has not been read into pandas
        (:meth:`LazyTables.engine_table`): a step that aggregates the 36M touchpoints at 1M
        accounts then never holds them in pandas. Otherwise a memtable of the frame's columns
        (``KeyError`` for a column the frame lacks)."""
        if isinstance(self.tables, LazyTables):
            return self.tables.engine_table(name, names)
        return memtable(self.tables[name], list(names))

    def require(self, *names: str, purpose: str) -> None:
        """Raise :class:`MissingTableError` with one clear sentence if a table is missing."""
        missing = [n for n in names if n not in self.tables]
        if missing:
            words = " and ".join(TABLE_WORDS.get(n, n) for n in missing)
            raise MissingTableError(
                f"{purpose[:1].upper() + purpose[1:]} needs {words}, which the data source "
                f"'{self.source}' does not provide; add it to the source YAML to get this part."
            )

    def filter(self, criteria: Mapping[str, Any] | None = None) -> Dataset:
        """The data set restricted to the accounts matching ``criteria`` (a new Dataset).

        ``criteria`` maps an accounts column to a value or a list of values, e.g.
        ``{"region": "north"}`` or ``{"business_line": ["components", "services"]}``; values
        are compared after the same normalisation as the data (lower snake case for
        categories). Orders and account touchpoints follow their account. Leads are kept by
        their own column when the leads table has it (so unconverted prospects of a region
        stay in), otherwise by their account. ``channel_spend`` is not split (spend is rarely
        recorded per region): CAC of a slice therefore uses company-wide spend, which the
        filter records in ``warnings``.

        Raises ``ValueError`` naming the column and the known values when a criterion names an
        unknown column or selects no account.
        """
        if not criteria:
            return self
        self.require("accounts", purpose="Filtering by account attributes")
        accounts = self.tables["accounts"]
        mask = pd.Series(True, index=accounts.index)
        lead_mask = None
        leads = self.tables.get("leads")
        for column, wanted in criteria.items():
            if column not in accounts.columns or column == ROW_COLUMN:
                usable = [c for c in accounts.columns if c != ROW_COLUMN]
                raise ValueError(
                    f"Filter column '{column}' is not an accounts column; use one of "
                    f"{', '.join(usable)}."
                )
            values = [wanted] if isinstance(wanted, (str, int, float)) else list(wanted)
            values = [_normalise_value(accounts[column], v) for v in values]
            hit = accounts[column].isin(values)
            if not hit.any() and is_text(accounts[column]):  # text: case-insensitive
                wanted_forms = {snake_case(v) for v in values if isinstance(v, str)}
                present = pd.Series(accounts[column].dropna().unique())
                forms = present.map(lambda v: snake_case(v) if isinstance(v, str) else None)
                values = list(present[forms.isin(wanted_forms)])
                hit = accounts[column].isin(values)
            if not hit.any():
                known = sorted(map(str, accounts[column].dropna().unique()))[:20]
                raise ValueError(
                    f"The filter {column}={wanted!r} selects no accounts; the accounts table "
                    f"has {column} values: {', '.join(known)}."
                )
            mask &= hit
            if leads is not None and column in leads.columns:
                own = leads[column].isin(values)
                lead_mask = own if lead_mask is None else lead_mask & own
        if not mask.any():
            raise ValueError(
                f"The filter {dict(criteria)!r} selects no accounts (each part "
                "matches some, but no account matches all of them)."
            )
        kept = accounts.loc[mask]
        ids = kept["account_id"]  # as a column, not a set: no Python string per id
        kept_leads = None
        if leads is not None:
            by_account = leads["account_id"].isin(ids)
            kept_leads = _keep(leads, by_account if lead_mask is None else lead_mask)
        if isinstance(self.tables, LazyTables):  # read from the cache: orders and touchpoints
            tables = filtered_tables(self.tables, kept, kept_leads)  # filtered in the engine
        else:
            tables = self._filtered_frames(kept, kept_leads)
        warnings = list(self.warnings)
        if "channel_spend" in tables:
            warnings.append(
                Problem(
                    "channel_spend",
                    None,
                    f"spend is company-wide: the filter {dict(criteria)} does not split it, so "
                    "costs per lead or customer of this slice compare slice volumes with "
                    "company-wide spend",
                )
            )
        out = dataclasses.replace(
            self,
            tables=tables,
            warnings=warnings,
            filters={**self.filters, **dict(criteria)},
        )
        out._from_source = self.from_source  # the filters are part of what identifies it
        return out

    def _filtered_frames(
        self, kept: pd.DataFrame, leads: pd.DataFrame | None
    ) -> dict[str, pd.DataFrame]:
        """Every table restricted to the ``kept`` accounts and ``leads`` (:meth:`filter`), as
        frames; orders and account touchpoints follow their account."""
        ids = kept["account_id"]
        tables = dict(self.tables)
        tables["accounts"] = kept
        if "orders" in self.tables:
            tables["orders"] = _keep(
                self.tables["orders"], self.tables["orders"]["account_id"].isin(ids)
            )
        if leads is not None:
            tables["leads"] = leads
        touch = self.tables.get("touchpoints")
        if touch is not None:
            lead_ids = leads["lead_id"] if leads is not None else []
            keep = touch["account_id"].isin(ids) | touch["lead_id"].isin(lead_ids)
            tables["touchpoints"] = _keep(touch, keep)
        return tables

    def missing_sentence(self, *names: str, purpose: str) -> str | None:
        """The sentence :meth:`require` would raise, or None when every table is there."""
        try:
            self.require(*names, purpose=purpose)
        except MissingTableError as exc:
            return str(exc)
        return None


def load_dataset(
    source: str | Path | SourceConfig = DEMO_SOURCE,
    analysis_date: str | pd.Timestamp | None = None,
    *,
    cache: bool | None = None,
) -> Dataset:
    """Read, map, type and validate every table of ``source``; raise on any contract breach.

    Parameters
    ----------
    source
        ``"demo"``, the path of a data-source YAML file, or a :class:`SourceConfig`.
    analysis_date
        The export date; records dated later are errors. Defaults to the source's own
        ``analysis_date`` (demo: the generator's as-of date); a source without one is an error
        (the load never assumes "today"). Notebooks may analyse an earlier date than this:
        features are computed "as of" their own date.
    cache
        Reuse (and store) the validated data set in the load-once cache
        (:mod:`helpers.loading.cache`): None (default) uses it unless ``B2B_CACHE=off``; a
        cached data set is identical to a fresh load, and any change of a file, the mapping or
        the loading code misses the cache.

    Returns
    -------
    Dataset
        Frames with contract columns (plus declared account attributes); all problems are
        raised together as :class:`DataValidationError`.
    """
    config = resolve_source(source)
    when = pd.Timestamp(analysis_date) if analysis_date is not None else config.analysis_date
    if when is None:
        raise DataValidationError(
            [
                Problem(
                    config.label,
                    "analysis_date",
                    "the source has no analysis_date; add 'analysis_date: YYYY-MM-DD' (the day "
                    "of the export: no record may be dated later) at the top of the YAML",
                )
            ]
        )
    if _cache.enabled(cache):
        ds = _cache.cached_load(config, when, lambda digest: _build(config, when, digest))
    else:
        ds = _build(config, when)
    ds._from_source = True  # see Dataset.from_source
    return ds


def _build(
    config: SourceConfig, when: pd.Timestamp, digest: Callable[[Path], bytes] = file_digest
) -> Dataset:
    """The whole load of ``config`` as of ``when`` (``digest`` hashes a file for the
    fingerprint)."""
    findings = Findings()
    tables: dict[str, pd.DataFrame] = {}
    for name in TABLES:  # contract order
        spec = config.tables.get(name)
        if spec is None:
            continue
        try:
            raw, arrow = read_raw_arrow(spec, findings)
        except DataValidationError as exc:
            findings.errors.extend(exc.problems)
            continue
        before = len(findings.errors)
        frame = map_columns(raw, spec, findings)
        frame = coerce_types(frame, spec, findings, arrow=arrow)
        del raw, arrow
        if len(findings.errors) > before:  # missing columns or bad cells: later rules would lie
            continue
        frame = complete_columns(frame, TABLES[name])
        findings.errors.extend(check_schema(frame, TABLES[name]))
        tables[name] = frame
    findings.raise_if_errors()
    check_rows(tables, findings)
    check_references(tables, findings)
    check_not_after(tables, when, findings)
    findings.raise_if_errors()
    ds = Dataset(
        tables=tables,
        source=config.label,
        analysis_date=when,
        fingerprint=fingerprint(config, digest),
        warnings=list(dict.fromkeys(findings.warnings)),
        currency=config.currency,
        display_names=dict(config.display_names),
        attributes=config.attributes,
        engine=config.engine,
    )
    return ds


def fingerprint(config: SourceConfig, digest: Callable[[Path], bytes] = file_digest) -> str:
    """16 hex digits of a SHA-256 over each provided table's name, file bytes and source spec.

    Tables are taken in contract order, so the YAML's order does not matter; a missing file
    counts as no bytes. The spec includes the file's path, so the same bytes at another path
    (another checkout) give another fingerprint; one changed byte gives another fingerprint.
    Settings added later (:data:`~helpers.loading.config.LATER_FIELDS`) count only when set, so
    sources that do not use them keep the fingerprint they always had. ``digest`` gives a
    file's SHA-256 (the cache passes one that remembers digests, so files are not hashed twice).
    """
    total = hashlib.sha256()
    for name in TABLES:
        spec = config.tables.get(name)
        if spec is None:
            continue
        total.update(name.encode())
        total.update(digest(spec.path))
        fields = dataclasses.asdict(spec)
        for key in LATER_FIELDS:
            if fields[key] == _DEFAULTS[key]:
                del fields[key]
        total.update(json.dumps(fields, default=str, sort_keys=True).encode())
    return total.hexdigest()[:16]


_DEFAULTS = dataclasses.asdict(TableSource(name="", path=Path()))


def _keep(frame: pd.DataFrame, mask: pd.Series) -> pd.DataFrame:
    kept = frame.loc[mask]
    kept.attrs = frame.attrs
    return kept


def _normalise_value(column: pd.Series, value: Any) -> Any:
    """Spell a filter value the way the loaded column spells it (categories: lower snake)."""
    if isinstance(value, str) and is_text(column):
        text = value.strip()
        if not column.isin([text]).any():
            return text.lower().replace(" ", "_").replace("-", "_")
        return text
    return value
