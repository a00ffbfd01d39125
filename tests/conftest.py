"""Shared fixtures: the demo data set (built by `make data`), the validated demo Dataset and a
load-once cache folder per test."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from helpers.config import DEMO_DIR
from helpers.loading import Dataset, cache, load_dataset

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


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    """A load-once cache folder of this test only (the cache on, whatever the caller's
    environment)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(cache.DIR_VARIABLE, str(folder))
    monkeypatch.delenv(cache.SWITCH_VARIABLE, raising=False)
    return folder


@pytest.fixture(scope="session")
def demo(demo_dir: Path) -> Dataset:
    """The validated demo data set (do not modify its frames: session-scoped)."""
    return load_dataset("demo")


#: Test files that take longest (seconds of a `make test` run, largest first). With
#: ``--dist loadfile`` each file goes to one worker whole, in collection order: started last,
#: a long file leaves the other worker idle at the end (minutes). These run first.
SLOW_FIRST: tuple[str, ...] = (
    "tests/test_browser.py",
    "tests/test_survival.py",
    "tests/test_shapes_churn.py",
    "tests/test_shapes_overview_segmentation.py",
    "tests/test_batch_faults.py",
    "tests/test_payback.py",
    "tests/test_bgnbd.py",
    "tests/test_plots.py",
    "tests/test_shapes_channels.py",
)


#: Notebooks whose nbval run is marked ``slow`` (``make test-slow``): ``tests/test_browser.py``
#: executes the same notebooks with the same defaults in its default batch (and checks their
#: reports), so in ``make test`` their nbval run would only repeat that work (~40 s each).
NBVAL_SLOW: tuple[str, ...] = (
    "notebooks/02-churn-survival.ipynb",
    "notebooks/03-channel-economics.ipynb",
)


def pytest_collection_modifyitems(config, items) -> None:
    """The files of :data:`SLOW_FIRST` first, in that order; every other test keeps its place
    (a stable sort: a file's tests stay together and in order). The nbval cells of
    :data:`NBVAL_SLOW` are marked ``slow``."""
    for item in items:
        if item.nodeid.split("::")[0] in NBVAL_SLOW:
            item.add_marker(pytest.mark.slow)
    rank = {path: i for i, path in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


#: The CDNOW sample of Fader, Hardie & Lee (2005): one row per customer of the 39-week
#: calibration period (repeat purchases ``x``, recency ``t_x``, age ``T`` in weeks, mean spend).
CDNOW = (
    Path(__file__).parent / "fixtures" / "cdnow" / "cdnow_customers_summary_with_transactions.csv"
)


@pytest.fixture(scope="session")
def cdnow():
    """The CDNOW summary with pymc-marketing's column names (BG/NBD and Gamma-Gamma tests)."""
    import pandas as pd

    d = pd.read_csv(CDNOW)
    return pd.DataFrame(
        {
            "customer_id": d["ID"],
            "frequency": d["x"],
            "recency": d["t_x"],
            "T": d["T"],
            "monetary_value": d["zbar"],
        }
    )
