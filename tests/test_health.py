"""Data health: the table overview, the orders' warts and the loader's warnings, on tiny frames
whose expected values are worked out by hand in the comments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fixtures.exports import shapes

from helpers import engine, health
from helpers.contract import TABLES
from helpers.health import order_warts, table_summary, warnings_table
from helpers.loading import TEXT, Dataset, cache, load_dataset
from helpers.validation import ROW_COLUMN, Problem

NAN = float("nan")


def dataset(tables: dict[str, pd.DataFrame], warnings: list[Problem] | None = None) -> Dataset:
    return Dataset(
        tables=tables,
        source="own.yaml",
        analysis_date=pd.Timestamp("2024-12-31"),
        fingerprint="f",
        warnings=warnings or [],
    )


def orders_in_file_order() -> pd.DataFrame:
    """Five order lines as the file has them (line 2 to 6).

    line  date        status     amount
    2     2024-01-10  completed    100
    3     2024-01-05  completed     50   earlier than line 2: out of order
    4     2024-02-01  cancelled     30
    5     2024-01-20  returned     -20   earlier than line 4: out of order
    6     2024-03-01  completed    150
    """
    return pd.DataFrame(
        {
            "order_id": ["O1", "O2", "O3", "R1", "O4"],
            "line_number": [1.0] * 5,
            "account_id": ["A1", "A1", "A2", "A2", "A1"],
            "order_date": pd.to_datetime(
                ["2024-01-10", "2024-01-05", "2024-02-01", "2024-01-20", "2024-03-01"]
            ),
            "net_amount": [100.0, 50.0, 30.0, -20.0, 150.0],
            "gross_margin": [NAN] * 5,
            "quantity": [1.0] * 5,
            "product_category": ["bearings"] * 5,
            "status": ["completed", "completed", "cancelled", "returned", "completed"],
            ROW_COLUMN: [2, 3, 4, 5, 6],
        }
    )


def accounts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": ["A1", "A2"],
            "account_name": ["Acme", "Bolt"],
            "industry": ["machinery", "chemicals"],
            "size_band": ["small", "large"],
            "region": ["north", "south"],
            "country": ["DE", None],  # partly filled: not listed as empty
            "business_line": [None, None],
            "ownership_type": ["private", "private"],
            "business_type": ["brand_owner", "brand_owner"],
            "acquisition_channel": ["search_ads", "trade_show"],
            "acquired_date": pd.to_datetime(["2023-06-01", "2022-11-15"]),
            "sales_rep": [None, None],
            ROW_COLUMN: [2, 3],
        }
    )


def test_order_warts_counts_by_hand():
    warts = order_warts(orders=orders_in_file_order())
    # revenue lines (not cancelled): 100, 50, -20, 150; positive revenue 300; returned 20
    assert warts == {
        "order_lines": 5,
        "returned_lines": 1,
        "returned_value_share": pytest.approx(20 / 300),
        "cancelled_lines": 1,
        "rows_out_of_date_order": 2,  # lines 3 and 5
    }


def test_order_warts_reads_rows_in_file_order_not_frame_order():
    shuffled = orders_in_file_order().iloc[[4, 0, 3, 1, 2]]  # lines 6, 2, 5, 3, 4
    assert order_warts(orders=shuffled)["rows_out_of_date_order"] == 2
    # without the file position the frame's order is the file's: 03-01 first, then all earlier
    no_position = shuffled.drop(columns=ROW_COLUMN)
    assert order_warts(orders=no_position)["rows_out_of_date_order"] == 4


def test_table_summary_one_row_per_contract_table():
    summary = table_summary(ds=dataset({"accounts": accounts(), "orders": orders_in_file_order()}))
    assert summary.index.tolist() == ["accounts", "orders", "leads", "touchpoints", "channel_spend"]
    assert summary.columns.tolist() == [
        "rows",
        "first date",
        "last date",
        "empty optional columns",
        "status",
    ]
    assert summary.loc["accounts"].tolist() == [
        2,
        pd.Timestamp("2022-11-15"),
        pd.Timestamp("2023-06-01"),
        "business_line, sales_rep",
        "ok",
    ]
    assert summary.loc["orders"].tolist() == [
        5,
        pd.Timestamp("2024-01-05"),
        pd.Timestamp("2024-03-01"),
        "gross_margin",
        "ok",
    ]
    leads = summary.loc["leads"]
    assert (leads["rows"], leads["empty optional columns"], leads["status"]) == (
        0,
        "",
        "not provided",
    )
    assert pd.isna(leads["first date"]) and pd.isna(leads["last date"])
    assert summary["status"].tolist().count("not provided") == 3


def test_warnings_table_lists_each_warning():
    warnings = [
        Problem(
            "leads.csv",
            "won_date",
            "stage dated before the lead was created",
            ("line 3 (lead_id='L2')", "line 9 (lead_id='L8')"),
            2,
        ),
        Problem("channel_spend", None, "spend is company-wide"),
    ]
    table = warnings_table(ds=dataset({"orders": orders_in_file_order()}, warnings))
    assert table.to_dict("records") == [
        {
            "file": "leads.csv",
            "column": "won_date",
            "warning": "stage dated before the lead was created",
            "rows": 2,
            "examples": "line 3 (lead_id='L2'); line 9 (lead_id='L8')",
        },
        {
            "file": "channel_spend",
            "column": "",
            "warning": "spend is company-wide",
            "rows": 0,
            "examples": "",
        },
    ]


def test_warnings_table_without_warnings_is_empty_with_its_columns():
    table = warnings_table(ds=dataset({"orders": orders_in_file_order()}))
    assert table.empty
    assert table.columns.tolist() == ["file", "column", "warning", "rows", "examples"]


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


def test_order_checks_say_when_there_are_no_orders():
    ds = Dataset(
        tables={}, source="funnel.yaml", analysis_date=pd.Timestamp("2025-12-31"), fingerprint="x"
    )
    checks = health.order_checks(ds)
    assert checks.sentence() == (
        "The order checks is not available: the data source 'funnel.yaml' has no orders table "
        "(revenue, its mix and its drivers need the order lines)."
    )
    assert health.warts_sentence(warts=checks).step == "The order checks"


def test_tables_display_has_dates_without_times_and_reader_names():
    html = health.tables_display(
        ds=dataset({"accounts": accounts(), "orders": orders_in_file_order()})
    ).to_html()
    assert "15 Nov 2022" in html and "1 Mar 2024" in html
    assert "00:00:00" not in html and "channel_spend" not in html and "Channel spend" in html
    assert "NaT" not in html and "nan" not in html


def test_warnings_display_is_a_sentence_when_there_are_no_warnings():
    shown = health.warnings_display(ds=dataset({"orders": orders_in_file_order()}))
    assert shown.data == "No data warnings."
    warnings = [Problem("channel_spend", None, "spend is company-wide", (), 1200)]
    html = health.warnings_display(ds=dataset({}, warnings)).to_html()
    assert "spend is company-wide" in html and "1,200" in html


def test_the_summary_of_a_cached_data_set_reads_no_whole_table(tmp_path, root):
    """Row counts, date ranges and empty optional columns, and the order checks, come from
    the engine: the same values as from the frames, without reading a table of a cached data
    set into pandas."""
    source = shapes.write_shape1(tmp_path)
    fresh = load_dataset(source, cache=False)
    load_dataset(source)
    cached = load_dataset(source)
    assert cache.last_outcome == "hit"
    pd.testing.assert_frame_equal(health.table_summary(cached), _former_table_summary(fresh))
    assert health.order_checks(cached) == _former_order_warts(fresh["orders"])
    assert cached.tables.read() == []  # the order lines were counted in the engine


# --- the engine against the former pandas implementation ----------------------------------------
# The former code, verbatim but for its name: the oracle.


def _former_table_summary(ds: Dataset) -> pd.DataFrame:
    """The former :func:`health.table_summary` (pandas columns): the oracle."""
    rows = []
    for name, table in TABLES.items():
        if not ds.has(name):
            rows.append(
                {
                    "table": name,
                    "rows": 0,
                    "first date": pd.NaT,
                    "last date": pd.NaT,
                    "empty optional columns": "",
                    "status": "not provided",
                }
            )
            continue
        optional = [c.name for c in table.columns if not c.required]
        # only the columns summarised: a table not read yet is not read whole
        frame = ds.columns(name, list(dict.fromkeys([health.EVENT_DATE[name], *optional])))
        dates = frame[health.EVENT_DATE[name]]
        empty = [c for c in optional if frame[c].isna().all()]
        rows.append(
            {
                "table": name,
                "rows": len(frame),
                "first date": dates.min(),
                "last date": dates.max(),
                "empty optional columns": ", ".join(empty),
                "status": "ok",
            }
        )
    return pd.DataFrame(rows).set_index("table")


def _former_order_warts(orders: pd.DataFrame) -> dict[str, float]:
    """The former :func:`health.order_warts` (pandas): the oracle."""
    o = orders.sort_values(ROW_COLUMN) if ROW_COLUMN in orders.columns else orders
    running_max = o["order_date"].cummax().shift(fill_value=o["order_date"].min())
    revenue = o.loc[o["status"] != "cancelled", "net_amount"]
    returned = o["status"] == "returned"
    return {
        "order_lines": int(len(o)),
        "returned_lines": int(returned.sum()),
        "returned_value_share": (
            float(-o.loc[returned, "net_amount"].sum() / revenue[revenue > 0].sum())
            if (revenue > 0).any()
            else 0.0
        ),
        "cancelled_lines": int((o["status"] == "cancelled").sum()),
        "rows_out_of_date_order": int((o["order_date"] < running_max).sum()),
    }


def _random_lines(seed: int, n: int = 500) -> pd.DataFrame:
    """Random order lines as a file has them, rows shuffled: returns (negative amounts),
    cancellations, several lines a day, late lines (dated before lines above them)."""
    rng = np.random.default_rng(seed)
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(
        np.sort(rng.integers(0, 400, n)) - rng.integers(0, 30, n) * (rng.random(n) < 0.2), "D"
    )
    status = rng.choice(["completed", "returned", "cancelled"], n, p=[0.75, 0.15, 0.10])
    amount = rng.gamma(2.0, 50.0, n).round(2)
    lines = pd.DataFrame(
        {
            "order_date": days,
            "status": pd.array(status, dtype=TEXT),
            "net_amount": np.where(status == "returned", -amount, amount),
            "gross_margin": np.where(rng.random(n) < 0.3, np.nan, amount * 0.3),
            ROW_COLUMN: np.arange(2, n + 2),
        }
    )
    return lines.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def _same_warts(got: dict, want: dict) -> None:
    assert list(got) == list(want)
    assert {k: v for k, v in got.items() if k != "returned_value_share"} == {
        k: v for k, v in want.items() if k != "returned_value_share"
    }
    assert got["returned_value_share"] == pytest.approx(want["returned_value_share"], rel=1e-9)


@pytest.mark.parametrize("seed", [1, 2])
def test_order_warts_equal_the_former_counts(seed):
    lines = _random_lines(seed)
    want = _former_order_warts(lines)
    assert want["rows_out_of_date_order"] > 10 and want["returned_lines"] > 10  # a real test
    _same_warts(order_warts(lines), want)
    table = engine.memtable(lines, list(lines.columns))  # as a cached data set gives them
    _same_warts(order_warts(table), want)
    in_frame_order = lines.drop(columns=ROW_COLUMN)  # no file position: the frame's order
    _same_warts(order_warts(in_frame_order), _former_order_warts(in_frame_order))
    with pytest.raises(ValueError, match="file order"):
        order_warts(engine.memtable(in_frame_order, list(in_frame_order.columns)))
    no_positive = lines.assign(net_amount=-lines["net_amount"].abs())
    _same_warts(order_warts(no_positive), _former_order_warts(no_positive))
    assert order_warts(no_positive)["returned_value_share"] == 0.0
    empty = pd.DataFrame(columns=lines.columns)  # untyped, as built in code
    assert order_warts(empty) == _former_order_warts(lines.iloc[:0])


def test_table_summary_equals_the_former_one(demo):
    """On the demo (every table, dates with times in the touchpoints) and on frames built in
    code (Python strings, NaN numbers in an optional column, a table without rows)."""
    fresh = load_dataset("demo", cache=False)
    pd.testing.assert_frame_equal(table_summary(demo), _former_table_summary(fresh))
    built = dataset(
        {
            "accounts": accounts().astype({"country": object}),
            "orders": orders_in_file_order().assign(quantity=NAN),
            "leads": pd.DataFrame({c.name: [] for c in TABLES["leads"].columns}),
        }
    )
    built.tables["leads"]["created_date"] = pd.to_datetime(built.tables["leads"]["created_date"])
    want = _former_table_summary(built)
    assert want.loc["leads", "rows"] == 0 and pd.isna(want.loc["leads", "first date"])
    assert want.loc["orders", "empty optional columns"] == "gross_margin"
    pd.testing.assert_frame_equal(table_summary(built), want)
