"""Where the data comes from: the demo folder or a company's own data-source YAML file.

A data source is either ``"demo"`` (the generated Parquet files in ``data/demo/``) or a YAML file
that names the company's own files and how their columns map onto the contract (its shape is in
the :mod:`helpers.loading` docstring). This module only parses and checks that description; it
opens no data file.

Assumptions
-----------
- Table and column names in the YAML are contract names (:data:`helpers.contract.TABLES`);
  anything else is a ``ValueError`` naming the YAML file.
- File paths in the YAML are relative to the YAML file (resolved to absolute paths here).
- ``orders`` is the only required table.
- Without ``analysis_date:`` the analysis date is today (the export is assumed to be fresh).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import yaml

from helpers.config import DEMO_DIR, DEMO_SOURCE
from helpers.contract import TABLES


@dataclasses.dataclass(frozen=True)
class TableSource:
    """Where one table comes from and how its columns map onto the contract.

    ``columns`` maps contract names to the file's column names; ``values`` maps a contract
    column to ``{your spelling: contract value}``. ``date_formats`` (per column) override
    ``date_format`` (every date column); both are ``strptime`` formats, None means ISO 8601.
    ``encoding`` applies to CSV only, ``sheet`` to Excel only (None: the first sheet).
    """

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
    """A parsed data-source description: one :class:`TableSource` per table provided.

    ``label`` names the source in messages (``"demo"`` or the YAML path); ``analysis_date`` is
    the export date (no record may be dated later).
    """

    label: str
    tables: Mapping[str, TableSource]
    analysis_date: pd.Timestamp


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
        label=DEMO_SOURCE, tables=tables, analysis_date=pd.Timestamp(truth["as_of"])
    )


def read_config(path: str | Path) -> SourceConfig:
    """Parse a data-source YAML file (see the :mod:`helpers.loading` docstring for its shape).

    A table given as a bare string is its file (``orders: orders.csv``). Raises
    ``FileNotFoundError`` for a missing YAML file and ``ValueError`` (message starting with the
    YAML path) for invalid YAML, a missing ``tables:`` section, unknown tables or contract
    columns, a table without ``file:``, or no ``orders`` table.
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
    """``"demo"``, a path to a YAML file, or an already parsed config (returned as it is)."""
    if isinstance(source, SourceConfig):
        return source
    if str(source) == DEMO_SOURCE:
        return demo_config()
    return read_config(source)
