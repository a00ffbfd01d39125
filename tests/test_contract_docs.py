"""data/README.md carries the current contract, and its worked example loads cleanly."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers.config import DATA_DIR, PROJECT_ROOT
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


# --- the own-data examples of README.md and data/README.md are run ---------------------------


def _shapes():
    spec = importlib.util.spec_from_file_location(
        "shapes", Path(__file__).parent / "fixtures" / "exports" / "shapes.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _blocks(path: Path, heading: str, language: str) -> list[str]:
    """The fenced ``language`` blocks of the section of ``path`` that starts at ``heading``."""
    text = path.read_text(encoding="utf-8")
    section = text.split(heading + "\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.DOTALL)


@pytest.mark.parametrize(
    ("document", "heading"),
    [
        (PROJECT_ROOT / "README.md", "## Point it at your own exports"),
        (DATA_DIR / "README.md", "## Using your own exports"),
    ],
)
def test_own_data_yaml_examples_load(tmp_path, document, heading):
    (block,) = _blocks(document, heading, "yaml")
    source = tmp_path / "source.yaml"
    source.write_text(block, encoding="utf-8")
    _shapes().write_exports_for(source)
    spec = yaml.safe_load(block)
    ds = load_dataset(source)
    assert set(ds.tables) == set(spec["tables"])
    assert ds.analysis_date == pd.Timestamp(spec["analysis_date"])
    assert ds.currency == spec.get("currency")
    assert ds["orders"]["net_amount"].tolist()[0] == 1234.5  # the declared number notation
    accounts = spec["tables"]["accounts"]
    assert ds.attributes == accounts.get("attributes", {})
    assert set(ds.attributes) <= set(ds["accounts"].columns)


def test_readme_run_example_passes_filters_as_a_mapping():
    (command,) = [
        b
        for b in _blocks(
            PROJECT_ROOT / "README.md", "## Run one notebook with other parameters", "sh"
        )
        if "papermill" in b
    ]
    args = shlex.split(command.replace("\\\n", " "))
    assert "FILTERS" not in " ".join(args[i + 1] for i, a in enumerate(args) if a == "-p")
    (given,) = [args[i + 1] for i, a in enumerate(args) if a == "-y"]
    filters = yaml.safe_load(given)["FILTERS"]
    assert filters == {"region": "north"}  # a mapping, not the string "{region: north}"
    # and it selects accounts of the worked example (regions are spelled 'North' there)
    ds = load_dataset(DATA_DIR / "example-source.yaml").filter(filters)
    assert ds["accounts"]["account_id"].tolist() == ["C-01"]
    assert set(ds["orders"]["account_id"]) == {"C-01"}
