"""Attribution on tiny hand-solved path sets, and path building rules."""

from __future__ import annotations

import dataclasses

import ibis
import numpy as np
import pandas as pd
import pytest

from helpers import attribution as at
from helpers import attribution_paths as ap
from helpers.loading import Dataset, entry, load_dataset
from helpers.steps import Skipped

END = pd.Timestamp("2025-01-31")


def _paths(
    paths: list[tuple[list[str], bool]],
    values: dict[str, float] | None = None,
    half_life_days: float = 7.0,
) -> at.Paths:
    """Built in the engine: lead L<i> touches the channels of ``paths[i]`` on consecutive days
    before ``END``, where it converts (True) or is lost; touch k of n is n - k + 1 days before
    the path's end (its day included whole)."""
    rows = [
        (f"L{i}", ch, END - pd.Timedelta(days=len(chs) - k))
        for i, (chs, _) in enumerate(paths)
        for k, ch in enumerate(chs)
    ]
    t = pd.DataFrame(rows, columns=["lead_id", "channel", "touched_at"])
    ids = [f"L{i}" for i in range(len(paths))]
    won = [c for _, c in paths]
    leads = pd.DataFrame({"lead_id": ids, "lost_date": [pd.NaT if w else END for w in won]})
    conv = pd.Series([END if w else pd.NaT for w in won], index=ids, dtype="datetime64[ns]")
    v = None if values is None else pd.Series(values, dtype=float)
    return at.build_paths(t, leads, conv, END, values=v, half_life_days=half_life_days)


PATHS = _paths([(["A"], True), (["B"], False), (["A", "B"], True)])


def test_markov_removal_effect_hand_solved():
    # P(conv) = 2/3; without A: 1/6 (effect 0.75); without B: 1/3 (effect 0.5) -> 0.6 / 0.4
    share = at.markov_removal(PATHS.steps)
    assert share["A"] == pytest.approx(0.6) and share["B"] == pytest.approx(0.4)
    table = at.attribute(PATHS)
    assert table.loc["A", "markov"] == pytest.approx(1.2)


def test_the_steps_count_the_touches_by_hand():
    """L0: A (converts); L1: B (lost); L2: A then B (converts)."""
    steps = PATHS.steps.set_index(["channel", "position", "n", "converted"])
    assert steps["touches"].to_dict() == {
        ("A", 0, 1, True): 1,
        ("A", 0, 2, True): 1,
        ("B", 0, 1, False): 1,
        ("B", 1, 2, True): 1,
    }
    assert steps.loc[("A", 0, 2, True), "next_channel"] == "B"
    assert steps["next_channel"].drop(("A", 0, 2, True)).isna().all()
    assert (PATHS.n_paths, PATHS.n_converted, PATHS.truncated) == (3, 2, 0)
    # without values no converted path has a known value
    assert not PATHS.valued and (PATHS.steps["known"] == ~PATHS.steps["converted"]).all()


def test_rule_based_models_hand_solved():
    t = at.attribute(PATHS)
    assert t.loc["A", "first touch"] == 2 and t.loc["B", "first touch"] == 0
    assert t.loc["A", "last touch"] == 1 and t.loc["B", "last touch"] == 1
    assert t.loc["A", "linear"] == 1.5 and t.loc["B", "linear"] == 0.5
    assert t.loc["A", "position based"] == 1.5
    assert list(t.columns) == list(at.MODELS)  # no revenue without values
    for model in at.MODELS:
        assert t[model].sum() == pytest.approx(2.0)  # every model hands out the 2 conversions


def test_position_based_and_time_decay_weights():
    w = at.rule_weights(np.arange(4), np.full(4, 4), "position based")
    assert list(w.round(3)) == [0.4, 0.1, 0.1, 0.4]
    with pytest.raises(ValueError, match="time"):
        at.rule_weights(np.arange(4), np.full(4, 4), "time decay")
    # touches 5, 4, 3 and 2 days before the end of the path: weights 1 : 2 : 4 : 8
    decay = at.attribute(_paths([(["A", "B", "C", "D"], True)], half_life_days=1.0))["time decay"]
    assert decay["D"] == pytest.approx(2 * decay["C"]) and decay["C"] == pytest.approx(
        4 * decay["A"]
    )
    assert decay.sum() == pytest.approx(1.0) and decay["A"] == pytest.approx(1 / 15)
    slow = at.attribute(_paths([(["A", "B", "C", "D"], True)], half_life_days=2.0))["time decay"]
    assert slow["D"] == pytest.approx(2**0.5 * slow["C"])  # the half-life is used


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
    touches = at.path_touches(t, leads, conv, pd.Timestamp("2025-03-01"), 90, max_touches=3)
    l1 = touches[touches["lead_id"] == "L1"]
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
    p = at.path_touches(t, leads, conv, pd.Timestamp("2025-03-01"), window_days=30)
    assert list(p["channel"]) == ["B"]


def test_revenue_of_leads_with_unknown_value_goes_to_no_channel():
    """C converts twice but its value is not known yet (NaN): it gets no revenue under any
    model, Markov included, and the known revenue is split among A and B alone."""
    values = {"L0": 100.0, "L1": 50.0, "L2": float("nan"), "L3": float("nan")}
    spec = [(["A"], True), (["B"], True), (["C"], True), (["C"], True), (["B"], False)]
    table = at.attribute(_paths(spec, values))
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
    assert p.steps.empty and (p.n_paths, p.open) == (0, 1)
    later = at.build_paths(t, leads, conv, pd.Timestamp("2025-03-31"), window_days=90)
    assert later.open == 0 and later.n_paths == 1
    touches = at.path_touches(t, leads, conv, pd.Timestamp("2025-03-31"), window_days=90)
    assert list(touches["channel"]) == ["A", "B"]


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
    touches = at.path_touches(t, leads, conv, pd.Timestamp("2025-03-01"), window_days=90)
    assert sorted(touches["lead_id"].unique()) == ["L1", "L2", "L4"] and p.open == 1
    # the same paths as PATHS: A 0.6, B 0.4
    share = at.markov_removal(p.steps)
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
    touches = at.path_touches(t, leads, conv, pd.Timestamp("2025-03-01"), window_days=90)
    assert list(touches.loc[touches["lead_id"] == "L3", "channel"]) == ["A"]
    without_column = at.build_paths(
        t, leads.drop(columns="lost_date"), conv, pd.Timestamp("2025-03-01"), window_days=90
    )
    assert without_column.no_lost and without_column.n_paths == 3


def test_markov_credit_does_not_depend_on_row_order():
    paths = _paths(
        [(["A", "B", "C"], True), (["B", "A"], False), (["C"], True), (["A", "C", "B"], False)]
    )
    want = at.markov_removal(paths.steps)
    for seed in range(5):
        shuffled = paths.steps.sample(frac=1.0, random_state=seed)
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
    # the steps alike; their values are engine sums of the orders, which may differ in the
    # last bits between a scan and a frame (another order of adding), so only to 1e-12
    money = ["value", "decay_value"]
    got, expected = scanned.paths.steps, want.paths.steps
    pd.testing.assert_frame_equal(got.drop(columns=money), expected.drop(columns=money))
    pd.testing.assert_frame_equal(got[money], expected[money], check_exact=False, rtol=1e-12)
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


def _oracle_steps(touches: pd.DataFrame) -> pd.DataFrame:
    """The oracle's touches counted per channel, next channel, position, length and outcome
    (the steps without ``cut`` and ``known``, which the oracle does not carry)."""
    t = touches.astype({"lead_id": object, "channel": object})
    t = t.assign(next_channel=t.groupby("lead_id")["channel"].shift(-1))
    keys = ["channel", "next_channel", "position", "n", "converted"]
    return t.groupby(keys, dropna=False).size().rename("touches").sort_index()


def check_paths(touchpoints, leads, conv, as_of, window_days=90, max_touches=20, values=None):
    """The engine against the pandas oracles: the touches (:func:`path_touches`) row for row,
    the counts, the steps' touches, and every model's credit and revenue (to 1e-10 relative
    or a millionth absolute: the engine sums in another order, in exact decimals of each
    weight to 18 places and each amount of money to 9)."""
    want = _pandas_paths(touchpoints, leads, conv, as_of, window_days, max_touches)
    touches = at.path_touches(touchpoints, leads, conv, as_of, window_days, max_touches)
    plain = want[0].astype({"lead_id": object, "channel": object})  # the data set's str: text
    pd.testing.assert_frame_equal(touches, plain, check_exact=True)
    got = at.build_paths(touchpoints, leads, conv, as_of, window_days, max_touches, values=values)
    assert (got.n_paths, got.n_converted, got.truncated, got.open, got.no_lost) == want[1:]
    steps = got.steps.groupby(
        ["channel", "next_channel", "position", "n", "converted"], dropna=False
    )["touches"].sum()
    pd.testing.assert_series_equal(steps, _oracle_steps(want[0]), check_names=False)
    assert (got.steps["cut"].any()) == (got.truncated > 0)
    if got.n_converted:
        table = at.attribute(got)
        oracle = _attribute_by_strings(want[0], got.n_converted, values)
        pd.testing.assert_frame_equal(table, oracle, check_exact=False, rtol=1e-10, atol=1e-6)
    return got


@pytest.mark.parametrize(
    ("action", "max_touches", "lost"),
    [("won", 20, True), ("inquiry", 3, False), ("first_order", 5, True)],
)
def test_engine_paths_equal_the_pandas_paths_on_the_demo(demo, action, max_touches, lost):
    """Same rows in the same order, values equal, same counts, same credit: cut paths (cap 3
    and 5), leads without lost dates (every lead not converted a non-converter), open leads
    left out, values some of which are unknown."""
    as_of = demo.analysis_date - pd.DateOffset(months=3)  # some conversions come later
    leads = demo["leads"] if lost else demo["leads"].drop(columns="lost_date")
    conv = at.conversion_times(demo, action, as_of)
    rng = np.random.default_rng(3)
    values = pd.Series(rng.gamma(2.0, 500.0, len(conv)), index=conv.index)
    values[rng.random(len(values)) < 0.3] = np.nan
    got = check_paths(demo["touchpoints"], leads, conv, as_of, 60, max_touches, values)
    assert (got.truncated > 0) == (max_touches < 20) and got.n_converted > 0
    assert (got.open > 0) == lost
    assert not got.steps["known"].all() and got.valued


def test_first_order_conversion_is_the_first_completed_order_per_account(demo):
    o = demo["orders"]
    first = o[o["status"] == "completed"].groupby("account_id")["order_date"].min()
    pd.testing.assert_series_equal(
        at.conversion_times(demo, "first_order"),
        demo["leads"].set_index("lead_id")["account_id"].map(first),
    )


def test_engine_paths_on_odd_shapes_equal_the_pandas_paths():
    """One channel, ties (same lead, time and channel), touches without a lead, a lead with
    no touch, and no touch inside any window (empty tables with the same columns)."""
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
        check_paths(t, leads, conv, as_of, 90, cap)
    empty = at.build_paths(t, leads, conv, pd.Timestamp("2026-01-01"), 0)
    assert empty.steps.empty and empty.n_paths == 0
    assert dict(empty.steps.dtypes.astype(str)) == ap.STEP_COLUMNS
    none = at.path_touches(t, leads, conv, pd.Timestamp("2026-01-01"), 0)
    assert none.empty and dict(none.dtypes.astype(str)) == ap.TOUCH_COLUMNS
    assert at.attribute(empty).empty


def test_a_touch_without_a_channel_inside_a_window_is_an_error():
    leads = pd.DataFrame({"lead_id": ["L1"]})
    t = pd.DataFrame(
        {
            "lead_id": ["L1", "L1"],
            "channel": ["A", None],
            "touched_at": pd.to_datetime(["2025-01-01", "2025-01-02"]),
        }
    )
    conv = pd.Series(pd.to_datetime(["2025-01-03"]), index=["L1"])
    with pytest.raises(ValueError, match="1 empty values"):
        at.build_paths(t, leads, conv, pd.Timestamp("2025-02-01"))
    with pytest.raises(ValueError, match="1 empty values"):
        at.path_touches(t, leads, conv, pd.Timestamp("2025-02-01"))
    # outside every window it is not used
    late = t.assign(touched_at=pd.to_datetime(["2025-01-01", "2025-06-01"]))
    assert at.build_paths(late, leads, conv, pd.Timestamp("2025-02-01")).n_paths == 1


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


def test_engine_paths_equal_the_pandas_paths_on_random_ties_and_text_order():
    """The numbering in the engine (window functions over each lead on integer ranks and
    channel codes) against the pandas oracle on shuffled touches with many ties in time and
    channel, lead ids whose text order is not their numeric order (L10 < L9) and channels
    beyond ASCII (ordered by code point), under caps that cut many paths; leads as pandas
    (numbered by rank) and as an Ibis table (by lead id text)."""
    t, leads, conv, as_of = _random_touches()
    conv = conv.where(conv <= as_of)
    rng = np.random.default_rng(5)
    values = pd.Series(rng.gamma(2.0, 100.0, len(leads)), index=leads["lead_id"].to_numpy())
    values[rng.random(len(values)) < 0.2] = np.nan
    for cap in (1, 3, 100):
        got = check_paths(t, leads, conv, as_of, 30, cap, values)
        assert got.n_paths > 30 and (got.truncated > 0) == (cap < 100)
    table = at.build_paths(t, ibis.memtable(leads), conv, as_of, 30, 3, values=values)
    want = at.build_paths(t, leads, conv, as_of, 30, 3, values=values)
    pd.testing.assert_frame_equal(table.steps, want.steps, check_exact=True)
    assert dataclasses.replace(table, steps=None) == dataclasses.replace(want, steps=None)
    by_id = at.path_touches(t, ibis.memtable(leads), conv, as_of, 30, 3)
    pd.testing.assert_frame_equal(by_id, at.path_touches(t, leads, conv, as_of, 30, 3))


def _attribute_by_strings(
    touches: pd.DataFrame, n_converted: int, values: pd.Series | None
) -> pd.DataFrame:
    """:func:`attribution.attribute` as it was before the paths were summed in the engine: on
    every touch, grouping by the lead id and channel strings and counting Markov transitions
    with ``np.add.at`` (kept here as the oracle)."""
    touches = touches.astype({"lead_id": object, "channel": object})

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
        pos, n = touches["position"].to_numpy(), touches["n"].to_numpy()
        if model == "first touch":
            w = (pos == 0).astype(float)
        elif model == "last touch":
            w = (pos == n - 1).astype(float)
        elif model == "linear":
            w = 1.0 / n
        elif model == "position based":
            middle = np.where(n > 2, 0.2 / np.maximum(n - 2, 1), 0.0)
            ends = np.where((pos == 0) | (pos == n - 1), 0.4, middle)
            w = np.where(n == 1, 1.0, np.where(n == 2, 0.5, ends))
        else:  # time decay
            raw = 0.5 ** (touches["days_before"].to_numpy() / 7.0)
            by_lead = pd.Series(raw).groupby(touches["lead_id"].to_numpy()).transform("sum")
            w = raw / by_lead.to_numpy()
        return pd.Series(w, index=touches.index)

    conv = touches[touches["converted"]]
    out = {m: weights(conv, m).groupby(conv["channel"]).sum() for m in at.MODELS[:-1]}
    out["markov"] = markov(touches) * n_converted
    table = pd.DataFrame(out).fillna(0.0)
    if values is None:
        return table.fillna(0.0).sort_index()
    values = values.set_axis(values.index.astype(object))
    v = values.reindex(conv["lead_id"]).fillna(0.0).to_numpy()
    for m in at.MODELS[:-1]:
        w = pd.Series(weights(conv, m).to_numpy() * v, index=conv.index)
        table[f"{m} revenue"] = w.groupby(conv["channel"]).sum()
    known = ~touches["converted"] | values.reindex(touches["lead_id"]).notna().to_numpy()
    share = markov(touches[known.to_numpy()].reset_index(drop=True))
    total = float(values.reindex(conv["lead_id"].unique()).sum())
    table["markov revenue"] = share.reindex(table.index).fillna(0.0) * total
    return table.fillna(0.0).sort_index()


def test_paths_from_str_columns_equal_those_from_objects(demo):
    text = pd.StringDtype("pyarrow", na_value=np.nan)
    conv = at.conversion_times(demo, action="won")
    steps, touches = {}, {}
    for kind in (object, text):
        t = demo["touchpoints"].astype({"lead_id": kind, "channel": kind})
        leads = demo["leads"].astype({"lead_id": kind})
        c = conv.set_axis(conv.index.astype(kind))
        steps[kind] = at.build_paths(t, leads, c, demo.analysis_date, 60, 5).steps
        touches[kind] = at.path_touches(t, leads, c, demo.analysis_date, 60, 5)
    pd.testing.assert_frame_equal(steps[object], steps[text])
    pd.testing.assert_frame_equal(touches[object], touches[text])


def test_ranks_of_a_chunked_column_are_those_of_the_whole_column():
    import pyarrow as pa

    chunks = [["b", "é", "a"], ["c", "a"], [], ["Z", "b"]]
    column = pa.chunked_array([pa.array(c, type=pa.large_string()) for c in chunks])
    ranks, values = ap._ranks(column)
    flat = [v for c in chunks for v in c]
    names = sorted(set(flat))  # code-point order, as Python sorts
    assert values.to_pylist() == names
    assert ranks.tolist() == [names.index(v) for v in flat]
    empty, none = ap._ranks(pa.chunked_array([], type=pa.string()))
    assert len(empty) == 0 and len(none) == 0


def test_money_and_weights_are_summed_exactly():
    """Values whose float sum depends on the order of adding (1e16 + 1 - 1e16) come back as
    their exact sum: the engine sums decimals, whatever order its threads add in."""
    values = {"L0": 1e16, "L1": 1.0, "L2": -1e16}
    paths = _paths([(["A"], True), (["A"], True), (["A"], True)], values)
    assert paths.steps["value"].sum() == 1.0
    assert at.attribute(paths).loc["A", "first touch revenue"] == 1.0
