"""Shared fixtures: the demo data set (built by `make data`) and the validated demo Dataset."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from helpers.config import DEMO_DIR
from helpers.loading import Dataset, load_dataset

# The load-once cache (helpers.loading.cache) of a test run lives in a folder of its own, removed
# at exit: tests never read or fill the user's ~/.cache/b2b-insights (notebook kernels started by
# the tests inherit the variable). A caller's own B2B_CACHE_DIR is respected.
if "B2B_CACHE_DIR" not in os.environ:
    os.environ["B2B_CACHE_DIR"] = tempfile.mkdtemp(prefix="b2b-insights-test-cache-")
    atexit.register(shutil.rmtree, os.environ["B2B_CACHE_DIR"], True)


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    """The demo data folder; built on the fly when `make data` has not run yet."""
    if not (DEMO_DIR / "truth.json").exists():
        from helpers.demo import write

        write(DEMO_DIR)
    return DEMO_DIR


@pytest.fixture(scope="session")
def truth(demo_dir: Path) -> dict:
    """What the demo generator planted (``truth.json``)."""
    return json.loads((demo_dir / "truth.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def demo(demo_dir: Path) -> Dataset:
    """The validated demo data set (do not modify its frames: session-scoped)."""
    return load_dataset("demo")
