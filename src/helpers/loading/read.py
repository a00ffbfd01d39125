"""Reading raw export files as they are: CSV/TSV, Excel and Parquet, never written to.

Assumptions
-----------
- The file type is decided by the suffix: ``.csv``/``.txt`` (comma), ``.tsv`` (tab),
  ``.xlsx``/``.xlsm``/``.xls`` (Excel), ``.parquet``/``.pq``; anything else is an error.
- CSV and Excel cells are read as text (typing happens in :mod:`helpers.loading.clean`); only an
  empty CSV cell is missing (``NA``, ``null`` and the like stay text). Parquet keeps its types.
- The first line of a CSV or Excel file is the header, so data rows are named by file line from
  2; Parquet rows by 1-based row number. Each row carries that position in
  :data:`~helpers.validation.ROW_COLUMN`, and the frame's ``attrs`` carry ``file`` (the file
  name) and ``row_word`` (``"line"`` or ``"row"``) for messages.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from helpers.loading.config import TableSource
from helpers.validation import ROW_COLUMN, DataValidationError, Problem


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


def file_digest(path: Path) -> bytes:
    """SHA-256 of the file's bytes (read in 1 MiB blocks); of no bytes when it does not exist."""
    digest = hashlib.sha256()
    if path.exists():
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.digest()
