"""Giving memory back to the system between study steps.

In a batch, two kernels share the machine's memory, so what one kernel no longer uses should
stop counting in its resident memory. Three things keep it after a step has ended:

* **Ibis memtables**: a backend keeps every uploaded frame until the memtable is dropped
  (:func:`helpers.engine.drop_dead_memtables`; at 1M accounts the attribution paths' 36M
  touchpoints, ~1.5 GB, for the rest of the kernel).
* **Arrow's allocator** (mimalloc) keeps freed buffers for reuse: ``release_unused`` (0.55 GB
  after a 100k-account cache build, several GB at 1M; the loader gives it back after a build
  and after each table read, :mod:`helpers.loading.cache`).
* **glibc's allocator** keeps freed heap memory (NumPy arrays under its mmap threshold, which
  glibc raises after freeing large blocks, and Python objects): ``malloc_trim(0)`` returns the
  free pages (1.3 GB after the 1M attribution step).

:func:`give_back` does all three; :func:`helpers.steps.step` calls it when an outermost step
ends. It frees nothing that is still referenced, so it cannot change a result; it only looks at
modules already imported (importing this module costs nothing).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import cache


@cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None elsewhere (macOS, musl)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def give_back() -> None:
    """Drop the memtables no expression uses any more, and return the free memory of Arrow's
    and glibc's allocators to the system (see the module docstring)."""
    engine = sys.modules.get("helpers.engine")
    if engine is not None:
        engine.drop_dead_memtables()
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is not None:
        pyarrow.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
