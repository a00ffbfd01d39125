"""Bad input gets a clear error naming file, column and example rows; raw files stay unchanged.

Each test writes a small own-data source (CSV unless stated) into ``tmp_path``, loads it through
its YAML file, and checks the message of the :class:`DataValidationError`. CSV rows are named by
file line (the header is line 1), Parquet rows by 1-based row number.
"""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from helpers.loading import clean_text, load_dataset
from helpers.validation import DataValidationError, MissingTableError

ACCOUNTS = """account_id,account_name,industry,size_band,region,ownership_type,business_type,acquisition_channel,acquired_date
A1,Acme,machinery,small,north,private,brand_owner,search_ads,2024-01-05
A2,Bolt & Co,chemicals,large,south,state_owned,trader_reseller,trade_show,2024-02-01
"""
ORDERS = """order_id,account_id,order_date,net_amount,quantity,product_category,status
O1,A1,2024-01-05,100.50,3,bearings,completed
O2,A1,2024-03-01,80.00,2,bearings,completed
O3,A2,2024-02-01,1000.00,10,tooling,completed
R1,A2,2024-02-20,-200.00,2,tooling,returned
"""
LEADS = """lead_id,account_id,source_channel,created_date,intent_date,proposal_date,negotiation_date,won_date,lost_date
L1,A1,search_ads,2023-12-01,2023-12-05,2023-12-15,2023-12-20,2024-01-05,
L2,A2,trade_show,2024-01-10,2024-01-12,2024-01-20,2024-01-25,2024-02-01,
L3,,search_ads,2024-01-15,,,,,2024-02-15
"""
SPEND = """channel,month,spend
search_ads,2024-01,500
trade_show,2024-01,2000
"""


def make_source(
    tmp_path: Path,
    files: dict[str, str],
    yaml_tables: str | None = None,
    analysis_date: str = "2024-12-31",
) -> Path:
    """Write CSV files and a YAML source naming them; ``yaml_tables`` overrides the tables part."""
    for name, text in files.items():
        (tmp_path / f"{name}.csv").write_text(textwrap.dedent(text), encoding="utf-8")
    tables = yaml_tables or "\n".join(f"  {n}: {{file: {n}.csv}}" for n in files)
    source = tmp_path / "source.yaml"
    source.write_text(f"analysis_date: {analysis_date}\ntables:\n{tables}\n", encoding="utf-8")
    return source


def load_error(source: Path) -> str:
    with pytest.raises(DataValidationError) as info:
        load_dataset(source)
    return str(info.value)


def base_files(**changes: str) -> dict[str, str]:
    files = {"accounts": ACCOUNTS, "orders": ORDERS, "leads": LEADS, "channel_spend": SPEND}
    files.update(changes)
    return files


def test_clean_source_loads(tmp_path):
    ds = load_dataset(make_source(tmp_path, base_files()))
    assert len(ds["orders"]) == 4 and ds["orders"]["net_amount"].sum() == pytest.approx(980.5)
    assert ds.analysis_date == pd.Timestamp("2024-12-31")


def test_missing_required_column(tmp_path):
    orders = ORDERS.replace(",quantity", "").replace(",3,", ",").replace(",2,", ",")
    orders = orders.replace(",10,", ",")
    message = load_error(make_source(tmp_path, base_files(orders=orders)))
    assert "orders.csv, column 'quantity': required column 'quantity' is missing" in message


def test_renamed_column_not_in_mapping_gets_a_hint(tmp_path):
    orders = ORDERS.replace("net_amount", "NetAmount")
    message = load_error(make_source(tmp_path, base_files(orders=orders)))
    assert "orders.csv, column 'net_amount'" in message
    assert "the file has 'NetAmount'" in message and "columns: {net_amount: NetAmount}" in message


def test_mapping_to_a_column_the_file_lacks(tmp_path):
    tables = """  orders:
    file: orders.csv
    columns: {net_amount: Revenue}"""
    message = load_error(make_source(tmp_path, {"orders": ORDERS}, tables))
    assert "orders.csv, column 'Revenue': the YAML maps 'net_amount' to column 'Revenue'" in message


def test_text_in_numeric_column(tmp_path):
    orders = ORDERS.replace("80.00", "eighty").replace("1000.00", '"1.000,00"')
    message = load_error(make_source(tmp_path, base_files(orders=orders)))
    assert "orders.csv, column 'net_amount': text in a numeric column; these look like" in message
    assert "set 'decimal: \",\"' and 'thousands: \".\"'" in message and "(2 rows" in message
    assert "line 3 (net_amount='eighty')" in message and "line 4 (net_amount='1.000,00')" in message


def test_unparseable_dates(tmp_path):
    orders = ORDERS.replace("2024-03-01", "not a date")
    message = load_error(make_source(tmp_path, base_files(orders=orders)))
    assert "orders.csv, column 'order_date': dates that do not parse as ISO 8601" in message
    assert "line 3 (order_date='not a date')" in message


def test_mixed_format_dates(tmp_path):
    orders = ORDERS.replace("2024-03-01", "01/03/2024").replace("2024-02-20", "20/02/2024")
    message = load_error(make_source(tmp_path, base_files(orders=orders)))
    assert "column 'order_date': mixed date formats" in message
    assert "look like '%d/%m/%Y'" in message and "line 3" in message and "line 5" in message


def test_null_ids(tmp_path):
    orders = ORDERS.replace("O2,A1", ",A1")
    message = load_error(make_source(tmp_path, base_files(orders=orders)))
    assert "orders.csv, column 'order_id': empty cells in a column that must be filled" in message
    assert "line 3" in message


def test_duplicate_ids(tmp_path):
    accounts = (
        ACCOUNTS + "A1,Acme again,machinery,small,north,private,brand_owner,search_ads,2024-01-05\n"
    )
    message = load_error(make_source(tmp_path, base_files(accounts=accounts)))
    assert (
        "accounts.csv, column 'account_id': duplicate values in a column that must be unique"
        in message
    )
    assert "line 2 (account_id='A1')" in message and "line 4 (account_id='A1')" in message


def test_duplicate_order_lines(tmp_path):
    orders = ORDERS + "O1,A1,2024-01-05,100.50,3,bearings,completed\n"
    message = load_error(make_source(tmp_path, base_files(orders=orders)))
    assert "duplicate key (order_id, line_number)" in message and "line 6" in message


def test_order_lines_for_unknown_accounts(tmp_path):
    orders = ORDERS + "O9,A404,2024-05-01,10,1,bearings,completed\n"
    message = load_error(make_source(tmp_path, base_files(orders=orders)))
    assert (
        "orders.csv, column 'account_id': order lines for accounts not in accounts.csv" in message
    )
    assert "line 6 (order_id='O9', account_id='A404')" in message


def test_negative_amount_not_marked_as_return(tmp_path):
    orders = ORDERS.replace("80.00,2,bearings,completed", "-80.00,2,bearings,completed")
    message = load_error(make_source(tmp_path, base_files(orders=orders)))
    assert "negative amounts on lines not marked as returns" in message
    assert "line 3 (order_id='O2', net_amount=-80.0, status='completed')" in message


def test_dates_after_the_analysis_date(tmp_path):
    orders = ORDERS.replace("2024-03-01", "2025-03-01")
    message = load_error(make_source(tmp_path, base_files(orders=orders)))
    assert "orders.csv, column 'order_date': dates after the analysis date 2024-12-31" in message
    assert "line 3 (order_date=2025-03-01)" in message


def test_empty_file(tmp_path):
    message = load_error(make_source(tmp_path, base_files(leads="")))
    assert "leads.csv: file is empty (0 bytes)" in message


def test_header_without_rows(tmp_path):
    message = load_error(make_source(tmp_path, base_files(leads=LEADS.splitlines()[0] + "\n")))
    assert "leads.csv: file has a header but no data rows" in message


def test_non_utf8_file(tmp_path):
    source = make_source(tmp_path, base_files())
    (tmp_path / "accounts.csv").write_bytes(ACCOUNTS.replace("Acme", "Müller").encode("cp1252"))
    message = load_error(source)
    assert "accounts.csv: not valid utf-8 text (byte 0xfc" in message
    assert "set 'encoding:'" in message


def test_non_utf8_file_loads_with_its_encoding(tmp_path):
    files = base_files()
    tables = "\n".join(f"  {n}: {{file: {n}.csv}}" for n in files if n != "accounts")
    tables += "\n  accounts: {file: accounts.csv, encoding: cp1252}"
    source = make_source(tmp_path, files, tables)
    (tmp_path / "accounts.csv").write_bytes(ACCOUNTS.replace("Acme", "Müller").encode("cp1252"))
    assert "Müller" in set(load_dataset(source)["accounts"]["account_name"])


def test_unknown_channel_in_spend(tmp_path):
    spend = SPEND + "search_adds,2024-02,300\n"
    message = load_error(make_source(tmp_path, base_files(channel_spend=spend)))
    assert "channel_spend.csv, column 'channel': spend for channel 'search_adds'" in message
    assert "did you mean 'search_ads'?" in message and "line 4" in message


def test_category_outside_the_allowed_list(tmp_path):
    orders = ORDERS.replace(
        "O2,A1,2024-03-01,80.00,2,bearings,completed", "O2,A1,2024-03-01,80.00,2,bearings,shipped"
    )
    message = load_error(make_source(tmp_path, base_files(orders=orders)))
    assert (
        "column 'status': values outside the allowed list completed, cancelled, returned" in message
    )


def test_all_problems_are_reported_together(tmp_path):
    orders = ORDERS.replace("80.00", "eighty")
    spend = SPEND.replace("500", "-5")
    message = load_error(make_source(tmp_path, base_files(orders=orders, channel_spend=spend)))
    assert "orders.csv" in message and "channel_spend.csv" in message
    assert message.startswith("2 problem(s) in the input data")
    assert "Raw files were not changed" in message


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def test_raw_files_are_never_modified(tmp_path):
    good = tmp_path / "good"
    bad = tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    load_dataset(make_source(good, base_files()))
    before = _digests(bad)
    source = make_source(bad, base_files(orders=ORDERS.replace("80.00", "x")))
    before = _digests(bad)
    load_error(source)
    assert _digests(bad) == before
    before_good = _digests(good)
    load_dataset(good / "source.yaml")
    assert _digests(good) == before_good


def test_parquet_rows_are_numbered_from_one(tmp_path):
    frame = pd.read_csv(pd.io.common.StringIO(ORDERS))
    frame.loc[1, "net_amount"] = -5.0
    frame.to_parquet(tmp_path / "orders.parquet")
    source = tmp_path / "source.yaml"
    source.write_text("analysis_date: 2024-12-31\ntables:\n  orders: {file: orders.parquet}\n")
    message = load_error(source)
    assert "orders.parquet, column 'net_amount'" in message and "row 2 (order_id='O2'" in message


def test_excel_file_with_mapping_and_date_format(tmp_path):
    frame = pd.read_csv(pd.io.common.StringIO(ORDERS), dtype=str)
    frame["order_date"] = pd.to_datetime(frame["order_date"]).dt.strftime("%d.%m.%Y")
    frame = frame.rename(columns={"order_id": "Beleg", "status": "Status"})
    frame["Status"] = frame["Status"].replace({"completed": "Erledigt", "returned": "Retoure"})
    frame.to_excel(tmp_path / "orders.xlsx", sheet_name="Orders", index=False)
    source = tmp_path / "source.yaml"
    source.write_text(
        textwrap.dedent("""\
        analysis_date: 2024-12-31
        tables:
          orders:
            file: orders.xlsx
            sheet: Orders
            date_format: "%d.%m.%Y"
            columns: {order_id: Beleg, status: Status}
            values: {status: {Erledigt: completed, Retoure: returned}}
        """)
    )
    orders = load_dataset(source)["orders"]
    assert list(orders["status"]) == ["completed", "completed", "completed", "returned"]
    assert orders["order_date"].iloc[1] == pd.Timestamp("2024-03-01")


def test_unknown_table_in_yaml(tmp_path):
    source = tmp_path / "source.yaml"
    source.write_text("tables:\n  orders: {file: o.csv}\n  customers: {file: c.csv}\n")
    with pytest.raises(ValueError, match=r"unknown table\(s\) \['customers'\]"):
        load_dataset(source)


def test_orders_only_source_and_missing_table_sentence(tmp_path):
    # orders for accounts we do not have: fine when no accounts table is given
    ds = load_dataset(make_source(tmp_path, {"orders": ORDERS}))
    assert ds.has("orders") and not ds.has("leads")
    with pytest.raises(MissingTableError) as info:
        ds.require("leads", purpose="lead grading")
    sentence = str(info.value)
    assert sentence.startswith("Lead grading needs the leads table (CRM opportunities)")
    assert ". " not in sentence and sentence.endswith("to get this part.")  # one sentence
    assert ds.missing_sentence("orders", purpose="x") is None


def test_text_is_trimmed_and_categories_snake_cased_value_by_value():
    raw = pd.Series([" Trader/reseller ", None, "", "State-owned", float("nan"), 12, "x"])
    raw.index = [6, 5, 4, 3, 2, 1, 0]
    lower = clean_text(values=raw, lower=True)
    assert lower.tolist() == ["trader_reseller", None, None, "state_owned", None, "12", "x"]
    assert lower.index.tolist() == [6, 5, 4, 3, 2, 1, 0]
    assert clean_text(values=raw, lower=False).tolist()[0] == "Trader/reseller"
    mixed = pd.Series([1, 1.0, True, False, -0.0, None, "A"], dtype=object)  # Parquet objects
    assert clean_text(values=mixed, lower=False).tolist() == [
        "1",
        "1.0",
        "True",
        "False",
        "-0.0",
        None,
        "A",
    ]
