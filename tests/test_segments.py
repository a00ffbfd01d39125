"""helpers.segmentation.segments: revenue, accounts and value tiers per segment level."""

from __future__ import annotations

import pandas as pd
import pytest
from fixtures.exports import shapes

from helpers import segmentation
from helpers.loading import load_dataset
from helpers.steps import Skipped


def _features() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": ["a", "b", "c", "d", "e"],
            "industry": ["steel", "steel", "food", None, "food"],
            "employees": [10.0, 20.0, 30.0, 40.0, 50.0],
            "monetary_total": [100.0, 300.0, 50.0, 50.0, 500.0],
        }
    )


def test_profile_sums_revenue_accounts_and_top_tiers_per_level():
    tiers = pd.Series({"a": "key", "b": "standard", "c": "long tail", "d": "key", "e": "strategic"})
    profile = segmentation.segment_profile(_features(), tiers, ["industry"])
    steel, food, unknown = (profile.loc[("industry", lvl)] for lvl in ("steel", "food", "unknown"))
    assert list(profile.index.get_level_values("level")) == ["food", "steel", "unknown"]
    assert (food["revenue"], food["accounts"], food["top_tier_share"]) == (550.0, 2, 0.5)
    assert steel["revenue_share"] == pytest.approx(400 / 1000)
    assert steel["mean_revenue"] == 200.0 and steel["account_share"] == pytest.approx(0.4)
    assert unknown["accounts"] == 1 and unknown["top_tier_share"] == 1.0  # missing -> unknown


def test_a_numeric_attribute_is_cut_into_ranges():
    profile = segmentation.segment_profile(_features(), Skipped("no tiers"), ["employees"])
    levels = list(profile.index.get_level_values("level"))
    assert len(levels) == 4 and all("–" in level for level in levels)
    assert profile["accounts"].sum() == 5
    assert profile["top_tier_share"].isna().all()  # no tiers: not a made-up 0


def test_missing_columns_are_named_and_none_present_is_skipped():
    profile = segmentation.segment_profile(_features(), Skipped("x"), ["industry", "contract"])
    assert profile.attrs["missing"] == ["contract"]
    assert "Not in the data, so not shown: contract" in segmentation.segment_sentence(profile)
    none = segmentation.segment_profile(_features(), Skipped("x"), ["contract"])
    assert isinstance(none, Skipped)
    assert "none of the segment columns contract" in none.sentence()
    assert "industry" in none.sentence()  # the hint names what could be used


def test_view_and_sentence_are_in_reader_form():
    profile = segmentation.segment_profile(_features(), Skipped("x"), ["industry"])
    view = segmentation.segment_view(profile, "EUR", {"food": "Food processing"})
    assert view.loc[0, "level"] == "Food processing" and view.loc[0, "revenue"] == "550 EUR"
    assert view.loc[0, "share of revenue"] == "55%" and view.loc[0, "strategic or key"] == "–"
    sentence = segmentation.segment_sentence(profile, {"food": "Food processing"})
    assert sentence.startswith("By industry, Food processing brings the most revenue: 55% of it")


def test_free_attributes_of_a_subscription_export_are_segments(tmp_path):
    ds = load_dataset(shapes.write_shape2(tmp_path), cache=False)
    features = segmentation.account_features(ds, ds.analysis_date)
    profile = segmentation.segment_profile(features, Skipped("x"), ["Contract", "MonthlyCharges"])
    assert set(profile.index.get_level_values("segment")) == {"Contract", "MonthlyCharges"}
    assert "Two year" in set(profile.loc["Contract"].index)
    assert profile.loc["Contract", "accounts"].sum() == len(features)
