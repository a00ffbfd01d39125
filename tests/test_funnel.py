"""Funnel by channel: stage rates (planted rates recovered, hand-counted pivots) and time to
decision."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint
from test_shapes_channels import CHANNEL_SHAPES, channel_dataset

from helpers import funnel
from helpers.steps import Skipped

AS_OF = pd.Timestamp("2025-01-01")


def _leads() -> pd.DataFrame:
    """Channel A: 4 mature leads (won; lost in negotiation; inquiry only; nothing). Channel B:
    2 mature leads (won; nothing) and one young won lead, which must not count."""
    d = pd.Timestamp
    nat = pd.NaT
    rows = [
        ("A", "2023-01-01", d("2023-01-05"), d("2023-02-01"), d("2023-03-01"), d("2023-04-01")),
        ("A", "2023-01-01", d("2023-01-05"), d("2023-02-01"), d("2023-03-01"), nat),
        ("A", "2023-01-01", d("2023-01-05"), nat, nat, nat),
        ("A", "2023-01-01", nat, nat, nat, nat),
        ("B", "2023-01-01", d("2023-01-05"), d("2023-02-01"), d("2023-03-01"), d("2023-04-01")),
        ("B", "2023-01-01", nat, nat, nat, nat),
        ("B", "2024-12-01", d("2024-12-02"), d("2024-12-03"), d("2024-12-04"), d("2024-12-05")),
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "source_channel",
            "created_date",
            "intent_date",
            "proposal_date",
            "negotiation_date",
            "won_date",
        ],
    )
    frame["created_date"] = pd.to_datetime(frame["created_date"])
    return frame


def test_stage_rates_inside_bonferroni_wilson_intervals(demo, truth):
    """24 comparisons (6 channels x 4 stages): each planted marginal rate must lie in the
    observed Wilson interval at level 1 - 0.05/24 (Bonferroni), so that one test has a 5%
    chance of a false alarm overall, not 24 x 5%."""
    fun = funnel.conversion(demo["leads"], as_of=demo.analysis_date, mature_days=365)
    alpha = 0.05 / len(fun)
    assert len(fun) == 24
    for row in fun.itertuples():
        planted = truth["channels"][row.channel]["marginal_stage_rates"][row.stage]
        lo, hi = proportion_confint(row.converted, row.entered, alpha=alpha, method="wilson")
        assert lo <= planted <= hi, (row.channel, row.stage, row.rate, planted)


def test_rates_and_shares_counted_by_hand():
    fun = funnel.conversion(_leads(), as_of=AS_OF, mature_days=200)
    rates = funnel.rates(fun)
    assert list(rates.columns) == list(funnel.STAGES)
    assert list(rates.loc["A"]) == pytest.approx([0.75, 2 / 3, 1.0, 0.5])
    assert list(rates.loc["B"]) == pytest.approx([0.5, 1.0, 1.0, 1.0])  # young lead left out
    shares = funnel.shares(fun)
    assert list(shares.index) == list(funnel.STAGES)
    assert list(shares["A"]) == pytest.approx([0.75, 0.5, 0.5, 0.25])
    a_won = fun[(fun["channel"] == "A") & (fun["stage"] == "won")].iloc[0]
    assert (a_won["entered"], a_won["converted"]) == (2, 1)
    # B: 1 of 1 negotiation won; Wilson 95% interval for 1/1 is 0.2065-1 (Newcombe 1998)
    assert funnel.close_sentence(fun=fun, names={"B": "Bee fairs"}) == (
        "Negotiations from Bee fairs close best (100% won, 95% interval 21%–100%, of 1 "
        "negotiations)."
    )
    shown = funnel.rate_table(rates, names={"B": "Bee fairs"})
    assert list(shown.index) == ["A", "Bee fairs"] and shown.index.name == "channel"
    assert shown.loc["Bee fairs"].tolist() == pytest.approx([0.5, 1.0, 1.0, 1.0])


def test_a_short_lead_history_shortens_the_maturity_to_a_third_of_it():
    # the first lead is 731 days old: leads count from 243 days, and the sentence says so
    fun = funnel.conversion(_leads(), as_of=AS_OF, mature_days=3650)
    assert fun.attrs["mature_days"] == 731 // 3
    assert list(funnel.rates(fun).loc["B"]) == pytest.approx([0.5, 1.0, 1.0, 1.0])
    assert funnel.close_sentence(fun=fun).endswith(
        "Rates count leads at least 243 days old (a third of the 731-day lead history)."
    )


def test_too_short_a_lead_history_skips_the_funnel_and_what_follows():
    leads = _leads().assign(created_date=AS_OF - pd.Timedelta(days=60))
    fun = funnel.conversion(leads, as_of=AS_OF, mature_days=365)
    assert isinstance(fun, Skipped) and fun.step == "The funnel"
    assert "the funnel needs 90 days of lead history, the data has 60" in fun.sentence()
    assert funnel.rates(fun) == fun and funnel.shares(fun) == fun
    assert funnel.close_sentence(fun=fun) == fun


def test_a_stage_counts_as_reached_when_a_later_stage_is_dated():
    # only created and won dates (no intermediate stages, no lost dates): every won lead
    # reached each stage; the not-won leads are non-converters (none can be told "open")
    leads = pd.DataFrame(
        {
            "source_channel": ["A", "A", "A", "A", None],
            "created_date": pd.to_datetime(["2023-01-01"] * 5),
            "won_date": pd.to_datetime(["2023-03-01", None, None, "2023-02-01", "2023-02-01"]),
            "lost_date": pd.NaT,
        }
    )
    assert funnel.undated_stages(leads) == 3 * 3  # three won leads, three undated stages each
    with pytest.warns(UserWarning, match="9 stage"):
        fun = funnel.conversion(leads, as_of=AS_OF, mature_days=200)
    rates = funnel.rates(fun)
    assert list(rates.loc["A"]) == pytest.approx([0.5, 1.0, 1.0, 1.0])
    assert list(rates.index) == ["A", funnel.NO_CHANNEL]  # an empty channel is "unknown"
    # the close rate would be 100% by construction: lead-to-won instead, and the count
    assert funnel.close_sentence(fun=fun) == (
        "The data dates no negotiation: mature leads from Unknown are won most often "
        "(100% of 1 leads, 95% interval 21%–100%). 9 stage(s) of mature leads have no date "
        "and count as reached because a later stage is dated."
    )


def test_without_lost_dates_time_to_decision_is_time_to_won_and_never_inf():
    leads = pd.DataFrame(
        {
            "source_channel": ["A", "A", "A", "B", None],
            "created_date": pd.to_datetime(["2025-01-01"] * 5),
            "won_date": pd.to_datetime(["2025-01-11", "2025-01-21", None, None, None]),
            "lost_date": pd.NaT,
        }
    )
    times = funnel.time_to_decision(leads, as_of=pd.Timestamp("2025-03-01"))
    assert times.decision == "won" and set(times.fits) == {"A", "B", funnel.NO_CHANNEL}
    assert times.medians["A"] == 20.0
    text = funnel.decision_sentence(times)
    assert text == (
        "Median time to won ranges from 20 days (A) to 20 days (A); not reached for B, "
        "Unknown. The data "
        "has no lost dates: time to decision is time to won, leads not won are censored at the "
        "analysis date."
    )
    none_won = funnel.time_to_decision(
        leads.assign(won_date=pd.NaT), as_of=pd.Timestamp("2025-03-01")
    )
    assert "is not reached for any channel" in funnel.decision_sentence(none_won)
    assert "inf" not in funnel.decision_sentence(none_won)


def test_time_to_decision_counts_losses_as_decisions_and_censors_open_deals():
    leads = pd.DataFrame(
        {
            "source_channel": ["A", "A", "A", "B"],
            "created_date": pd.to_datetime(["2025-01-01"] * 4),
            "won_date": pd.to_datetime(["2025-01-11", None, None, None]),
            "lost_date": pd.to_datetime([None, "2025-01-21", None, None]),
        }
    )
    times = funnel.time_to_decision(leads, as_of=pd.Timestamp("2025-03-01"))
    # A: decided after 10 and 20 days, one open (censored at 59): S drops to 1/3 at day 20
    assert times.medians["A"] == 20.0 and math.isinf(times.medians["B"])
    assert set(times.fits) == {"A", "B"}
    assert funnel.decision_sentence(times) == (
        "Median time to decision ranges from 20 days (A) to 20 days (A); not reached for B."
    )


def test_wilson_intervals_match_published_values():
    # Newcombe (1998), Statistics in Medicine 17:857-872, Table I, method 3 (Wilson score
    # without continuity correction): typed in, not recomputed
    published = {
        "a": (81, 263, 0.2553, 0.3662),
        "b": (15, 148, 0.0624, 0.1605),
        "c": (0, 20, 0.0000, 0.1611),
        "d": (1, 29, 0.0061, 0.1718),
        "e": (29, 29, 0.8830, 1.0000),
    }
    rows = []
    for channel, (k, n, _, _) in published.items():
        for i in range(n):
            rows.append(
                {
                    "source_channel": channel,
                    "created_date": pd.Timestamp("2020-01-01"),
                    "intent_date": pd.Timestamp("2020-02-01") if i < k else pd.NaT,
                    "proposal_date": pd.NaT,
                    "negotiation_date": pd.NaT,
                    "won_date": pd.NaT,
                }
            )
    fun = funnel.conversion(pd.DataFrame(rows), as_of=pd.Timestamp("2024-01-01"), mature_days=365)
    intent = fun[fun["stage"] == "intent"].set_index("channel")
    for channel, (k, n, low, high) in published.items():
        row = intent.loc[channel]
        assert (row["converted"], row["entered"]) == (k, n)
        assert row["low"] == pytest.approx(low, abs=6e-5), channel
        assert row["high"] == pytest.approx(high, abs=6e-5), channel


def test_open_mature_leads_are_not_counted_as_non_converters():
    # A's lead with an inquiry only and A's lead with nothing: the first is lost, the second
    # still open on the analysis date (neither won nor lost): it leaves the intent denominator
    leads = _leads()
    leads["lost_date"] = pd.to_datetime(
        [None, "2023-04-01", "2023-02-01", None, None, "2023-02-01", None]
    )
    fun = funnel.conversion(leads, as_of=AS_OF, mature_days=365)
    a_intent = fun[(fun["channel"] == "A") & (fun["stage"] == "intent")].iloc[0]
    assert (a_intent["entered"], a_intent["converted"], a_intent["open"]) == (3, 3, 1)
    a_proposal = fun[(fun["channel"] == "A") & (fun["stage"] == "proposal")].iloc[0]
    assert (a_proposal["entered"], a_proposal["converted"]) == (3, 2)  # the lost one counts


# --- the counts in the engine equal the pandas counts they replaced -----------------------------


def _pandas_conversion(leads: pd.DataFrame, as_of: pd.Timestamp, mature_days: int = 365):
    """The pandas loop of :func:`funnel.conversion` the engine aggregation replaced (kept here
    as the oracle); None where the engine version returns Skipped."""
    known = leads.loc[leads["created_date"] <= as_of, "created_date"]
    history = int((as_of - known.min()).days) if len(known) else 0
    if history // 3 < mature_days:
        if history // 3 < funnel.MIN_MATURE_DAYS:
            return None
        mature_days = history // 3
    mature = leads[leads["created_date"] <= as_of - pd.Timedelta(days=mature_days)]
    if mature.empty:
        return None
    has_lost = "lost_date" in mature.columns and bool(mature["lost_date"].notna().any())
    reached_all = funnel.reached_stages(mature)
    undated = reached_all & ~funnel._dated(mature)
    rows = []
    for ch, part in mature.groupby(funnel.channel_of(mature)):
        reached_prev = np.ones(len(part), bool)
        is_open = (
            (part["won_date"].isna() & part["lost_date"].isna()).to_numpy()
            if has_lost
            else np.zeros(len(part), bool)
        )
        for stage in funnel.STAGES:
            reached = reached_all.loc[part.index, stage].to_numpy() & reached_prev
            pending = reached_prev & ~reached & is_open
            n, k = int((reached_prev & ~pending).sum()), int(reached.sum())
            lo, hi = proportion_confint(k, n, method="wilson") if n else (np.nan,) * 2
            rows.append(
                {
                    "channel": ch,
                    "stage": stage,
                    "entered": n,
                    "converted": k,
                    "open": int(pending.sum()),
                    "undated": int(undated.loc[part.index, stage].to_numpy().sum()),
                    "rate": k / n if n else float("nan"),
                    "low": lo,
                    "high": hi,
                    "share_of_leads": k / len(part),
                }
            )
            reached_prev = reached
    out = pd.DataFrame(rows)
    out.attrs.update(mature_days=mature_days, history_days=history)
    return out


def assert_same_funnel(leads: pd.DataFrame, as_of: pd.Timestamp, mature_days: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the undated-stage warning: tested above
        got = funnel.conversion(leads, as_of=as_of, mature_days=mature_days)
    want = _pandas_conversion(leads, as_of, mature_days)
    if want is None:
        assert isinstance(got, Skipped)
        return
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert got.attrs == want.attrs


@pytest.mark.parametrize("mature_days", [365, 3650])
def test_engine_funnel_equals_the_pandas_funnel_on_the_demo(demo, mature_days):
    """Same rows (channel x stage), same counts, rates and intervals: with lost dates (open
    leads left out), without them, without intermediate stage dates (stages reached because a
    later one is dated), with empty source channels, and with a history-shortened maturity."""
    leads, as_of = demo["leads"], demo.analysis_date
    assert_same_funnel(leads, as_of, mature_days)
    assert_same_funnel(leads.drop(columns="lost_date"), as_of, mature_days)
    odd = leads.drop(columns=["proposal_date", "negotiation_date"]).assign(
        source_channel=leads["source_channel"].where(np.arange(len(leads)) % 7 > 0)
    )
    assert_same_funnel(odd, as_of, mature_days)


@pytest.mark.parametrize("shape", sorted(CHANNEL_SHAPES))
def test_engine_funnel_equals_the_pandas_funnel_on_the_channel_shapes(shape):
    """The lead funnel only (creation and won dates, empty channels), one channel (the CRM
    export), and the funnel with spend; maturity shortened by the short history (365) or as
    given (60)."""
    ds = channel_dataset(shape)
    assert_same_funnel(ds["leads"], ds.analysis_date, 365)
    assert_same_funnel(ds["leads"], ds.analysis_date, 60)


def test_channel_of_str_equals_channel_of_objects():
    text = pd.StringDtype("pyarrow", na_value=np.nan)
    raw = pd.DataFrame({"source_channel": ["paid_search", None, "unknown", "é", np.nan]})
    want = funnel.channel_of(raw.astype({"source_channel": object}))
    got = funnel.channel_of(raw.astype({"source_channel": text}))
    assert got.dtype == text  # stays Arrow text
    assert list(got) == list(want) == ["paid_search", "unknown", "unknown", "é", "unknown"]
