"""Bad input gets a clear error naming file, column and example rows; raw files stay unchanged.

Each test writes a small own-data source (CSV unless stated) into ``tmp_path``, loads it through
its YAML file, and checks the message of the :class:`DataValidationError` (or the loaded values,
for the formats real exports bring). CSV rows are named by file line (the header is line 1,
unless ``header_row`` says otherwise), Parquet rows by 1-based row number. The ``*_unchanged``
helpers also check that every raw file in the folder has the same SHA-256 after the load.
"""

from __future__ import annotations

import datetime as dt
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


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def load_error_unchanged(source: Path) -> str:
    """The load's error message; the folder's raw files are byte-for-byte unchanged."""
    before = _digests(source.parent)
    message = load_error(source)
    assert _digests(source.parent) == before
    return message


def config_error_unchanged(source: Path) -> str:
    """The message of a source YAML that :func:`read_config` refuses (raw files unchanged)."""
    before = _digests(source.parent)
    with pytest.raises(ValueError) as info:
        load_dataset(source)
    assert _digests(source.parent) == before
    message = str(info.value)
    assert message.startswith(f"{source}: ")
    return message


def loaded_unchanged(source: Path):
    before = _digests(source.parent)
    ds = load_dataset(source)
    assert _digests(source.parent) == before
    return ds


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
    message = load_error_unchanged(make_source(tmp_path, base_files(orders=orders)))
    assert "orders.csv, column 'quantity': required column 'quantity' is missing" in message


def test_renamed_column_not_in_mapping_gets_a_hint(tmp_path):
    orders = ORDERS.replace("net_amount", "NetAmount")
    message = load_error_unchanged(make_source(tmp_path, base_files(orders=orders)))
    assert "orders.csv, column 'net_amount'" in message
    assert "the file has 'NetAmount'" in message and "columns: {net_amount: NetAmount}" in message


def test_mapping_to_a_column_the_file_lacks(tmp_path):
    tables = """  orders:
    file: orders.csv
    columns: {net_amount: Revenue}"""
    message = load_error_unchanged(make_source(tmp_path, {"orders": ORDERS}, tables))
    assert "orders.csv, column 'Revenue': the YAML maps 'net_amount' to column 'Revenue'" in message


def test_text_in_numeric_column(tmp_path):
    orders = ORDERS.replace("80.00", "eighty").replace("1000.00", '"1.000,00"')
    message = load_error_unchanged(make_source(tmp_path, base_files(orders=orders)))
    assert "orders.csv, column 'net_amount': text in a numeric column; these look like" in message
    assert "set 'decimal: \",\"' and 'thousands: \".\"'" in message and "(2 rows" in message
    assert "line 3 (net_amount='eighty')" in message and "line 4 (net_amount='1.000,00')" in message


def test_unparseable_dates(tmp_path):
    orders = ORDERS.replace("2024-03-01", "not a date")
    message = load_error_unchanged(make_source(tmp_path, base_files(orders=orders)))
    assert "orders.csv, column 'order_date': dates that do not parse as ISO 8601" in message
    assert "line 3 (order_date='not a date')" in message


def test_mixed_format_dates(tmp_path):
    orders = ORDERS.replace("2024-03-01", "01/03/2024").replace("2024-02-20", "20/02/2024")
    message = load_error_unchanged(make_source(tmp_path, base_files(orders=orders)))
    assert "column 'order_date': mixed date formats" in message
    assert "look like '%d/%m/%Y'" in message and "line 3" in message and "line 5" in message


def test_null_ids(tmp_path):
    orders = ORDERS.replace("O2,A1", ",A1")
    message = load_error_unchanged(make_source(tmp_path, base_files(orders=orders)))
    assert "orders.csv, column 'order_id': empty cells in a column that must be filled" in message
    assert "line 3" in message


def test_duplicate_ids(tmp_path):
    accounts = (
        ACCOUNTS + "A1,Acme again,machinery,small,north,private,brand_owner,search_ads,2024-01-05\n"
    )
    message = load_error_unchanged(make_source(tmp_path, base_files(accounts=accounts)))
    assert (
        "accounts.csv, column 'account_id': duplicate values in a column that must be unique"
        in message
    )
    assert "line 2 (account_id='A1')" in message and "line 4 (account_id='A1')" in message


def test_duplicate_order_lines(tmp_path):
    orders = ORDERS + "O1,A1,2024-01-05,100.50,3,bearings,completed\n"
    message = load_error_unchanged(make_source(tmp_path, base_files(orders=orders)))
    assert "duplicate key (order_id, line_number)" in message and "line 6" in message


def test_order_lines_for_unknown_accounts(tmp_path):
    orders = ORDERS + "O9,A404,2024-05-01,10,1,bearings,completed\n"
    message = load_error_unchanged(make_source(tmp_path, base_files(orders=orders)))
    assert (
        "orders.csv, column 'account_id': order lines for accounts not in accounts.csv" in message
    )
    assert "line 6 (order_id='O9', account_id='A404')" in message


def test_negative_amount_not_marked_as_return(tmp_path):
    orders = ORDERS.replace("80.00,2,bearings,completed", "-80.00,2,bearings,completed")
    message = load_error_unchanged(make_source(tmp_path, base_files(orders=orders)))
    assert "negative amounts on lines not marked as returns" in message
    assert "line 3 (order_id='O2', net_amount=-80.0, status='completed')" in message


def test_dates_after_the_analysis_date(tmp_path):
    orders = ORDERS.replace("2024-03-01", "2025-03-01")
    message = load_error_unchanged(make_source(tmp_path, base_files(orders=orders)))
    assert "orders.csv, column 'order_date': dates after the analysis date 2024-12-31" in message
    assert "line 3 (order_date=2025-03-01)" in message


def test_empty_file(tmp_path):
    message = load_error_unchanged(make_source(tmp_path, base_files(leads="")))
    assert "leads.csv: file is empty (0 bytes)" in message


def test_header_without_rows(tmp_path):
    message = load_error_unchanged(
        make_source(tmp_path, base_files(leads=LEADS.splitlines()[0] + "\n"))
    )
    assert "leads.csv: file has a header but no data rows" in message


def test_non_utf8_file(tmp_path):
    source = make_source(tmp_path, base_files())
    (tmp_path / "accounts.csv").write_bytes(ACCOUNTS.replace("Acme", "Müller").encode("cp1252"))
    message = load_error_unchanged(source)
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
    message = load_error_unchanged(make_source(tmp_path, base_files(channel_spend=spend)))
    assert "channel_spend.csv, column 'channel': spend for channel 'search_adds'" in message
    assert "did you mean 'search_ads'?" in message and "line 4" in message


def test_category_outside_the_allowed_list(tmp_path):
    orders = ORDERS.replace(
        "O2,A1,2024-03-01,80.00,2,bearings,completed", "O2,A1,2024-03-01,80.00,2,bearings,shipped"
    )
    message = load_error_unchanged(make_source(tmp_path, base_files(orders=orders)))
    assert (
        "column 'status': values outside the allowed list completed, cancelled, returned" in message
    )


def test_all_problems_are_reported_together(tmp_path):
    orders = ORDERS.replace("80.00", "eighty")
    spend = SPEND.replace("500", "-5")
    message = load_error_unchanged(
        make_source(tmp_path, base_files(orders=orders, channel_spend=spend))
    )
    assert "orders.csv" in message and "channel_spend.csv" in message
    assert message.startswith("2 problem(s) in the input data")
    assert "Raw files were not changed" in message


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
    message = load_error_unchanged(source)
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


def test_clean_text_keeps_clean_cells_and_cleans_the_rest_as_value_by_value():
    from helpers.loading import parse

    cells = [
        "A1", "already_clean", "x y", "a-b", "a/b", "Upper", " lead", "trail ", "tab\t",
        "nbsp\u00a0", "\u3000ideo", "\x1cfs", "", "   ", "Ärger", "straße", "ǅ", "İ", "é_ok",
        "line\n", "mid\x0bdle", "ok.dot", None, float("nan"),
    ]  # fmt: skip
    raw = pd.Series(cells, dtype=object, index=range(100, 100 + len(cells)))  # all distinct
    assert not raw.duplicated().iloc[:-1].any()  # (ids-like: the cell-by-cell test is used)
    for lower in (True, False):
        want = parse._clean_unique(raw, lower)  # every distinct value through Python's rules
        got = clean_text(raw, lower=lower)
        pd.testing.assert_series_equal(got, want)
        assert got.tolist() == want.tolist()
    ids = pd.Series([f"T{i}" for i in range(5)] + [None], dtype=object)
    assert not parse._may_change(ids, lower=False).any()  # clean ids take the fast path
    assert parse._may_change(pd.Series([" T1"]), lower=False).all()


# --- issue #12: what real exports bring (each message names file, column and lines) -----------


def test_unknown_top_level_key_has_a_did_you_mean(tmp_path):
    source = make_source(tmp_path, {"orders": ORDERS})
    source.write_text(source.read_text().replace("analysis_date", "analysis_dat"))
    message = config_error_unchanged(source)
    assert "unknown key 'analysis_dat' at the top level; did you mean 'analysis_date'?" in message


def test_unknown_table_key_has_a_did_you_mean(tmp_path):
    tables = '  orders: {file: orders.csv, date_fromat: "%Y-%m-%d"}'
    message = config_error_unchanged(make_source(tmp_path, {"orders": ORDERS}, tables))
    assert "unknown key 'date_fromat' in table 'orders'; did you mean 'date_format'?" in message


def test_missing_analysis_date_is_an_error_not_today(tmp_path):
    source = make_source(tmp_path, {"orders": ORDERS})
    source.write_text(source.read_text().replace("analysis_date: 2024-12-31\n", ""))
    message = load_error_unchanged(source)
    assert f"{source}, column 'analysis_date': the source has no analysis_date" in message
    assert "add 'analysis_date: YYYY-MM-DD'" in message
    assert load_dataset(source, analysis_date="2024-12-31").analysis_date == pd.Timestamp(
        "2024-12-31"
    )  # an explicit date from the caller is enough


def test_value_map_key_that_matches_nothing(tmp_path):
    tables = """  orders:
    file: orders.csv
    values: {status: {Erledigt: completed, returned: returned}}"""
    message = load_error_unchanged(make_source(tmp_path, {"orders": ORDERS}, tables))
    assert "orders.csv, column 'status': values: key(s) 'Erledigt' match no cell" in message
    assert "its values are completed, returned" in message


def test_value_map_for_a_column_the_file_lacks(tmp_path):
    tables = """  orders: {file: orders.csv}
  leads:
    file: leads.csv
    values: {size_band: {Klein: small}}"""
    files = {"orders": ORDERS, "leads": LEADS}
    message = load_error_unchanged(make_source(tmp_path, files, tables))
    assert "leads.csv, column 'size_band': the YAML recodes values of 'size_band', which the " in (
        message
    )


def test_value_map_keys_are_normalised_like_the_column(tmp_path):
    accounts = ACCOUNTS.replace("trader_reseller", "Händler/Reseller")
    tables = """  orders: {file: orders.csv}
  accounts:
    file: accounts.csv
    values: {business_type: {"Händler / Reseller ": trader_reseller}}"""
    files = {"accounts": accounts, "orders": ORDERS}
    ds = loaded_unchanged(make_source(tmp_path, files, tables))
    assert ds["accounts"]["business_type"].tolist() == ["brand_owner", "trader_reseller"]


def test_value_map_on_a_plain_text_column(tmp_path):
    accounts = ACCOUNTS.replace(",north,", ",Nord,").replace(",south,", ",SÜD ,")
    tables = """  orders: {file: orders.csv}
  accounts:
    file: accounts.csv
    values: {region: {nord: north, Süd: south}}"""
    ds = loaded_unchanged(make_source(tmp_path, {"accounts": accounts, "orders": ORDERS}, tables))
    assert ds["accounts"]["region"].tolist() == ["north", "south"]


def test_duplicate_headers(tmp_path):
    orders = ORDERS.replace("product_category,status", "status,status")
    message = load_error_unchanged(make_source(tmp_path, {"orders": orders}))
    assert "orders.csv, column 'status': duplicate header: the column name appears 2 times" in (
        message
    )
    assert "(positions 6, 7)" in message and "line 1" in message


def test_non_finite_numbers(tmp_path):
    orders = ORDERS.replace("80.00", "inf").replace("1000.00", "NaN")
    message = load_error_unchanged(make_source(tmp_path, {"orders": orders}))
    assert "orders.csv, column 'net_amount': non-finite numbers (inf or NaN)" in message
    assert "line 3 (net_amount='inf')" in message and "line 4 (net_amount='NaN')" in message
    assert "text in a numeric column" not in message  # reported once, as what it is


def test_non_finite_numbers_in_parquet(tmp_path):
    frame = pd.read_csv(pd.io.common.StringIO(ORDERS))
    frame.loc[2, "net_amount"] = float("inf")
    frame.to_parquet(tmp_path / "orders.parquet")
    source = tmp_path / "source.yaml"
    source.write_text("analysis_date: 2024-12-31\ntables:\n  orders: {file: orders.parquet}\n")
    message = load_error_unchanged(source)
    assert "orders.parquet, column 'net_amount': non-finite numbers" in message
    assert "row 3 (net_amount=inf)" in message


def test_integers_that_look_like_thousands_dot_numbers(tmp_path):
    orders = ORDERS.replace(",3,bearings", ",1.200,bearings").replace(
        ",10,tooling", ",12.500,tooling"
    )
    message = load_error_unchanged(make_source(tmp_path, {"orders": orders}))
    assert (
        "orders.csv, column 'quantity': numbers that look like integers with a thousands dot"
        in (message)
    )
    assert "line 2 (quantity='1.200')" in message and "line 4 (quantity='12.500')" in message
    assert "set 'thousands: \".\"'" in message


def test_dotted_numbers_that_are_real_decimals_are_not_thousands(tmp_path):
    orders = ORDERS.replace(",3,bearings", ",1.200,bearings").replace(",10,tooling", ",2.5,tooling")
    ds = loaded_unchanged(make_source(tmp_path, {"orders": orders}))
    assert ds["orders"]["quantity"].tolist() == [1.2, 2.0, 2.5, 2.0]


def test_fractional_line_number(tmp_path):
    orders = ORDERS.replace("order_id,", "order_id,line_number,")
    orders = orders.replace("O1,", "O1,1,").replace("O2,", "O2,1.5,").replace("O3,", "O3,1,")
    orders = orders.replace("R1,", "R1,2,")
    message = load_error_unchanged(make_source(tmp_path, {"orders": orders}))
    assert "orders.csv, column 'line_number': fractions in a whole-number column" in message
    assert "line 3 (line_number='1.5')" in message


def test_time_zone_timestamps_keep_their_local_day_with_one_warning(tmp_path):
    touch = """touchpoint_id,account_id,channel,touched_at,kind
T1,A1,search_ads,2024-01-04T23:30:00+02:00,ad_click
T2,A1,search_ads,2024-01-05T22:15:00Z,site_visit
T3,A2,trade_show,2024-02-01 10:00,meeting
T4,A2,trade_show,2024-02-01T08:00:00-0500,meeting
"""
    ds = loaded_unchanged(make_source(tmp_path, base_files(touchpoints=touch)))
    stamps = ds["touchpoints"]["touched_at"].tolist()
    assert stamps[0] == pd.Timestamp("2024-01-04 23:30")  # not moved to 21:30 UTC
    assert stamps[1] == pd.Timestamp("2024-01-05 22:15")
    assert stamps[3] == pd.Timestamp("2024-02-01 08:00")
    zone = [w for w in ds.warnings if "time-zone offsets dropped" in w.rule]
    assert len(zone) == 1 and zone[0].file == "touchpoints.csv"
    assert zone[0].column == "touched_at" and zone[0].count == 3
    assert zone[0].rows[0].startswith("line 2 ") and zone[0].rows[2].startswith("line 5 ")


def test_excel_header_that_does_not_fit_names_the_sheets(tmp_path):
    frame = pd.read_csv(pd.io.common.StringIO(ORDERS), dtype=str)
    with pd.ExcelWriter(tmp_path / "orders.xlsx") as writer:
        pd.DataFrame({"Report": ["Orders 2024"]}).to_excel(writer, sheet_name="Cover", index=False)
        frame.to_excel(writer, sheet_name="Orders", index=False, startrow=2)
    source = tmp_path / "source.yaml"
    source.write_text("analysis_date: 2024-12-31\ntables:\n  orders: {file: orders.xlsx}\n")
    message = load_error_unchanged(source)
    assert "orders.xlsx, column 'order_id': required column 'order_id' is missing" in message
    assert "the header was read from row 1 of sheet 'Cover'" in message
    assert "(the workbook's sheets: Cover, Orders)" in message
    source.write_text(
        "analysis_date: 2024-12-31\ntables:\n"
        "  orders: {file: orders.xlsx, sheet: Orders, header_row: 3}\n"
    )
    orders = loaded_unchanged(source)["orders"]
    assert orders["net_amount"].tolist() == [100.5, 80.0, 1000.0, -200.0]
    assert orders["_source_row"].tolist() == [4, 5, 6, 7]  # Excel row numbers


def test_excel_sheet_that_does_not_exist_lists_the_sheets(tmp_path):
    frame = pd.read_csv(pd.io.common.StringIO(ORDERS), dtype=str)
    frame.to_excel(tmp_path / "orders.xlsx", sheet_name="Auftraege", index=False)
    source = tmp_path / "source.yaml"
    source.write_text(
        "analysis_date: 2024-12-31\ntables:\n  orders: {file: orders.xlsx, sheet: Orders}\n"
    )
    message = load_error_unchanged(source)
    assert "orders.xlsx: the workbook has no sheet 'Orders'; its sheets are Auftraege" in message


def test_line_numbers_with_quoted_multiline_fields(tmp_path):
    orders = ORDERS.replace(",bearings,completed\nO2", ',"bearings\nand more\nparts",completed\nO2')
    orders = orders.replace("1000.00", "x")
    message = load_error_unchanged(make_source(tmp_path, {"orders": orders}))
    # O1 spans lines 2-4, so O2 starts on line 5 and O3 (the bad amount) on line 6
    assert "orders.csv, column 'net_amount': text in a numeric column (1 row, e.g. line 6 " in (
        message
    )


def test_line_numbers_with_blank_lines(tmp_path):
    orders = ORDERS.replace("\nO2", "\n\n\nO2").replace("1000.00", "x")
    message = load_error_unchanged(make_source(tmp_path, {"orders": orders}))
    assert "text in a numeric column (1 row, e.g. line 6 (net_amount='x'))" in message


def test_each_problem_is_reported_once(tmp_path):
    # one export column feeds two numeric contract columns: its bad cell is one problem
    orders = ORDERS.replace("net_amount", "Amount").replace("80.00", "eighty")
    tables = """  orders:
    file: orders.csv
    columns: {net_amount: Amount, gross_margin: Amount}"""
    message = load_error_unchanged(make_source(tmp_path, {"orders": orders}, tables))
    assert message.startswith("1 problem(s)") and message.count("eighty") == 1
    assert "orders.csv, column 'net_amount': text in a numeric column (1 row, e.g. line 3 " in (
        message
    )


def test_unsupported_file_type_is_reported_once_not_nested(tmp_path):
    (tmp_path / "orders.json").write_text("[]", encoding="utf-8")
    source = tmp_path / "source.yaml"
    source.write_text("analysis_date: 2024-12-31\ntables:\n  orders: {file: orders.json}\n")
    message = load_error_unchanged(source)
    assert "orders.json: unsupported file type '.json' (CSV, Parquet or Excel)" in message
    assert "cannot be read" not in message and message.count("problem(s)") == 1


def test_one_export_column_feeds_two_contract_columns(tmp_path):
    accounts = ACCOUNTS.replace("account_id,account_name,", "Company,").replace("A1,Acme,", "A1,")
    accounts = accounts.replace("A2,Bolt & Co,", "A2,")
    tables = """  orders: {file: orders.csv}
  accounts:
    file: accounts.csv
    columns: {account_id: Company, account_name: Company}"""
    ds = loaded_unchanged(make_source(tmp_path, {"accounts": accounts, "orders": ORDERS}, tables))
    accounts = ds["accounts"]
    assert accounts["account_id"].tolist() == ["A1", "A2"]
    assert accounts["account_name"].tolist() == ["A1", "A2"]


# --- shape 5: European ERP exports ---------------------------------------------------------

EURO_ORDERS = """Beleg;Kunde;Datum;Netto;Menge;Gruppe;Status
O1;A1;05.01.2024;1.234,56;3;Lager;completed
O2;A1;01.03.2024;80,00;2;Lager;completed
O3;A2;01.02.2024;12.000,00;10;Müller;completed
"""
EURO_TABLE = """  orders:
    file: orders.csv
    sep: ";"
    decimal: ","
    thousands: "."
    date_format: "%d.%m.%Y"
    columns: {order_id: Beleg, account_id: Kunde, order_date: Datum, net_amount: Netto,
              quantity: Menge, product_category: Gruppe, status: Status}"""


def euro_source(tmp_path: Path, orders: str = EURO_ORDERS, extra: str = "") -> Path:
    (tmp_path / "orders.csv").write_bytes(orders.encode("cp1252"))
    source = tmp_path / "source.yaml"
    source.write_text(
        f"analysis_date: 2024-12-31\ntables:\n{EURO_TABLE}\n    encoding: cp1252\n{extra}",
        encoding="utf-8",
    )
    return source


def test_semicolon_separated_cp1252_export(tmp_path):
    orders = loaded_unchanged(euro_source(tmp_path))["orders"]
    assert orders["product_category"].tolist() == ["Lager", "Lager", "Müller"]
    assert orders["order_date"].tolist()[1] == pd.Timestamp("2024-03-01")


def test_decimal_comma_and_thousands_dot(tmp_path):
    orders = loaded_unchanged(euro_source(tmp_path))["orders"]
    assert orders["net_amount"].tolist() == [1234.56, 80.0, 12000.0]


def test_numbers_that_break_the_declared_separators(tmp_path):
    message = load_error_unchanged(euro_source(tmp_path, EURO_ORDERS.replace("80,00", "1,234.5")))
    assert "orders.csv, column 'net_amount': text in a numeric column (expected decimal ','" in (
        message
    )
    assert "line 3 (net_amount='1,234.5')" in message


def test_currency_symbols_and_codes(tmp_path):
    orders = EURO_ORDERS.replace(";1.234,56;", ";€ 1.234,56;").replace(";80,00;", ";80,00 EUR;")
    orders = orders.replace(";12.000,00;10;Müller;completed", ";-€12.000,00;10;Müller;returned")
    ds = loaded_unchanged(euro_source(tmp_path, orders))
    assert ds["orders"]["net_amount"].tolist() == [1234.56, 80.0, -12000.0]


def test_mixed_currencies_in_one_column(tmp_path):
    orders = EURO_ORDERS.replace(";1.234,56;", ";€ 1.234,56;").replace(";80,00;", ";$80,00;")
    message = load_error_unchanged(euro_source(tmp_path, orders))
    assert "orders.csv, column 'net_amount': more than one currency in one column (EUR, USD)" in (
        message
    )
    assert "line 3 (net_amount='$80,00')" in message


def test_csv_title_rows_above_the_header(tmp_path):
    orders = "Auftragsexport;;;;;;\nStand 31.12.2024;;;;;;\n" + EURO_ORDERS.replace("80,00", "x")
    message = load_error_unchanged(euro_source(tmp_path, orders, "    header_row: 3\n"))
    assert "orders.csv, column 'net_amount'" in message and "line 5 (net_amount='x')" in message


def test_csv_title_rows_without_header_row_get_a_hint(tmp_path):
    orders = "Auftragsexport;;;;;;\n" + EURO_ORDERS
    message = load_error_unchanged(euro_source(tmp_path, orders))
    assert "orders.csv, column 'Beleg': the YAML maps 'order_id' to column 'Beleg'" in message
    assert "line 1 does not look like a header" in message and "set 'header_row:'" in message


def test_excel_title_rows_and_real_date_cells(tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Kunden"
    sheet.append(["Kundenliste"])
    sheet.append([])
    sheet.append(ACCOUNTS.splitlines()[0].split(","))
    first = [*ACCOUNTS.splitlines()[1].split(",")[:-1], dt.datetime(2024, 1, 5, 0, 0)]
    second = [*ACCOUNTS.splitlines()[2].split(",")[:-1], "01.02.2024"]  # a text date
    sheet.append(first)
    sheet.append(second)
    book.save(tmp_path / "accounts.xlsx")
    (tmp_path / "orders.csv").write_text(ORDERS, encoding="utf-8")
    source = tmp_path / "source.yaml"
    source.write_text(
        "analysis_date: 2024-12-31\ntables:\n  orders: {file: orders.csv}\n"
        '  accounts: {file: accounts.xlsx, header_row: 3, date_format: "%d.%m.%Y"}\n'
    )
    accounts = loaded_unchanged(source)["accounts"]
    assert accounts["acquired_date"].tolist() == [
        pd.Timestamp("2024-01-05"),
        pd.Timestamp("2024-02-01"),
    ]
    assert accounts["_source_row"].tolist() == [4, 5]


def test_trailing_total_row_is_dropped_with_a_warning(tmp_path):
    orders = EURO_ORDERS + "Summe;;;13.314,56;15;;\n"
    ds = loaded_unchanged(euro_source(tmp_path, orders))
    assert ds["orders"]["order_id"].tolist() == ["O1", "O2", "O3"]
    (total,) = [w for w in ds.warnings if "total row" in w.rule]
    assert (total.file, total.column) == ("orders.csv", "Beleg")
    assert total.rows == ("line 5 (Beleg='Summe')",)


def test_a_customer_called_total_something_is_not_a_total_row(tmp_path):
    orders = EURO_ORDERS + "O4;A2;02.02.2024;5,00;1;Total Care;completed\n"
    ds = loaded_unchanged(euro_source(tmp_path, orders))
    assert ds["orders"]["order_id"].tolist() == ["O1", "O2", "O3", "O4"]


# --- columns the export lacks --------------------------------------------------------------


def test_constants_and_generated_ids_for_an_order_log(tmp_path):
    (tmp_path / "orders.csv").write_text(
        "cust,day,qty,amount\nA1,2024-01-05,3,10\nA1,2024-01-05,1,5\n"
    )
    source = tmp_path / "source.yaml"
    source.write_text(
        "analysis_date: 2024-12-31\ntables:\n  orders:\n    file: orders.csv\n"
        "    columns: {account_id: cust, order_date: day, quantity: qty, net_amount: amount}\n"
        "    generate: [order_id]\n"
        "    constants: {status: completed, product_category: all}\n"
    )
    orders = loaded_unchanged(source)["orders"]
    assert orders["order_id"].tolist() == ["O2", "O3"]  # one line = one order, by file line
    assert orders["line_number"].tolist() == [1.0, 1.0]
    assert orders["status"].tolist() == ["completed", "completed"]


def test_constant_for_a_column_the_file_has(tmp_path):
    tables = "  orders: {file: orders.csv, constants: {status: completed}}"
    message = load_error_unchanged(make_source(tmp_path, {"orders": ORDERS}, tables))
    assert "orders.csv, column 'status': the YAML sets a constant for 'status', but the file" in (
        message
    )


def test_generate_a_column_that_cannot_be_generated(tmp_path):
    tables = "  orders: {file: orders.csv, generate: [account_id]}"
    message = config_error_unchanged(make_source(tmp_path, {"orders": ORDERS}, tables))
    assert "table 'orders' cannot generate 'account_id'; it can generate only order_id" in message


def test_unknown_is_accepted_in_closed_category_lists_but_not_in_status(tmp_path):
    accounts = ACCOUNTS.replace(",small,", ",Unknown,")
    ds = loaded_unchanged(make_source(tmp_path, {"accounts": accounts, "orders": ORDERS}))
    assert ds["accounts"]["size_band"].tolist() == ["unknown", "large"]
    orders = ORDERS.replace("80.00,2,bearings,completed", "80.00,2,bearings,unknown")
    (tmp_path / "bad").mkdir()
    message = load_error_unchanged(make_source(tmp_path / "bad", {"orders": orders}))
    assert "orders.csv, column 'status': values outside the allowed list" in message
    assert "line 3 (status='unknown')" in message


def test_leads_only_source_without_stage_dates(tmp_path):
    leads = "lead_id,source_channel,created_date,won_date\nL1,web,2024-01-05,2024-02-01\n"
    leads += "L2,fair,2024-01-06,\n"
    ds = loaded_unchanged(make_source(tmp_path, {"leads": leads}))
    assert set(ds.tables) == {"leads"}
    assert ds.absent_columns("leads")[:4] == (
        "account_id",
        "intent_date",
        "proposal_date",
        "negotiation_date",
    )
    assert ds["leads"]["lost_date"].isna().all()


def test_empty_text_cells_get_a_fill_empty_hint(tmp_path):
    leads = "lead_id,source_channel,created_date,won_date\nL1,web,2024-01-05,2024-02-01\n"
    leads += "L2,,2024-01-06,\n"
    message = load_error_unchanged(make_source(tmp_path, {"leads": leads}))
    assert "leads.csv, column 'source_channel': empty cells in a column that must be filled" in (
        message
    )
    assert "set 'fill_empty: {source_channel: unknown}'" in message and "line 3" in message


def test_attribute_missing_from_the_file(tmp_path):
    tables = """  orders: {file: orders.csv}
  accounts: {file: accounts.csv, attributes: {Contract: categorical}}"""
    message = load_error_unchanged(
        make_source(tmp_path, {"accounts": ACCOUNTS, "orders": ORDERS}, tables)
    )
    assert (
        "accounts.csv, column 'Contract': the YAML declares attribute 'Contract', which the "
        in (message)
    )


def test_attribute_of_an_unknown_kind(tmp_path):
    tables = """  orders: {file: orders.csv}
  accounts: {file: accounts.csv, attributes: {Contract: text}}"""
    message = config_error_unchanged(
        make_source(tmp_path, {"accounts": ACCOUNTS, "orders": ORDERS}, tables)
    )
    assert "attribute 'Contract' has kind 'text'; use one of categorical, numeric." in message


def test_numeric_attribute_with_text(tmp_path):
    accounts = ACCOUNTS.replace(",acquired_date\n", ",acquired_date,Charges\n")
    accounts = accounts.replace("2024-01-05\n", "2024-01-05,29.85\n")
    accounts = accounts.replace("2024-02-01\n", "2024-02-01,n/a\n")
    tables = """  orders: {file: orders.csv}
  accounts: {file: accounts.csv, attributes: {Charges: numeric}}"""
    message = load_error_unchanged(
        make_source(tmp_path, {"accounts": accounts, "orders": ORDERS}, tables)
    )
    assert "accounts.csv, column 'Charges': text in a numeric column" in message
    assert "line 3 (Charges='n/a')" in message


def test_utf8_byte_order_mark_does_not_rename_the_first_column(tmp_path):
    source = make_source(tmp_path, {"orders": ORDERS})
    (tmp_path / "orders.csv").write_bytes(b"\xef\xbb\xbf" + ORDERS.encode("utf-8"))
    orders = loaded_unchanged(source)["orders"]
    assert orders["order_id"].tolist() == ["O1", "O2", "O3", "R1"]


def test_excel_number_cells_ignore_the_text_separators(tmp_path):
    frame = pd.read_csv(pd.io.common.StringIO(ORDERS))  # numbers stay numbers in the workbook
    frame.to_excel(tmp_path / "orders.xlsx", index=False)
    source = tmp_path / "source.yaml"
    source.write_text(
        "analysis_date: 2024-12-31\ntables:\n"
        "  orders: {file: orders.xlsx, decimal: ',', thousands: '.'}\n"
    )
    orders = loaded_unchanged(source)["orders"]
    assert orders["net_amount"].tolist() == [100.5, 80.0, 1000.0, -200.0]
    assert orders["order_date"].tolist()[0] == pd.Timestamp("2024-01-05")


def test_duplicate_ids_below_a_quoted_multiline_field_name_their_file_lines(tmp_path):
    # the first account's name spans lines 2-4, so A2 starts on line 5 and the second A1 on 6
    accounts = ACCOUNTS.replace("A1,Acme,", 'A1,"Acme\nMachine\nWorks",') + (
        "A1,Acme again,machinery,small,north,private,brand_owner,search_ads,2024-01-05\n"
    )
    message = load_error_unchanged(make_source(tmp_path, base_files(accounts=accounts)))
    assert message.startswith("1 problem(s)")
    assert (
        "accounts.csv, column 'account_id': duplicate values in a column that must be unique "
        "(2 rows, e.g. line 2 (account_id='A1'); line 6 (account_id='A1'))" in message
    )


def test_contract_rules_below_a_quoted_multiline_field_name_their_file_lines(tmp_path):
    # O1 spans lines 2-4: the repeated order line O3 is on lines 6 and 8, the unknown
    # account on line 9, the value outside the list on line 7 and the bad quantity on line 5
    orders = ORDERS.replace(",bearings,completed\nO2", ',"bearings\nand more\nparts",completed\nO2')
    orders = orders.replace("80.00,2,", "80.00,-2,")
    orders = orders.replace(
        "R1,A2,2024-02-20,-200.00,2,tooling,returned", "R1,A2,2024-02-20,-200.00,2,tooling,retour"
    )
    orders += (
        "O3,A2,2024-02-01,5.00,1,tooling,completed\nO9,A404,2024-05-01,10,1,bearings,completed\n"
    )
    message = load_error_unchanged(make_source(tmp_path, base_files(orders=orders)))
    assert (
        "orders.csv, column 'order_id, line_number': duplicate key (order_id, line_number): each "
        "key must appear once (2 rows, e.g. line 6 (order_id='O3', line_number=1.0); line 8 "
        "(order_id='O3', line_number=1.0))" in message
    )
    assert (
        "orders.csv, column 'quantity': values below the minimum 0 (1 row, e.g. line 5 "
        "(quantity=-2.0))" in message
    )
    assert (
        "orders.csv, column 'status': values outside the allowed list completed, cancelled, "
        "returned (1 row, e.g. line 7 (status='retour'))" in message
    )
    orders = orders.replace("tooling,retour", "tooling,returned").replace("80.00,-2,", "80.00,2,")
    orders = orders.replace("O3,A2,2024-02-01,5.00", "O4,A2,2024-02-01,5.00")
    message = load_error_unchanged(make_source(tmp_path, base_files(orders=orders)))
    assert message.startswith("1 problem(s)")
    assert (
        "orders.csv, column 'account_id': order lines for accounts not in accounts.csv (1 row, "
        "e.g. line 9 (order_id='O9', account_id='A404'))" in message
    )


@pytest.mark.parametrize("last_break", [True, False])
@pytest.mark.parametrize(
    "newline, multiline",
    # not ("\r", True): a line break inside a cell of an old-Mac file is not counted (known)
    [("\n", True), ("\n", False), ("\r\n", True), ("\r\n", False), ("\r", False)],
)
def test_line_numbers_of_quoted_exports_with_any_line_ends(
    tmp_path, newline, last_break, multiline
):
    # every text cell quoted (as many ERPs export); a quoted line break in O1 or not
    rows = ORDERS.replace("1000.00", "x").strip().split("\n")
    quoted = [",".join(f'"{c}"' for c in row.split(",")) for row in rows]
    if multiline:
        quoted[1] = quoted[1].replace('"bearings"', f'"bearings{newline}and parts"')
    text = newline.join(quoted) + (newline if last_break else "")
    (tmp_path / "orders.csv").write_bytes(text.encode())
    source = make_source(tmp_path, {})
    source.write_text("analysis_date: 2024-12-31\ntables:\n  orders: {file: orders.csv}\n")
    message = load_error_unchanged(source)
    line = 5 if multiline else 4  # O3 (the bad amount): header, O1 (two lines or one), O2
    assert f"text in a numeric column (1 row, e.g. line {line} (net_amount='x'))" in message
