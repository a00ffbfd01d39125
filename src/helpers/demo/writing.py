"""``write``: generate the data set and write it atomically, ``truth.json`` last."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from helpers.demo.parameters import ALL_TABLES, DEFAULT_ACCOUNTS, DEFAULT_SEED
from helpers.demo.simulation import generate


def write(
    out_dir: Path,
    n_accounts: int = DEFAULT_ACCOUNTS,
    seed: int = DEFAULT_SEED,
    tables: Iterable[str] = ALL_TABLES,
) -> dict[str, Any]:
    """Generate and write the data set atomically (each file via a temporary name + rename).

    Writes ``<table>.parquet`` for each generated table and ``truth_accounts.parquet`` (zstd,
    row groups of 2**20 rows), then ``truth.json``: a directory with a ``truth.json`` is
    complete. Returns the truth dictionary.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data, truth, truth_accounts = generate(n_accounts=n_accounts, seed=seed, tables=tables)
    (out_dir / "truth.json").unlink(missing_ok=True)
    for name, table in {**data, "truth_accounts": truth_accounts}.items():
        _atomic(
            out_dir / f"{name}.parquet",
            lambda p, t=table: pq.write_table(t, p, compression="zstd", row_group_size=1 << 20),
        )
    text = json.dumps(truth, indent=2, sort_keys=False) + "\n"
    _atomic(out_dir / "truth.json", lambda p: Path(p).write_text(text, encoding="utf-8"))
    return truth


def _atomic(path: Path, writer: Callable[[str], object]) -> None:
    """Call ``writer`` on a temporary file beside ``path``, then rename it to ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        writer(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; data files are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
