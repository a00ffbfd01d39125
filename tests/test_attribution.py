"""Attribution on tiny hand-solved path sets, and path building rules."""

from __future__ import annotations

import dataclasses

import ibis
import numpy as np
import pandas as pd
import pytest

from helpers import attribution as at
from helpers.loading import Dataset, entry, load_dataset
from helpers.steps import Skipped


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
    leads = pd.DataFrame(
        {"lead_id": ["L1", "L2"], "lost_date": pd.to_datetime([None, "2025-01-20"])}
    )
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
    # on 2025-03-01 L1 is neither won nor lost: an open lead, not a non-converter
    assert p.touches.empty and (p.n_paths, p.open) == (0, 1)
    later = at.build_paths(t, leads, conv, pd.Timestamp("2025-03-31"), window_days=90)
    assert list(later.touches["channel"]) == ["A", "B"] and later.open == 0


def test_open_leads_are_not_counted_as_non_converters():
    # L1 (A, won) and L2 (B, lost) as in PATHS' first two; L3 touches B and is still open:
    # counted as a non-converter, it would lower B's conversion probability and its credit
    leads = pd.DataFrame(
        {
            "lead_id": ["L1", "L2", "L3", "L4"],
            "lost_date": pd.to_datetime([None, "2025-02-01", None, None]),
        }
    )
    t = pd.DataFrame(
        {
            "lead_id": ["L1", "L2", "L3", "L4", "L4"],
            "channel": ["A", "B", "B", "A", "B"],
            "touched_at": pd.to_datetime(
                ["2025-01-05", "2025-01-06", "2025-01-07", "2025-01-08", "2025-01-09"]
            ),
        }
    )
    conv = pd.Series(
        pd.to_datetime(["2025-01-10", None, None, "2025-01-20"]), index=leads["lead_id"]
    )
    p = at.build_paths(t, leads, conv, pd.Timestamp("2025-03-01"), window_days=90)
    assert sorted(p.touches["lead_id"].unique()) == ["L1", "L2", "L4"] and p.open == 1
    # the same paths as PATHS: A 0.6, B 0.4
    share = at.markov_removal(p.touches)
    assert share["A"] == pytest.approx(0.6) and share["B"] == pytest.approx(0.4)


def test_without_any_lost_date_a_lead_not_converted_is_a_non_converter():
    # the export keeps no lost dates: L2 and L3 cannot be told open or lost; both count as
    # non-converters with paths ending on the analysis date (else every path would convert)
    leads = pd.DataFrame({"lead_id": ["L1", "L2", "L3"], "lost_date": pd.NaT})
    t = pd.DataFrame(
        {
            "lead_id": ["L1", "L2", "L3", "L3"],
            "channel": ["A", "B", "B", "A"],
            "touched_at": pd.to_datetime(["2025-01-05", "2025-01-06", "2024-06-01", "2025-02-01"]),
        }
    )
    conv = pd.Series(pd.to_datetime(["2025-01-10", None, None]), index=leads["lead_id"])
    p = at.build_paths(t, leads, conv, pd.Timestamp("2025-03-01"), window_days=90)
    assert p.no_lost and p.open == 0 and (p.n_paths, p.n_converted) == (3, 1)
    # L3's touch of 2024-06-01 is over 90 days before the analysis date: out of its window
    assert list(p.touches.loc[p.touches["lead_id"] == "L3", "channel"]) == ["A"]
    without_column = at.build_paths(
        t, leads.drop(columns="lost_date"), conv, pd.Timestamp("2025-03-01"), window_days=90
    )
    assert without_column.no_lost and without_column.n_paths == 3


def test_markov_credit_does_not_depend_on_row_order():
    paths = _touches(
        [(["A", "B", "C"], True), (["B", "A"], False), (["C"], True), (["A", "C", "B"], False)]
    )
    want = at.markov_removal(paths.touches)
    for seed in range(5):
        shuffled = paths.touches.sample(frac=1.0, random_state=seed)
        got = at.markov_removal(shuffled)
        pd.testing.assert_series_equal(got, want)


# --- conversions, their value and the study step ------------------------------------------------


def test_conversion_action_must_be_known(demo):
    with pytest.raises(ValueError, match="CONVERSION_ACTION"):
        at.conversion_times(demo, action="click")


def test_attribution_over_demo_is_consistent(demo):
    conv = at.conversion_times(demo, action="won")
    paths = at.build_paths(demo["touchpoints"], demo["leads"], conv, as_of=demo.analysis_date)
    table = at.attribute(paths)
    for model in at.MODELS:
        assert table[model].sum() == pytest.approx(paths.n_converted)


def test_attributing_a_cached_data_set_builds_no_touchpoints_frame(demo_dir, root, monkeypatch):
    """Read from the load-once cache, the paths are built from the touchpoints' entry file
    scanned by the engine (no touchpoints column in pandas in this process): the same paths
    and credit as from frames."""
    load_dataset("demo")
    ds = load_dataset("demo")
    frames = dataclasses.replace(ds, tables=dict(ds.tables))  # every table a pandas frame
    ds = load_dataset("demo")
    converted = []
    real = entry.arrow_to_pandas
    monkeypatch.setattr(
        entry, "arrow_to_pandas", lambda t: converted.append(t.schema.names) or real(t)
    )
    scanned = _attribute_demo(ds)
    assert not any("touched_at" in names for names in converted) and converted
    want = _attribute_demo(frames)
    pd.testing.assert_frame_equal(scanned.paths.touches, want.paths.touches, check_exact=True)
    pd.testing.assert_frame_equal(scanned.credit, want.credit, check_exact=True)
    assert scanned.paths.n_converted == want.paths.n_converted > 0


def _attribute_demo(ds: Dataset) -> at.Attribution:
    return at.attribute_conversions(
        ds, leads=ds["leads"], as_of=ds.analysis_date, costs=COSTS, action="won"
    )


def test_revenue_after_conversion_by_hand():
    leads = pd.DataFrame({"lead_id": ["L1", "L2", "L3", "L4"], "account_id": ["A", "B", None, "B"]})
    conv = pd.Series(
        pd.to_datetime(["2025-01-10 15:00:00", None, "2025-01-01 00:00:00", "2025-03-20 00:00:00"]),
        index=["L1", "L2", "L3", "L4"],
    )
    orders = pd.DataFrame(
        {
            "account_id": ["A", "A", "A", "A", "B", "A"],
            "order_date": pd.to_datetime(
                ["2025-01-09", "2025-01-10", "2025-03-01", "2025-02-10", "2025-03-25", "2025-03-05"]
            ),
            "net_amount": [1.0, 10.0, 100.0, 1000.0, 5.0, 7.0],
            "status": [
                "completed",
                "completed",
                "completed",
                "cancelled",
                "completed",
                "completed",
            ],
        }
    )
    as_of = pd.Timestamp("2025-03-31")
    value = at.revenue_after_conversion(leads, orders, conversion=conv, as_of=as_of, days=60)
    # L1: the conversion day, 1 and 5 March (days 50 and 54) count: 10 + 100 + 7; the day
    # before and the cancelled order do not. L2 did not convert; L3 has no account; L4
    # converted 11 days before as_of: its 60-day window is incomplete.
    assert value["L1"] == 117.0 and value["L2"] == 0.0 and value["L3"] == 0.0
    assert pd.isna(value["L4"])
    thirty = at.revenue_after_conversion(leads, orders, conversion=conv, as_of=as_of, days=30)
    assert thirty["L1"] == 10.0
    # an earlier analysis date sees neither later orders nor complete windows it cannot know
    early = at.revenue_after_conversion(
        leads, orders, conversion=conv, as_of=pd.Timestamp("2025-03-02"), days=30
    )
    assert early["L1"] == 10.0 and pd.isna(early["L4"])


def test_conversions_after_the_analysis_date_do_not_count(demo):
    late = demo.analysis_date - pd.DateOffset(months=6)
    conv = at.conversion_times(demo, action="won", as_of=late)
    everything = at.conversion_times(demo, action="won")
    assert conv.max() <= late and conv.notna().sum() < everything.notna().sum()


AS_OF = pd.Timestamp("2025-01-01")


def _dataset(with_touchpoints: bool = True) -> Dataset:
    """L1 touches A then B and is won (2023-01-10; its account orders 500 within the year);
    L2 touches B and is lost; L3 touches A and is won too recently for a complete year."""
    leads = pd.DataFrame(
        {
            "lead_id": ["L1", "L2", "L3"],
            "account_id": ["a1", None, "a3"],
            "created_date": pd.to_datetime(["2022-12-01", "2022-12-01", "2024-12-01"]),
            "intent_date": pd.to_datetime([None, None, None]),
            "won_date": pd.to_datetime(["2023-01-10", None, "2024-12-25"]),
            "lost_date": pd.to_datetime([None, "2023-01-20", None]),
        }
    )
    touchpoints = pd.DataFrame(
        {
            "lead_id": ["L1", "L1", "L2", "L3"],
            "channel": ["A", "B", "B", "A"],
            "touched_at": pd.to_datetime(["2023-01-01", "2023-01-05", "2023-01-10", "2024-12-20"]),
        }
    )
    orders = pd.DataFrame(
        {
            "account_id": ["a1", "a1", "a3"],
            "order_date": pd.to_datetime(["2023-02-01", "2024-06-01", "2024-12-28"]),
            "net_amount": [500.0, 9000.0, 70.0],
            "status": ["completed", "completed", "completed"],
        }
    )
    tables = {"leads": leads, "orders": orders}
    if with_touchpoints:
        tables["touchpoints"] = touchpoints
    return Dataset(tables=tables, source="test", analysis_date=AS_OF, fingerprint="abc")


COSTS = pd.DataFrame(
    {"paid": [True, True, False], "spend": [1000.0, 300.0, 0.0]}, index=["A", "B", "free"]
)


def _attribute(ds: Dataset, costs=COSTS):
    return at.attribute_conversions(
        ds, leads=ds["leads"], as_of=AS_OF, costs=costs, action="won", revenue_days=365
    )


def test_attribute_conversions_by_hand():
    att = _attribute(_dataset())
    assert (att.paths.n_paths, att.paths.n_converted) == (3, 2)
    assert (att.valued, att.pending) == (1, 1)  # L3's year is not complete
    credit = att.credit
    assert list(credit.columns) == list(at.MODELS)
    assert (credit.loc["A", "first touch"], credit.loc["B", "first touch"]) == (2.0, 0.0)
    assert (credit.loc["A", "last touch"], credit.loc["B", "last touch"]) == (1.0, 1.0)
    assert credit.loc["A", "linear"] == 1.5
    # same paths as test_markov_removal_effect_hand_solved: A 0.6, B 0.4 of 2 conversions
    assert credit.loc["A", "markov"] == pytest.approx(1.2)
    revenue = at.by_model(att, measure="revenue")
    assert list(revenue.columns) == list(at.MODELS)
    assert revenue.loc["A", "first touch"] == 500.0 and revenue.loc["B", "last touch"] == 500.0
    assert revenue.loc["A", "linear"] == 250.0  # the 9000 order is after L1's first year
    # Markov revenue from the paths of known value (L1 and L2): P = 1/2; without A 1/4
    # (effect 1/2), without B 0 (effect 1): shares 1/3, 2/3 of 500
    assert revenue.loc["A", "markov"] == pytest.approx(500 / 3)
    per = at.by_model(att, measure="spend per conversion")
    assert list(per.index) == ["A", "B"]  # no row for the channel without spend
    assert per.loc["A", "first touch"] == 500.0 and pd.isna(per.loc["B", "first touch"])
    assert per.loc["A", "linear"] == pytest.approx(1000 / 1.5) and per.loc["B", "linear"] == 600.0


def test_attribution_sentences_by_hand():
    att = _attribute(_dataset())
    # nothing was cut: nothing is said about cutting
    assert at.paths_sentence(att) == (
        "3 paths, 2 converting; 0 leads still open on the analysis date were left out (not yet "
        "converted or lost)."
    )
    cut = dataclasses.replace(att, paths=dataclasses.replace(att.paths, truncated=1))
    assert at.paths_sentence(cut).startswith(
        "3 paths, 2 converting; 1 path longer than 20 touches was cut to its last 20; "
    )
    assert at.credit_sentence(att, model="markov", currency="EUR", names={"A": "Ads"}) == (
        "Under the markov model, Ads earns most credit (1 conversions, 167 EUR of revenue); "
        "first- and last-touch disagree most on Ads."
    )
    shown = at.by_model(att, measure="revenue", names={"A": "Ads"})
    assert list(shown.index) == ["Ads", "B"] and shown.index.name == "channel"
    assert at.cell_format("revenue", "EUR")(1234567.0) == "1.23M EUR"
    assert at.cell_format("conversions")(319.55) == "320"
    assert at.revenue_sentence(att) == (
        "Attributed revenue: the converted accounts' orders in their first 365 days, for the "
        "1 conversions at least that old (1 more recent ones are left out: their window is "
        "not complete)."
    )
    assert at.spend_sentence(att) == (
        "Spend per attributed conversion (won) under each model (the CAC when the "
        "conversion is a won deal):"
    )
    with pytest.raises(ValueError, match="HEADLINE_MODEL"):
        at.credit_sentence(att, model="u-shaped")
    with pytest.raises(ValueError, match="measure"):
        at.by_model(att, measure="clicks")


def test_spend_per_conversion_by_hand():
    credit = pd.DataFrame({m: [2.0, 0.0] for m in at.MODELS}, index=["A", "B"])
    costs = pd.DataFrame({"paid": [True, True], "spend": [1000.0, 300.0]}, index=["A", "B"])
    per = at.spend_per_conversion(credit=credit, costs=costs)
    assert per.loc["A", "markov"] == 500.0 and pd.isna(per.loc["B", "markov"])


def test_without_touchpoints_attribution_is_skipped_with_its_sentence():
    att = _attribute(_dataset(with_touchpoints=False))
    assert att == Skipped(
        "the data has no touchpoints table",
        "export touchpoints to credit conversions to the channels along the journey",
        "Attribution",
    )
    assert att.sentence() == (
        "Attribution is not available: the data has no touchpoints table (export touchpoints "
        "to credit conversions to the channels along the journey)."
    )
    assert at.by_model(att, measure="revenue") == att and at.paths_sentence(att) == att


def test_without_spend_the_spend_per_conversion_alone_is_skipped():
    no_spend = Skipped("the data has no channel_spend table", step="Spend and cost per channel")
    att = _attribute(_dataset(), costs=no_spend)
    assert att.credit.loc["A", "first touch"] == 2.0
    per = at.by_model(att, measure="spend per conversion")
    assert per == Skipped(
        "the data has no channel_spend table", step="Spend per attributed conversion"
    )


def test_no_converting_path_is_skipped():
    ds = _dataset()
    ds.tables["touchpoints"] = ds["touchpoints"][ds["touchpoints"]["lead_id"] == "L2"]
    att = _attribute(ds)
    assert isinstance(att, Skipped) and att.step == "Attribution"
    assert "no converting lead has a touch in the 90 days before converting" in att.reason


# --- the paths in the engine equal the pandas paths they replaced -------------------------------


def _pandas_paths(touchpoints, leads, conversion, as_of, window_days=90, max_touches=20):
    """The pandas ``build_paths`` the engine version replaced (kept here as the oracle): the
    touches table, then n_paths, n_converted, truncated, open, no_lost."""
    end = conversion.reindex(leads["lead_id"].to_numpy())
    end = end.where(end <= as_of)
    if "lost_date" in leads.columns:
        lost = leads.set_index("lead_id")["lost_date"].reindex(end.index)
    else:
        lost = pd.Series(pd.NaT, index=end.index, dtype="datetime64[ns]")
    no_lost = not bool(lost.notna().any())
    stop = end.fillna(pd.Series(as_of, index=end.index) if no_lost else lost.where(lost <= as_of))
    is_open = stop.isna()
    stop = stop[~is_open]
    t = touchpoints.loc[touchpoints["lead_id"].notna(), ["lead_id", "channel", "touched_at"]]
    n_open = int(t.loc[t["lead_id"].isin(is_open.index[is_open]), "lead_id"].nunique())
    t = t[t["lead_id"].isin(stop.index)]
    t = t.assign(end=stop.reindex(t["lead_id"]).to_numpy() + pd.Timedelta(days=1))
    window = pd.Timedelta(days=window_days + 1)
    t = t[(t["touched_at"] < t["end"]) & (t["touched_at"] >= t["end"] - window)]
    t = t.sort_values(["lead_id", "touched_at", "channel"], kind="mergesort")
    t["days_before"] = (t["end"] - t["touched_at"]).dt.total_seconds() / 86400.0
    t["from_end"] = t.groupby("lead_id").cumcount(ascending=False)
    truncated = int((t.groupby("lead_id").size() > max_touches).sum())
    t = t[t["from_end"] < max_touches].copy()
    t["position"] = t.groupby("lead_id").cumcount()
    t["n"] = t.groupby("lead_id")["channel"].transform("size")
    t["converted"] = conversion.notna().reindex(t["lead_id"]).fillna(False).to_numpy()
    n_conv = int(t.drop_duplicates("lead_id")["converted"].sum())
    touches = t[["lead_id", "channel", "position", "n", "days_before", "converted"]]
    return (
        touches.reset_index(drop=True),
        t["lead_id"].nunique(),
        n_conv,
        truncated,
        n_open,
        no_lost,
    )


def assert_same_paths(got: at.Paths, want: tuple) -> None:
    """The same touches (lead_id and channel read as text; as categoricals their categories
    are the values present, in code-point order) and the same counts."""
    for name in ("lead_id", "channel"):
        column = got.touches[name]
        assert isinstance(column.dtype, pd.CategoricalDtype)
        assert list(column.cat.categories) == sorted(set(want[0][name]))
    text = got.touches.astype({"lead_id": object, "channel": object})
    plain = want[0].astype({"lead_id": object, "channel": object})  # the data set's str: text
    pd.testing.assert_frame_equal(text, plain, check_exact=True)
    assert (got.n_paths, got.n_converted, got.truncated, got.open, got.no_lost) == want[1:]


@pytest.mark.parametrize(
    ("action", "max_touches", "lost"),
    [("won", 20, True), ("inquiry", 3, False), ("first_order", 5, True)],
)
def test_engine_paths_equal_the_pandas_paths_on_the_demo(demo, action, max_touches, lost):
    """Same rows in the same order, values equal, same counts: cut paths (cap 3 and 5), leads
    without lost dates (every lead not converted a non-converter), open leads left out."""
    as_of = demo.analysis_date - pd.DateOffset(months=3)  # some conversions come later
    leads = demo["leads"] if lost else demo["leads"].drop(columns="lost_date")
    conv = at.conversion_times(demo, action, as_of)
    got = at.build_paths(demo["touchpoints"], leads, conv, as_of, 60, max_touches)
    want = _pandas_paths(demo["touchpoints"], leads, conv, as_of, 60, max_touches)
    assert_same_paths(got, want)
    assert (got.truncated > 0) == (max_touches < 20) and got.n_converted > 0
    assert (got.open > 0) == lost


def test_first_order_conversion_is_the_first_completed_order_per_account(demo):
    o = demo["orders"]
    first = o[o["status"] == "completed"].groupby("account_id")["order_date"].min()
    pd.testing.assert_series_equal(
        at.conversion_times(demo, "first_order"),
        demo["leads"].set_index("lead_id")["account_id"].map(first),
    )


def test_engine_paths_on_odd_shapes_equal_the_pandas_paths():
    """One channel, ties (same lead, time and channel), touches without a lead, a lead with
    no touch, and no touch inside any window (an empty table with the same columns)."""
    leads = pd.DataFrame({"lead_id": ["L1", "L2", "L3"]})
    t = pd.DataFrame(
        {
            "lead_id": ["L1", "L1", "L1", None, "L2", "L2"],
            "channel": ["A"] * 6,
            "touched_at": pd.to_datetime(
                ["2025-01-01", "2025-01-01", "2025-01-03", "2025-01-02"]
                + ["2025-01-04 12:30:00"] * 2,
                format="ISO8601",
            ),
        }
    )
    conv = pd.Series(pd.to_datetime(["2025-01-03 08:00:00", None, None]), index=leads["lead_id"])
    as_of = pd.Timestamp("2025-02-01")
    for cap in (1, 2, 20):
        assert_same_paths(
            at.build_paths(t, leads, conv, as_of, 90, cap),
            _pandas_paths(t, leads, conv, as_of, 90, cap),
        )
    empty = at.build_paths(t, leads, conv, pd.Timestamp("2026-01-01"), 0)
    assert empty.touches.empty and empty.n_paths == 0
    kinds = {c: str(d) for c, d in empty.touches.dtypes.items()}  # "category" whatever its values
    assert kinds == {
        c: str(d) for c, d in at.build_paths(t, leads, conv, as_of).touches.dtypes.items()
    }


def _random_touches(n: int = 3000) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Timestamp]:
    """Touches (shuffled, many ties in time and channel, channels beyond ASCII), 60 leads (some
    open on the analysis date), their conversions and the analysis date."""
    rng = np.random.default_rng(7)
    leads = pd.DataFrame({"lead_id": [f"L{i}" for i in range(60)]})
    leads["lost_date"] = pd.Timestamp("2025-03-01") - pd.to_timedelta(
        rng.integers(0, 40, 60), unit="D"
    )
    leads.loc[rng.random(60) < 0.2, "lost_date"] = pd.NaT  # some open leads
    t = pd.DataFrame(
        {
            "lead_id": leads["lead_id"].to_numpy()[rng.integers(0, 60, n)],
            "channel": np.array(["b", "a", "é", "Z", "ab"])[rng.integers(0, 5, n)],
            "touched_at": pd.Timestamp("2024-12-01")
            + pd.to_timedelta(rng.integers(0, 90 * 4, n) * 6, unit="h"),
        }
    )
    won = pd.Timestamp("2025-02-01") + pd.to_timedelta(rng.integers(0, 40, 60), unit="D")
    conv = pd.Series(won.where(rng.random(60) < 0.5), index=leads["lead_id"])
    return t, leads, conv, pd.Timestamp("2025-03-05")


def test_numbered_paths_equal_the_pandas_paths_on_random_ties_and_text_order():
    """The numbering outside the engine (:func:`attribution_paths._number`, an integer lexsort
    on ranks) against the pandas oracle on shuffled touches with many ties in time and channel,
    lead ids whose text order is not their numeric order (L10 < L9) and channels beyond ASCII
    (ordered by code point), under caps that cut many paths."""
    t, leads, conv, as_of = _random_touches()
    for cap in (1, 3, 100):
        got = at.build_paths(t, leads, conv.where(conv <= as_of), as_of, 30, cap)
        want = _pandas_paths(t, leads, conv.where(conv <= as_of), as_of, 30, cap)
        assert_same_paths(got, want)
        assert got.n_paths > 30 and (got.truncated > 0) == (cap < 100)
    # leads as an Ibis table: numbered from the touches' lead id text (no ranks made here)
    table = at.build_paths(t, ibis.memtable(leads), conv.where(conv <= as_of), as_of, 30, 3)
    assert_same_paths(table, _pandas_paths(t, leads, conv.where(conv <= as_of), as_of, 30, 3))


def _attribute_by_strings(paths: at.Paths, values: pd.Series) -> pd.DataFrame:
    """:func:`attribution.attribute` as it was, grouping by the lead id and channel strings
    and counting Markov transitions with ``np.add.at`` (kept here as the oracle); the lead ids
    and channels as plain text whatever the touches carry."""
    paths = dataclasses.replace(paths, touches=_as_text(paths.touches))

    def markov(touches: pd.DataFrame) -> pd.Series:
        touches = touches.sort_values(["lead_id", "position"], kind="mergesort")
        channels = sorted(touches["channel"].unique())
        k = len(channels)
        ch = touches["channel"].map({c: i for i, c in enumerate(channels)}).to_numpy()
        first = touches["position"].to_numpy() == 0
        last = touches["position"].to_numpy() == touches["n"].to_numpy() - 1
        start, trans, to_conv, to_null = np.zeros(k), np.zeros((k, k)), np.zeros(k), np.zeros(k)
        np.add.at(start, ch[first], 1)
        np.add.at(trans, (ch[~last], np.roll(ch, -1)[~last]), 1)
        conv = touches["converted"].to_numpy().astype(bool)
        np.add.at(to_conv, ch[last & conv], 1)
        np.add.at(to_null, ch[last & ~conv], 1)
        total = np.maximum(trans.sum(axis=1) + to_conv + to_null, 1)
        q, r, s = trans / total[:, None], to_conv / total, start / start.sum()

        def p(removed: int | None) -> float:
            qq, rr, ss = q.copy(), r.copy(), s.copy()
            if removed is not None:
                qq[removed, :] = qq[:, removed] = rr[removed] = ss[removed] = 0.0
            return float(ss @ np.linalg.solve(np.eye(k) - qq, rr))

        base = p(None)
        effects = np.clip([1 - p(i) / base for i in range(k)], 0, None)
        return pd.Series(effects / effects.sum(), index=channels, name="markov")

    def weights(touches: pd.DataFrame, model: str) -> pd.Series:
        if model != "time decay":
            return at.rule_weights(touches, model)
        raw = 0.5 ** (touches["days_before"].to_numpy() / 7.0)
        by_lead = pd.Series(raw).groupby(touches["lead_id"].to_numpy()).transform("sum")
        return pd.Series(raw / by_lead.to_numpy(), index=touches.index)

    conv = paths.touches[paths.touches["converted"]]
    out = {m: weights(conv, m).groupby(conv["channel"]).sum() for m in at.MODELS[:-1]}
    out["markov"] = markov(paths.touches) * paths.n_converted
    table = pd.DataFrame(out).fillna(0.0)
    v = values.reindex(conv["lead_id"]).fillna(0.0).to_numpy()
    for m in at.MODELS[:-1]:
        w = pd.Series(weights(conv, m).to_numpy() * v, index=conv.index)
        table[f"{m} revenue"] = w.groupby(conv["channel"]).sum()
    t = paths.touches
    known = ~t["converted"] | values.reindex(t["lead_id"]).notna().to_numpy()
    share = markov(t[known.to_numpy()].reset_index(drop=True))
    total = float(values.reindex(conv["lead_id"].unique()).sum())
    table["markov revenue"] = share.reindex(table.index).fillna(0.0) * total
    return table.fillna(0.0).sort_index()


def _as_text(touches: pd.DataFrame) -> pd.DataFrame:
    return touches.astype({"lead_id": object, "channel": object})


def test_attribute_by_codes_equals_attribute_by_strings(demo):
    """The same floats as grouping by the strings, for touches in build_paths' order (the
    fast path: categorical codes, sorted), shuffled (the general one), and as plain text,
    with values some of which are unknown."""
    conv = at.conversion_times(demo, action="won")
    paths = at.build_paths(demo["touchpoints"], demo["leads"], conv, as_of=demo.analysis_date)
    leads = paths.touches["lead_id"].unique()
    rng = np.random.default_rng(3)
    values = pd.Series(rng.gamma(2.0, 500.0, len(leads)), index=leads)
    values[rng.random(len(leads)) < 0.3] = np.nan
    want = _attribute_by_strings(paths, values)
    pd.testing.assert_frame_equal(at.attribute(paths, values), want, check_exact=True)
    text = dataclasses.replace(paths, touches=_as_text(paths.touches))
    pd.testing.assert_frame_equal(at.attribute(text, values), want, check_exact=True)
    shuffled = dataclasses.replace(paths, touches=paths.touches.sample(frac=1.0, random_state=1))
    pd.testing.assert_frame_equal(
        at.attribute(shuffled, values), _attribute_by_strings(shuffled, values), check_exact=True
    )
    codes, ids = at.path_codes(paths.touches["lead_id"])
    got_codes, got_ids = pd.factorize(paths.touches["lead_id"])
    assert (codes == got_codes).all() and list(ids) == list(got_ids)


def test_paths_from_str_columns_equal_those_from_objects(demo):
    text = pd.StringDtype("pyarrow", na_value=np.nan)
    conv = at.conversion_times(demo, action="won")
    frames = {}
    for kind in (object, text):
        t = demo["touchpoints"].astype({"lead_id": kind, "channel": kind})
        leads = demo["leads"].astype({"lead_id": kind})
        c = conv.set_axis(conv.index.astype(kind))
        frames[kind] = at.build_paths(t, leads, c, demo.analysis_date, 60, 5).touches
    pd.testing.assert_frame_equal(frames[object], frames[text])


def assert_identical_paths(got: at.Paths, want: at.Paths) -> None:
    """The same touches (values, dtypes, categories, row order) and the same counts."""
    pd.testing.assert_frame_equal(got.touches, want.touches, check_exact=True)
    for name in ("lead_id", "channel"):
        assert got.touches[name].cat.categories.equals(want.touches[name].cat.categories)
    assert dataclasses.replace(got, touches=None) == dataclasses.replace(want, touches=None)


@pytest.mark.parametrize("by_rank", [True, False])
def test_paths_read_in_small_batches_equal_the_paths_read_at_once(monkeypatch, by_rank):
    """The engine's rows read 3 at a time give the paths read in one batch, with the lead's
    rank (leads as pandas) or its lead id text (leads as an Ibis table) from the engine; also
    when the rows come in an order where two channels first appear in late batches (their
    codes must join the dictionary of the earlier ones) and open leads' rows span batches
    (each open lead counts once)."""
    from helpers import attribution_paths as ap
    from helpers import engine as engines

    t, leads, conv, as_of = _random_touches(600)
    conv = conv.where(conv <= as_of)
    people = leads if by_rank else ibis.memtable(leads)
    monkeypatch.setattr(ap, "BATCH_ROWS", 10**9)
    want = at.build_paths(t, people, conv, as_of, 30, 3)
    assert want.open > 1 and want.truncated > 0
    assert_same_paths(want, _pandas_paths(t, leads, conv, as_of, 30, 3))
    monkeypatch.setattr(ap, "BATCH_ROWS", 3)
    assert_identical_paths(at.build_paths(t, people, conv, as_of, 30, 3), want)

    seen = []

    def late_channels(expr, engine=None, rows=1_000_000):
        """The whole result, rows with channel é or Z last, in batches of ``rows``."""
        table = engines.to_arrow(expr, engine)
        late = table.column("channel").to_numpy(zero_copy_only=False)
        table = table.take(np.argsort(np.isin(late, ["é", "Z"]), kind="stable"))
        seen[:] = table.to_batches(max_chunksize=rows)
        return iter(seen)

    monkeypatch.setattr(engines, "to_batches", late_channels)
    assert_identical_paths(at.build_paths(t, people, conv, as_of, 30, 3), want)
    firsts = {}
    for i, batch in enumerate(seen):
        for channel in batch.column("channel").to_pylist():
            firsts.setdefault(channel, i)
    assert min(firsts["é"], firsts["Z"]) > max(firsts[c] for c in ("a", "ab", "b")) + 10
    batches_of_open = {}
    for i, batch in enumerate(seen):
        waiting = batch.filter(batch.column("open")).column(0).to_pylist()
        for lead in set(waiting):
            batches_of_open.setdefault(lead, set()).add(i)
    assert max(len(b) for b in batches_of_open.values()) > 1


def test_ranks_of_a_chunked_column_are_those_of_the_whole_column():
    import pyarrow as pa

    from helpers import attribution_paths as ap

    chunks = [["b", "é", "a"], ["c", "a"], [], ["Z", "b"]]
    column = pa.chunked_array([pa.array(c, type=pa.large_string()) for c in chunks])
    ranks, values = ap._ranks(column)
    flat = [v for c in chunks for v in c]
    names = sorted(set(flat))  # code-point order, as Python sorts
    assert values.to_pylist() == names
    assert ranks.tolist() == [names.index(v) for v in flat]
    empty, none = ap._ranks(pa.chunked_array([], type=pa.string()))
    assert len(empty) == 0 and len(none) == 0


def test_attribute_on_coded_paths_equals_attribute_on_the_text(demo):
    """The coded way (categoricals read as codes, one lookup of the values, the Markov models
    on arrays) gives the floats the plain way on text columns gives, bit for bit; and the
    Markov split of the paths of known value equals markov_removal of those rows."""
    as_of = demo.analysis_date
    leads = demo["leads"]
    conv = at.conversion_times(demo, "won", as_of).reindex(leads["lead_id"])
    paths = at.build_paths(demo["touchpoints"], leads, conv, as_of, 90, 5)
    value = at.revenue_after_conversion(leads, demo["orders"], conv, as_of, 180)
    assert value.notna().sum() > 10 and value.isna().sum() > 10  # both kinds of path
    text = dataclasses.replace(
        paths, touches=paths.touches.astype({"lead_id": object, "channel": object})
    )
    plain_values = value.set_axis(value.index.astype(object))
    pd.testing.assert_frame_equal(
        at.attribute(paths, values=value), at.attribute(text, values=plain_values), check_exact=True
    )
    t = paths.touches
    arrays = at._PathArrays.of(t)
    assert arrays.ordered
    known = ~arrays.conv | value.reindex(arrays.ids).notna().to_numpy()[arrays.codes]
    want = at.markov_removal(t[known].reset_index(drop=True))
    pd.testing.assert_series_equal(arrays.markov(known), want, check_exact=True)
    pd.testing.assert_series_equal(arrays.markov(), at.markov_removal(t), check_exact=True)
