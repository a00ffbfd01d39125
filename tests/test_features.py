"""Customer features (Ibis on DuckDB) against an independent plain-pandas reference."""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd
import pytest

from helpers import features
from helpers.features import (
    customer_features,
    features_for,
    orders_table,
    shared_features,
)

AS_OFS = ["2025-12-31", "2024-06-30"]


def reference(orders: pd.DataFrame, accounts: pd.DataFrame, as_of: str, n: int) -> pd.DataFrame:
    """The definitions of helpers.features written the obvious pandas way."""
    day = pd.Timestamp(as_of)
    cutoff = day - pd.Timedelta(days=n)
    o = orders[(orders["order_date"] <= day) & (orders["status"] != "cancelled")]
    done = o[o["status"] == "completed"]
    g = done.groupby("account_id")
    out = pd.DataFrame(
        {
            "first_order": g["order_date"].min(),
            "last_order": g["order_date"].max(),
            "n_orders": g["order_id"].nunique(),
            "n_categories": g["product_category"].nunique(),
            "quantity_total": g["quantity"].sum(),
        }
    )
    out["monetary_total"] = o.groupby("account_id")["net_amount"].sum()
    out["margin_total"] = o.groupby("account_id")["gross_margin"].sum()
    acc = accounts[accounts["acquired_date"] <= day].set_index("account_id")
    out = acc[["region"]].join(out, how="left")
    out["n_orders"] = out["n_orders"].fillna(0)
    out["monetary_total"] = out["monetary_total"].fillna(0.0)
    out["monetary_mean"] = out["monetary_total"] / out["n_orders"].where(out["n_orders"] > 0)
    out["recency_days"] = (day - out["last_order"]).dt.days
    out["tenure_days"] = (day - out["first_order"]).dt.days
    out["churned"] = out["recency_days"] >= n
    out["in_survival"] = out["first_order"] <= cutoff
    dur = np.where(
        out["churned"],
        (out["last_order"] - out["first_order"]).dt.days,
        np.where(out["in_survival"], (cutoff - out["first_order"]).dt.days, np.nan),
    )
    out["duration_days"] = dur
    return out.sort_index()


@pytest.mark.parametrize("as_of", AS_OFS)
@pytest.mark.parametrize("threshold", [90, 180])
def test_matches_pandas_reference(demo, as_of, threshold):
    got = customer_features(demo["orders"], demo["accounts"], as_of, threshold).set_index(
        "account_id"
    )
    ref = reference(demo["orders"], demo["accounts"], as_of, threshold)
    assert list(got.index) == list(ref.index)
    for col in ("first_order", "last_order"):
        # the index holds the same ids (compared above): the engine's text, the data set's str
        pd.testing.assert_series_equal(
            got[col], ref[col], check_names=False, check_index_type=False
        )
    for col in (
        "n_orders",
        "monetary_total",
        "margin_total",
        "monetary_mean",
        "recency_days",
        "tenure_days",
        "duration_days",
        "quantity_total",
    ):
        np.testing.assert_allclose(
            got[col].to_numpy(float),
            ref[col].to_numpy(float),
            rtol=1e-9,
            equal_nan=True,
            err_msg=col,
        )
    assert (got["n_categories"] == ref["n_categories"].fillna(0)).all()
    assert (got["churned"] == ref["churned"].fillna(False)).all()
    assert (got["in_survival"] == ref["in_survival"].fillna(False)).all()
    assert (got["event"] == got["churned"].astype(int)).all()


def test_parquet_path_and_frames_agree(demo, demo_dir):
    from_files = customer_features(
        demo_dir / "orders.parquet", demo_dir / "accounts.parquet", "2025-12-31"
    )
    from_frames = features_for(demo)
    pd.testing.assert_frame_equal(from_files, from_frames, check_dtype=False)


def _tiny_orders() -> pd.DataFrame:
    rows = [
        # order, account, date, amount, margin, qty, category, status
        ("o1", "a", "2025-01-01", 100.0, 10.0, 1, "x", "completed"),
        ("o1", "a", "2025-01-01", 50.0, 5.0, 2, "y", "completed"),  # second line, same order
        ("o2", "a", "2025-03-01", 200.0, 20.0, 1, "x", "completed"),
        ("r2", "a", "2025-03-10", -20.0, -2.0, 1, "x", "returned"),
        ("o3", "a", "2025-04-01", 999.0, 99.0, 1, "z", "cancelled"),  # ignored
        ("o4", "b", "2025-06-01", 80.0, 8.0, 4, "x", "completed"),
        ("o5", "b", "2026-01-05", 80.0, 8.0, 4, "x", "completed"),  # after as_of: unseen
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "order_id",
            "account_id",
            "order_date",
            "net_amount",
            "gross_margin",
            "quantity",
            "product_category",
            "status",
        ],
    )
    frame["order_date"] = pd.to_datetime(frame["order_date"])
    return frame


def test_hand_checked_small_case():
    f = customer_features(_tiny_orders(), as_of="2025-07-01", churn_threshold_days=100)
    a, b = f.set_index("account_id").loc["a"], f.set_index("account_id").loc["b"]
    assert a["n_orders"] == 2 and a["n_lines"] == 3 and a["n_categories"] == 2
    assert a["monetary_total"] == pytest.approx(330.0)  # 100 + 50 + 200 - 20
    assert a["returns_total"] == pytest.approx(20.0)
    assert a["monetary_mean"] == pytest.approx(165.0)
    assert a["margin_rate"] == pytest.approx(33.0 / 330.0)
    assert a["recency_days"] == 122 and a["churned"]  # 2025-03-01 -> 2025-07-01
    assert a["duration_days"] == 59 and a["event"] == 1  # 2025-01-01 -> 2025-03-01
    assert b["n_orders"] == 1 and not b["churned"]
    assert not b["in_survival"] and np.isnan(b["duration_days"])  # first order within 100 days


def test_active_account_is_censored_at_as_of_minus_threshold():
    f = customer_features(_tiny_orders(), as_of="2025-05-01", churn_threshold_days=100)
    a = f.set_index("account_id").loc["a"]
    assert not a["churned"] and a["event"] == 0
    # censored at 2025-05-01 - 100 days = 2025-01-21, 20 days after the first order
    assert a["duration_days"] == 20


def test_accounts_without_orders_are_kept():
    accounts = pd.DataFrame(
        {
            "account_id": ["a", "b", "c"],
            "region": ["n", "s", "s"],
            "acquired_date": pd.to_datetime(["2024-01-01", "2024-01-01", "2025-06-30"]),
        }
    )
    f = customer_features(_tiny_orders(), accounts, as_of="2025-07-01")
    c = f.set_index("account_id").loc["c"]
    assert c["n_orders"] == 0 and c["monetary_total"] == 0 and pd.isna(c["first_order"])


def test_as_of_is_required():
    with pytest.raises(ValueError, match="as_of"):
        customer_features(_tiny_orders())


@pytest.fixture
def computed(monkeypatch) -> list[tuple]:
    """The feature computations :func:`shared_features` asks for, with an empty memo; each
    (fake, instant) table records its arguments, so a hit returns what the miss computed."""
    calls: list[tuple] = []

    def fake(orders, accounts, as_of, n, attributes, engine):
        calls.append((id(orders), id(accounts), str(pd.Timestamp(as_of).date()), n))
        return pd.DataFrame({"account_id": ["a", "b"], "n": [n, n], "call": len(calls)})

    monkeypatch.setattr(features, "customer_features", fake)
    features.clear_shared_features()
    yield calls
    features.clear_shared_features()


def test_shared_features_computes_each_data_date_and_threshold_once(computed):
    orders, accounts = _tiny_orders(), pd.DataFrame({"account_id": ["a", "b"]})
    first = shared_features(orders, accounts, "2025-07-01", 100)
    again = shared_features(orders, accounts, pd.Timestamp("2025-07-01"), 100)  # same day
    assert len(computed) == 1 and features.shared_features_info().hits == 1
    pd.testing.assert_frame_equal(first, again)
    shared_features(orders, accounts, "2025-07-02", 100)  # another as-of date
    shared_features(orders, accounts, "2025-07-01", 90)  # another threshold
    shared_features(orders.copy(), accounts, "2025-07-01", 100)  # another (equal) data set
    shared_features(orders, None, "2025-07-01", 100)  # without the accounts
    shared_features(orders, accounts.copy(), "2025-07-01", 100)  # other accounts
    assert len(computed) == 6 and len(set(computed)) == 6
    shared_features(orders, accounts, "2025-07-01", 90)
    assert len(computed) == 6 and features.shared_features_info().hits == 2


def test_shared_features_hands_out_copies(computed):
    orders = _tiny_orders()
    got = shared_features(orders, None, "2025-07-01", 100)
    got.loc[0, "n"] = -1
    got["extra"] = 1.0
    again = shared_features(orders, None, "2025-07-01", 100)
    assert len(computed) == 1
    assert again["n"].tolist() == [100, 100] and "extra" not in again.columns


def test_shared_features_is_bounded_and_forgets_collected_frames(computed, monkeypatch):
    monkeypatch.setattr(features, "MEMO_ENTRIES", 2)
    orders = _tiny_orders()
    for day in ("2025-07-01", "2025-07-02", "2025-07-03"):
        shared_features(orders, None, day, 100)
    assert features.shared_features_info().entries == 2
    shared_features(orders, None, "2025-07-01", 100)  # least recently used: dropped
    assert len(computed) == 4
    shared_features(orders, None, "2025-07-03", 100)  # kept
    assert len(computed) == 4
    del orders
    gc.collect()
    shared_features(_tiny_orders(), None, "2025-07-09", 100)
    assert features.shared_features_info().entries == 1  # the collected frame's tables went
    monkeypatch.setattr(features, "MEMO_BYTES", 0)  # nothing fits: computed every time
    other = _tiny_orders()
    shared_features(other, None, "2025-07-01", 100)
    shared_features(other, None, "2025-07-01", 100)
    assert len(computed) == 7 and features.shared_features_info().entries == 0


def test_shared_features_keep_the_tables_of_stable_engine_tables_only(monkeypatch):
    """A memtable (or a cache scan) is kept under the table object; any other Ibis table (a
    warehouse's, whose rows may change) is computed on every call."""
    import ibis

    from helpers import engine as engines

    features.clear_shared_features()
    computed = []
    real = features.customer_features

    def counting(*args, **kwargs):
        computed.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(features, "customer_features", counting)
    orders = _tiny_orders()
    table = engines.memtable(orders, list(orders.columns))
    one = shared_features(table, None, "2025-07-01", 100)
    two = shared_features(table, None, "2025-07-01", 100)
    assert len(computed) == 1
    pd.testing.assert_frame_equal(one, two)
    pd.testing.assert_frame_equal(one, real(orders, as_of="2025-07-01", churn_threshold_days=100))
    loose = ibis.memtable(orders)  # not recorded as stable
    shared_features(loose, None, "2025-07-01", 100)
    shared_features(loose, None, "2025-07-01", 100)
    assert len(computed) == 3
    features.clear_shared_features()


def test_shared_features_equal_customer_features_and_features_for_shares_them(demo):
    features.clear_shared_features()
    orders = _tiny_orders()
    fresh = customer_features(orders, as_of="2025-07-01", churn_threshold_days=100)
    pd.testing.assert_frame_equal(shared_features(orders, None, "2025-07-01", 100), fresh)
    pd.testing.assert_frame_equal(shared_features(orders, None, "2025-07-01", 100), fresh)
    assert features.shared_features_info()[:2] == (1, 1)
    a = features_for(demo)  # the data set's engine table of the orders: kept under it
    b = shared_features(orders_table(demo), demo["accounts"], demo.analysis_date, 180)
    assert features.shared_features_info()[:2] == (2, 2)
    pd.testing.assert_frame_equal(a, b)
    c = shared_features(demo["orders"], demo["accounts"], demo.analysis_date, 180)
    assert features.shared_features_info()[:2] == (2, 3)  # the frame is another input
    pd.testing.assert_frame_equal(a, c)
    features.clear_shared_features()
