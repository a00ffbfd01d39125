"""Where the data comes from: the demo folder or a company's own data-source YAML file.

A data source is either ``"demo"`` (the generated Parquet files in ``data/demo/``) or a YAML file
that names the company's own files and how their columns map onto the contract (its shape is in
the :mod:`helpers.loading` docstring and in ``data/README.md``). This module only parses and
checks that description; it opens no data file.

Assumptions
-----------
- Table and column names in the YAML are contract names (:data:`helpers.contract.TABLES`);
  anything else, and any key this module does not know, is a ``ValueError`` naming the YAML file
  (with the closest known key as a did-you-mean hint).
- File paths in the YAML are relative to the YAML file (resolved to absolute paths here).
- At least one of ``orders`` (customer studies) and ``leads`` (funnel questions) is given.
- ``analysis_date:`` (the export date) is not defaulted: a source without it has
  ``analysis_date=None`` and :func:`helpers.loading.load_dataset` refuses it unless the caller
  passes a date (never a silent "today").
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from helpers.config import DEMO_DIR, DEMO_SOURCE
from helpers.contract import TABLES
from helpers.engine import DUCKDB, Engine
from helpers.engine import parse as parse_engine
from helpers.formats import DEMO_CURRENCY

#: Keys allowed at the top of a source YAML.
SOURCE_KEYS = ("analysis_date", "tables", "currency", "display_names", "engine", "spark_master")
#: Keys allowed in one table's section.
TABLE_KEYS = (
    "file",
    "encoding",
    "sheet",
    "sep",
    "decimal",
    "thousands",
    "header_row",
    "date_format",
    "date_formats",
    "columns",
    "values",
    "constants",
    "fill_empty",
    "generate",
    "attributes",
)
#: Id columns the loader can generate from the file line (one line = one record).
GENERATED_IDS = {"orders": ("order_id",), "leads": ("lead_id",), "touchpoints": ("touchpoint_id",)}
#: Kinds of a free account attribute.
ATTRIBUTE_KINDS = ("categorical", "numeric")


@dataclasses.dataclass(frozen=True)
class TableSource:
    """Where one table comes from and how its columns map onto the contract.

    ``columns`` maps contract names to the file's column names (one file column may feed
    several contract columns); ``values`` maps a contract column to ``{your spelling: contract
    value}``. ``date_formats`` (per column) override ``date_format`` (every date column); both
    are ``strptime`` formats, None means ISO 8601. ``encoding`` and ``sep`` apply to CSV only
    (``sep`` None: ``,``, or a tab for ``.tsv``), ``sheet`` to Excel only (None: the first
    sheet). ``header_row`` is the 1-based line (CSV) or row (Excel) of the header, for exports
    with title rows above it. ``decimal`` (None: ``.``, checked for thousands-dot integers) and
    ``thousands`` (None: no separator) describe the numbers. ``constants`` fills contract
    columns the export lacks with one value; ``generate`` names id columns to generate from the
    file line (see :data:`GENERATED_IDS`). ``attributes`` (accounts only) maps free columns of
    the export to ``categorical`` or ``numeric``; they are carried into the accounts table and
    the account features under their own names. ``fill_empty`` gives text columns a value for
    their empty cells (``{source_channel: unknown}``), counted in a warning.
    """

    name: str
    path: Path
    columns: Mapping[str, str] = dataclasses.field(default_factory=dict)
    encoding: str = "utf-8"
    sheet: str | int | None = None
    date_format: str | None = None
    date_formats: Mapping[str, str] = dataclasses.field(default_factory=dict)
    values: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=dict)
    sep: str | None = None
    decimal: str | None = None
    thousands: str | None = None
    header_row: int = 1
    constants: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    generate: tuple[str, ...] = ()
    attributes: Mapping[str, str] = dataclasses.field(default_factory=dict)
    fill_empty: Mapping[str, str] = dataclasses.field(default_factory=dict)


#: Fields of :class:`TableSource` added after fingerprints were first published: they enter the
#: fingerprint only when set, so existing sources keep their fingerprint.
LATER_FIELDS = (
    "sep",
    "decimal",
    "thousands",
    "header_row",
    "constants",
    "generate",
    "attributes",
    "fill_empty",
)


@dataclasses.dataclass(frozen=True)
class SourceConfig:
    """A parsed data-source description: one :class:`TableSource` per table provided.

    ``label`` names the source in messages (``"demo"`` or the YAML path); ``analysis_date`` is
    the export date (no record may be dated later; None when the YAML has none). ``currency``
    (e.g. ``"EUR"``) and ``display_names`` (``{name in the data: name in reports}``) are for the
    reports; they change no number. ``engine`` is where the engine-side steps run
    (:mod:`helpers.engine`: DuckDB by default, a Spark session, or an Ibis URL); it changes no
    number either.
    """

    label: str
    tables: Mapping[str, TableSource]
    analysis_date: pd.Timestamp | None
    currency: str | None = None
    display_names: Mapping[str, str] = dataclasses.field(default_factory=dict)
    engine: Engine = DUCKDB

    @property
    def attributes(self) -> dict[str, str]:
        """Free account attributes declared in the YAML: ``{column: kind}``."""
        accounts = self.tables.get("accounts")
        return dict(accounts.attributes) if accounts else {}


def demo_config(directory: Path = DEMO_DIR) -> SourceConfig:
    """The demo data set as a source: every table as Parquet, analysis date from truth.json.

    Tables whose Parquet file is absent from ``directory`` are left out (not an error).
    Raises ``FileNotFoundError`` when ``truth.json`` is missing (the demo was never generated).
    """
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
        label=DEMO_SOURCE,
        tables=tables,
        analysis_date=pd.Timestamp(truth["as_of"]),
        currency=DEMO_CURRENCY,
    )


def _unknown_keys(path: Path, where: str, given: Any, known: tuple[str, ...]) -> None:
    """Raise for keys of ``given`` not in ``known``, with the closest known key as a hint."""
    for key in given:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ValueError(
            f"{path}: unknown key '{key}' {where}; {hint}the known keys are {', '.join(known)}."
        )


def _table_source(path: Path, name: str, spec: dict[str, Any]) -> TableSource:
    where = f"in table '{name}'"
    _unknown_keys(path, where, spec, TABLE_KEYS)
    if "file" not in spec:
        raise ValueError(f"{path}: table '{name}' has no 'file:'.")
    table = TABLES[name]
    columns = spec.get("columns") or {}
    bad = sorted(set(columns) - set(table.names))
    if bad:
        raise ValueError(
            f"{path}: table '{name}' maps unknown contract column(s) {bad}; "
            f"the contract's columns are {table.names}."
        )
    values = spec.get("values") or {}
    for column, recode in values.items():
        if column not in table.names or table.column(column).dtype not in ("string", "category"):
            text_columns = [c.name for c in table.columns if c.dtype in ("string", "category")]
            raise ValueError(
                f"{path}: table '{name}' has values: for '{column}', which is not a text column "
                f"of the contract; recode one of {', '.join(text_columns)}."
            )
        if not isinstance(recode, Mapping):
            raise ValueError(
                f"{path}: table '{name}', values: {column}: expected a mapping "
                "{your spelling: contract value}."
            )
    constants = spec.get("constants") or {}
    bad = sorted(set(constants) - set(table.names))
    if bad:
        raise ValueError(
            f"{path}: table '{name}' has constants for unknown contract column(s) {bad}; "
            f"the contract's columns are {table.names}."
        )
    both = sorted(set(constants) & set(columns))
    if both:
        raise ValueError(
            f"{path}: table '{name}' both maps and sets a constant for {both}; keep one."
        )
    fill_empty = spec.get("fill_empty") or {}
    for column in fill_empty:
        if column not in table.names or table.column(column).dtype not in ("string", "category"):
            raise ValueError(
                f"{path}: table '{name}' has fill_empty: for '{column}', which is not a text "
                "column of the contract (only text and category cells can be filled)."
            )
        if table.column(column).unique or column in table.key:
            raise ValueError(
                f"{path}: table '{name}' cannot fill_empty '{column}': it is an id, one value "
                "for many rows would make duplicates."
            )
    generate = spec.get("generate") or []
    generate = [generate] if isinstance(generate, str) else list(generate)
    allowed = GENERATED_IDS.get(name, ())
    for column in generate:
        if column not in allowed:
            can = f"only {', '.join(allowed)}" if allowed else "no column"
            raise ValueError(
                f"{path}: table '{name}' cannot generate '{column}'; it can generate {can} "
                "(one file line = one record)."
            )
        if column in columns or column in constants:
            raise ValueError(
                f"{path}: table '{name}' both maps and generates '{column}'; keep one."
            )
    attributes = spec.get("attributes") or {}
    if attributes and name != "accounts":
        raise ValueError(
            f"{path}: table '{name}' has attributes:, which only the accounts table takes "
            "(free account attributes for segments and covariates)."
        )
    for column, kind in attributes.items():
        if kind not in ATTRIBUTE_KINDS:
            raise ValueError(
                f"{path}: attribute '{column}' has kind '{kind}'; use one of "
                f"{', '.join(ATTRIBUTE_KINDS)}."
            )
        if str(column) in table.names or str(column).startswith("_"):
            raise ValueError(
                f"{path}: attribute '{column}' has the name of a contract column (or starts "
                "with '_'); map it with columns: instead, or rename it."
            )
    header_row = spec.get("header_row", 1)
    if not isinstance(header_row, int) or isinstance(header_row, bool) or header_row < 1:
        raise ValueError(
            f"{path}: table '{name}' header_row must be a line number from 1, got {header_row!r}."
        )
    decimal, thousands = spec.get("decimal"), spec.get("thousands")
    if decimal is not None and decimal not in (".", ","):
        raise ValueError(f"{path}: table '{name}' decimal must be '.' or ',', got {decimal!r}.")
    if thousands is not None and (thousands not in (".", ",", " ", "'") or thousands == decimal):
        raise ValueError(
            f"{path}: table '{name}' thousands must be one of '.', ',', ' ', \"'\" and differ "
            f"from the decimal separator, got {thousands!r}."
        )
    if thousands == "." and decimal is None:
        decimal = ","  # a thousands dot implies a decimal comma
    return TableSource(
        name=name,
        path=(path.parent / spec["file"]).resolve(),
        columns={str(k): str(v) for k, v in columns.items()},
        encoding=spec.get("encoding", "utf-8"),
        sheet=spec.get("sheet"),
        date_format=spec.get("date_format"),
        date_formats=spec.get("date_formats") or {},
        values=values,
        sep=spec.get("sep"),
        decimal=decimal,
        thousands=thousands,
        header_row=header_row,
        constants={str(k): v for k, v in constants.items()},
        generate=tuple(generate),
        attributes={str(k): str(v) for k, v in attributes.items()},
        fill_empty={str(k): str(v) for k, v in fill_empty.items()},
    )


def read_config(path: str | Path) -> SourceConfig:
    """Parse a data-source YAML file (see the :mod:`helpers.loading` docstring for its shape).

    A table given as a bare string is its file (``orders: orders.csv``). Raises
    ``FileNotFoundError`` for a missing YAML file and ``ValueError`` (message starting with the
    YAML path) for invalid YAML, a missing ``tables:`` section, an unknown ``engine:`` (or a
    ``spark_master:`` without ``engine: pyspark``), unknown keys, tables or
    contract columns, a table without ``file:``, settings that contradict each other, or neither
    ``orders`` nor ``leads``. A missing ``analysis_date`` gives ``analysis_date=None``.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise FileNotFoundError(f"Data-source file {path} does not exist.") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("tables"), dict):
        raise ValueError(f"{path}: expected a mapping with a 'tables:' section.")
    _unknown_keys(path, "at the top level", raw, SOURCE_KEYS)
    unknown = sorted(set(raw["tables"]) - set(TABLES))
    if unknown:
        raise ValueError(f"{path}: unknown table(s) {unknown}; the contract has {sorted(TABLES)}.")
    tables = {}
    for name, spec in raw["tables"].items():
        spec = {"file": spec} if isinstance(spec, str) else dict(spec or {})
        tables[name] = _table_source(path, name, spec)
    if "orders" not in tables and "leads" not in tables:
        raise ValueError(
            f"{path}: the 'orders' table is required (every customer study starts there); "
            "only funnel questions can be answered without it, from a 'leads' table."
        )
    when = raw.get("analysis_date")
    display = raw.get("display_names") or {}
    if not isinstance(display, Mapping):
        raise ValueError(f"{path}: display_names must map names in the data to report names.")
    currency = raw.get("currency")
    try:
        engine = parse_engine(raw.get("engine"), raw.get("spark_master"))
    except ValueError as exc:  # the sentence names the key (engine or spark_master)
        raise ValueError(f"{path}: {exc}.") from None
    return SourceConfig(
        label=str(path),
        tables=tables,
        analysis_date=pd.Timestamp(when) if when else None,
        currency=str(currency) if currency else None,
        display_names={str(k): str(v) for k, v in display.items()},
        engine=engine,
    )


def resolve_source(source: str | Path | SourceConfig) -> SourceConfig:
    """``"demo"``, a path to a YAML file, or an already parsed config (returned as it is)."""
    if isinstance(source, SourceConfig):
        return source
    if str(source) == DEMO_SOURCE:
        return demo_config()
    return read_config(source)
