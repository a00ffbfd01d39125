"""Data health (notebook 00): the analysis date a study uses and the orders' warts sentence."""

from __future__ import annotations

import pandas as pd

from helpers import health
from helpers.loading import Dataset

DS = Dataset(tables={}, source="hand", analysis_date=pd.Timestamp("2025-12-31"), fingerprint="f")


def test_analysis_date_is_the_parameter_or_the_data_own():
    assert health.analysis_date(ds=DS, configured="") == pd.Timestamp("2025-12-31")
    assert health.analysis_date(ds=DS, configured=None) == pd.Timestamp("2025-12-31")
    assert health.analysis_date(ds=DS, configured="2025-06-30") == pd.Timestamp("2025-06-30")


def test_warts_sentence_from_the_orders():
    orders = pd.DataFrame(
        {
            "order_date": pd.to_datetime(
                ["2025-01-02", "2025-01-05", "2025-01-01", "2025-01-07", "2025-01-08"]
            ),
            "status": ["completed", "returned", "completed", "cancelled", "completed"],
            "net_amount": [100.0, -20.0, 300.0, 50.0, 600.0],
        }
    )
    warts = health.order_warts(orders)
    assert health.warts_sentence(warts=warts) == (
        "The orders table has 5 lines: 1 returns (2.0% of sales value), 1 cancelled lines "
        "(left out of revenue) and 1 lines that sit out of date order in the file (data that "
        "arrived late; nothing here depends on the order of rows)."
    )
