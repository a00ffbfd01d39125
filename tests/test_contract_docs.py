"""data/README.md carries the current contract, and its worked example loads cleanly."""

from __future__ import annotations

from helpers.config import DATA_DIR
from helpers.contract import TABLES, markdown
from helpers.loading import load_dataset


def test_readme_contract_section_is_current():
    text = (DATA_DIR / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- contract:start -->\n", "<!-- contract:end -->"
    assert start in text and end in text
    section = text.split(start, 1)[1].split(end, 1)[0]
    assert section == markdown(), "run `python -m helpers.contract` and paste it into the README"


def test_every_column_is_documented_with_type_unit_and_meaning():
    for table in TABLES.values():
        for col in table.columns:
            assert col.meaning and col.unit and col.dtype, f"{table.name}.{col.name}"


def test_example_source_loads():
    ds = load_dataset(DATA_DIR / "example-source.yaml")
    assert set(ds.tables) == {"orders", "accounts"}
    orders = ds["orders"]
    assert list(orders["status"].unique()) == ["completed", "cancelled", "returned"]
    assert orders["order_date"].min().strftime("%Y-%m-%d") == "2025-01-05"
    assert set(ds["accounts"]["ownership_type"]) == {"private", "state_owned"}
