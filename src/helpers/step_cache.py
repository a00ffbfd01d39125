"""Results of expensive steps kept on disk, so the other notebooks of a batch reuse them.

Notebook 02 defines churn and fits the Cox model; notebook 03's lifetime values need the same
definition and the same model (:func:`helpers.lifetime_value.lifetime_values`), and at 100k
accounts computing them again costs some 10 s of a batch (issue #15); notebooks 01 and 02 ask
for the same account features (:func:`helpers.features.features_for`). The load-once cache
(:mod:`helpers.loading.cache`) keeps the validated data; this module keeps what a step computed
from it, in the same folder (``results/`` under :func:`helpers.loading.cache.cache_dir`, off
with ``B2B_CACHE=off``), as a pickle under a key over:

* the data: the data set's fingerprint (raw bytes and mapping), filters, analysis date, engine.
  Only data sets that :func:`helpers.loading.load_dataset` made from a source (or filtered
  from one) qualify (:attr:`helpers.loading.Dataset.from_source`); a data set built or copied
  in code (tests, a notebook that swaps a frame) has no fingerprint that stands for its
  content, and its steps are always computed;
* the step and its arguments (``parts``: JSON-ready values);
* the code: every source file of ``helpers`` and the versions of the libraries that compute
  (any change to the package misses; simple, and never stale).

A result read back is the pickled object, so it is the computed result to the last bit. Two
processes that need the same result at once: the second waits for the first (a file lock, as
the load-once cache does) and reads what it wrote. A file that cannot be read is computed and
rewritten; a folder that cannot be written only costs the reuse. At most :data:`MAX_RESULTS`
files are kept (the least recently used go). Assumption: a trusted data set's frames are not
changed in place after the load (the notebooks only read them).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import cloudpickle

from helpers.loading import cache

T = TypeVar("T")

#: Result files kept in ``results/`` (the least recently used beyond this are deleted).
MAX_RESULTS = 32

#: Libraries whose versions are part of every key (what the kept steps compute with).
_KEY_MODULES = ("numpy", "pandas", "scipy", "lifelines", "sklearn", "statsmodels", "duckdb")

_log = logging.getLogger(__name__)


def trusted(ds: Any) -> bool:
    """Whether ``ds`` is a data set whose key may stand for its content (see the module)."""
    return getattr(ds, "from_source", False) is True


@functools.cache
def code_version() -> str:
    """16 hex digits over every ``helpers`` source file, Python's and the libraries' versions."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256(sys.version.encode())
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        with contextlib.suppress(OSError):
            digest.update(path.read_bytes())
    for name in _KEY_MODULES:
        module = sys.modules.get(name) or __import__(name)
        digest.update(f"{name}={getattr(module, '__version__', '?')}".encode())
    return digest.hexdigest()[:16]


def key(kind: str, ds: Any, parts: Mapping[str, Any]) -> str | None:
    """The key of step ``kind`` with arguments ``parts`` on ``ds``; None when ``ds`` is not
    trusted or the cache is off (then the step is computed)."""
    if not cache.enabled() or not trusted(ds):
        return None
    return key_of(kind, {"data": data_identity(ds), **parts})


def data_identity(ds: Any) -> dict[str, Any]:
    """What stands for a trusted data set's content in a key."""
    return {
        "fingerprint": ds.fingerprint,
        "filters": ds.filters,
        "analysis_date": str(ds.analysis_date),
        "attributes": ds.attributes,
        "engine": str(ds.engine),  # engines agree to 1e-9, not to the bit
    }


def key_of(kind: str, parts: Mapping[str, Any]) -> str:
    """``kind`` and a digest of ``parts`` (JSON, sorted keys; ``repr`` for other values) and
    of :func:`code_version`."""
    text = json.dumps(parts, sort_keys=True, default=repr)
    digest = hashlib.sha256(f"{code_version()}|{text}".encode()).hexdigest()[:24]
    return f"{kind}-{digest}"


def remembered(name: str | None, compute: Callable[[], T]) -> T:
    """The result kept under key ``name``, else ``compute()`` (stored). ``name`` None:
    computed, nothing kept (as when the cache is off)."""
    if name is None or not cache.enabled():
        return compute()
    root = cache.cache_dir()
    path = root / "results" / f"{name}.pkl"
    found = read_pickle(path)
    if found is not None:
        return found[0]
    try:
        handle = cache._acquire(root, f"result-{name}")
    except OSError as exc:  # read-only or missing home
        _log.info("cache folder %s not usable (%s)", root, exc)
        return compute()
    try:
        found = read_pickle(path)  # computed by another process while this one waited
        if found is not None:
            return found[0]
        result = compute()
        if write_pickle(path, result):
            prune(path.parent)
        return result
    finally:
        cache._release(handle)


def read_pickle(path: Path) -> tuple[Any] | None:
    """``(object,)`` unpickled from ``path`` (touched: recently used), None when absent or
    unreadable (a damaged or foreign file is then computed again by the caller)."""
    try:
        with path.open("rb") as handle:
            result = pickle.load(handle)
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001 - whatever a damaged file raises
        _log.info("kept result %s not readable (%s)", path.name, exc)
        return None
    with contextlib.suppress(OSError):
        os.utime(path)
    return (result,)


def write_pickle(path: Path, result: Any) -> bool:
    """Pickle ``result`` to ``path`` atomically (a temporary file beside it, renamed; two
    processes writing the same thing at once leave one whole copy); False when it could not be
    written (unwritable folder, unpicklable object: logged, the caller just keeps no copy).
    cloudpickle: fitted pymc models hold local functions plain pickle refuses; what it writes,
    pickle reads."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pkl")
        try:
            with os.fdopen(fd, "wb") as handle:
                cloudpickle.dump(result, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    except Exception as exc:  # noqa: BLE001 - a copy saves time, it never decides a result
        _log.info("%s not kept (%s)", path.name, exc)
        return False
    return True


def prune(folder: Path, keep: int = MAX_RESULTS) -> int:
    """Delete the least recently used result files beyond ``keep``; returns how many."""
    files = sorted(folder.glob("*.pkl"), key=_mtime, reverse=True)
    removed = 0
    for path in files[keep:]:
        with contextlib.suppress(OSError):
            path.unlink()
            removed += 1
    return removed


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
