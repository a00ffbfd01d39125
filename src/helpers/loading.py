"""Load a company's exports (or the demo data) into validated tables.

A data source is either ``"demo"`` (the generated files in ``data/demo/``) or a YAML file that
names the company's own files and maps their columns onto the contract::

    analysis_date: 2025-12-31        # export date: no record may be dated later (default: today)
    tables:
      orders:
        file: exports/orders.csv     # CSV, Parquet or Excel; relative to this YAML file
        encoding: utf-8              # CSV only; e.g. cp1252 for old Windows exports
        sheet: Orders                # Excel only (default: the first sheet)
        date_format: "%d.%m.%Y"      # strptime format for every date column (default: ISO)
        date_formats: {order_date: "%d/%m/%Y"}   # per column, overrides date_format
        columns:                     # contract name: your column name
          order_id: OrderNo
          account_id: CustomerID
        values:                      # recode your category spellings onto the contract's
          status: {Done: completed, Storno: cancelled}

Only ``orders`` is required; every other table is optional and notebooks that need a missing
one say so in a sentence (:meth:`Dataset.require`). Raw files are only ever read. The result is
a :class:`Dataset` with one pandas frame per table, every contract column present (optional
columns that were absent are added empty), and a fingerprint of the input bytes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import yaml

from helpers.config import DEMO_DIR, DEMO_SOURCE
from helpers.contract import TABLES, Table
from helpers.validation import (
    ROW_COLUMN,
    DataValidationError,
    Findings,
    MissingTableError,
    Problem,
    check_not_after,
    check_references,
    check_rows,
    check_schema,
    rows_problem,
)

#: Plain-language names of the tables, used in "this analysis needs ..." sentences.
TABLE_WORDS = {
    "accounts": "the accounts table (CRM customer list)",
    "orders": "the orders table (ERP order lines)",
    "leads": "the leads table (CRM opportunities)",
    "touchpoints": "the touchpoints table (marketing and sales interactions)",
    "channel_spend": "the channel_spend table (marketing spend by channel and month)",
}

#: Date formats tried, in order, to explain a date that does not parse (mixed formats).
_COMMON_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d-%m-%Y")


@dataclasses.dataclass(frozen=True)
class TableSource:
    """Where one table comes from and how its columns map onto the contract."""

    name: str
    path: Path
    columns: Mapping[str, str] = dataclasses.field(default_factory=dict)
    encoding: str = "utf-8"
    sheet: str | int | None = None
    date_format: str | None = None
    date_formats: Mapping[str, str] = dataclasses.field(default_factory=dict)
    values: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class SourceConfig:
    """A parsed data-source description: one :class:`TableSource` per table provided."""

    label: str
    tables: Mapping[str, TableSource]
    analysis_date: pd.Timestamp


@dataclasses.dataclass
class Dataset:
    """Validated tables of one data source.

    ``tables`` maps table names to frames with contract column names and coerced types.
    ``analysis_date`` is the export date (no record is later). ``fingerprint`` is a SHA-256
    over the raw input bytes and the mapping, so two reports can say whether they saw the
    same data. ``warnings`` lists what is odd but not fatal (shown in the data-health section).
    """

    tables: dict[str, pd.DataFrame]
    source: str
    analysis_date: pd.Timestamp
    fingerprint: str
    warnings: list[Problem] = dataclasses.field(default_factory=list)
    filters: dict[str, Any] = dataclasses.field(default_factory=dict)

    def has(self, name: str) -> bool:
        """Whether the source provides table ``name``."""
        return name in self.tables

    def __getitem__(self, name: str) -> pd.DataFrame:
        self.require(name, purpose="this step")
        return self.tables[name]

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
        ids = set(kept["account_id"])
        tables = dict(self.tables)
        tables["accounts"] = kept
        tables["orders"] = _keep(
            self.tables["orders"], self.tables["orders"]["account_id"].isin(ids)
        )
        if leads is not None:
            by_account = leads["account_id"].isin(ids)
            tables["leads"] = _keep(leads, by_account if lead_mask is None else lead_mask)
        touch = self.tables.get("touchpoints")
        if touch is not None:
            lead_ids = set(tables["leads"]["lead_id"]) if leads is not None else set()
            keep = touch["account_id"].isin(ids) | touch["lead_id"].isin(lead_ids)
            tables["touchpoints"] = _keep(touch, keep)
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
        return dataclasses.replace(
            self,
            tables=tables,
            warnings=warnings,
            filters={**self.filters, **dict(criteria)},
        )

    def missing_sentence(self, *names: str, purpose: str) -> str | None:
        """The sentence :meth:`require` would raise, or None when every table is there."""
        try:
            self.require(*names, purpose=purpose)
        except MissingTableError as exc:
            return str(exc)
        return None


# --- configuration --------------------------------------------------------------------------


def demo_config(directory: Path = DEMO_DIR) -> SourceConfig:
    """The demo data set as a source: every table as Parquet, analysis date from truth.json."""
    truth_path = directory / "truth.json"
    if not truth_path.exists():
        raise FileNotFoundError(
            f"No demo data in {directory}: run `make data` (or `python -m helpers.demo`) first."
        )
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    tables = {
        name: TableSource(name=name, path=directory / f"{name}.parquet")
        for name in TABLES
        if (directory / f"{name}.parquet").exists()
    }
    return SourceConfig(
        label=DEMO_SOURCE, tables=tables, analysis_date=pd.Timestamp(truth["as_of"])
    )


def read_config(path: str | Path) -> SourceConfig:
    """Parse a data-source YAML file (see the module docstring for its shape)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise FileNotFoundError(f"Data-source file {path} does not exist.") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("tables"), dict):
        raise ValueError(f"{path}: expected a mapping with a 'tables:' section.")
    unknown = sorted(set(raw["tables"]) - set(TABLES))
    if unknown:
        raise ValueError(f"{path}: unknown table(s) {unknown}; the contract has {sorted(TABLES)}.")
    tables = {}
    for name, spec in raw["tables"].items():
        spec = {"file": spec} if isinstance(spec, str) else dict(spec or {})
        if "file" not in spec:
            raise ValueError(f"{path}: table '{name}' has no 'file:'.")
        columns = spec.get("columns") or {}
        bad = sorted(set(columns) - set(TABLES[name].names))
        if bad:
            raise ValueError(
                f"{path}: table '{name}' maps unknown contract column(s) {bad}; "
                f"the contract's columns are {TABLES[name].names}."
            )
        tables[name] = TableSource(
            name=name,
            path=(path.parent / spec["file"]).resolve(),
            columns={str(k): str(v) for k, v in columns.items()},
            encoding=spec.get("encoding", "utf-8"),
            sheet=spec.get("sheet"),
            date_format=spec.get("date_format"),
            date_formats=spec.get("date_formats") or {},
            values=spec.get("values") or {},
        )
    if "orders" not in tables:
        raise ValueError(f"{path}: the 'orders' table is required; every analysis starts there.")
    when = raw.get("analysis_date")
    analysis_date = pd.Timestamp(when) if when else pd.Timestamp(dt.date.today())
    return SourceConfig(label=str(path), tables=tables, analysis_date=analysis_date)


def resolve_source(source: str | Path | SourceConfig) -> SourceConfig:
    """``"demo"``, a path to a YAML file, or an already parsed config."""
    if isinstance(source, SourceConfig):
        return source
    if str(source) == DEMO_SOURCE:
        return demo_config()
    return read_config(source)


# --- reading --------------------------------------------------------------------------------


def read_raw(spec: TableSource) -> pd.DataFrame:
    """Read one file as it is (CSV and Excel cells as text), tagging each row with its position.

    Raises :class:`DataValidationError` for a missing, empty, undecodable or unreadable file.
    """
    path = spec.path
    name = path.name
    suffix = path.suffix.lower()
    if not path.exists():
        raise DataValidationError([Problem(str(path), None, "file does not exist")])
    if path.stat().st_size == 0:
        raise DataValidationError([Problem(name, None, "file is empty (0 bytes)")])
    try:
        if suffix in (".csv", ".txt", ".tsv"):
            frame = pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                encoding=spec.encoding,
                encoding_errors="strict",
                sep="\t" if suffix == ".tsv" else ",",
            )
            first_row, word = 2, "line"
        elif suffix in (".xlsx", ".xlsm", ".xls"):
            frame = pd.read_excel(path, sheet_name=spec.sheet or 0, dtype=str)
            first_row, word = 2, "line"
        elif suffix in (".parquet", ".pq"):
            # date32 columns as datetime64, not Python date objects
            frame = pq.read_table(path).to_pandas(date_as_object=False)
            first_row, word = 1, "row"
        else:
            raise DataValidationError(
                [Problem(name, None, f"unsupported file type '{suffix}' (CSV, Parquet or Excel)")]
            )
    except UnicodeDecodeError as exc:
        raise DataValidationError(
            [
                Problem(
                    name,
                    None,
                    f"not valid {spec.encoding} text (byte 0x{exc.object[exc.start]:02x} at "
                    f"byte offset {exc.start}); re-export as UTF-8 or set 'encoding:' for table "
                    f"'{spec.name}' in the source YAML (e.g. cp1252)",
                )
            ]
        ) from None
    except pd.errors.EmptyDataError:
        raise DataValidationError([Problem(name, None, "file has no header and no rows")]) from None
    except (ValueError, OSError) as exc:
        raise DataValidationError([Problem(name, None, f"cannot be read: {exc}")]) from None
    if frame.empty:
        raise DataValidationError([Problem(name, None, "file has a header but no data rows")])
    frame = frame.reset_index(drop=True)
    frame[ROW_COLUMN] = frame.index + first_row
    frame.attrs.update(file=name, row_word=word)
    return frame


def map_columns(frame: pd.DataFrame, spec: TableSource, findings: Findings) -> pd.DataFrame:
    """Rename the file's columns to contract names and check that required ones are there."""
    table = TABLES[spec.name]
    file = frame.attrs["file"]
    present = [c for c in frame.columns if c != ROW_COLUMN]
    for contract_name, file_name in spec.columns.items():
        if file_name not in frame.columns:
            findings.errors.append(
                Problem(
                    file,
                    file_name,
                    f"the YAML maps '{contract_name}' to column '{file_name}', which the file "
                    f"does not have (its columns: {', '.join(map(str, present))})",
                )
            )
    renamed = frame.rename(columns={v: k for k, v in spec.columns.items()})
    renamed.attrs = frame.attrs
    unmapped = [c for c in present if c not in spec.columns.values() and c not in table.names]
    for name in table.required_names:
        if name in renamed.columns or name in spec.columns:
            continue
        hint = _close_column(name, unmapped)
        rule = f"required column '{name}' is missing"
        if hint:
            rule += (
                f"; the file has '{hint}', which looks like it: map it in the source YAML "
                f"(tables: {spec.name}: columns: {{{name}: {hint}}})"
            )
        else:
            rule += f" (the file's columns: {', '.join(map(str, present))})"
        findings.errors.append(Problem(file, name, rule))
    return renamed


def _close_column(name: str, candidates: list[str]) -> str | None:
    def norm(s: str) -> str:
        return "".join(ch for ch in str(s).lower() if ch.isalnum())

    by_norm = {norm(c): c for c in candidates}
    if norm(name) in by_norm:
        return by_norm[norm(name)]
    import difflib

    close = difflib.get_close_matches(norm(name), list(by_norm), n=1, cutoff=0.6)
    return by_norm[close[0]] if close else None


def coerce_types(frame: pd.DataFrame, spec: TableSource, findings: Findings) -> pd.DataFrame:
    """Give every contract column its type; unparseable cells become errors, not NaN."""
    table = TABLES[spec.name]
    out = frame.copy()
    out.attrs = frame.attrs
    for col in table.columns:
        if col.name not in out.columns:
            continue
        values = out[col.name]
        if col.dtype in ("string", "category"):
            out[col.name] = _as_text(values, lower=col.dtype == "category")
            recode = spec.values.get(col.name)
            if recode:
                mapping = {str(k).strip().lower(): v for k, v in recode.items()}
                out[col.name] = out[col.name].map(lambda v, m=mapping: m.get(v, v))
        elif col.dtype in ("float", "int"):
            out[col.name] = _as_number(out, col.name, findings)
        else:
            fmt = spec.date_formats.get(col.name, spec.date_format)
            out[col.name] = _as_date(out, col.name, fmt, findings, day=col.dtype == "date")
    return out


def _as_text(values: pd.Series, lower: bool) -> pd.Series:
    """Trimmed text (lower snake case for categories; empty -> None), cleaned once per distinct
    value: exports repeat a few category values over millions of rows (measured: loading the
    2M-line benchmark set 25% faster; ids, all distinct, lose almost nothing)."""
    if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        # mixed types (Parquet object columns): factorize would merge 1, 1.0 and True
        return _as_text_each(values, lower)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    clean = np.append(_as_text_each(pd.Series(uniques, dtype=object), lower).to_numpy(), None)
    return pd.Series(clean[codes], index=values.index, dtype=object)  # code -1 -> the None


def _as_text_each(values: pd.Series, lower: bool) -> pd.Series:
    """:func:`_as_text` value by value (for columns that are not all strings)."""
    text = values.astype("string").str.strip()
    if lower:
        text = text.str.lower().str.replace(r"[\s\-/]+", "_", regex=True)
    text = text.mask(text == "")
    return text.astype(object).where(text.notna(), None)


def _as_number(frame: pd.DataFrame, column: str, findings: Findings) -> pd.Series:
    values = frame[column]
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    text = values.astype("string").str.strip()
    numbers = pd.to_numeric(text.str.replace(r"^\+", "", regex=True), errors="coerce")
    bad = text.notna() & (text != "") & numbers.isna()
    problem = rows_problem(frame, bad, column, "text in a numeric column")
    if problem:
        findings.errors.append(problem)
    return numbers.astype("float64")


def _as_date(
    frame: pd.DataFrame, column: str, fmt: str | None, findings: Findings, day: bool
) -> pd.Series:
    values = frame[column]
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values.dt.tz_localize(None) if values.dt.tz is not None else values
    else:
        text = values.astype("string").str.strip()
        text = text.mask(text == "")
        parsed = pd.to_datetime(text, format=fmt or "ISO8601", errors="coerce")
        bad = text.notna() & parsed.isna()
        if bad.any():
            expected = fmt or "ISO 8601 (YYYY-MM-DD)"
            rule = f"dates that do not parse as {expected}"
            other = _guess_format(text[bad])
            if other and bad.sum() < text.notna().sum():
                rule = (
                    f"mixed date formats: most dates parse as {expected}, these look like "
                    f"'{other}'; export one format or set 'date_formats' in the source YAML"
                )
            elif other:
                rule += f"; they look like '{other}': set 'date_format: \"{other}\"' in the YAML"
            findings.errors.append(rows_problem(frame, bad, column, rule))
    parsed = parsed.astype("datetime64[ns]")
    return parsed.dt.normalize() if day else parsed


def _guess_format(text: pd.Series) -> str | None:
    sample = text.dropna().head(50)
    for fmt in _COMMON_DATE_FORMATS:
        if pd.to_datetime(sample, format=fmt, errors="coerce").notna().all():
            return fmt
    return None


def complete_columns(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """Add absent optional columns (empty, or their documented default) in contract order."""
    out = frame
    if table.name == "orders" and "line_number" not in out.columns:
        out["line_number"] = 1.0
    if table.name == "touchpoints" and "touchpoint_id" not in out.columns:
        out["touchpoint_id"] = "T" + out[ROW_COLUMN].astype(str)
    if table.name == "channel_spend" and "month" in out.columns:
        out["month"] = out["month"].dt.to_period("M").dt.to_timestamp()
    for col in table.columns:
        if col.name not in out.columns:
            if col.dtype in ("date", "datetime"):
                out[col.name] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
            elif col.dtype in ("float", "int"):
                out[col.name] = float("nan")
            else:
                out[col.name] = None
    extra = [c for c in out.columns if c not in table.names]
    result = out[table.names + extra]
    result.attrs = frame.attrs
    return result


# --- the whole load -------------------------------------------------------------------------


def load_dataset(
    source: str | Path | SourceConfig = DEMO_SOURCE,
    analysis_date: str | pd.Timestamp | None = None,
) -> Dataset:
    """Read, map, type and validate every table of ``source``; raise on any contract breach.

    Parameters
    ----------
    source
        ``"demo"``, the path of a data-source YAML file, or a :class:`SourceConfig`.
    analysis_date
        The export date; records dated later are errors. Defaults to the source's own
        ``analysis_date`` (demo: the generator's as-of date). Notebooks may analyse an earlier
        date than this: features are computed "as of" their own date.

    Returns
    -------
    Dataset
        Frames with contract columns; all problems are raised together as
        :class:`DataValidationError`.
    """
    config = resolve_source(source)
    when = pd.Timestamp(analysis_date) if analysis_date is not None else config.analysis_date
    findings = Findings()
    tables: dict[str, pd.DataFrame] = {}
    digest = hashlib.sha256()
    for name in TABLES:  # contract order, so the fingerprint is stable
        spec = config.tables.get(name)
        if spec is None:
            continue
        digest.update(name.encode())
        digest.update(_file_digest(spec.path))
        digest.update(json.dumps(dataclasses.asdict(spec), default=str, sort_keys=True).encode())
        try:
            raw = read_raw(spec)
        except DataValidationError as exc:
            findings.errors.extend(exc.problems)
            continue
        before = len(findings.errors)
        frame = coerce_types(map_columns(raw, spec, findings), spec, findings)
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
    return Dataset(
        tables=tables,
        source=config.label,
        analysis_date=when,
        fingerprint=digest.hexdigest()[:16],
        warnings=findings.warnings,
    )


def _file_digest(path: Path) -> bytes:
    digest = hashlib.sha256()
    if path.exists():
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.digest()


def _keep(frame: pd.DataFrame, mask: pd.Series) -> pd.DataFrame:
    kept = frame.loc[mask]
    kept.attrs = frame.attrs
    return kept


def _normalise_value(column: pd.Series, value: Any) -> Any:
    """Spell a filter value the way the loaded column spells it (categories: lower snake)."""
    if isinstance(value, str) and column.dtype == object:
        text = value.strip()
        if not column.isin([text]).any():
            return text.lower().replace(" ", "_").replace("-", "_")
        return text
    return value
