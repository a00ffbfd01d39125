"""The leadership summary: finds the right study runs and takes every number from them."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import summary

SEG = {
    "top_20pct_share": 0.7977,
    "gini": 0.7465,
    "strategic_accounts": 145,
    "tier_revenue_share": {"strategic": 0.3556, "key": 0.42, "standard": 0.18, "long tail": 0.04},
}
CHURN = {
    "churn_rate": 0.5,
    "accounts": 2883,
    "churn_threshold_days": 180,
    "km_median_days": 426.0,
    "prechurn_accounts": 389,
    "revenue_at_risk": 882_000.0,
    "horizon_days": 90,
}
CHAN = {
    "costs": {
        "cheap": {"paid": True, "cac": 1282.0, "spend": 1000.0, "customers": 10},
        "dear": {"paid": True, "cac": 4362.0, "spend": 3000.0, "customers": 5},
        "free": {"paid": False, "cac": 0.0, "spend": 0.0, "customers": 7},
    },
    "ltv_cac": {
        "cheap": {"ratio": 2.3, "low": 1.8, "high": 2.9, "flag": "ratio under 3"},
        "dear": {"ratio": 8.5, "low": 7.7, "high": 9.3, "flag": ""},
    },
    "quadrant": {"cheap": "invest more", "dear": "wind down"},
}


def _write(folder: Path, name: str, metrics: dict, filters=None, fingerprint="f1") -> None:
    (folder / name).mkdir(parents=True)
    doc = {**metrics, "filters": filters or {}, "source": "demo", "data_fingerprint": fingerprint}
    doc["analysis_date"] = "2025-12-31"
    (folder / name / "metrics.json").write_text(json.dumps(doc))


def _found(seg=SEG, churn=CHURN, chan=CHAN):
    return {
        s: summary.StudyMetrics(s, Path(s), m)
        for s, m in zip(summary.STUDIES, (seg, churn, chan), strict=True)
    }


def test_finds_the_runs_of_the_slice_with_the_fewest_extra_parameters(tmp_path):
    _write(tmp_path, "01-customer-segmentation", SEG)
    _write(tmp_path, "01-customer-segmentation--filters-region-north", SEG, {"region": "north"})
    _write(tmp_path, "02-churn-survival--churn_threshold_days-90", CHURN)
    _write(tmp_path, "02-churn-survival", CHURN)
    (tmp_path / "03-channel-economics").mkdir()
    (tmp_path / "03-channel-economics" / "metrics.json").write_text("{not json")
    found = summary.find_metrics(tmp_path, {}, "demo")
    assert found["segmentation"].folder.name == "01-customer-segmentation"
    assert found["churn"].folder.name == "02-churn-survival"
    assert found["channels"].metrics is None  # damaged: treated as absent
    north = summary.find_metrics(tmp_path, {"region": "north"}, "demo")
    assert north["segmentation"].folder.name.endswith("region-north")
    assert north["churn"].metrics is None
    assert summary.find_metrics(tmp_path, {}, "data/other.yaml")["segmentation"].metrics is None


def test_missing_studies_and_mixed_data_are_said(tmp_path):
    _write(tmp_path, "01-customer-segmentation", SEG, fingerprint="f1")
    _write(tmp_path, "02-churn-survival", CHURN, fingerprint="f2")
    notes = summary.consistency_notes(summary.find_metrics(tmp_path, {}, "demo"))
    assert any("No channels metrics" in n for n in notes)
    assert any("different data" in n and "f2" in n for n in notes)


def test_every_number_comes_from_the_metrics():
    text = " ".join(summary.findings(_found()) + summary.moves(_found()))
    for shown in (
        "80%",
        "0.75",
        "145",
        "36%",
        "2,883",
        "180+",
        "14 months",
        "389",
        "882k",
        "1,282",
        "4,362",
        "8.5×",
    ):
        assert shown in text, shown
    changed = {**SEG, "top_20pct_share": 0.61, "strategic_accounts": 17}
    text = " ".join(summary.findings(_found(seg=changed)))
    assert "61%" in text and "17 strategic" in text and "80%" not in text


def test_moves_put_value_before_the_cost_quadrant():
    moves = summary.moves(_found())
    cheap = next(m for m in moves if "cheap**" in m or " cheap " in m)
    assert cheap.startswith("**Fix cheap before growing it**") and "ratio under 3" in cheap
    dear = next(m for m in moves if "dear" in m.split("**")[1])
    assert dear.startswith("**Keep dear") and "8.5" in dear  # not "wind down": it repays 8.5x
    assert summary.moves(_found(None, None, None)) == [
        "No recommended move: the study metrics are missing."
    ]


def test_tables_from_the_metrics():
    table = summary.channel_table(CHAN)
    assert list(table.index) == ["dear", "cheap"]  # best LTV:CAC first, unpaid left out
    assert list(summary.tier_shares(SEG).index) == ["long tail", "standard", "key", "strategic"]
    kpis = summary.kpis(_found())
    assert kpis.loc["Revenue at risk", "value"] == "882k"
    assert kpis.loc["New customers won", "value"] == "22"
    assert summary.findings(_found(None, None, None)) == []


def test_incomplete_metrics_read_n_a_instead_of_crashing():
    seg = {"strategic_accounts": 3, "gini": None}  # no shares at all
    churn = {
        "churn_rate": 0.2,
        "accounts": 10,
        "churn_threshold_days": 90,
        "prechurn_accounts": 4,
        "revenue_at_risk": 1000.0,
    }  # no horizon recorded
    chan = {
        "costs": CHAN["costs"],
        "ltv_cac": {
            "cheap": {"ratio": 2.0, "low": None, "high": None, "flag": "ratio under 3"},
            "dear": {"ratio": 0.8, "low": 0.5, "high": 1.1, "flag": "may not pay back"},
        },
    }  # no quadrant
    found = _found(seg, churn, chan)
    text = " ".join(summary.findings(found) + summary.moves(found))
    assert "Gini n/a" in text and "n/a of it" in text
    assert "at stake." in text and "next" not in text  # no typed-in horizon
    assert "No paid channel clearly pays back: the best, cheap" in text  # not "pays best"
    assert "interval n/a–n/a" in text and "cost quadrant: n/a" in text
    assert summary.kpis(found).loc["Gini coefficient of revenue", "value"] == "n/a"


def test_in_a_batch_folder_runs_json_says_which_runs_count(tmp_path):
    _write(tmp_path, "churn-quarterly", CHURN)  # an explicit run name
    _write(tmp_path, "02-churn-survival", CHURN)  # a stale folder that failed this time
    _write(tmp_path, "seg", SEG)
    runs = [
        {
            "name": "churn-quarterly",
            "notebook": "02-churn-survival",
            "status": "ok",
            "parameters": {"DATA_SOURCE": "demo", "CHURN_THRESHOLD_DAYS": 90},
        },
        {
            "name": "02-churn-survival",
            "notebook": "02-churn-survival",
            "status": "failed",
            "parameters": {"DATA_SOURCE": "demo"},
        },
        {
            "name": "seg",
            "notebook": "01-customer-segmentation",
            "status": "ok",
            "parameters": {"DATA_SOURCE": "demo"},
        },
    ]
    (tmp_path / "runs.json").write_text(json.dumps({"batch": "b", "runs": runs}))
    found = summary.find_metrics(tmp_path, {}, "demo")
    assert found["churn"].folder.name == "churn-quarterly"
    assert found["segmentation"].folder.name == "seg" and found["segmentation"].variant == {}
    notes = summary.consistency_notes(found)
    assert any("churn-quarterly (CHURN_THRESHOLD_DAYS = 90)" in n for n in notes)
    assert sum("figures come from" in n for n in notes) == 1  # DATA_SOURCE is shared: no note


def test_without_runs_json_the_shortest_name_wins(tmp_path):
    _write(tmp_path, "02-churn-survival--seed-7", CHURN)
    _write(tmp_path, "02-churn-survival--churn_threshold_days-60--seed-7", CHURN)
    found = summary.find_metrics(tmp_path, {}, "demo")
    assert found["churn"].folder.name == "02-churn-survival--seed-7"
