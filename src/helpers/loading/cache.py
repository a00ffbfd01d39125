"""Load once: the validated data set stored as Parquet and reused by every later load.

:func:`helpers.loading.load_dataset` asks :func:`cached_load` for a data set; the first load of a
source reads, cleans and validates its files as always and stores the result (the tables
*before* filters, so all slices share one entry, with warnings, fingerprint, currency, display
names, attributes and analysis date); later loads (other notebooks of a batch, interactive
reruns) read it back, identical to a fresh load: dtypes, index, values, row order, ``attrs``
and the ``_source_row`` positions used in messages.

Where
-----
``$B2B_CACHE_DIR`` when set, else ``~/.cache/b2b-insights`` (outside ``data/``, which holds
inputs only). ``B2B_CACHE=off`` (or ``load_dataset(..., cache=False)``) turns it off.
``make clean-cache`` or ``python -m helpers.loading.cache --clear`` removes it (nothing in it
that a load cannot rebuild); without ``--clear`` the command lists the entries. At most
:data:`MAX_ENTRIES` entries are kept (``$B2B_CACHE_KEEP``; the least recently used go).

The key
-------
A SHA-256 over: each table file's content digest (SHA-256 of its bytes), the parsed source
description (every mapping setting, paths, analysis date, currency, display names), the bytes
of the source YAML (so any edit of it rebuilds, even a comment: cheap and never wrong), the
analysis date asked for, :data:`CONTRACT_VERSION`, :data:`ENTRY_FORMAT`, a hash of the source
files of :mod:`helpers.loading`, :mod:`helpers.validation` and :mod:`helpers.contract` (any code
change misses, even when nobody bumps the version) and the pandas, pyarrow and numpy versions.

The content digests are not recomputed on every load: a file's digest is remembered (in
``digests/`` of the cache folder) together with its size, modification and status-change times
(ns), inode and device, and reused while all of them are unchanged, so a warm load reads no
input byte. Any write to a file changes its status-change time (which no user can set back), so
a rewrite with the same size and a restored modification time is still seen. As in git, a
digest is only remembered once the file has been left alone for :data:`SETTLED_SECONDS`
(a file written within the same timestamp tick could change again without a new time stamp).

Safety
------
- An entry is written into a temporary folder, then renamed into place: a reader sees a whole
  entry or none. Two processes building the same key both succeed; the first rename wins, the
  other one's folder is discarded. A lock file (``fcntl.flock``, released by the system if a
  process dies) makes a second process wait for a build in progress instead of repeating it.
- An entry that cannot be read (missing or truncated file, unreadable manifest, a row count
  other than recorded) is moved aside, deleted and rebuilt. Its tables are read into pandas
  when first used (:mod:`helpers.loading.lazy_tables`): the files are opened at the load, so
  an entry pruned meanwhile is still read, and a table that fails then (or has other dtypes
  than recorded) is loaded again from the source.
- Only what Parquet gives back exactly is stored: numbers, booleans, naive ``datetime64[ns]``
  and text columns (``str`` or None) under a range index. A table with anything else (text
  columns holding other objects or NaN, extension dtypes) is not cached: the load works as
  without the cache. Id-like text columns (``distinct_text`` in the manifest) are read back
  without Arrow's sharing of equal strings (same values, faster). Lock files (``locks/``, empty) and remembered digests (``digests/``, one
  small file per input file) stay until the folder is removed.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from helpers.contract import TABLES
from helpers.loading import read
from helpers.loading.entry import ENTRY_FORMAT as ENTRY_FORMAT
from helpers.loading.entry import Uncacheable as Uncacheable
from helpers.loading.entry import every_core as every_core
from helpers.loading.entry import read_entry as read_entry
from helpers.loading.entry import remove_entry as remove_entry
from helpers.loading.entry import write_entry as write_entry
from helpers.memory import give_back
from helpers.reporting import atomic_write_text

if TYPE_CHECKING:
    from helpers.loading.config import SourceConfig
    from helpers.loading.dataset import Dataset

#: Bump when validation or cleaning rules change in a way the code hash would not show (e.g. a
#: rule driven by a data file); any change of the loading code misses the cache by itself.
CONTRACT_VERSION = 1
#: Environment variable naming the cache folder.
DIR_VARIABLE = "B2B_CACHE_DIR"
#: Environment variable that turns the cache off with ``off`` (also ``0``, ``false``, ``no``).
SWITCH_VARIABLE = "B2B_CACHE"
#: Environment variable for the number of entries kept (default :data:`MAX_ENTRIES`).
KEEP_VARIABLE = "B2B_CACHE_KEEP"
#: Entries kept; older ones (by last use) are deleted after each new entry.
MAX_ENTRIES = 8
#: Seconds a file must have been left alone before its digest is remembered.
SETTLED_SECONDS = 2.0
#: Entries used within this many seconds are never pruned (another process may be reading).
RECENT_SECONDS = 600.0

_PACKAGE = Path(__file__).resolve().parents[1]
#: Source files whose content is part of the key: reading, cleaning and validation code.
CODE_FILES = (
    *sorted((_PACKAGE / "loading").glob("*.py")),
    _PACKAGE / "validation.py",
    _PACKAGE / "contract.py",
)

_log = logging.getLogger(__name__)

#: What the last :func:`cached_load` of this process did: ``"hit"``, ``"miss"`` (built and
#: stored), ``"uncacheable"`` (built, not storable) or ``"off"``.
last_outcome = "off"


def cache_dir() -> Path:
    """The cache folder: ``$B2B_CACHE_DIR``, else ``~/.cache/b2b-insights`` (not created)."""
    given = os.environ.get(DIR_VARIABLE, "").strip()
    return Path(given).expanduser() if given else Path.home() / ".cache" / "b2b-insights"


def enabled(cache: bool | None = None) -> bool:
    """Whether to use the cache: ``cache`` when given, else not ``B2B_CACHE=off``."""
    if cache is not None:
        return bool(cache)
    switch = os.environ.get(SWITCH_VARIABLE, "").strip().lower()
    return switch not in ("off", "0", "false", "no")


def code_version() -> str:
    """16 hex digits over the loading code's source files and the library versions."""
    digest = hashlib.sha256()
    for path in CODE_FILES:
        digest.update(path.name.encode())
        with contextlib.suppress(OSError):  # an install without sources: versions only
            digest.update(path.read_bytes())
    for module in (pd, pa, np):
        digest.update(f"{module.__name__}={module.__version__}".encode())
    return digest.hexdigest()[:16]


# --- file digests, remembered by file status --------------------------------------------------


def _status(path: Path) -> list[int] | None:
    """Size, modification and status-change times (ns), inode and device; None if absent."""
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


#: The file's SHA-256: the loader's own reader, so a fingerprint is one computation.
_sha256_file = read.file_digest


def file_digest(path: Path, root: Path | None = None) -> bytes:
    """SHA-256 of ``path``'s bytes (of no bytes when it does not exist), read at most once.

    The same value as :func:`helpers.loading.read.file_digest`. With ``root`` (the cache folder)
    the digest is remembered under the file's status and reused while that status is unchanged.
    """
    path = Path(path)
    before = _status(path)
    if before is None:
        return hashlib.sha256().digest()
    memo = None
    if root is not None:
        memo = root / "digests" / (hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32])
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            known = json.loads(memo.read_text(encoding="utf-8"))
            if known["path"] == str(path.resolve()) and known["status"] == before:
                return bytes.fromhex(known["sha256"])
    value = _sha256_file(path)
    settled = time.time_ns() - max(before[1], before[2])
    if memo is not None and _status(path) == before and settled > SETTLED_SECONDS * 1e9:
        record = {"path": str(path.resolve()), "status": before, "sha256": value.hex()}
        with contextlib.suppress(OSError):
            atomic_write_text(memo, json.dumps(record))
    return value


# --- the key ------------------------------------------------------------------------------------


def entry_key(
    config: SourceConfig, when: pd.Timestamp, digest: Callable[[Path], bytes] = file_digest
) -> str:
    """32 hex digits naming the entry of ``config`` loaded as of ``when`` (see module doc)."""
    files = [
        [name, digest(config.tables[name].path).hex()] for name in TABLES if name in config.tables
    ]
    yaml_path = Path(config.label)
    yaml_bytes = b""
    if config.label != "demo" and yaml_path.is_file():
        yaml_bytes = yaml_path.read_bytes()
    payload = {
        "format": ENTRY_FORMAT,
        "contract": CONTRACT_VERSION,
        "code": code_version(),
        "when": pd.Timestamp(when).isoformat(),
        "config": dataclasses.asdict(config),
        "yaml": hashlib.sha256(yaml_bytes).hexdigest(),
        "files": files,
    }
    text = json.dumps(payload, default=repr, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _acquire(root: Path, key: str) -> Any:
    """An open lock file of ``key`` held exclusively (waits for another holder); None when
    locks are not available (no ``fcntl``). Raises ``OSError`` when ``root`` is not writable."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: the atomic rename alone keeps entries whole
        return None
    path = root / "locks" / key
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a")
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def _release(handle: Any) -> None:
    if handle is not None:
        import fcntl

        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def entries(root: Path | None = None) -> list[Path]:
    """Entry folders of the cache, most recently used first."""
    root = cache_dir() if root is None else root
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if (p / "manifest.json").is_file()]
    return sorted(found, key=lambda p: (p / "manifest.json").stat().st_mtime, reverse=True)


def prune(root: Path, keep: int | None = None) -> int:
    """Delete the least recently used entries beyond ``keep`` (default ``$B2B_CACHE_KEEP`` or
    :data:`MAX_ENTRIES`), sparing entries used in the last :data:`RECENT_SECONDS`; returns the
    number deleted."""
    if keep is None:
        given = os.environ.get(KEEP_VARIABLE, "")
        keep = int(given) if given.strip().isdigit() else MAX_ENTRIES
    removed = 0
    for folder in entries(root)[max(keep, 0) :]:
        with contextlib.suppress(OSError):
            if time.time() - (folder / "manifest.json").stat().st_mtime > RECENT_SECONDS:
                remove_entry(root, folder.name)
                removed += 1
    return removed


def clear(root: Path | None = None) -> int:
    """Delete every entry, remembered digest and lock of the cache; returns entries deleted."""
    root = cache_dir() if root is None else root
    count = len(entries(root))
    shutil.rmtree(root, ignore_errors=True)
    return count


def cached_load(
    config: SourceConfig,
    when: pd.Timestamp,
    build: Callable[[Callable[[Path], bytes]], Dataset],
    root: Path | None = None,
) -> Dataset:
    """The data set of ``config`` as of ``when``: from the cache, else ``build(digest)`` stored.

    ``build`` does the full load; it receives the (remembered) file-digest function to compute
    the fingerprint with, so no file is hashed twice. Errors of ``build`` (validation) pass
    through and nothing is stored. A cache folder that cannot be written only costs the reuse.
    """
    global last_outcome
    root = cache_dir() if root is None else root

    def digest(path: Path) -> bytes:
        return file_digest(path, root)

    key = entry_key(config, when, digest)

    def again() -> Dataset:  # an entry's table unreadable after all: load afresh (stored)
        return cached_load(config, when, build, root)

    ds = read_entry(root, key, again)
    if ds is not None:
        last_outcome = "hit"
        return dataclasses.replace(ds, engine=config.engine)  # the engine is the source's
    try:
        handle = _acquire(root, key)
    except OSError as exc:  # read-only or missing home: load without the cache
        _log.info("cache folder %s not usable (%s)", root, exc)
        last_outcome = "uncacheable"
        return build(digest)
    try:
        ds = read_entry(root, key, again)  # built by another process while this one waited
        if ds is not None:
            last_outcome = "hit"
            return dataclasses.replace(ds, engine=config.engine)
        with every_core():
            ds = build(digest)
        try:
            write_entry(root, key, ds)
            prune(root)
            last_outcome = "miss"
        except (Uncacheable, OSError, pa.ArrowException) as exc:
            _log.info("data set not cached: %s", exc)
            last_outcome = "uncacheable"
            return ds
        # The entry just written, read as every later load reads it: the built frames (all
        # tables, ~7 GB at 1M accounts) go, and this kernel reads back only the tables it
        # uses, as the batch's other kernels do (the same frames: tested).
        stored = read_entry(root, key, again)
        if stored is None:
            return ds
        del ds
        give_back()
        return dataclasses.replace(stored, engine=config.engine)
    finally:
        _release(handle)


def main(argv: list[str] | None = None) -> int:
    """``python -m helpers.loading.cache [--clear]``: list (or delete) the cache's entries."""
    parser = argparse.ArgumentParser(prog="python -m helpers.loading.cache", description=__doc__)
    parser.add_argument("--clear", action="store_true", help="delete the whole cache folder")
    args = parser.parse_args(argv)
    root = cache_dir()
    if args.clear:
        print(f"removed {clear(root)} entries from {root}")
        return 0
    print(f"cache folder: {root} ({'on' if enabled() else 'off: ' + SWITCH_VARIABLE})")
    for folder in entries(root):
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        size = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
        print(f"  {folder.name}  {size:8.1f} MB  {manifest['source']}  {manifest['created']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
