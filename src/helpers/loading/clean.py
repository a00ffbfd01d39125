"""From raw columns to contract columns: rename, type, recode, and complete.

Every step here collects problems in a :class:`~helpers.validation.Findings` instead of raising,
so one load reports every broken rule at once. Messages name the file (``frame.attrs["file"]``),
the column and example rows by their position in the file (see :mod:`helpers.loading.read`).
The cell-level parsing (text, numbers, dates, ``values:`` maps) and its assumptions are in
:mod:`helpers.loading.parse`.

Assumptions
-----------
- One file column may feed several contract columns (``columns: {account_id: Company,
  account_name: Company}``); each gets its own copy.
- ``constants`` fill whole columns; ``generate`` makes ids from the file line (``O17``).
- Absent optional columns are added empty (or with their documented default) and listed in
  ``attrs["absent"]``.
"""

from __future__ import annotations

import difflib

import numpy as np
import pandas as pd
import pyarrow as pa

from helpers.contract import TABLES, Table
from helpers.loading.config import TableSource
from helpers.loading.parse import (
    TEXT,
    as_date,
    as_number,
    as_text,
    clean_is_noop,
    clean_text,
    recode_values,
    snake_case,
)
from helpers.validation import ROW_COLUMN, Findings, Problem, rows_problem


def map_columns(frame: pd.DataFrame, spec: TableSource, findings: Findings) -> pd.DataFrame:
    """Give the file's columns their contract names, add constants and generated ids.

    Each mapped contract column is a copy of its file column (so one file column can feed
    several); unmapped file columns are kept as they are. ``constants`` fill whole columns,
    ``generate`` makes ids from the file position (``O17`` for the order on line 17). A
    mapping or attribute naming a column the file lacks, and a required contract column that is
    neither in the file, mapped, constant nor generated, are errors in ``findings``; the
    latter suggests the file's closest column name (same letters and digits, or a close
    spelling) with the YAML line that maps it, and for Excel names the sheets of the workbook.
    """
    table = TABLES[spec.name]
    file = frame.attrs["file"]
    present = [c for c in frame.columns if c != ROW_COLUMN]
    listing = ", ".join(map(str, present))
    for contract_name, file_name in spec.columns.items():
        if file_name not in frame.columns:
            findings.errors.append(
                Problem(
                    file,
                    file_name,
                    f"the YAML maps '{contract_name}' to column '{file_name}', which the file "
                    f"does not have (its columns: {listing}){_header_hint(frame, spec)}",
                )
            )
    for attribute in spec.attributes:
        if attribute not in frame.columns:
            findings.errors.append(
                Problem(
                    file,
                    attribute,
                    f"the YAML declares attribute '{attribute}', which the file does not have "
                    f"(its columns: {listing})",
                )
            )
    sources = set(spec.columns.values())
    keep = [
        c
        for c in frame.columns
        if c not in spec.columns
        and (c not in sources or c in table.names or c in spec.attributes or c == ROW_COLUMN)
    ]
    keep_set = set(keep)
    layout: list[tuple[str, str, bool]] = []  # (name in the result, file column, mapped)
    for c in frame.columns:  # the file's order; each mapped copy where its source column was
        if c in keep_set:
            layout.append((c, c, False))
        for contract_name, file_name in spec.columns.items():
            if file_name == c:
                layout.append((contract_name, c, True))
    if [source for _, source, _ in layout] == list(frame.columns):
        # Every file column once, in place (no mapping, or renames only): the same frame under
        # the new names, sharing the columns instead of copying them into new blocks (1-3 s of
        # a 100k-account load). Later steps replace whole columns, never write into them.
        out = frame.copy(deep=False)
        out.columns = pd.Index([name for name, _, _ in layout], dtype=object)
    else:
        data: dict[str, pd.Series] = {}
        for name, source, mapped in layout:
            data[name] = frame[source].copy() if mapped else frame[source]
        out = pd.DataFrame(data, index=frame.index)
    for contract_name, value in spec.constants.items():
        if contract_name in out.columns:
            findings.errors.append(
                Problem(
                    file,
                    contract_name,
                    f"the YAML sets a constant for '{contract_name}', but the file has that "
                    "column; map or drop one of them",
                )
            )
            continue
        out[contract_name] = [value] * len(out)
    prefix = {"order_id": "O", "lead_id": "L", "touchpoint_id": "T"}
    for contract_name in spec.generate:
        if contract_name in out.columns:
            findings.errors.append(
                Problem(
                    file,
                    contract_name,
                    f"the YAML generates '{contract_name}', but the file has that column; "
                    "map it instead",
                )
            )
            continue
        out[contract_name] = prefix[contract_name] + frame[ROW_COLUMN].astype(str)
    out.attrs = dict(frame.attrs)
    provided = set(out.columns)
    unmapped = [c for c in present if c not in sources and c not in table.names]
    for name in table.required_names:
        if name in provided or name in spec.columns:
            continue
        hint = _close_column(name, unmapped)
        rule = f"required column '{name}' is missing"
        if hint:
            rule += (
                f"; the file has '{hint}', which looks like it: map it in the source YAML "
                f"(tables: {spec.name}: columns: {{{name}: {hint}}})"
            )
        else:
            rule += f" (the file's columns: {listing})"
        rule += _header_hint(frame, spec)
        findings.errors.append(Problem(file, name, rule))
    return out


def _header_hint(frame: pd.DataFrame, spec: TableSource) -> str:
    """Where the header was read, when it may be the wrong row or sheet."""
    sheets = frame.attrs.get("sheets")
    if sheets:
        return (
            f"; the header was read from row {spec.header_row} of sheet "
            f"'{frame.attrs.get('sheet')}' (the workbook's sheets: {', '.join(sheets)}): set "
            "'sheet:' or 'header_row:' in the source YAML if the table starts elsewhere"
        )
    names = [str(c) for c in frame.columns if c != ROW_COLUMN]
    if names and sum(n.startswith("Unnamed: ") for n in names) * 2 >= len(names):
        return (
            f"; line {spec.header_row} does not look like a header (mostly empty names): if "
            "title rows come first, set 'header_row:' in the source YAML"
        )
    return ""


def _close_column(name: str, candidates: list[str]) -> str | None:
    def norm(s: str) -> str:
        return "".join(ch for ch in str(s).lower() if ch.isalnum())

    by_norm = {norm(c): c for c in candidates}
    if norm(name) in by_norm:
        return by_norm[norm(name)]
    close = difflib.get_close_matches(norm(name), list(by_norm), n=1, cutoff=0.6)
    return by_norm[close[0]] if close else None


def coerce_types(
    frame: pd.DataFrame,
    spec: TableSource,
    findings: Findings,
    *,
    arrow: pa.Table | None = None,
) -> pd.DataFrame:
    """Give every contract column (and declared attribute) its type; bad cells are errors.

    Text and category columns are cleaned by :func:`clean_text` and then recoded by the YAML's
    ``values:``, and held as :data:`~helpers.loading.parse.TEXT` (Arrow-backed ``str``, missing
    cells NaN); numeric columns become float64; date and datetime columns datetime64[ns].
    Categorical attributes are trimmed text, numeric ones float64. Columns absent from
    ``frame`` are skipped (see :func:`complete_columns`). A problem in a file column that feeds
    several contract columns is reported once.

    ``arrow`` is the Arrow table the raw ``frame`` was converted from (Parquet input, see
    :func:`helpers.loading.read.read_raw_arrow`). A text column whose Arrow cells cleaning
    cannot change (:func:`~helpers.loading.parse.clean_is_noop`, one vectorised pass) is kept
    as it is (already :data:`~helpers.loading.parse.TEXT`, sharing the file's text bytes)
    instead of being cleaned value by value.
    """
    table = TABLES[spec.name]
    # A shallow copy: every change below replaces whole columns (``out[name] = ...``), which
    # never writes into ``frame``'s arrays, so ``frame`` stays as it was without copying data.
    out = frame.copy(deep=False)
    out.attrs = frame.attrs
    reported: set[tuple[str, str, int, tuple[str, ...]]] = set()

    def report(problem: Problem | None, bucket: list[Problem], column: str) -> None:
        if problem is None:
            return
        source = spec.columns.get(column, column)
        lines = tuple(r.split(" (")[0] for r in problem.rows)  # "line 3", without the values
        key = (source, problem.rule, problem.count, lines)
        if key not in reported:
            reported.add(key)
            bucket.append(problem)

    for col in table.columns:
        if col.name not in out.columns:
            continue
        local = Findings()
        if col.dtype in ("string", "category"):
            if not _arrow_is_clean(arrow, spec, col.name, lower=col.dtype == "category"):
                out[col.name] = clean_text(out[col.name], lower=col.dtype == "category")
            recode = spec.values.get(col.name)
            if recode:
                out[col.name] = recode_values(out, col.name, recode, col.dtype == "category", local)
            if col.name in spec.fill_empty:
                empty = out[col.name].isna()
                filler = spec.fill_empty[col.name]
                filler = snake_case(filler) if col.dtype == "category" else filler.strip()
                if empty.any():
                    local.warnings.append(
                        rows_problem(
                            out,
                            empty,
                            col.name,
                            f"empty cells filled with '{filler}' (fill_empty in the source YAML)",
                        )
                    )
                out[col.name] = out[col.name].where(~empty, filler)
            out[col.name] = as_text(out[col.name])
        elif col.dtype in ("float", "int"):
            out[col.name] = as_number(out, col.name, spec, local, whole=col.dtype == "int")
        else:
            fmt = spec.date_formats.get(col.name, spec.date_format)
            out[col.name] = as_date(out, col.name, fmt, local, day=col.dtype == "date")
        for problem in local.errors:
            report(problem, findings.errors, col.name)
        for problem in local.warnings:
            report(problem, findings.warnings, col.name)
    for name in spec.values:
        if name not in out.columns:
            findings.errors.append(
                Problem(
                    out.attrs.get("file", "?"),
                    name,
                    f"the YAML recodes values of '{name}', which the file does not have (map "
                    f"it under columns:, or drop its values: entry)",
                )
            )
    for name, kind in spec.attributes.items():
        if name not in out.columns:
            continue
        if kind == "numeric":
            out[name] = as_number(out, name, spec, findings, whole=False)
        else:
            if not _arrow_is_clean(arrow, spec, name, lower=False):
                out[name] = clean_text(out[name], lower=False)
            out[name] = as_text(out[name])
    if spec.attributes:
        out.attrs["attributes"] = dict(spec.attributes)
    return out


def _arrow_is_clean(arrow: pa.Table | None, spec: TableSource, name: str, *, lower: bool) -> bool:
    """Whether result column ``name`` was read from an Arrow text column that cleaning
    (``lower``: to lower snake case) would not change."""
    if arrow is None:
        return False
    source = spec.columns.get(name, name)
    return source in arrow.column_names and clean_is_noop(arrow.column(source), lower=lower)


def complete_columns(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """Add absent optional columns (empty, or their documented default) in contract order.

    Defaults: ``orders.line_number`` 1, ``touchpoints.touchpoint_id`` ``"T"`` + the file row;
    ``channel_spend.month`` is moved to the first day of its month. Columns that are not in the
    contract (e.g. the row position) follow the contract's columns; those holding only text
    become :data:`~helpers.loading.parse.TEXT` like the contract's (mixed Excel cells stay
    Python objects). The contract columns that
    the export did not have are listed in ``attrs["absent"]``. Note: ``frame`` itself gains
    the added columns (it is the caller's own copy from :func:`coerce_types`).
    """
    out = frame
    absent = tuple(c for c in table.names if c not in out.columns)
    if table.name == "orders" and "line_number" not in out.columns:
        out["line_number"] = 1.0
    if table.name == "touchpoints" and "touchpoint_id" not in out.columns:
        out["touchpoint_id"] = as_text("T" + out[ROW_COLUMN].astype(str))
    if table.name == "channel_spend" and "month" in out.columns:
        out["month"] = out["month"].dt.to_period("M").dt.to_timestamp()
    for col in table.columns:
        if col.name not in out.columns:
            if col.dtype in ("date", "datetime"):
                out[col.name] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
            elif col.dtype in ("float", "int"):
                out[col.name] = float("nan")
            else:
                out[col.name] = pd.Series(np.nan, index=out.index, dtype=TEXT)
    extra = [c for c in out.columns if c not in table.names]
    for name in extra:  # the file's other text columns: text like the contract's
        if out[name].dtype == object and pd.api.types.infer_dtype(out[name]) in ("string", "empty"):
            out[name] = as_text(out[name])
    order = table.names + extra
    # already in order (the common case): no copy of every column into new blocks
    result = out.copy(deep=False) if list(out.columns) == order else out[order]
    result.attrs = dict(frame.attrs)
    if absent:
        result.attrs["absent"] = absent
    return result
