"""Cell values to typed values: text, categories, value maps, numbers and dates.

The column-by-column parsers behind :func:`helpers.loading.clean.coerce_types`. Each collects
problems in a :class:`~helpers.validation.Findings` instead of raising, so one load reports every
broken rule at once; messages name the file (``frame.attrs["file"]``), the column and example
rows by their position in the file (see :mod:`helpers.loading.read`).

Assumptions
-----------
- Text is trimmed and an empty cell is missing (None here, NaN once the load holds the column
  as :data:`TEXT`). Category columns are lower snake case
  (``"State-owned"`` -> ``"state_owned"``). ``values:`` recodings in the YAML are matched in
  lower snake case on both sides (keys and cells), for category and plain text columns alike;
  a key that matches no cell is an error (a misspelt key would silently recode nothing).
- Numbers use the table's ``decimal`` (default ``.``) and ``thousands`` (default none)
  separators; a currency symbol or code before or after the number (``€ 1.234,56``,
  ``1.234,56 EUR``) is dropped, and one column may use only one currency. A leading ``+`` is
  allowed. ``inf`` and ``NaN`` cells are errors (leave the cell empty for a missing value).
  With the default decimal point, a column whose dotted numbers all look like thousands-dot
  integers (``1.200``, ``12.500`` next to ``350``) is an error, not 1.2: set ``thousands: "."``
  or, if they really are decimals, ``decimal: "."``. Whole-number columns (``line_number``)
  reject fractions. Numeric columns become float64.
- Dates parse with the column's ``date_formats`` entry, else the table's ``date_format``, else
  ISO 8601; Excel date cells need no format. A time-zone offset (``+02:00``, ``Z``) is dropped
  and the local clock time (hence the local calendar day) is kept; this is noted once per column
  as a warning. Typed (Parquet) timestamps likewise keep their wall-clock time. ``date``
  columns are cut to midnight.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from helpers.loading.config import TableSource
from helpers.validation import Findings, Problem, rows_problem

#: The dtype of every text column of a loaded data set: pandas' ``str`` (Arrow-backed strings,
#: a missing cell is NaN), the default of pandas 3. Held in Arrow buffers rather than one
#: Python object per cell: at 1M accounts the touchpoints' five text columns take ~2 GiB
#: instead of ~6 GiB, and converting a Parquet table shares its text buffers instead of
#: making 36M Python strings.
TEXT = pd.StringDtype("pyarrow", na_value=np.nan)


def as_text(values: pd.Series) -> pd.Series:
    """``values`` (text, missing as None or NaN) as :data:`TEXT` (no copy when it is already)."""
    return values if values.dtype == TEXT else values.astype(TEXT)


#: Date formats tried, in order, to explain a date that does not parse (mixed formats).
COMMON_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d-%m-%Y")

#: Currency symbols and codes dropped around numbers, with the code each one stands for.
CURRENCY_CODES = {
    "€": "EUR",
    "$": "USD",
    "£": "GBP",
    "¥": "JPY",
    "EUR": "EUR",
    "USD": "USD",
    "GBP": "GBP",
    "CHF": "CHF",
    "JPY": "JPY",
    "SEK": "SEK",
    "NOK": "NOK",
    "DKK": "DKK",
    "PLN": "PLN",
    "CZK": "CZK",
}
_CURRENCY = "|".join(re.escape(k) for k in sorted(CURRENCY_CODES, key=len, reverse=True))
_LEADING = re.compile(rf"^([+-]?)\s*({_CURRENCY})\s*")
_TRAILING = re.compile(rf"\s*({_CURRENCY})$")
_NON_FINITE = {"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity", "nan", "-nan"}
_THOUSANDS_DOT_INT = r"[+-]?\d{1,3}(?:\.\d{3})+"
_EUROPEAN = r"[+-]?\d{1,3}(?:\.\d{3})*,\d+|[+-]?\d+,\d+"
_TZ_STAMP = r".*\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})"
_TZ_SUFFIX = r"\s*(?:Z|[+-]\d{2}:?\d{2})$"
_NON_FINITE_RULE = (
    "non-finite numbers (inf or NaN); export a number, or leave the cell empty for a missing value"
)


def snake_case(text: object) -> str:
    """``text`` trimmed, lower case, each run of spaces, hyphens and slashes one ``_``."""
    return re.sub(r"[\s\-/]+", "_", str(text).strip().lower())


def recode_values(
    frame: pd.DataFrame, column: str, recode: dict, category: bool, findings: Findings
) -> pd.Series:
    """Apply a ``values:`` map, matching keys and cells in lower snake case.

    New values are lower snake case when ``category``, else trimmed. A key that matches no cell
    is an error in ``findings``; cells without a key keep their value.
    """
    values = frame[column]
    mapping = {
        snake_case(k): (snake_case(v) if category else str(v).strip()) for k, v in recode.items()
    }
    present = values.dropna().unique()
    normal = {v: snake_case(v) for v in present}
    seen = set(normal.values())
    unmatched = [str(k) for k in recode if snake_case(k) not in seen]
    if unmatched:
        known = sorted(map(str, present))[:15]
        findings.errors.append(
            Problem(
                frame.attrs.get("file", "?"),
                column,
                f"values: key(s) {', '.join(repr(k) for k in unmatched)} match no cell of the "
                "column (keys and cells compared trimmed, lower case, spaces/-// as _); its "
                f"values are {', '.join(known)}; fix the spelling or remove the key",
            )
        )
    lookup = {v: mapping[n] for v, n in normal.items() if n in mapping}
    return values.map(lambda v: lookup.get(v, v) if v is not None else None)


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
    head = values.iloc[:_HEAD]
    if head.nunique(dropna=True) * 2 < head.notna().sum():
        return _clean_unique(values, lower)  # values repeat: clean each distinct one once
    dirty = _may_change(values, lower)
    if dirty is not None and not dirty.all():
        # Mostly distinct values (ids): the cells that cleaning cannot change are kept as they
        # are, only the others are cleaned (at 100k accounts, 3.6M clean touchpoint ids: 0.8 s
        # instead of 4.7 s; for repeated values cleaning the few distinct ones is faster).
        out = values.to_numpy(dtype=object, copy=True)
        out[values.isna().to_numpy()] = None
        if dirty.any():
            out[dirty] = _clean_unique(values[dirty], lower).to_numpy()
        return pd.Series(out, index=values.index, dtype=object)
    return _clean_unique(values, lower)


#: Rows looked at to tell repeated values (categories) from mostly distinct ones (ids).
_HEAD = 10_000
#: Every character Python's ``str.strip()`` and ``\s`` treat as white space (from Python
#: itself), as an RE2 class for pyarrow.
#: (Written out: finding them by testing all 1.1M code points cost ~0.6 s per kernel import;
#: a test checks the list against ``str.isspace`` of this Python.)
SPACE_CHARACTERS = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_SPACE = "".join(f"\\x{{{ord(c):x}}}" for c in SPACE_CHARACTERS)
#: Cells that cleaning may change: empty, or white space at either end ...
_DIRTY = rf"^$|^[{_SPACE}]|[{_SPACE}]$"
#: ... and for lower snake case also upper case letters, white space, hyphens and slashes
#: anywhere, and any non-ASCII character (Unicode case rules are left to Python).
_DIRTY_LOWER = rf"{_DIRTY}|[A-Z{_SPACE}\-/]|[^\x00-\x7f]"


def _may_change(values: pd.Series, lower: bool) -> np.ndarray | None:
    """Where :func:`_clean_text_each` may change a text cell (a conservative, vectorised test
    in pyarrow; missing cells False), or None when the values do not convert to Arrow text."""
    try:
        text = pa.array(values.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError):
        return None
    hit = pc.match_substring_regex(text, _DIRTY_LOWER if lower else _DIRTY)
    return hit.fill_null(False).to_numpy(zero_copy_only=False)


def clean_is_noop(values: pa.ChunkedArray | pa.Array, *, lower: bool) -> bool:
    """Whether :func:`clean_text` leaves these Arrow text cells as they are, i.e. gives back
    exactly their ``to_pandas()`` (each text as ``str``, each null as None). False for other
    types.

    A conservative test on the UTF-8 bytes (NumPy over Arrow's buffers: no Python string is
    made, and no regular expression runs, which cost 1.2-1.5 s per 3.6M-cell column in
    pyarrow): no cell is empty; with ``lower``, no byte is an upper-case ASCII letter, ASCII
    white space, ``-``, ``/`` or part of a non-ASCII character (Unicode case and space rules
    are left to Python); without, no cell starts or ends with ASCII white space or a non-ASCII
    byte. A False only means the cells are cleaned as usual.
    """
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return False
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    for chunk in chunks:
        if len(chunk) == chunk.null_count:
            continue
        if pc.any(pc.equal(pc.binary_length(chunk), 0)).as_py():
            return False  # empty cells become None
        _, offsets_buf, data_buf = chunk.buffers()
        width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        offsets = np.frombuffer(offsets_buf, dtype=width)[
            chunk.offset : chunk.offset + len(chunk) + 1
        ]
        data = np.frombuffer(data_buf, dtype=np.uint8)
        if lower:
            # bytes of null cells count too (conservative)
            if _LOWER_BYTES[data[offsets[0] : offsets[-1]]].any():
                return False
            continue
        starts, stops = offsets[:-1], offsets[1:]
        if chunk.null_count:
            valid = chunk.is_valid().to_numpy(zero_copy_only=False)
            starts, stops = starts[valid], stops[valid]
        if _END_BYTES[data[starts]].any() or _END_BYTES[data[stops - 1]].any():
            return False
    return True


#: Bytes that may change a cell at either end under :func:`clean_text`: ASCII white space (as
#: Python's ``str.isspace``) and every non-ASCII byte.
_END_BYTES = np.array([b >= 0x80 or chr(b).isspace() for b in range(256)])
#: Bytes that may change a cell anywhere under lower snake case: those, upper-case ASCII
#: letters, ``-`` and ``/``.
_LOWER_BYTES = _END_BYTES | np.array([chr(b) in "-/" or "A" <= chr(b) <= "Z" for b in range(256)])


def _clean_unique(values: pd.Series, lower: bool) -> pd.Series:
    """:func:`clean_text` of all-text ``values``, cleaning each distinct value once."""
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


def _typed_split(values: pd.Series, kinds: tuple[type, ...]) -> pd.Series:
    """Where an object column (Excel cells) holds a value of ``kinds`` rather than text."""
    return values.map(lambda v: isinstance(v, kinds) and not isinstance(v, bool)).astype(bool)


def as_number(
    frame: pd.DataFrame, column: str, spec: TableSource, findings: Findings, *, whole: bool
) -> pd.Series:
    """``frame[column]`` as float64 under ``spec``'s separators; bad cells reported, NaN.

    Text cells go through the separator and currency rules of this module; typed cells (numeric
    columns, Excel numbers) are taken as they are. Non-finite values are errors, and so are
    fractions when ``whole``.
    """
    values = frame[column]
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.astype("float64")
        bad = pd.Series(np.isinf(numbers.to_numpy()), index=numbers.index)
        _add(findings, rows_problem(frame, bad, column, _NON_FINITE_RULE))
        numbers = numbers.mask(bad)
    else:
        typed = (
            _typed_split(values, (int, float, np.number))
            if frame.attrs.get("typed_cells")
            else pd.Series(False, index=values.index)
        )
        text = values.where(~typed).astype("string").str.strip()
        text = text.mask(text == "")
        numbers = _parse_numbers(frame, column, text, spec, findings)
        if typed.any():
            cells = values[typed].astype("float64")
            numbers[typed] = cells
            bad = pd.Series(False, index=values.index)
            bad[typed] = np.isinf(cells.to_numpy()) | np.isnan(cells.to_numpy())
            _add(findings, rows_problem(frame, bad, column, _NON_FINITE_RULE))
            numbers = numbers.mask(bad)
    if whole:
        fraction = numbers.notna() & (numbers % 1 != 0)
        _add(
            findings,
            rows_problem(
                frame,
                fraction,
                column,
                "fractions in a whole-number column (line numbers count 1, 2, 3, ...)",
            ),
        )
    return numbers.astype("float64")


def _to_float(core: pd.Series, decimal: str, thousands: str | None) -> pd.Series:
    """Number text (no currency) under the given separators; anything else NaN."""
    if thousands is None and decimal == ".":
        return pd.to_numeric(core.str.replace(r"^\+", "", regex=True), errors="coerce")
    d, t = re.escape(decimal), re.escape(thousands or "")
    grouped = rf"\d{{1,3}}(?:{t}\d{{3}})+|\d+" if thousands else r"\d+"
    valid = core.str.fullmatch(rf"[+-]?(?:{grouped})(?:{d}\d+)?|[+-]?{d}\d+", na=False)
    plain = core.where(valid)
    if thousands:
        plain = plain.str.replace(thousands, "", regex=False)
    plain = plain.str.replace(decimal, ".", regex=False).str.replace(r"^\+", "", regex=True)
    return pd.to_numeric(plain, errors="coerce")


def _parse_numbers(
    frame: pd.DataFrame,
    column: str,
    text: pd.Series,
    spec: TableSource,
    findings: Findings,
) -> pd.Series:
    """Text cells as numbers under the table's separators; bad cells reported, NaN here.

    Plain numbers are parsed in one vectorised pass; only the cells that fail it are looked
    at again for a currency symbol or code (so a large clean export costs one pass).
    """
    filled = text.notna()
    decimal = spec.decimal or "."
    numbers = _to_float(text, decimal, spec.thousands)
    failed = filled & numbers.isna()
    core = text
    if failed.any():
        retry = text[failed]
        lead = retry.str.extract(_LEADING, expand=True)
        symbol = lead[1].fillna(retry.str.extract(_TRAILING, expand=True)[0])
        stripped = retry.str.replace(_LEADING, r"\1", regex=True)
        stripped = stripped.str.replace(_TRAILING, "", regex=True).str.strip()
        numbers[failed] = _to_float(stripped, decimal, spec.thousands)
        core = text.copy()
        core[failed] = stripped
        codes = symbol.dropna().map(CURRENCY_CODES)
        if codes.nunique() > 1:
            first = codes.iloc[0]
            _add(
                findings,
                rows_problem(
                    frame,
                    (codes != first).reindex(text.index, fill_value=False),
                    column,
                    "more than one currency in one column ("
                    f"{', '.join(sorted(codes.unique()))}); convert to one currency before "
                    "the export",
                ),
            )
    non_finite = pd.Series(np.isinf(numbers.to_numpy()), index=text.index)
    still = filled & numbers.isna()
    if still.any():
        non_finite |= still & core.str.lower().isin(_NON_FINITE)
    _add(findings, rows_problem(frame, non_finite, column, _NON_FINITE_RULE))
    bad = still & ~non_finite
    if bad.any():
        rule = "text in a numeric column"
        if spec.thousands is None and decimal == "." and core[bad].str.fullmatch(_EUROPEAN).any():
            rule += (
                "; these look like European numbers (1.234,56): set 'decimal: \",\"' and "
                "'thousands: \".\"' for this table in the source YAML"
            )
        elif spec.thousands or decimal != ".":
            rule += (
                f" (expected decimal '{decimal}'"
                + (f" and thousands '{spec.thousands}'" if spec.thousands else "")
                + " as set in the source YAML)"
            )
        _add(findings, rows_problem(frame, bad, column, rule))
    numbers = numbers.mask(non_finite | bad)
    if spec.decimal is None and spec.thousands is None and _may_be_thousands(core[filled]):
        dotted = core.str.contains(".", regex=False, na=False) & numbers.notna()
        if dotted.any():
            looks = dotted & core.str.fullmatch(_THOUSANDS_DOT_INT, na=False)
            if looks.any() and looks[dotted].all():
                _add(
                    findings,
                    rows_problem(
                        frame,
                        looks,
                        column,
                        "numbers that look like integers with a thousands dot ('1.200' would "
                        "read as 1.2): set 'thousands: \".\"' for this table in the source YAML "
                        "(or 'decimal: \".\"' if they really are decimals)",
                    ),
                )
                numbers = numbers.mask(looks)
    return numbers.astype("float64")


def _may_be_thousands(text: pd.Series, sample: int = 2000) -> bool:
    """False when the first dotted cells already show real decimals (the common case, cheap)."""
    head = text.head(sample)
    dotted = head[head.str.contains(".", regex=False, na=False)]
    return bool(dotted.str.fullmatch(_THOUSANDS_DOT_INT).all())


def as_date(
    frame: pd.DataFrame, column: str, fmt: str | None, findings: Findings, day: bool
) -> pd.Series:
    """``frame[column]`` as datetime64[ns] (strptime ``fmt``, default ISO 8601); bad cells NaT.

    Time-zone offsets are dropped keeping the local clock time (a warning); a cell that does not
    parse is an error naming the format it seems to use. ``day`` cuts to midnight.
    """
    values = frame[column]
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
        if values.dt.tz is not None:
            parsed = values.dt.tz_localize(None)
            findings.warnings.append(
                Problem(
                    frame.attrs.get("file", "?"),
                    column,
                    f"time zone {values.dt.tz} dropped: each timestamp keeps its local clock time "
                    "and calendar day",
                )
            )
    else:
        typed = (
            _typed_split(values, (pd.Timestamp,))
            if frame.attrs.get("typed_cells")
            else pd.Series(False, index=values.index)
        )
        text = values.where(~typed).astype("string").str.strip()
        text = text.mask(text == "")
        longer = text.str.len() > 16  # a date with a time and an offset; skip plain dates
        zoned = pd.Series(False, index=text.index)
        if longer.any():
            zoned[longer] = text[longer].str.fullmatch(_TZ_STAMP, na=False)
        if zoned.any():
            findings.warnings.append(
                rows_problem(
                    frame,
                    zoned,
                    column,
                    "time-zone offsets dropped: each timestamp keeps its local clock time and "
                    "calendar day (2024-05-01T23:30+02:00 stays 2024-05-01 23:30)",
                )
            )
            text = text.where(~zoned, text.str.replace(_TZ_SUFFIX, "", regex=True))
        parsed = pd.to_datetime(text, format=fmt or "ISO8601", errors="coerce")
        if typed.any():
            stamps = pd.to_datetime(values[typed].map(lambda v: v.tz_localize(None) if v.tz else v))
            parsed = parsed.astype("datetime64[ns]")
            parsed[typed] = stamps.astype("datetime64[ns]")
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


def _add(findings: Findings, problem: Problem | None) -> None:
    if problem is not None:
        findings.errors.append(problem)
