"""Metrics files are written and read back only through their declared, versioned schemas."""

from __future__ import annotations

import dataclasses
import json

import pytest

from helpers import reporting, schemas
from helpers.schemas import ChurnMetrics, Fields, MetricsSchemaError, OverviewMetrics
from helpers.steps import Skipped

BASE = {"data_fingerprint": "abc", "analysis_date": "2025-12-31", "filters": {}, "source": "demo"}


def _overview(**changes) -> OverviewMetrics:
    values = dict(
        rows={"orders": 10},
        period="2025Q4",
        compared_with="2025Q3",
        revenue=100.0,
        revenue_before=90.0,
        revenue_change=10.0,
        new_accounts=2,
        retention=0.8,
        share_existing=0.7,
        share_new=0.2,
        share_reactivated=0.1,
        drivers={"leads": 1.5},
        top_driver="leads",
        top_driver_contribution=1.5,
    )
    return OverviewMetrics(**BASE, **{**values, **changes})


def test_round_trip_through_the_file(tmp_path):
    written = _overview()
    reporting.write_metrics(tmp_path, written)
    data = json.loads((tmp_path / "metrics.json").read_text())
    assert data["schema"] == "overview" and data["schema_version"] == OverviewMetrics.VERSION
    assert schemas.read(tmp_path, OverviewMetrics) == written


def test_another_schema_or_version_is_refused(tmp_path):
    reporting.write_metrics(tmp_path, _overview())
    with pytest.raises(MetricsSchemaError, match="expected 'churn'"):
        schemas.read(tmp_path, ChurnMetrics)
    data = json.loads((tmp_path / "metrics.json").read_text())
    data["schema_version"] = OverviewMetrics.VERSION + 1
    with pytest.raises(MetricsSchemaError, match="rerun the study"):
        schemas.from_json(data, OverviewMetrics)


def test_undeclared_missing_and_mistyped_fields_are_refused():
    data = _overview().to_json()
    with pytest.raises(MetricsSchemaError, match="not in schema 'overview' v2: surprise"):
        schemas.from_json({**data, "surprise": 1}, OverviewMetrics)
    with pytest.raises(MetricsSchemaError, match="missing: revenue"):
        schemas.from_json({k: v for k, v in data.items() if k != "revenue"}, OverviewMetrics)
    with pytest.raises(MetricsSchemaError, match="wrong type for revenue"):
        schemas.from_json({**data, "revenue": "lots"}, OverviewMetrics)
    with pytest.raises(MetricsSchemaError, match="wrong type for new_accounts"):
        schemas.from_json({**data, "new_accounts": True}, OverviewMetrics)
    assert schemas.from_json({**data, "revenue": None}, OverviewMetrics).revenue is None


def test_fields_record_null_with_the_reason():
    fields = Fields()
    skipped = Skipped("only 5 churn events", "a Cox model needs at least 20")
    assert fields.take("cox_concordance", skipped, lambda m: 0.7) is None
    assert fields.take("accounts", [1, 2, 3], len) == 3
    assert fields.skipped == {
        "cox_concordance": "only 5 churn events (a Cox model needs at least 20)"
    }


def test_every_schema_is_registered_and_declares_the_common_fields():
    assert set(schemas.SCHEMAS) == {"overview", "segmentation", "churn", "channels", "summary"}
    for name, cls in schemas.SCHEMAS.items():
        names = {f.name for f in dataclasses.fields(cls)}
        assert name == cls.SCHEMA and cls.VERSION >= 1
        assert {"filters", "source"} <= names
