"""``write``: generate the data set and write it atomically, ``truth.json`` last.

A company that fits in one chunk (``parameters.CHUNK_ACCOUNTS`` accounts) is generated in one
piece by ``simulation.generate``; a larger one chunk by chunk (``chunks``), each chunk's tables
appended to the Parquet files as row groups, so memory follows the chunk size.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from helpers.demo.chunks import ChunkedCompany, chunk_count
from helpers.demo.parameters import ALL_TABLES, CHUNK_ACCOUNTS, DEFAULT_ACCOUNTS, DEFAULT_SEED
from helpers.demo.simulation import Piece, generate

#: Rows per Parquet row group (a chunk's table smaller than this is one row group).
ROW_GROUP = 1 << 20


def write(
    out_dir: Path,
    n_accounts: int = DEFAULT_ACCOUNTS,
    seed: int = DEFAULT_SEED,
    tables: Iterable[str] = ALL_TABLES,
    chunk_accounts: int = CHUNK_ACCOUNTS,
) -> dict[str, Any]:
    """Generate and write the data set atomically (each file via a temporary name + rename).

    Writes ``<table>.parquet`` for each generated table and ``truth_accounts.parquet`` (zstd,
    row groups of at most 2**20 rows), then ``truth.json``: a directory with a ``truth.json`` is
    complete. A company of more than ``chunk_accounts`` accounts is simulated and written in
    chunks (``helpers.demo.chunks``). Returns the truth dictionary.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "truth.json").unlink(missing_ok=True)
    with _Files(out_dir) as files:
        if chunk_count(n_accounts, chunk_accounts) == 1:
            data, truth, truth_accounts = generate(n_accounts=n_accounts, seed=seed, tables=tables)
            for name, table in {**data, "truth_accounts": truth_accounts}.items():
                files.append(name, table)
        else:
            company = ChunkedCompany(n_accounts, seed, tables, chunk_accounts)
            for piece in company.pieces():
                _append_piece(files, piece)
                del piece  # written: free the chunk before the next one is simulated
            spend = company.spend_table()
            if spend is not None:
                files.append("channel_spend", spend)
            truth = company.truth()
    text = json.dumps(truth, indent=2, sort_keys=False) + "\n"
    _atomic_text(out_dir / "truth.json", text)
    return truth


def _append_piece(files: _Files, piece: Piece) -> None:
    """Append a chunk's tables (the orders' late month to the end of the file)."""
    for name, table in piece.tables.items():
        late = piece.purchases.n_late if name == "orders" and piece.purchases else 0
        files.append(name, table, late_rows=late)
    files.append("truth_accounts", piece.truth_accounts)


class _Files:
    """Parquet files written a table at a time under temporary names, renamed at the end.

    ``append`` adds a table's rows to ``<name>.parquet`` (row groups of ``ROW_GROUP``); its last
    ``late_rows`` rows go to a side file and are appended after every other row on closing
    (the late-arriving month of a chunked company's orders). Leaving the ``with`` block
    normally renames every file into place; an exception removes them all.
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.temps: dict[str, Path] = {}

    def __enter__(self) -> _Files:
        return self

    def _writer(self, key: str, schema: pa.Schema) -> pq.ParquetWriter:
        if key not in self.writers:
            path = _temp_beside(self.out_dir / f"{key}.parquet")
            self.temps[key] = path
            self.writers[key] = pq.ParquetWriter(path, schema, compression="zstd")
        return self.writers[key]

    def append(self, name: str, table: pa.Table, late_rows: int = 0) -> None:
        """Append ``table`` to ``<name>.parquet``; its last ``late_rows`` rows at the very end."""
        on_time = table.num_rows - late_rows
        self._writer(name, table.schema).write_table(table.slice(0, on_time), ROW_GROUP)
        if late_rows:
            late = table.slice(on_time)
            self._writer(f"{name}.late", late.schema).write_table(late, ROW_GROUP)

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        try:
            if kind is None:
                self._append_late()
            for writer in self.writers.values():
                writer.close()
            if kind is None:
                for key, temp in self.temps.items():
                    os.chmod(temp, 0o644)  # mkstemp creates 0600; data files are meant to be shared
                    os.replace(temp, self.out_dir / f"{key}.parquet")
        finally:
            for temp in self.temps.values():
                temp.unlink(missing_ok=True)

    def _append_late(self) -> None:
        """Append each side file's rows to its table, a row group at a time, and delete it."""
        for key in [k for k in self.writers if k.endswith(".late")]:
            self.writers.pop(key).close()
            side = self.temps.pop(key)
            try:
                target = self.writers[key.removesuffix(".late")]
                for batch in pq.ParquetFile(side).iter_batches(batch_size=ROW_GROUP):
                    target.write_batch(batch, ROW_GROUP)
            finally:
                side.unlink(missing_ok=True)


def _temp_beside(path: Path) -> Path:
    """A new empty temporary file beside ``path`` (same folder, so a rename is atomic)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    return Path(tmp)


def _atomic_text(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it to ``path``."""
    tmp = _temp_beside(path)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
