"""The loading package: source YAML, raw files, column mapping and types, Dataset, fingerprint.

End-to-end messages for bad exports are in ``test_bad_input.py``; these tests pin each step on
small hand-made inputs with the values worked out by hand.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest
from fixtures.exports import shapes

from helpers.config import DEMO_SOURCE
from helpers.contract import TABLES
from helpers.engine import Engine, engine_of
from helpers.features import customer_features, features_for
from helpers.loading import (
    TEXT,
    Dataset,
    SourceConfig,
    TableSource,
    coerce_types,
    complete_columns,
    demo_config,
    fingerprint,
    load_dataset,
    map_columns,
    read_config,
    read_raw,
    resolve_source,
)
from helpers.validation import ROW_COLUMN, Findings, MissingTableError, Problem

ORDERS = """order_id,account_id,order_date,net_amount,quantity,product_category,status
O1,A1,2024-01-05,100.50,3,bearings,completed
O2,A1,2024-03-01,80.00,2,bearings,completed
"""
ACCOUNTS = """account_id,account_name,industry,size_band,region,ownership_type,business_type,acquisition_channel,acquired_date
A1,Acme,machinery,small,north,private,brand_owner,search_ads,2024-01-05
"""


def write_yaml(folder: Path, text: str) -> Path:
    path = folder / "source.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def raw_frame(file: str = "orders.csv", **columns: list) -> pd.DataFrame:
    """A frame as :func:`read_raw` returns it: text cells, row positions from line 2."""
    frame = pd.DataFrame(columns, dtype=object)
    frame[ROW_COLUMN] = frame.index + 2
    frame.attrs.update(file=file, row_word="line")
    return frame


def orders_raw(**changes: list) -> pd.DataFrame:
    columns = {
        "order_id": ["O1", "O2", "O3"],
        "account_id": ["A1", "A1", "A2"],
        "order_date": ["2024-01-05", "2024-03-01", "2024-02-01"],
        "net_amount": ["100.50", "80", "1000"],
        "quantity": ["3", "2", "10"],
        "product_category": ["bearings", "bearings", "tooling"],
        "status": ["completed", "completed", "returned"],
    }
    columns.update(changes)
    return raw_frame(**columns)


def orders_spec(**fields) -> TableSource:
    return TableSource(name="orders", path=Path("orders.csv"), **fields)


# --- config -------------------------------------------------------------------------------


def test_read_config_resolves_files_and_keeps_every_setting(tmp_path):
    source = write_yaml(
        tmp_path,
        """\
        analysis_date: 2025-06-30
        tables:
          orders:
            file: exports/orders.csv
            encoding: cp1252
            date_format: "%d.%m.%Y"
            date_formats: {order_date: "%d/%m/%Y"}
            columns: {order_id: 17, status: Status}
            values: {status: {Done: completed}}
          accounts: exports/customers.xlsx
        """,
    )
    config = read_config(path=source)
    assert config.label == str(source)
    assert config.analysis_date == pd.Timestamp("2025-06-30")
    assert list(config.tables) == ["orders", "accounts"]
    orders = config.tables["orders"]
    assert orders.path == (tmp_path / "exports" / "orders.csv").resolve()
    assert orders.encoding == "cp1252"
    assert orders.date_format == "%d.%m.%Y" and orders.date_formats == {"order_date": "%d/%m/%Y"}
    assert orders.columns == {"order_id": "17", "status": "Status"}  # YAML numbers as text
    assert orders.values == {"status": {"Done": "completed"}}
    accounts = config.tables["accounts"]  # a bare string is the file, defaults for the rest
    assert accounts.path == (tmp_path / "exports" / "customers.xlsx").resolve()
    assert (accounts.encoding, accounts.sheet, accounts.columns) == ("utf-8", None, {})


def test_read_config_without_analysis_date_leaves_it_unset(tmp_path):
    config = read_config(path=write_yaml(tmp_path, "tables:\n  orders: o.csv\n"))
    assert config.analysis_date is None  # never a silent "today": load_dataset refuses it


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tables: [a: b\n", "not valid YAML"),
        ("orders: o.csv\n", "expected a mapping with a 'tables:' section."),
        (
            "tables:\n  orders: o.csv\n  customers: c.csv\n",
            "unknown table(s) ['customers']; the contract has ['accounts', 'channel_spend', "
            "'leads', 'orders', 'touchpoints'].",
        ),
        ("tables:\n  orders: {encoding: cp1252}\n", "table 'orders' has no 'file:'."),
        (
            "tables:\n  orders: {file: o.csv, columns: {revenue: Rev}}\n",
            "table 'orders' maps unknown contract column(s) ['revenue']; the contract's columns "
            "are ['order_id', 'line_number', 'account_id', 'order_date', 'net_amount', "
            "'gross_margin', 'quantity', 'product_category', 'status'].",
        ),
        (
            "tables:\n  accounts: a.csv\n",
            "the 'orders' table is required (every customer study starts there); only funnel "
            "questions can be answered without it, from a 'leads' table.",
        ),
    ],
)
def test_read_config_rejects_a_bad_yaml_naming_the_file(tmp_path, text, message):
    source = write_yaml(tmp_path, text)
    with pytest.raises(ValueError) as info:
        read_config(path=source)
    assert str(info.value).startswith(f"{source}: ")
    assert message in str(info.value)


def test_read_config_engine_defaults_to_duckdb_and_takes_spark_or_a_url(tmp_path):
    plain = read_config(path=write_yaml(tmp_path, "tables:\n  orders: o.csv\n"))
    assert plain.engine == Engine("duckdb")
    spark = read_config(
        path=write_yaml(
            tmp_path, "engine: pyspark\nspark_master: local[1]\ntables:\n  orders: o.csv\n"
        )
    )
    assert spark.engine == Engine("pyspark", "local[1]")
    url = "postgres://analyst@warehouse.example/sales"
    warehouse = read_config(path=write_yaml(tmp_path, f"engine: {url}\ntables:\n  orders: o.csv\n"))
    assert warehouse.engine == Engine(url) and warehouse.engine.kind == "url"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("engine: spark\n", "engine 'spark' is not known; use duckdb (default), pyspark, or an"),
        ("engine: mysq://me@db/x\n", "engine URL scheme 'mysq' is not an Ibis backend"),
        ("engine: [duckdb]\n", "engine must be duckdb, pyspark or an Ibis connection URL"),
        ("spark_master: local[2]\n", "spark_master is only for engine: pyspark"),
        ("engin: pyspark\n", "unknown key 'engin' at the top level; did you mean 'engine'?"),
    ],
)
def test_read_config_refuses_an_unknown_engine_naming_the_file_and_key(tmp_path, text, message):
    source = write_yaml(tmp_path, text + "tables:\n  orders: o.csv\n")
    with pytest.raises(ValueError) as info:
        read_config(path=source)
    assert str(info.value).startswith(f"{source}: {message}")


def test_a_loaded_dataset_and_its_tables_carry_the_engine(tmp_path, demo):
    (tmp_path / "orders.csv").write_text(ORDERS, encoding="utf-8")
    source = write_yaml(
        tmp_path, "analysis_date: 2024-06-30\nengine: pyspark\ntables:\n  orders: orders.csv\n"
    )
    ds = load_dataset(source)
    assert ds.engine == Engine("pyspark")
    assert engine_of(ds["orders"]) == Engine("pyspark")
    assert demo.engine == Engine("duckdb")


def test_read_config_of_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="Data-source file .*nope.yaml does not exist."):
        read_config(path=tmp_path / "nope.yaml")


def test_demo_config_lists_the_parquet_files_present(tmp_path):
    (tmp_path / "truth.json").write_text('{"as_of": "2025-03-31"}', encoding="utf-8")
    (tmp_path / "orders.parquet").write_bytes(b"x")
    (tmp_path / "leads.parquet").write_bytes(b"x")
    config = demo_config(directory=tmp_path)
    assert config.label == DEMO_SOURCE == "demo"
    assert config.analysis_date == pd.Timestamp("2025-03-31")
    assert list(config.tables) == ["orders", "leads"]  # contract order, only what exists
    assert config.tables["leads"].path == tmp_path / "leads.parquet"


def test_demo_config_without_demo_data_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"run `make data`"):
        demo_config(directory=tmp_path)


def test_resolve_source_accepts_demo_a_path_or_a_config(tmp_path, demo_dir):
    config = SourceConfig(label="x", tables={}, analysis_date=pd.Timestamp("2024-01-01"))
    assert resolve_source(source=config) is config
    assert resolve_source(source="demo") == demo_config(directory=demo_dir)
    source = write_yaml(tmp_path, "tables:\n  orders: o.csv\n")
    assert resolve_source(source=source).tables["orders"].path == (tmp_path / "o.csv").resolve()


# --- reading ------------------------------------------------------------------------------


def test_read_raw_csv_keeps_text_and_numbers_rows_by_file_line(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS.replace("100.50", "NA").replace("80.00", ""), encoding="utf-8")
    frame = read_raw(spec=TableSource(name="orders", path=path))
    assert frame["net_amount"].tolist()[0] == "NA"  # only an empty cell is missing
    assert pd.isna(frame["net_amount"].iloc[1])
    assert frame["quantity"].tolist() == ["3", "2"]  # text, typed later
    assert frame[ROW_COLUMN].tolist() == [2, 3]
    assert frame.attrs == {"file": "orders.csv", "row_word": "line"}


def test_read_raw_tsv_and_parquet(tmp_path):
    tsv = tmp_path / "orders.tsv"
    tsv.write_text(ORDERS.replace(",", "\t"), encoding="utf-8")
    assert read_raw(spec=TableSource(name="orders", path=tsv))["order_id"].tolist() == ["O1", "O2"]
    pd.DataFrame({"order_id": ["O1", "O2"], "net_amount": [1.5, 2.0]}).to_parquet(
        tmp_path / "orders.parquet"
    )
    frame = read_raw(spec=TableSource(name="orders", path=tmp_path / "orders.parquet"))
    assert frame["net_amount"].tolist() == [1.5, 2.0]  # Parquet keeps its types
    assert frame[ROW_COLUMN].tolist() == [1, 2]
    assert frame.attrs == {"file": "orders.parquet", "row_word": "row"}


# --- column mapping -----------------------------------------------------------------------


def test_map_columns_renames_mapped_columns_to_contract_names():
    frame = orders_raw().rename(columns={"order_id": "Beleg", "status": "Status"})
    findings = Findings()
    spec = orders_spec(columns={"order_id": "Beleg", "status": "Status"})
    mapped = map_columns(frame=frame, spec=spec, findings=findings)
    assert findings.errors == []
    assert mapped.columns.tolist()[0] == "order_id" and "status" in mapped.columns
    assert mapped["order_id"].tolist() == ["O1", "O2", "O3"]
    assert mapped.attrs["file"] == "orders.csv"


def test_map_columns_reports_a_mapping_to_a_column_the_file_lacks():
    findings = Findings()
    map_columns(
        frame=orders_raw(), spec=orders_spec(columns={"net_amount": "Revenue"}), findings=findings
    )
    assert len(findings.errors) == 1
    problem = findings.errors[0]
    assert (problem.file, problem.column) == ("orders.csv", "Revenue")
    assert problem.rule == (
        "the YAML maps 'net_amount' to column 'Revenue', which the file does not have (its "
        "columns: order_id, account_id, order_date, net_amount, quantity, product_category, "
        "status)"
    )


def test_map_columns_suggests_the_closest_file_column_for_a_missing_one():
    frame = orders_raw().rename(columns={"net_amount": "Net-Amount", "quantity": "Qty"})
    findings = Findings()
    map_columns(frame=frame, spec=orders_spec(), findings=findings)
    by_column = {p.column: p.rule for p in findings.errors}
    assert set(by_column) == {"net_amount", "quantity"}
    assert by_column["net_amount"] == (
        "required column 'net_amount' is missing; the file has 'Net-Amount', which looks like "
        "it: map it in the source YAML (tables: orders: columns: {net_amount: Net-Amount})"
    )
    # 'Qty' is too far from 'quantity' for a hint: the message lists the file's columns
    assert by_column["quantity"] == (
        "required column 'quantity' is missing (the file's columns: order_id, account_id, "
        "order_date, Net-Amount, Qty, product_category, status)"
    )


# --- types and value maps -----------------------------------------------------------------


def test_coerce_types_cleans_text_numbers_and_dates():
    frame = orders_raw(
        order_id=[" O1 ", "O2", "O3"],
        net_amount=["+100.50", " 80 ", "-1e3"],
        status=["Completed ", "COMPLETED", "returned"],
    )
    findings = Findings()
    out = coerce_types(frame=frame, spec=orders_spec(), findings=findings)
    assert findings.errors == []
    assert out["order_id"].tolist() == ["O1", "O2", "O3"]
    assert out["net_amount"].tolist() == [100.5, 80.0, -1000.0]
    assert out["net_amount"].dtype == "float64"
    assert out["status"].tolist() == ["completed", "completed", "returned"]
    assert out["order_date"].tolist() == [
        pd.Timestamp("2024-01-05"),
        pd.Timestamp("2024-03-01"),
        pd.Timestamp("2024-02-01"),
    ]
    assert frame["net_amount"].tolist()[0] == "+100.50"  # the input frame is not changed


def test_value_maps_recode_cleaned_category_spellings():
    frame = orders_raw(status=[" Done", "storno", "returned"])
    spec = orders_spec(values={"status": {"DONE": "completed", "Storno ": "cancelled"}})
    findings = Findings()
    out = coerce_types(frame=frame, spec=spec, findings=findings)
    assert out["status"].tolist() == ["completed", "cancelled", "returned"]  # unmapped kept


def test_text_in_a_numeric_column_is_an_error_with_its_lines():
    findings = Findings()
    frame = orders_raw(net_amount=["1.000,00", "80", ""])
    out = coerce_types(frame=frame, spec=orders_spec(), findings=findings)
    assert [str(p) for p in findings.errors] == [
        "orders.csv, column 'net_amount': text in a numeric column; these look like European "
        "numbers (1.234,56): set 'decimal: \",\"' and 'thousands: \".\"' for this table in the "
        "source YAML (1 row, e.g. line 2 (net_amount='1.000,00'))"
    ]
    assert out["net_amount"].isna().tolist() == [True, False, True]  # the empty cell is missing


def test_table_date_format_and_a_column_override():
    frame = raw_frame(
        file="leads.csv",
        created_date=["05.01.2024", "31.12.2023"],
        won_date=["01/02/2024", ""],
    )
    spec = TableSource(
        name="leads",
        path=Path("leads.csv"),
        date_format="%d.%m.%Y",
        date_formats={"won_date": "%d/%m/%Y"},
    )
    findings = Findings()
    out = coerce_types(frame=frame, spec=spec, findings=findings)
    assert findings.errors == []
    assert out["created_date"].tolist() == [pd.Timestamp("2024-01-05"), pd.Timestamp("2023-12-31")]
    assert out["won_date"].iloc[0] == pd.Timestamp("2024-02-01") and pd.isna(out["won_date"][1])


def test_dates_all_in_another_format_name_the_format_to_set():
    findings = Findings()
    frame = orders_raw(order_date=["05/01/2024", "01/03/2024", "20/02/2024"])
    coerce_types(frame=frame, spec=orders_spec(), findings=findings)
    assert [p.rule for p in findings.errors] == [
        "dates that do not parse as ISO 8601 (YYYY-MM-DD); they look like '%d/%m/%Y': set "
        "'date_format: \"%d/%m/%Y\"' in the YAML"
    ]
    assert findings.errors[0].count == 3


def test_mixed_date_formats_name_the_odd_rows():
    findings = Findings()
    frame = orders_raw(order_date=["2024-01-05", "20.02.2024", "2024-02-01"])
    coerce_types(frame=frame, spec=orders_spec(), findings=findings)
    (problem,) = findings.errors
    assert problem.rule == (
        "mixed date formats: most dates parse as ISO 8601 (YYYY-MM-DD), these look like "
        "'%d.%m.%Y'; export one format or set 'date_formats' in the source YAML"
    )
    assert problem.rows == ("line 3 (order_date='20.02.2024')",)


def test_typed_timestamps_lose_their_zone_and_date_columns_their_time():
    stamps = pd.to_datetime(["2024-01-05 23:30", "2024-03-01 08:00"]).tz_localize("Europe/Berlin")
    frame = pd.DataFrame({"touched_at": stamps, "created_date": stamps, ROW_COLUMN: [1, 2]})
    frame.attrs.update(file="t.parquet", row_word="row")
    findings = Findings()
    touch = coerce_types(
        frame=frame[["touched_at", ROW_COLUMN]],
        spec=TableSource(name="touchpoints", path=Path("t.parquet")),
        findings=findings,
    )
    assert touch["touched_at"].tolist()[0] == pd.Timestamp("2024-01-05 23:30")  # wall clock
    leads = coerce_types(
        frame=frame[["created_date", ROW_COLUMN]],
        spec=TableSource(name="leads", path=Path("t.parquet")),
        findings=findings,
    )
    assert leads["created_date"].tolist()[0] == pd.Timestamp("2024-01-05")  # midnight
    assert findings.errors == []
    assert [(w.column, w.rule.split(":")[0]) for w in findings.warnings] == [
        ("touched_at", "time zone Europe/Berlin dropped"),
        ("created_date", "time zone Europe/Berlin dropped"),
    ]  # noted once per column


# --- absent columns -----------------------------------------------------------------------


def test_complete_columns_adds_defaults_and_empty_optional_columns_in_contract_order():
    findings = Findings()
    typed = coerce_types(frame=orders_raw(), spec=orders_spec(), findings=findings)
    orders = complete_columns(frame=typed, table=TABLES["orders"])
    assert orders.columns.tolist() == [
        "order_id",
        "line_number",
        "account_id",
        "order_date",
        "net_amount",
        "gross_margin",
        "quantity",
        "product_category",
        "status",
        ROW_COLUMN,
    ]
    assert orders["line_number"].tolist() == [1.0, 1.0, 1.0]
    assert orders["gross_margin"].isna().all() and orders["gross_margin"].dtype == "float64"

    touch = raw_frame(
        file="t.csv", channel=["email", "web"], touched_at=["2024-01-05", "2024-01-06"]
    )
    touch[ROW_COLUMN] = [7, 9]
    typed = coerce_types(
        frame=touch, spec=TableSource(name="touchpoints", path=Path("t.csv")), findings=findings
    )
    touch = complete_columns(frame=typed, table=TABLES["touchpoints"])
    assert touch["touchpoint_id"].tolist() == ["T7", "T9"]  # named by file line
    assert touch["lead_id"].isna().all() and touch["lead_id"].dtype == TEXT  # empty text

    spend = raw_frame(file="s.csv", channel=["email"], month=["2024-02-17"], spend=["5"])
    typed = coerce_types(
        frame=spend, spec=TableSource(name="channel_spend", path=Path("s.csv")), findings=findings
    )
    spend = complete_columns(frame=typed, table=TABLES["channel_spend"])
    assert spend["month"].tolist() == [pd.Timestamp("2024-02-01")]  # first day of the month
    assert str(spend["month"].dtype) == "datetime64[ns]"
    assert findings.errors == []


# --- Dataset ------------------------------------------------------------------------------


def small_dataset(**extra_tables: pd.DataFrame) -> Dataset:
    accounts = pd.DataFrame(
        {
            "account_id": ["A1", "A2", "A3"],
            "region": ["north", "south", "north"],
            "size_band": ["small", "large", "large"],
            ROW_COLUMN: [1, 2, 3],
        }
    )
    orders = pd.DataFrame(
        {"order_id": ["O1", "O2", "O3", "O4"], "account_id": ["A1", "A2", "A3", "A3"]}
    )
    orders.attrs["file"] = "orders.csv"
    tables = {"accounts": accounts, "orders": orders, **extra_tables}
    return Dataset(
        tables=tables,
        source="own.yaml",
        analysis_date=pd.Timestamp("2024-12-31"),
        fingerprint="f",
        warnings=[Problem("leads.csv", "won_date", "old warning")],
    )


def test_filter_keeps_the_matching_accounts_and_what_follows_them():
    leads = pd.DataFrame({"lead_id": ["L1", "L2", "L3"], "account_id": ["A1", "A2", None]})
    touch = pd.DataFrame(
        {"account_id": ["A1", None, "A2", None], "lead_id": [None, "L1", None, "L3"]}
    )
    ds = small_dataset(leads=leads, touchpoints=touch)
    north = ds.filter(criteria={"region": " North "})  # spelled as a user would
    assert north.tables["accounts"]["account_id"].tolist() == ["A1", "A3"]
    assert north.tables["orders"]["order_id"].tolist() == ["O1", "O3", "O4"]
    assert north.tables["orders"].attrs["file"] == "orders.csv"
    assert north.tables["leads"]["lead_id"].tolist() == ["L1"]  # by account: no region column
    assert north.tables["touchpoints"].index.tolist() == [0, 1]  # A1's, and lead L1's
    assert north.filters == {"region": " North "}
    assert north.warnings == ds.warnings  # no spend, nothing to warn about
    assert ds.tables["accounts"]["account_id"].tolist() == ["A1", "A2", "A3"]  # unchanged
    both = north.filter(criteria={"size_band": ["large"]})
    assert both.tables["accounts"]["account_id"].tolist() == ["A3"]
    assert both.filters == {"region": " North ", "size_band": ["large"]}
    assert ds.filter(criteria=None) is ds and ds.filter(criteria={}) is ds


def test_filter_keeps_leads_by_their_own_column_and_warns_that_spend_is_not_split():
    leads = pd.DataFrame(
        {
            "lead_id": ["L1", "L2", "L3"],
            "account_id": ["A1", "A1", None],
            "region": ["north", "south", "north"],
        }
    )
    spend = pd.DataFrame({"channel": ["email"], "spend": [10.0]})
    north = small_dataset(leads=leads, channel_spend=spend).filter(criteria={"region": "north"})
    # L2 belongs to a northern account but is itself southern; L3 is a prospect of the north
    assert north.tables["leads"]["lead_id"].tolist() == ["L1", "L3"]
    assert north.tables["channel_spend"] is spend
    assert [w.file for w in north.warnings] == ["leads.csv", "channel_spend"]
    assert north.warnings[-1].rule.startswith(
        "spend is company-wide: the filter {'region': 'north'} does not split it"
    )


def test_filter_errors_name_the_columns_and_values_there_are():
    ds = small_dataset()
    with pytest.raises(ValueError) as info:
        ds.filter(criteria={"country": "DE"})
    assert str(info.value) == (
        "Filter column 'country' is not an accounts column; use one of account_id, region, "
        "size_band."
    )
    with pytest.raises(ValueError) as info:
        ds.filter(criteria={"region": "east"})
    assert str(info.value) == (
        "The filter region='east' selects no accounts; the accounts table has region values: "
        "north, south."
    )
    with pytest.raises(ValueError, match=r"no account matches all of them"):
        ds.filter(criteria={"region": "south", "size_band": "small"})
    with pytest.raises(ValueError, match="'_source_row' is not an accounts column"):
        ds.filter(criteria={ROW_COLUMN: 1})


def test_require_and_missing_sentence_name_the_missing_tables():
    ds = small_dataset()
    ds.require("accounts", "orders", purpose="segmentation")  # nothing missing: no error
    expected = (
        "Attribution needs the leads table (CRM opportunities) and the touchpoints table "
        "(marketing and sales interactions), which the data source 'own.yaml' does not "
        "provide; add it to the source YAML to get this part."
    )
    with pytest.raises(MissingTableError) as info:
        ds.require("leads", "orders", "touchpoints", purpose="attribution")
    assert str(info.value) == expected
    assert ds.missing_sentence("leads", "touchpoints", purpose="attribution") == expected
    assert ds.missing_sentence("orders", purpose="attribution") is None
    with pytest.raises(MissingTableError, match=r"^This step needs the leads table"):
        ds["leads"]
    assert ds.has("orders") and not ds.has("leads")


def test_filter_without_accounts_is_a_missing_table_sentence():
    ds = small_dataset()
    del ds.tables["accounts"]
    with pytest.raises(MissingTableError, match=r"^Filtering by account attributes needs"):
        ds.filter(criteria={"region": "north"})


# --- fingerprint --------------------------------------------------------------------------


def test_fingerprint_is_stable_for_the_same_bytes_and_changed_by_one_byte(tmp_path):
    (tmp_path / "orders.csv").write_text(ORDERS, encoding="utf-8")
    (tmp_path / "accounts.csv").write_text(ACCOUNTS, encoding="utf-8")
    source = write_yaml(tmp_path, "tables:\n  orders: orders.csv\n  accounts: accounts.csv\n")
    first = fingerprint(config=read_config(path=source))
    assert len(first) == 16 and int(first, 16) >= 0  # 16 hex digits
    assert fingerprint(config=read_config(path=source)) == first
    assert load_dataset(source, analysis_date="2024-12-31").fingerprint == first
    # the YAML's table order does not matter
    swapped = write_yaml(tmp_path, "tables:\n  accounts: accounts.csv\n  orders: orders.csv\n")
    assert fingerprint(config=read_config(path=swapped)) == first
    # one byte of one file: 100.50 -> 100.51
    (tmp_path / "orders.csv").write_text(ORDERS.replace("100.50", "100.51"), encoding="utf-8")
    changed = fingerprint(config=read_config(path=source))
    assert changed != first
    # back to the same bytes: the same fingerprint again
    (tmp_path / "orders.csv").write_text(ORDERS, encoding="utf-8")
    assert fingerprint(config=read_config(path=source)) == first


def test_fingerprint_changes_with_the_mapping(tmp_path):
    (tmp_path / "orders.csv").write_text(ORDERS, encoding="utf-8")
    plain = write_yaml(tmp_path, "tables:\n  orders: orders.csv\n")
    first = fingerprint(config=read_config(path=plain))
    recoded = write_yaml(
        tmp_path, "tables:\n  orders: {file: orders.csv, values: {status: {done: completed}}}\n"
    )
    assert fingerprint(config=read_config(path=recoded)) != first


# --- new source settings (issue #12) -------------------------------------------------------


def test_read_config_keeps_the_settings_for_real_exports(tmp_path):
    source = write_yaml(
        tmp_path,
        """\
        analysis_date: 2025-06-30
        currency: EUR
        display_names: {Contract: Contract type}
        tables:
          orders:
            file: orders.csv
            sep: ";"
            thousands: "."
            header_row: 3
            constants: {status: completed}
            generate: order_id
          accounts:
            file: accounts.csv
            attributes: {Contract: categorical, MonthlyCharges: numeric}
            fill_empty: {industry: unknown}
        """,
    )
    config = read_config(path=source)
    assert (config.currency, config.display_names) == ("EUR", {"Contract": "Contract type"})
    orders = config.tables["orders"]
    assert (orders.sep, orders.thousands, orders.header_row) == (";", ".", 3)
    assert orders.decimal == ","  # a thousands dot implies a decimal comma
    assert orders.constants == {"status": "completed"} and orders.generate == ("order_id",)
    accounts = config.tables["accounts"]
    assert accounts.fill_empty == {"industry": "unknown"}
    assert config.attributes == {"Contract": "categorical", "MonthlyCharges": "numeric"}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("{file: o.csv, decimal: ';'}", "table 'orders' decimal must be '.' or ',', got ';'."),
        (
            "{file: o.csv, decimal: ',', thousands: ','}",
            "thousands must be one of '.', ',', ' ', \"'\" and differ from the decimal",
        ),
        ("{file: o.csv, header_row: 0}", "header_row must be a line number from 1, got 0."),
        (
            "{file: o.csv, values: {net_amount: {a: b}}}",
            "has values: for 'net_amount', which is not a text column of the contract",
        ),
        (
            "{file: o.csv, attributes: {Contract: categorical}}",
            "table 'orders' has attributes:, which only the accounts table takes",
        ),
        (
            "{file: o.csv, columns: {status: S}, constants: {status: completed}}",
            "both maps and sets a constant for ['status']; keep one.",
        ),
        (
            "{file: o.csv, fill_empty: {order_id: x}}",
            "cannot fill_empty 'order_id': it is an id",
        ),
        (
            "{file: o.csv, fill_empty: {net_amount: 0}}",
            "has fill_empty: for 'net_amount', which is not a text column",
        ),
        ("{file: o.csv, constants: {revenue: 1}}", "constants for unknown contract column(s)"),
    ],
)
def test_read_config_rejects_contradicting_settings(tmp_path, table, message):
    source = write_yaml(tmp_path, f"analysis_date: 2025-01-01\ntables:\n  orders: {table}\n")
    with pytest.raises(ValueError) as info:
        read_config(path=source)
    assert str(info.value).startswith(f"{source}: ") and message in str(info.value)


def test_fingerprint_counts_new_settings_only_when_set(tmp_path):
    (tmp_path / "orders.csv").write_text(ORDERS, encoding="utf-8")
    plain = fingerprint(config=read_config(write_yaml(tmp_path, "tables:\n  orders: orders.csv\n")))
    same = write_yaml(tmp_path, "tables:\n  orders: {file: orders.csv, header_row: 1}\n")
    assert fingerprint(config=read_config(path=same)) == plain  # the default, spelled out
    other = write_yaml(tmp_path, "tables:\n  orders: {file: orders.csv, header_row: 2}\n")
    assert fingerprint(config=read_config(path=other)) != plain


def test_demo_dataset_names_its_currency_and_no_other_extras(demo):
    assert (demo.currency, demo.display_names, demo.attributes) == ("EUR", {}, {})
    assert demo.absent_columns("orders") == () and demo.absent_columns("nope") == ()


# --- the data shapes of real exports (tests/fixtures/exports/shapes.py) ---------------------


def test_shape1_order_log_only(tmp_path):
    ds = load_dataset(shapes.write_shape1(tmp_path))
    assert set(ds.tables) == {"orders"} and ds.currency == "GBP"
    orders = ds["orders"]
    assert orders["order_id"].tolist() == ["O2", "O3", "O4", "O5", "O6", "O7"]
    assert orders["line_number"].tolist() == [1.0] * 6
    assert orders["net_amount"].sum() == pytest.approx(217.39)
    assert set(ds.absent_columns("orders")) == {"line_number", "gross_margin"}
    features = features_for(ds).set_index("account_id")
    assert features.loc["C1", "n_orders"] == 3  # two orders on 2024-01-05, one in April
    assert features.loc["C2", "monetary_total"] == pytest.approx(109.89)


def test_shape2_subscription_billing_carries_free_attributes(tmp_path):
    ds = load_dataset(shapes.write_shape2(tmp_path))
    assert ds.currency == "USD"
    assert ds.display_names == {"Contract": "Contract type", "MonthlyCharges": "Monthly charges"}
    assert ds.attributes == {
        "Contract": "categorical",
        "PaymentMethod": "categorical",
        "MonthlyCharges": "numeric",
    }
    accounts = ds["accounts"]
    assert accounts["account_id"].tolist() == accounts["account_name"].tolist()  # one column
    assert accounts["Contract"].tolist() == ["Month-to-month", "Two year", "One year"]
    assert accounts["MonthlyCharges"].tolist() == [29.85, 104.80, 56.95]
    assert accounts["size_band"].tolist() == ["unknown"] * 3
    features = features_for(ds).set_index("account_id")
    assert features.loc["Beta AG", "Contract"] == "Two year"
    assert features.loc["Gamma KG", "MonthlyCharges"] == pytest.approx(56.95)
    assert features.loc["Alpha GmbH", "n_orders"] == 6
    # the survival code passes frames, not the Dataset: the attributes ride on the frame
    direct = customer_features(ds["orders"], ds["accounts"], as_of="2024-06-30")
    assert "PaymentMethod" in direct.columns
    two_year = ds.filter(criteria={"Contract": "Two year"})
    assert two_year["accounts"]["account_id"].tolist() == ["Beta AG"]
    assert set(two_year["orders"]["account_id"]) == {"Beta AG"}


def test_shape3_lead_funnel_only(tmp_path):
    ds = load_dataset(shapes.write_shape3(tmp_path))
    assert set(ds.tables) == {"leads"}
    leads = ds["leads"]
    assert leads["source_channel"].tolist() == [
        "Web",
        "Web",
        "unknown",
        "Partner Referral",
        "unknown",
    ]
    assert leads["won_date"].notna().sum() == 2 and leads["lost_date"].isna().all()
    assert {"intent_date", "proposal_date", "negotiation_date", "lost_date"} <= set(
        ds.absent_columns("leads")
    )
    (filled,) = ds.warnings
    assert filled.column == "source_channel" and filled.rows[0].startswith("line 4 ")
    with pytest.raises(MissingTableError, match="needs the orders table"):
        ds["orders"]


def test_shape5_european_erp_exports(tmp_path):
    ds = load_dataset(shapes.write_shape5(tmp_path))
    orders = ds["orders"]
    assert orders["net_amount"].tolist() == [1234.56, 300.0, 2000.0, -150.5]
    assert orders["quantity"].tolist() == [1200.0, 10.0, 5.0, 1.0]
    assert orders["product_category"].tolist()[1] == "Müller-Teile"  # cp1252
    assert orders["status"].tolist() == ["completed"] * 3 + ["returned"]
    assert orders["_source_row"].tolist() == [4, 5, 6, 7]
    accounts = ds["accounts"]
    assert accounts["acquired_date"].tolist() == [
        pd.Timestamp("2024-01-05"),
        pd.Timestamp("2024-02-17"),
    ]
    assert accounts["region"].tolist() == ["north", "south"]  # values: on a text column
    assert ds["touchpoints"]["touched_at"].dt.day.tolist() == [4, 16, 17]  # local days kept
    rules = sorted(w.rule.split(" (")[0].split(":")[0] for w in ds.warnings)
    assert rules == ["a trailing total row was dropped", "time-zone offsets dropped"]
