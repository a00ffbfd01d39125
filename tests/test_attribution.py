"""Attribution on tiny hand-solved path sets, and path building rules."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import attribution as at


def _touches(paths: list[tuple[list[str], bool]]) -> at.Paths:
    rows = []
    for i, (chs, converted) in enumerate(paths):
        for pos, ch in enumerate(chs):
            rows.append(
                {
                    "lead_id": f"L{i}",
                    "channel": ch,
                    "position": pos,
                    "n": len(chs),
                    "days_before": float(len(chs) - pos),
                    "converted": converted,
                }
            )
    frame = pd.DataFrame(rows)
    return at.Paths(frame, len(paths), sum(c for _, c in paths), 0)


PATHS = _touches([(["A"], True), (["B"], False), (["A", "B"], True)])


def test_markov_removal_effect_hand_solved():
    # P(conv) = 2/3; without A: 1/6 (effect 0.75); without B: 1/3 (effect 0.5) -> 0.6 / 0.4
    share = at.markov_removal(PATHS.touches)
    assert share["A"] == pytest.approx(0.6) and share["B"] == pytest.approx(0.4)
    table = at.attribute(PATHS)
    assert table.loc["A", "markov"] == pytest.approx(1.2)


def test_rule_based_models_hand_solved():
    t = at.attribute(PATHS)
    assert t.loc["A", "first touch"] == 2 and t.loc["B", "first touch"] == 0
    assert t.loc["A", "last touch"] == 1 and t.loc["B", "last touch"] == 1
    assert t.loc["A", "linear"] == 1.5 and t.loc["B", "linear"] == 0.5
    assert t.loc["A", "position based"] == 1.5
    for model in at.MODELS:
        assert t[model].sum() == pytest.approx(2.0)  # every model hands out the 2 conversions


def test_position_based_and_time_decay_weights():
    paths = _touches([(["A", "B", "C", "D"], True)])
    w = at.rule_weights(paths.touches, "position based")
    assert list(w.round(3)) == [0.4, 0.1, 0.1, 0.4]
    decay = at.rule_weights(paths.touches, "time decay", half_life_days=1.0)
    assert decay.iloc[-1] == pytest.approx(2 * decay.iloc[-2])  # one half-life more recent
    assert decay.sum() == pytest.approx(1.0)


def test_build_paths_ignores_touches_after_conversion_and_truncates():
    leads = pd.DataFrame({"lead_id": ["L1", "L2"], "lost_date": pd.to_datetime([None, None])})
    t = pd.DataFrame(
        {
            "lead_id": ["L1"] * 5 + ["L2"],
            "channel": ["A", "B", "C", "D", "E", "A"],
            "touched_at": pd.to_datetime(
                ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04", "2025-02-01", "2025-01-10"]
            ),
        }
    )
    conv = pd.Series(pd.to_datetime(["2025-01-05", None]), index=["L1", "L2"])
    p = at.build_paths(t, leads, conv, pd.Timestamp("2025-03-01"), window_days=90, max_touches=3)
    l1 = p.touches[p.touches["lead_id"] == "L1"]
    assert list(l1["channel"]) == ["B", "C", "D"]  # E came after the conversion; A cut (cap 3)
    assert p.truncated == 1 and p.n_converted == 1 and p.n_paths == 2


def test_window_excludes_old_touches():
    leads = pd.DataFrame({"lead_id": ["L1"], "lost_date": pd.to_datetime([None])})
    t = pd.DataFrame(
        {
            "lead_id": ["L1", "L1"],
            "channel": ["A", "B"],
            "touched_at": pd.to_datetime(["2024-01-01", "2025-01-01"]),
        }
    )
    conv = pd.Series(pd.to_datetime(["2025-01-05"]), index=["L1"])
    p = at.build_paths(t, leads, conv, pd.Timestamp("2025-03-01"), window_days=30)
    assert list(p.touches["channel"]) == ["B"]


def test_revenue_of_leads_with_unknown_value_goes_to_no_channel():
    """C converts twice but its value is not known yet (NaN): it gets no revenue under any
    model, Markov included, and the known revenue is split among A and B alone."""
    paths = _touches([(["A"], True), (["B"], True), (["C"], True), (["C"], True), (["B"], False)])
    values = pd.Series({"L0": 100.0, "L1": 50.0, "L2": float("nan"), "L3": float("nan")})
    table = at.attribute(paths, values)
    for model in at.MODELS:
        assert table.loc["C", f"{model} revenue"] == 0.0, model
        assert table[f"{model} revenue"].sum() == pytest.approx(150.0), model
    assert table.loc["C", "markov"] > 0  # its conversions still count as conversions


def test_a_loss_after_the_analysis_date_does_not_reach_past_it():
    leads = pd.DataFrame({"lead_id": ["L1"], "lost_date": pd.to_datetime(["2025-03-20"])})
    t = pd.DataFrame(
        {
            "lead_id": ["L1", "L1"],
            "channel": ["A", "B"],
            "touched_at": pd.to_datetime(["2025-02-20", "2025-03-10"]),
        }
    )
    conv = pd.Series(pd.to_datetime([None]), index=["L1"])
    p = at.build_paths(t, leads, conv, pd.Timestamp("2025-03-01"), window_days=90)
    assert list(p.touches["channel"]) == ["A"]  # B was touched after the analysis date
