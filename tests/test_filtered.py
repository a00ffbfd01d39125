"""A filtered data set read from the load-once cache (helpers.loading.filtered) gives the rows of
the same filter on the frames of a fresh load, without reading the order lines or the
touchpoints into pandas until a step asks for their frame."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import engine
from helpers.features import features_for, orders_table
from helpers.loading import cache, load_dataset
from helpers.loading.lazy_tables import LazyTables

FILTERS = {"region": "north"}


def _uncached(monkeypatch, compute):
    """``compute()`` with the caches off: the fresh data set's own result, not the one the
    cached data set's step kept on disk under the same data key."""
    with monkeypatch.context() as m:
        m.setenv(cache.SWITCH_VARIABLE, "off")
        return compute()


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in a fixed order (an engine gives none), values as plain Python objects."""
    return frame.astype(object).sort_values(list(frame.columns)).reset_index(drop=True)


@pytest.fixture
def pair(demo_dir, root):
    """(the demo filtered on its frames, the demo read from the cache and filtered)."""
    fresh = load_dataset("demo", cache=False).filter(FILTERS)
    load_dataset("demo")  # builds the entry
    parent = load_dataset("demo")
    assert isinstance(parent.tables, LazyTables)
    return fresh, parent, parent.filter(FILTERS)


def test_the_filter_reads_accounts_and_leads_only(pair):
    fresh, parent, got = pair
    assert isinstance(got.tables, LazyTables)
    assert sorted(got.tables.read()) == ["accounts", "leads"]
    assert "orders" not in parent.tables.read() and "touchpoints" not in parent.tables.read()
    pd.testing.assert_frame_equal(got["accounts"], fresh["accounts"], check_exact=True)
    pd.testing.assert_frame_equal(got["leads"], fresh["leads"], check_exact=True)
    assert list(got.tables) == list(fresh.tables)
    assert got.filters == fresh.filters and got.warnings == fresh.warnings


def test_engine_steps_see_the_kept_rows_in_the_engine(pair, monkeypatch):
    """The orders' and touchpoints' engine tables hold the rows of the filtered frames (the
    touchpoints of kept accounts or kept leads), counted without reading them."""
    fresh, parent, got = pair
    names = ["account_id", "order_date", "net_amount", "status"]
    table = got.engine_table("orders", names)
    assert engine.is_stable(table) and got.engine_table("orders", names) is table
    want = _sorted(fresh["orders"][names])
    assert 0 < len(want) < parent.rows("orders")  # the filter keeps some, not all
    pd.testing.assert_frame_equal(_sorted(engine.to_pandas(table)), want, check_exact=True)
    touch = ["lead_id", "account_id", "kind", "touched_at"]
    want = _sorted(fresh["touchpoints"][touch])
    got_touch = engine.to_pandas(got.engine_table("touchpoints", touch))
    pd.testing.assert_frame_equal(_sorted(got_touch), want, check_exact=True)
    assert fresh["touchpoints"]["account_id"].isna().any()  # prospects' touches: by lead
    assert got.rows("orders") == len(fresh["orders"])
    assert got.rows("touchpoints") == len(fresh["touchpoints"])
    want = _uncached(monkeypatch, lambda: features_for(fresh))
    pd.testing.assert_frame_equal(features_for(got), want, check_exact=True)
    assert engine.to_pandas(orders_table(got)).shape == (len(fresh["orders"]), 8)
    assert sorted(got.tables.read()) == ["accounts", "leads"]  # still not read into pandas


def test_frames_asked_for_are_the_filtered_frames_and_the_parent_keeps_none(pair):
    fresh, parent, got = pair
    part = got.columns("touchpoints", ["kind"])  # columns alone: read, filtered, not kept
    pd.testing.assert_frame_equal(part, fresh["touchpoints"][["kind"]], check_exact=True)
    assert "touchpoints" not in got.tables.read()
    for name in ("orders", "touchpoints", "channel_spend"):
        pd.testing.assert_frame_equal(got[name], fresh[name], check_exact=True)
        assert got[name].attrs == fresh[name].attrs  # the engine mark
    assert "orders" not in parent.tables.read() and "touchpoints" not in parent.tables.read()
    orders = got["orders"]
    assert got.engine_table("orders", ["account_id"]) is engine.memtable(orders, ["account_id"])


def test_a_filtered_study_step_reads_no_order_lines(pair, monkeypatch):
    """Notebook 02's churn definition on a filtered cached data set: in the engine only."""
    from helpers import survival

    fresh, _, got = pair
    definition = survival.define_churn(got, got.analysis_date, 180)
    want = _uncached(monkeypatch, lambda: survival.define_churn(fresh, fresh.analysis_date, 180))
    assert sorted(got.tables.read()) == ["accounts", "leads"]
    pd.testing.assert_frame_equal(definition.features, want.features, check_exact=True)
    assert (
        len(definition.features)
        == fresh["accounts"]["account_id"].isin(fresh["orders"]["account_id"]).sum()
    )
