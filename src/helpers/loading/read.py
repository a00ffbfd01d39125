"""Reading raw export files as they are: CSV/TSV, Excel and Parquet, never written to.

Assumptions
-----------
- The file type is decided by the suffix: ``.csv``/``.txt`` (comma, or the table's ``sep``),
  ``.tsv`` (tab), ``.xlsx``/``.xlsm``/``.xls`` (Excel), ``.parquet``/``.pq``; anything else is
  an error (checked before the file is opened).
- CSV cells are read as text (typing happens in :mod:`helpers.loading.parse`); only an empty
  CSV cell is missing (``NA``, ``null`` and the like stay text). Excel cells keep what Excel
  stored (text, numbers, real date cells), so a date cell needs no ``date_format``. Parquet
  keeps its types.
- The header is on line (Excel: row) ``header_row`` of the table's source (default 1; title
  rows above it are skipped). Header names are trimmed; a name that appears twice is an error.
- Data rows are named by the line of the file where they start, counting blank lines and the
  extra lines of quoted multi-line cells; Parquet rows by 1-based row number. Each row carries
  that position in :data:`~helpers.validation.ROW_COLUMN`, and the frame's ``attrs`` carry
  ``file`` (the file name) and ``row_word`` (``"line"`` or ``"row"``) for messages (Excel also
  ``sheet`` and ``sheets``, the workbook's sheet names).
- Lines with no value at all are skipped. A last row whose first filled text cell reads like
  a total (``Total``, ``Summe``, ``Gesamt``, ...) is dropped with a warning naming its line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from helpers.loading.config import TableSource
from helpers.loading.parse import TEXT
from helpers.validation import ROW_COLUMN, DataValidationError, Findings, Problem

CSV_SUFFIXES = (".csv", ".txt", ".tsv")
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
PARQUET_SUFFIXES = (".parquet", ".pq")

#: A cell that marks a total row (matched on the first filled text cell of the last row).
TOTAL_PATTERN = re.compile(
    r"\s*(grand\s+)?(total|totals|sum|summe|gesamt|gesamtsumme|totaal|totale|somme|suma)\s*:?\s*",
    re.IGNORECASE,
)


def read_raw(spec: TableSource, findings: Findings | None = None) -> pd.DataFrame:
    """Read one file as it is (CSV cells as text), tagging each row with its file position.

    Warnings (a dropped total row) go to ``findings`` when given. Raises
    :class:`DataValidationError` for a missing, empty, undecodable or unreadable file, an
    unsupported file type, a missing sheet, or duplicate header names.
    """
    return read_raw_arrow(spec, findings)[0]


def read_raw_arrow(
    spec: TableSource, findings: Findings | None = None
) -> tuple[pd.DataFrame, pa.Table | None]:
    """:func:`read_raw`, and for a Parquet file also the Arrow table the frame was made from
    (row ``i`` of the frame is row ``i`` of the table; None for CSV and Excel). The load keeps
    the text columns that cleaning would leave unchanged as they are, without cleaning them
    value by value (see :func:`helpers.loading.clean.coerce_types`).
    """
    path = spec.path
    name = path.name
    suffix = path.suffix.lower()
    if not path.exists():
        raise DataValidationError([Problem(str(path), None, "file does not exist")])
    if suffix not in CSV_SUFFIXES + EXCEL_SUFFIXES + PARQUET_SUFFIXES:
        raise DataValidationError(
            [Problem(name, None, f"unsupported file type '{suffix}' (CSV, Parquet or Excel)")]
        )
    if path.stat().st_size == 0:
        raise DataValidationError([Problem(name, None, "file is empty (0 bytes)")])
    attrs: dict[str, object] = {"file": name, "row_word": "line"}
    try:
        if suffix in CSV_SUFFIXES:
            header, frame, lines = _read_csv(spec, suffix)
        elif suffix in (".xlsx", ".xlsm"):
            header, frame, lines, sheets, sheet = _read_xlsx(spec)
            attrs.update(sheet=sheet, sheets=sheets, typed_cells=True)
        elif suffix == ".xls":
            header, frame, lines = _read_xls(spec)
            attrs.update(typed_cells=True)
        else:
            table = pq.read_table(path)
            frame = arrow_to_pandas(table)
            frame.index = pd.RangeIndex(len(frame))  # as reset_index(drop=True), no copy
            frame[ROW_COLUMN] = frame.index + 1
            frame.attrs.update(file=name, row_word="row")
            if frame.empty:
                raise DataValidationError(
                    [Problem(name, None, "file has a header but no data rows")]
                )
            return frame, table
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
    except DataValidationError:
        raise
    except (ValueError, OSError, KeyError) as exc:
        raise DataValidationError([Problem(name, None, f"cannot be read: {exc}")]) from None
    _check_header(header, name, spec)
    frame.columns = header
    frame[ROW_COLUMN] = lines
    filled = frame.drop(columns=ROW_COLUMN).notna().any(axis=1)
    frame = frame.loc[filled].reset_index(drop=True)
    frame.attrs.update(attrs)
    if frame.empty:
        raise DataValidationError([Problem(name, None, "file has a header but no data rows")])
    return _drop_total_row(frame, findings), None


#: A text column whose distinct values number more than this share of its filled cells (in the
#: first :data:`_HEAD` rows) is stored without a Parquet dictionary (see :func:`distinct_text`).
DISTINCT_SHARE = 0.9
_HEAD = 10_000


def distinct_text(table: pa.Table, head: int = _HEAD) -> list[str]:
    """Text columns of ``table`` whose values are mostly distinct (ids): among the filled cells
    of the first ``head`` rows, more distinct values than :data:`DISTINCT_SHARE` of them (a
    sample, so this costs no hash of every value; it only decides speed, not values)."""
    found = []
    for field in table.schema:
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            sample = table.column(field.name).slice(0, head)
            distinct = pc.count_distinct(sample, mode="only_valid").as_py()
            if distinct > DISTINCT_SHARE * (len(sample) - sample.null_count):
                found.append(field.name)
    return found


def _text_types(arrow_type: pa.DataType) -> pd.api.extensions.ExtensionDtype | None:
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return TEXT
    return None


def arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    """``table`` as pandas: ``table.to_pandas(date_as_object=False)`` (values, column order;
    date32 columns as datetime64, not Python date objects) with every text column as
    :data:`TEXT`, which shares the Arrow column's text bytes (only its offsets are widened to
    64 bit): no Python string is made."""
    return table.to_pandas(date_as_object=False, types_mapper=_text_types)


def _header_names(cells: list[object]) -> list[str]:
    names = []
    for i, cell in enumerate(cells):
        text = "" if cell is None or (isinstance(cell, float) and np.isnan(cell)) else str(cell)
        text = text.strip().lstrip("\ufeff").strip()
        names.append(text or f"Unnamed: {i}")
    return names


def _check_header(header: list[str], name: str, spec: TableSource) -> None:
    seen: dict[str, list[int]] = {}
    for i, col in enumerate(header):
        seen.setdefault(col, []).append(i + 1)
    problems = [
        Problem(
            name,
            col,
            f"duplicate header: the column name appears {len(where)} times (positions "
            f"{', '.join(map(str, where))}); rename one in the export, or the mapping cannot "
            "tell them apart",
            (f"line {spec.header_row}",),
            1,
        )
        for col, where in seen.items()
        if len(where) > 1
    ]
    if problems:
        raise DataValidationError(problems)


def _read_csv(spec: TableSource, suffix: str) -> tuple[list[str], pd.DataFrame, np.ndarray]:
    """Header names, data rows (text) and the file line where each row starts."""
    sep = spec.sep or ("\t" if suffix == ".tsv" else ",")
    raw = pd.read_csv(
        spec.path,
        dtype=str,
        header=None,
        keep_default_na=False,
        na_values=[""],
        encoding=spec.encoding,
        encoding_errors="strict",
        sep=sep,
        skiprows=spec.header_row - 1,
        skip_blank_lines=False,  # blank lines become empty rows: line numbers stay right
    )
    header = _header_names(list(raw.iloc[0]))
    # lines taken by each record: 1, plus the line breaks inside its quoted cells. Counting
    # them cell by cell is a Python pass over every cell (85 s of a 270 s load of 2M quoted
    # rows); it is needed only when the file has more lines than records (read after the
    # title rows), i.e. some quoted cell holds a line break.
    extra = np.zeros(len(raw), dtype=np.int64)
    quotes, lines = _quotes_and_lines(spec.path)
    if quotes and lines != spec.header_row - 1 + len(raw):
        for col in raw.columns:
            counts = raw[col].str.count("\n")
            extra += counts.fillna(0).astype(np.int64).to_numpy()
    starts = spec.header_row + np.arange(len(raw)) + np.concatenate(([0], np.cumsum(extra)[:-1]))
    data = raw.iloc[1:].reset_index(drop=True)
    return header, data, starts[1:]


def _quotes_and_lines(path: Path) -> tuple[bool, int | None]:
    """Whether the file has a ``"``, and its number of lines (None when a line ends in a lone
    carriage return, which the CSV reader also takes as a line end: then lines are not
    counted here). A last line without a line break counts as a line."""
    quotes = False
    newlines = returns = crlf = 0
    last = b""
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            quotes = quotes or b'"' in block
            newlines += block.count(b"\n")
            returns += block.count(b"\r")
            crlf += block.count(b"\r\n") + (last == b"\r" and block[:1] == b"\n")
            last = block[-1:]
    if returns != crlf:
        return quotes, None
    return quotes, newlines + (last not in (b"\n", b""))


def _read_xlsx(
    spec: TableSource,
) -> tuple[list[str], pd.DataFrame, np.ndarray, list[str], str]:
    """Header, data rows (cells as Excel stored them), row numbers, sheet names, sheet read."""
    import openpyxl

    book = openpyxl.load_workbook(spec.path, data_only=True)
    sheets = list(book.sheetnames)
    name = spec.path.name
    if spec.sheet is None:
        sheet = book.worksheets[0]
    elif isinstance(spec.sheet, int) and 0 <= spec.sheet < len(sheets):
        sheet = book.worksheets[spec.sheet]
    elif isinstance(spec.sheet, str) and spec.sheet in sheets:
        sheet = book[spec.sheet]
    else:
        raise DataValidationError(
            [
                Problem(
                    name,
                    None,
                    f"the workbook has no sheet {spec.sheet!r}; its sheets are "
                    f"{', '.join(sheets)} (set 'sheet:' to one of them, or a 0-based position)",
                )
            ]
        )
    rows = [
        [None if (isinstance(v, str) and not v.strip()) else v for v in row]
        for row in sheet.iter_rows(min_row=1, values_only=True)
    ]
    book.close()
    if len(rows) < spec.header_row:
        raise DataValidationError(
            [
                Problem(
                    name,
                    None,
                    f"sheet '{sheet.title}' has {len(rows)} rows, no header on row "
                    f"{spec.header_row} (the workbook's sheets: {', '.join(sheets)})",
                )
            ]
        )
    header_cells = rows[spec.header_row - 1]
    width = max((i + 1 for i, v in enumerate(header_cells) if v is not None), default=0)
    header = _header_names(list(header_cells[:width]))
    body = [list(r[:width]) + [None] * (width - len(r[:width])) for r in rows[spec.header_row :]]
    data = pd.DataFrame(body, columns=range(width), dtype=object)
    data = data.map(_excel_cell)
    lines = spec.header_row + 1 + np.arange(len(data))
    return header, data, lines, sheets, sheet.title


def _excel_cell(value: object) -> object:
    """Excel dates as Timestamps (times of day as text); everything else as stored."""
    if isinstance(value, (dt.datetime, dt.date)):
        return pd.Timestamp(value)
    if isinstance(value, dt.time):
        return value.isoformat()
    return value


def _read_xls(spec: TableSource) -> tuple[list[str], pd.DataFrame, np.ndarray]:
    """Old ``.xls`` workbooks through pandas (needs the optional ``xlrd`` package)."""
    raw = pd.read_excel(
        spec.path,
        sheet_name=spec.sheet or 0,
        header=None,
        dtype=object,
        skiprows=spec.header_row - 1,
    )
    header = _header_names(list(raw.iloc[0]))
    data = raw.iloc[1:].reset_index(drop=True).map(_excel_cell)
    data.columns = range(len(header))
    return header, data, spec.header_row + 1 + np.arange(len(data))


def _drop_total_row(frame: pd.DataFrame, findings: Findings | None) -> pd.DataFrame:
    """Drop a trailing total row (with a warning naming its line)."""
    last = frame.iloc[-1]
    for col, value in last.items():
        if col == ROW_COLUMN or value is None or (isinstance(value, float) and np.isnan(value)):
            continue
        if not isinstance(value, str):
            continue
        if TOTAL_PATTERN.fullmatch(value) and len(frame) > 1:
            line = int(last[ROW_COLUMN])
            if findings is not None:
                findings.warnings.append(
                    Problem(
                        frame.attrs["file"],
                        str(col),
                        "a trailing total row was dropped (it sums the rows above, it is not "
                        "a record)",
                        (f"line {line} ({col}={value.strip()!r})",),
                        1,
                    )
                )
            kept = frame.iloc[:-1].copy()
            kept.attrs = frame.attrs
            return kept
        break  # only the first filled text cell decides
    return frame


def file_digest(path: Path) -> bytes:
    """SHA-256 of the file's bytes (read in 1 MiB blocks); of no bytes when it does not exist."""
    digest = hashlib.sha256()
    if path.exists():
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.digest()
