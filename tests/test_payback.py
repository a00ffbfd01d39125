"""Lifetime value, LTV:CAC and payback: planted order recovered, hand-computed ratios and
payback months, and where the lifetime values come from."""

from __future__ import annotations

import copy
import dataclasses
import json
from types import SimpleNamespace

import ibis
import numpy as np
import pandas as pd
import pytest

from helpers import channels as ch
from helpers import engine
from helpers import lifetime_value as lv
from helpers import payback as pb
from helpers import payback_period as pp
from helpers import spend as sp
from helpers import survival as sv
from helpers.loading import Dataset, load_dataset
from helpers.steps import Skipped
from helpers.survival.cox import cox_fitter, entry_column

AS_OF = pd.Timestamp("2025-01-01")


def _costs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "paid": [True, True, True, True, False],
            "cac": [100.0, 200.0, 100.0, float("nan"), 0.0],
        },
        index=["X", "Y", "V", "W", "Z"],
    )


def _ltv() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "mean": [900.0, 500.0, 150.0, 800.0, 1000.0],
            "low": [400.0, 300.0, 50.0, 700.0, 900.0],
            "high": [1200.0, 700.0, 250.0, 900.0, 1100.0],
            "n": [10, 10, 10, 10, 10],
        },
        index=["X", "Y", "V", "W", "Z"],
    )


def _orders_and_accounts() -> tuple[pd.DataFrame, pd.DataFrame]:
    """X's one customer (acquired 2024-01-01) earns 60 margin in month 0 and 60 in month 1 (a
    cancelled order of 1000 in month 0 must not count); V's customer earns 10 a month."""
    accounts = pd.DataFrame(
        {
            "account_id": ["a1", "a2"],
            "acquired_date": pd.to_datetime(["2024-01-01", "2024-01-01"]),
            "acquisition_channel": ["X", "V"],
        }
    )
    orders = pd.DataFrame(
        {
            "account_id": ["a1", "a1", "a1", "a2"],
            "order_date": pd.to_datetime(["2024-01-10", "2024-01-12", "2024-02-15", "2024-01-10"]),
            "gross_margin": [60.0, 1000.0, 60.0, 10.0],
            "status": ["completed", "cancelled", "completed", "completed"],
        }
    )
    return orders, accounts


def _dataset() -> Dataset:
    return Dataset(tables={}, source="test", analysis_date=AS_OF, fingerprint="abc")


def test_ltv_cac_ranks_channels_in_the_planted_order(demo, truth):
    period = sp.reporting_period(demo)
    costs = ch.volume_and_cost(
        leads=period.leads, spend=period.spend, as_of=period.as_of, mature_days=365
    )
    ltv = lv.lifetime_values(demo, demo.analysis_date, n_boot=100, n_refits=4)
    # the same point values as the churn study's steps; intervals from refits on resamples
    same = sv.channel_ltv(demo, demo.analysis_date, sv.LtvSettings(n_boot=100))
    pd.testing.assert_series_equal(ltv.table["mean"], same["mean"])
    assert ltv.draws.shape == (4, len(same)) and (ltv.draws.std() > 0).all()
    assert (ltv.table["low"] == ltv.draws.quantile(0.025)).all()
    ratio = pb.ltv_cac_ratios(ltv.table, costs, draws=ltv.draws)
    assert list(ratio.index) == truth["ltv_cac"]["order_best_to_worst"]
    assert (ratio["low"] <= ratio["ratio"]).all() and (ratio["ratio"] <= ratio["high"]).all()


def test_refit_draws_refit_on_each_resample_within_groups():
    frame = pd.DataFrame(
        {"g": ["a"] * 3 + ["b"] * 2 + [None], "x": [1.0, 2.0, 3.0, 10.0, 20.0, 99.0]}
    )
    seen = []

    def estimate(pos: np.ndarray) -> pd.Series:
        sample = frame.iloc[pos]
        seen.append(sample["g"].value_counts(dropna=False).to_dict())
        return sample.groupby("g")["x"].mean()

    draws = lv.refit_draws(frame, estimate, by="g", n_refits=30, seed=1)
    assert draws.shape == (30, 2) and draws["a"].nunique() > 1
    # every group keeps its size; the row without a group stays in every refit
    assert all(s == {"a": 3, "b": 2, None: 1} for s in seen)
    assert draws["b"].isin([10.0, 15.0, 20.0]).all()


def test_verdict_rule():
    clear = {"elasticity_low": 0.3, "elasticity_high": 0.7}
    assert pb.verdict(ratio_high=5.0, marginal_low=1.2, **clear) == "grow"
    assert pb.verdict(ratio_high=5.0, marginal_low=0.9, **clear) == "hold"
    assert pb.verdict(ratio_high=0.9, marginal_low=1.2, **clear) == "cut or fix"
    unclear = {"elasticity_low": -0.1, "elasticity_high": 0.7}
    assert pb.verdict(ratio_high=5.0, marginal_low=3.0, **unclear) == "no verdict"
    none = {"elasticity_low": float("nan"), "elasticity_high": float("nan")}
    assert pb.verdict(ratio_high=5.0, marginal_low=float("nan"), **none) == "no verdict"


def test_marginal_ratio_is_the_average_times_the_elasticity():
    accounts, costs = _company(seed=5)
    fixed = _exponential_ltv(accounts)
    response = pd.DataFrame(
        {"elasticity": [0.5, 0.2], "low": [0.4, -0.1], "high": [0.6, 0.5], "se": [0.05, 0.15]},
        index=["A", "B"],
    )
    ratio = pb.ltv_cac_ratios(
        fixed.to_frame("mean"), costs, draws=pd.DataFrame([fixed] * 20), response=response
    )
    a, b = ratio.loc["A"], ratio.loc["B"]
    assert a["marginal"] == pytest.approx(0.5 * a["ratio"])
    assert a["marginal_low"] < a["marginal"] < a["marginal_high"]
    assert a["marginal_low"] == pytest.approx(a["low"] * 0.5 * (1 - 0.2), rel=0.1)
    assert b["verdict"] == "no verdict"  # its elasticity interval includes 0


def test_ltv_cac_ratios_by_hand():
    ratio = pb.ltv_cac_ratios(ltv=_ltv(), costs=_costs())
    assert list(ratio.index) == ["X", "Y", "V"]  # W has no CAC, Z no spend
    assert list(ratio["ratio"]) == pytest.approx([9.0, 2.5, 1.5])
    # without refit draws or the counts behind CAC: the LTV interval over a fixed CAC, by a
    # split normal through low / mean / high (Monte Carlo: 2000 draws)
    assert ratio.loc["X", "low"] == pytest.approx(4.0, rel=0.05)
    assert ratio.loc["X", "high"] == pytest.approx(12.0, rel=0.05)
    assert list(ratio["flag"]) == ["", "ratio under 3", "may not pay back"]
    assert list(ratio["verdict"]) == ["no verdict"] * 3  # no spend response measured


def test_payback_months_by_hand():
    orders, accounts = _orders_and_accounts()
    months = pb.payback_months(orders, accounts, costs=_costs(), as_of=AS_OF)
    assert months["X"] == 2.0  # 60 + 60 >= 100 in the second month
    assert pd.isna(months["V"])  # 10 a month never reaches 100 in 36 months
    assert "Y" not in months.index  # no customer acquired through Y


def test_ltv_cac_step_adds_payback_and_says_best_and_worst():
    orders, accounts = _orders_and_accounts()
    ltv = lv.ChannelLtv(table=_ltv(), source="given")
    ratio = pb.ltv_cac(ltv, costs=_costs(), orders=orders, accounts=accounts, as_of=AS_OF)
    assert ratio.loc["X", "payback_months"] == 2.0 and pd.isna(ratio.loc["Y", "payback_months"])
    lo_x, hi_x, lo_v, hi_v = (ratio.loc[c, e] for c in ("X", "V") for e in ("low", "high"))
    assert pb.ratio_sentence(ratio, names={"X": "Fairs"}) == (
        f"Fairs returns 9.0× (95% interval {lo_x:.1f}–{hi_x:.1f}) its acquisition cost, "
        f"V 1.5× (95% interval {lo_v:.1f}–{hi_v:.1f})."
    )
    assert ratio.loc["X", "payback_low"] <= 2.0 <= ratio.loc["X", "payback_high"]
    assert pd.isna(ratio.loc["V", "payback_low"])  # never within 36 months
    shown = pb.ratio_table(ratio, names={"X": "Fairs"})
    assert list(shown.index) == ["Fairs", "Y", "V"] and shown.index.name == "channel"
    assert set(pb.RATIO_KINDS) <= set(shown.columns)
    assert shown.loc["Fairs", "verdict"] == "No verdict"  # no spend response measured
    assert shown.loc["Fairs", "LTV:CAC (95% interval)"] == f"9.0× ({lo_x:.1f}–{hi_x:.1f})"
    assert shown.loc["Fairs", "payback (95% interval)"].startswith("2 months (")
    assert shown.loc["V", "payback (95% interval)"] == "not within 36 months"
    assert shown.loc["Y", "payback (95% interval)"] == "not within 36 months"
    assert shown.loc["V", "warning"] == "may not pay back"


def test_ltv_cac_skips_without_lifetime_values_or_paid_channels():
    orders, accounts = _orders_and_accounts()
    unpaid = _costs().assign(paid=False)
    ltv = lv.ChannelLtv(table=_ltv(), source="given")
    none = pb.ltv_cac(ltv, costs=unpaid, orders=orders, accounts=accounts, as_of=AS_OF)
    assert none == Skipped(
        "no paid channel has both a lifetime value and a CAC",
        "LTV:CAC needs paid channels that won customers",
        "LTV:CAC",
    )
    cause = Skipped("only 3 churn events", step="Lifetime value by channel")
    after = pb.ltv_cac(cause, costs=_costs(), orders=orders, accounts=accounts, as_of=AS_OF)
    assert after == Skipped("only 3 churn events", step="LTV:CAC")
    assert pb.ratio_sentence(after) == after  # a sentence helper passes the cause on
    assert lv.ltv_source(cause) == (
        "Lifetime value by channel is not available: only 3 churn events."
    )


def test_lifetime_values_read_from_churn_metrics_of_the_same_data(tmp_path, monkeypatch):
    def no_fit(*args, **kwargs):
        raise AssertionError("the survival model must not be fitted when metrics fit")

    monkeypatch.setattr(sv, "define_churn", no_fit)
    path = tmp_path / "metrics.json"
    table = {"X": {"mean": 900.0, "low": 800.0, "high": 1000.0, "n": 40}}
    same = {
        "data_fingerprint": "abc",
        "analysis_date": "2025-01-01",
        "filters": {},
        "ltv_definition": sv.LtvSettings(n_boot=50, seed=7).as_dict(),
        "ltv_by_channel": table,
    }
    path.write_text(json.dumps(same), encoding="utf-8")
    ltv = lv.lifetime_values(_dataset(), AS_OF, churn_metrics=str(path), n_boot=50, seed=7)
    assert ltv.table.loc["X", "mean"] == 900.0
    assert ltv.source == (
        f"Lifetime values read from the churn study's `{path}`. Its interval keeps the Cox fit "
        "fixed."
    )
    assert ltv.draws is None


def test_lifetime_values_fitted_here_or_skipped_with_the_models_note(tmp_path, monkeypatch):
    calls = []
    table = pd.DataFrame({"mean": [900.0], "low": [800.0], "high": [1.0e3], "n": [40]}, ["X"])
    model = type("Model", (), {"notes": ["Penalised fit."]})()

    def defined(ds, as_of, threshold_days):
        calls.append(as_of)
        return "definition"

    def fitted(definition, definition_, settings):
        calls.append((settings.n_boot, settings.seed))
        return table

    monkeypatch.setattr(sv, "define_churn", defined)
    monkeypatch.setattr(sv, "churn_model", lambda definition, *args: model)
    monkeypatch.setattr(sv, "ltv_by_channel", fitted)
    absent = tmp_path / "absent.json"
    ltv = lv.lifetime_values(
        _dataset(), AS_OF, churn_metrics=str(absent), n_boot=50, seed=7, n_refits=0
    )
    assert calls == [AS_OF, (50, 7)] and ltv.table is table and ltv.draws is None
    assert ltv.source == (
        f"No churn metrics at `{absent}`: lifetime values computed here. Penalised fit."
    )
    fitted_here = lv.lifetime_values(_dataset(), AS_OF, n_refits=0)
    assert fitted_here.source == lv.FITTED_HERE + " Penalised fit."

    cause = Skipped("only 3 churn events", "a Cox model needs at least 20", "The Cox model")
    monkeypatch.setattr(sv, "ltv_by_channel", lambda definition, model, settings: cause)
    skipped = lv.lifetime_values(_dataset(), AS_OF, n_boot=50, seed=7)
    assert skipped == Skipped(
        "only 3 churn events", "a Cox model needs at least 20", step="Lifetime value by channel"
    )


def test_ltv_is_read_from_churn_metrics_only_for_the_same_data(tmp_path):
    table = {"search_ads": {"mean": 900.0, "low": 800.0, "high": 1000.0, "n": 40}}
    same = {"data_fingerprint": "abc", "analysis_date": pd.Timestamp("2025-12-31"), "filters": {}}
    path = tmp_path / "metrics.json"
    path.write_text(
        json.dumps(
            {
                "ltv_by_channel": table,
                "data_fingerprint": "abc",
                "analysis_date": "2025-12-31",
                "filters": {},
            }
        )
    )
    ltv, note = lv.ltv_from_metrics(str(path), same)
    assert ltv.loc["search_ads", "mean"] == 900.0 and "read from" in note
    ltv, note = lv.ltv_from_metrics(str(path), {**same, "filters": {"region": "north"}})
    assert ltv is None and "filters differ" in note
    ltv, note = lv.ltv_from_metrics(str(tmp_path / "absent.json"), same)
    assert ltv is None and "No churn metrics" in note
    assert lv.ltv_from_metrics("", same) == (None, "")


def test_churn_metrics_with_another_ltv_definition_are_not_reused(tmp_path):
    same = {"data_fingerprint": "abc", "ltv_definition": sv.LtvSettings().as_dict()}
    path = tmp_path / "metrics.json"
    table = {"search_ads": {"mean": 900.0, "low": 800.0, "high": 1000.0, "n": 40}}
    other = {**sv.LtvSettings(threshold_days=60).as_dict()}
    path.write_text(
        json.dumps({"ltv_by_channel": table, "data_fingerprint": "abc", "ltv_definition": other})
    )
    ltv, note = lv.ltv_from_metrics(str(path), same)
    assert ltv is None and "ltv_definition differ" in note
    path.write_text("{damaged")
    assert lv.ltv_from_metrics(str(path), same)[0] is None


# --- LTV:CAC intervals against planted values (a cheap simulated company) ----------------------

RATE = np.log1p(0.10) / 365.25  # discount per day
HORIZON = 3 * 365
PLANTED = {  # channel: (hazard per day, mean margin per day, leads, win rate, spend)
    "A": (1 / 600, 5.0, 1500, 0.15, 100_000.0),
    "B": (1 / 1200, 3.0, 1200, 0.10, 60_000.0),
}


def _planted_ltv(hazard: float, margin: float) -> float:
    k = hazard + RATE
    return margin * (1 - np.exp(-k * HORIZON)) / k


def _company(seed: int, n_accounts: int = 200) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One simulated company: per channel ``n_accounts`` customers with exponential lifetimes
    (planted hazard), a gamma margin per day (planted mean) and uniform follow-up of 200-1500
    days; and its matured leads, binomial wins and spend (the costs table)."""
    rng = np.random.default_rng(seed)
    parts, costs = [], {}
    for channel, (hazard, margin, leads, p, spend) in PLANTED.items():
        life = rng.exponential(1 / hazard, n_accounts)
        follow = rng.uniform(200, 1500, n_accounts)
        parts.append(
            pd.DataFrame(
                {
                    "channel": channel,
                    "duration": np.minimum(life, follow),
                    "event": (life <= follow).astype(float),
                    "margin": rng.gamma(2.0, margin / 2.0, n_accounts),
                }
            )
        )
        won = int(rng.binomial(leads, p))
        costs[channel] = {
            "paid": True,
            "cac": spend / won,
            "mature_spend": spend,
            "mature_leads": leads,
            "mature_customers": won,
        }
    return pd.concat(parts, ignore_index=True), pd.DataFrame.from_dict(costs, orient="index")


def _exponential_ltv(sample: pd.DataFrame) -> pd.Series:
    """The 'model refit' of the simulation: per channel the exponential hazard's maximum
    likelihood (events / exposure) and the discounted restricted mean lifetime times the mean
    margin per day."""
    g = sample.groupby("channel")
    hazard = g["event"].sum() / g["duration"].sum()
    k = hazard + RATE
    return g["margin"].mean() * (1 - np.exp(-k * HORIZON)) / k


def _ratios(seed: int, n_refits: int = 100, n_accounts: int = 200) -> pd.DataFrame:
    accounts, costs = _company(seed, n_accounts)
    draws = lv.refit_draws(
        accounts,
        lambda pos: _exponential_ltv(accounts.iloc[pos]),
        by="channel",
        n_refits=n_refits,
        seed=seed,
    )
    ltv = _exponential_ltv(accounts).to_frame("mean")
    return pb.ltv_cac_ratios(ltv, costs, draws=draws, seed=seed)


def _planted_ratio(channel: str) -> float:
    hazard, margin, leads, p, spend = PLANTED[channel]
    return _planted_ltv(hazard, margin) / (spend / (leads * p))


def test_ltv_cac_levels_recover_the_planted_values():
    ratio = _ratios(seed=7, n_accounts=3000)
    for channel in PLANTED:
        hazard, margin, leads, p, spend = PLANTED[channel]
        assert ratio.loc[channel, "ltv"] == pytest.approx(_planted_ltv(hazard, margin), rel=0.05)
        assert ratio.loc[channel, "cac"] == pytest.approx(spend / (leads * p), rel=0.2)
        assert ratio.loc[channel, "low"] <= _planted_ratio(channel) <= ratio.loc[channel, "high"]


def test_ltv_cac_interval_resamples_the_won_counts():
    # with the LTV known exactly (every refit gives the same value), the interval comes from
    # the won counts alone: a fixed CAC (the old method) would give a zero-width interval
    accounts, costs = _company(seed=3)
    fixed = _exponential_ltv(accounts)
    draws = pd.DataFrame([fixed] * 50)
    ratio = pb.ltv_cac_ratios(fixed.to_frame("mean"), costs, draws=draws, seed=3)
    a = ratio.loc["A"]
    # won ~ Binomial(1500, p): the relative sd of the CAC is about sqrt((1 - p) / (n p))
    p = costs.loc["A", "mature_customers"] / 1500
    assert (a["high"] - a["low"]) / a["ratio"] == pytest.approx(
        2 * 1.96 * np.sqrt((1 - p) / (1500 * p)), rel=0.15
    )


@pytest.mark.slow
def test_ltv_cac_interval_covers_the_planted_ratio_95_percent_of_the_time():
    """200 seeded simulated companies, two channels each (400 intervals): the 95% interval
    (100 refits, won counts resampled) covers the planted LTV:CAC in 91-98% of them."""
    hits = []
    for seed in range(200):
        ratio = _ratios(seed)
        hits += [ratio.loc[c, "low"] <= _planted_ratio(c) <= ratio.loc[c, "high"] for c in PLANTED]
    coverage = float(np.mean(hits))
    assert 0.91 <= coverage <= 0.98, coverage


def test_refit_count_shrinks_with_the_number_of_accounts():
    from helpers.lifetime_value import N_REFITS, refits_for

    assert refits_for(2_883) == N_REFITS == 50
    assert refits_for(100_000) == 15 and refits_for(1_000_000) == 10


def test_verdict_of_words_the_recorded_verdict_never_decides_again():
    row = {"ratio": 8.49, "low": 7.73, "high": 9.34, "marginal": 4.41}
    row.update(marginal_low=3.74, marginal_high=5.45)
    grow = pb.verdict_of({**row, "verdict": "grow"}, "trade_show")
    assert (grow.verdict, grow.label, grow.head) == ("grow", "Grow", "Grow Trade show")
    assert grow.sentence() == (
        "Grow Trade show: LTV:CAC 8.5× (95% interval 7.7–9.3); marginal LTV:CAC 4.4× (95% "
        "interval 3.7–5.5), above 1 at its lower bound if the observed spend response holds "
        "(spend was not varied at random)."
    )
    assert grow.move() == f"**Grow Trade show**: {grow.reason}."
    # the recorded verdict stands even where the numbers would say otherwise
    held = pb.verdict_of(pd.Series({**row, "verdict": "hold"}), "trade_show", names={})
    assert held.head == "Hold Trade show" and "not clearly above 1" in held.reason
    cut = pb.verdict_of({**row, "verdict": "cut or fix"}, "x", names={"x": "Fairs"})
    assert cut.head == "Cut or fix Fairs" and cut.reason.endswith(
        "below 1 even at the interval's top"
    )
    unclear = pb.verdict_of({**row, "verdict": "no verdict"}, "x")
    assert unclear.head == "No verdict on X" and "not measured" in unclear.reason
    unrecorded = pb.verdict_of({"ratio": 2.0, "low": None, "high": None}, "x")
    assert (unrecorded.verdict, unrecorded.label) == ("no verdict", "No verdict")
    assert unrecorded.reason == (
        "LTV:CAC 2.0× (95% interval not recorded); its verdict is not recorded (rerun the "
        "channel study)"
    )
    assert set(pb.VERDICT_LABELS) == set(pb.VERDICTS)


def _company_every_60_days(n: int = 160, seed: int = 5) -> Dataset:
    """``n`` accounts of two channels and two size bands ordering every 60 days (so the
    company's order cadence is 60 days, not the 30-day default) from 2023 on, each silent from
    a random day (churn events before the analysis date 2025-12-31, or still buying)."""
    rng = np.random.default_rng(seed)
    ids = [f"A{i}" for i in range(n)]
    start = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")
    stop = start + pd.to_timedelta(rng.exponential(500, n).astype(int), unit="D")
    accounts = pd.DataFrame(
        {
            "account_id": ids,
            "account_name": ids,
            "industry": "x",
            "size_band": rng.choice(["small", "large"], n),
            "region": "north",
            "ownership_type": "private",
            "business_type": "brand_owner",
            "acquisition_channel": np.where(np.arange(n) % 2, "search_ads", "trade_show"),
            "acquired_date": start,
            "sales_rep": "rep_01",
        }
    )
    rows = [
        (f"{a}-{d:%Y%m%d}", a, d)
        for a, s, e in zip(ids, start, stop, strict=True)
        for d in pd.date_range(s, min(e, pd.Timestamp("2025-12-30")), freq="60D")
    ]
    orders = pd.DataFrame(rows, columns=["order_id", "account_id", "order_date"]).assign(
        line_number=1,
        net_amount=100.0,
        gross_margin=rng.gamma(2.0, 10.0, len(rows)),
        quantity=1.0,
        product_category="x",
        status="completed",
    )
    return Dataset(
        {"orders": orders, "accounts": accounts}, "test", pd.Timestamp("2025-12-31"), "x"
    )


def test_cox_refit_values_on_the_point_estimates_basis():
    """A refit on the unresampled accounts is the original fit, so it must give the point
    estimate exactly; with the company's cadence (60 days) left at the 30-day default, every
    draw valued each account's margin per day higher and the LTV:CAC point fell below its
    own interval (found at 100k accounts, cadence 34 days: all four paid channels)."""
    ds = _company_every_60_days()
    settings = sv.LtvSettings(threshold_days=180, covariates=["size_band"], n_boot=20)
    definition = sv.define_churn(ds, ds.analysis_date, settings.threshold_days)
    assert definition.cadence_days == 60 and definition.events >= 20
    model = sv.churn_model(definition, settings.covariates)
    point = sv.ltv_by_channel(definition, model, settings)["mean"]
    same = lv.cox_refit(definition, model, settings)(np.arange(len(definition.features)))
    pd.testing.assert_series_equal(same, point, check_names=False, rtol=1e-6)
    draws = lv.refit_draws(
        definition.features,
        lv.cox_refit(definition, model, settings),
        by="acquisition_channel",
        n_refits=8,
        seed=1,
    )
    # the draws centre on the point (the bug put their mean above the point by the ratio of
    # the two cadences on the one-order accounts' margin rates)
    assert ((draws.mean() / point - 1).abs() < 0.05).all()


def _cox_refit_by_frame(definition, model, settings):
    """The refit as it was before the per-refit work was hoisted (the oracle of
    :func:`lv.cox_refit`): the resampled features frame, its survival rows by label, and
    :func:`sv.new_customer_ltv` on the resample (with its one-resample bootstrap)."""
    design = model.cox_design

    def estimate(sample: pd.DataFrame) -> pd.Series:
        rows = sample.index[sample["in_survival"].to_numpy(bool)]
        data = design.data.loc[rows].reset_index(drop=True)
        cph = cox_fitter(model.penalizer).fit(
            data,
            "duration_days",
            "event",
            strata=list(design.strata) or None,
            entry_col=entry_column(design),
            initial_point=(model.cox.params_ * model.cox._norm_std).to_numpy(),
        )
        table = sv.new_customer_ltv(
            sample.reset_index(drop=True),
            dataclasses.replace(model, cox=cph),
            definition.as_of,
            settings.horizon_days,
            settings.discount_per_year,
            n_boot=1,
            seed=settings.seed,
            cadence_days=definition.cadence_days,
        )
        return table["mean"]

    return estimate


@pytest.fixture(scope="module")
def demo_churn(demo):
    """The demo's churn definition with its rows shuffled and relabelled (labels 7 + 3 x the
    original, in another order than the positions: a label taken for a position, or a
    position of the features for one of the design, gives other rows or fails), and an
    unstratified and a stratified (two strata: tuple keys) Cox model on them."""
    definition = sv.define_churn(demo, demo.analysis_date)
    order = np.random.default_rng(5).permutation(len(definition.features))
    relabel = dict(zip(definition.features.index, 7 + 3 * definition.features.index, strict=True))
    features = definition.features.iloc[order].rename(index=relabel)
    definition = dataclasses.replace(
        definition, features=features, survival=definition.survival.rename(index=relabel)
    )
    design = sv.design_matrix(definition.survival)
    cph, _ = sv.fit_cox(design, penalizer=0.01)
    # stratified on two covariates (as helpers.survival.remedy_ph does on one): tuple keys
    two = ["ownership_type", "size_band"]
    labels = {c: design.levels[c].reindex(design.data.index).to_numpy() for c in two}
    dummies = [c for c in design.data.columns if c.split("=")[0] in two]
    strat = dataclasses.replace(
        design, data=design.data.drop(columns=dummies).assign(**labels), strata=two
    )
    strat_cph, _ = sv.fit_cox(strat, penalizer=0.01, strata=two)
    plain = sv.ChurnModel(design, design, cph, cph, 0.01, pd.Series(), pd.DataFrame(), "", [])
    stratified = dataclasses.replace(plain, cox_design=strat, cox=strat_cph)
    return definition, plain, stratified


@pytest.mark.parametrize("stratified", [False, True])
def test_cox_refit_draws_equal_the_refit_of_the_resampled_frame(demo_churn, stratified):
    """Every draw the same float as refitting and valuing the resampled frame (the design
    rows, covariate rows, margins, strata and channels taken by position; the discounted
    lifetime once per profile; no bootstrap): the LTV and LTV:CAC intervals cannot move."""
    definition, plain, strat = demo_churn
    model = strat if stratified else plain
    settings = sv.LtvSettings(n_boot=300, seed=42)
    frame = definition.features
    old = _cox_refit_by_frame(definition, copy.deepcopy(model), settings)
    kw = {"by": "acquisition_channel", "n_refits": 3, "seed": 11}
    want = lv.refit_draws(frame, lambda pos: old(frame.iloc[pos]), **kw)
    mine = copy.deepcopy(model)
    before = mine.cox.params_.copy()
    new = lv.cox_refit(definition, mine, settings)
    got = lv.refit_draws(frame, new, **kw)
    # lifelines moves its warm start in place: the point model's coefficients stay untouched
    pd.testing.assert_series_equal(mine.cox.params_, before, check_exact=True)
    assert want.shape == (3, frame["acquisition_channel"].nunique())
    assert (want.nunique() == 3).all()  # three different resamples
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert got.attrs == want.attrs


def test_an_interval_that_misses_its_estimate_is_said_not_hidden():
    # LTV draws all above the point (as the refits at the 30-day cadence were): the ratio's
    # percentile interval leaves the ratio out, and the table, sentence and verdict say so
    ltv = pd.DataFrame({"mean": [3581.0]}, index=["M"])
    draws = pd.DataFrame({"M": np.linspace(3620.0, 3890.0, 15)})
    costs = pd.DataFrame(
        {
            "paid": [True],
            "cac": [1346.06],
            "mature_leads": [111_972],
            "mature_customers": [10_293],
            "mature_spend": [13_855_033.26],
        },
        index=["M"],
    )
    row = pb.ltv_cac_ratios(ltv, costs, draws=draws).loc["M"]
    assert row["ratio"] < row["low"] and pb.misses(row, "ratio", "low", "high")
    assert pb.ratio_cell(row, "ratio", "low", "high").endswith(", misses the estimate)")
    assert "which misses the estimate: too few draws" in pb.verdict_of(row, "M").reason
    inside = {"ratio": 8.49, "low": 7.73, "high": 9.34}
    assert not pb.misses(inside, "ratio", "low", "high")
    assert pb.ratio_cell(inside, "ratio", "low", "high") == "8.5× (7.7–9.3)"
    table = pd.DataFrame({"mean": [3581.0, 900.0], "low": [3620.0, 800.0], "high": [3890.0, 1e3]})
    table.index = ["b2b_marketplace", "X"]
    assert lv._missed(table, None) == [
        "The interval of B2B marketplace misses its estimate: too few refits for a sharp "
        "interval (more refits, `N_REFITS`, for a final report)."
    ]
    assert lv._missed(table.iloc[1:], None) == []


def _reference_payback_interval(
    orders, accounts, costs, as_of, max_months=36, n_draws=500, seed=42
):
    """``payback.payback_interval`` before issue #15: one resample and one row sum per draw."""
    rng = np.random.default_rng(seed)
    acc = accounts.set_index("account_id")
    o = orders[(orders["status"] != "cancelled") & (orders["order_date"] <= as_of)]
    o = o.join(acc[["acquired_date"]], on="account_id")
    o = o.assign(k=((o["order_date"] - o["acquired_date"]).dt.days // 30.44).astype(int))
    o = o[(o["k"] >= 0) & (o["k"] < max_months)]
    by_month = o.pivot_table(
        index="account_id", columns="k", values="gross_margin", aggfunc="sum", fill_value=0.0
    ).reindex(columns=range(max_months), fill_value=0.0)
    rows = {}
    for channel, row in costs[costs["paid"]].iterrows():
        mine = acc[acc["acquisition_channel"] == channel]
        if mine.empty or not np.isfinite(row["cac"]):
            continue
        margin = by_month.reindex(mine.index, fill_value=0.0).to_numpy(float)
        age = ((as_of - mine["acquired_date"]).dt.days // 30.44).astype(int).to_numpy()
        cac_b = np.full(n_draws, float(row["cac"]))
        if {"mature_leads", "mature_customers", "mature_spend"} <= set(costs.columns):
            n, k = int(row["mature_leads"]), int(row["mature_customers"])
            won_b = rng.binomial(n, k / n, n_draws) if n else np.full(n_draws, k)
            with np.errstate(divide="ignore"):
                cac_b = float(row["mature_spend"]) / won_b
        hits = np.empty(n_draws)
        for i in range(n_draws):
            pick = rng.integers(0, len(mine), len(mine))
            at_risk = (age[pick][:, None] >= np.arange(max_months)[None, :]).sum(axis=0)
            cumulative = np.cumsum(margin[pick].sum(axis=0) / np.maximum(at_risk, 1))
            hit = np.flatnonzero(cumulative >= cac_b[i])
            hits[i] = hit[0] + 1 if len(hit) else np.inf
        lo, hi = np.quantile(hits, [0.025, 0.975], method="inverted_cdf")
        rows[channel] = {
            "payback_low": float(lo) if np.isfinite(lo) else float("nan"),
            "payback_high": float(hi) if np.isfinite(hi) else float("nan"),
        }
    return pd.DataFrame.from_dict(
        rows, orient="index", columns=["payback_low", "payback_high"], dtype=float
    )


def _paying_company(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Orders, accounts and costs: channel A pays back within months, B never (a CAC far above
    any margin), C in whole-number margins against a whole-number CAC (cumulative margins that
    equal the CAC exactly), D paid but without customers, E with one customer."""
    rng = np.random.default_rng(seed)
    sizes = {"A": 61, "B": 30, "C": 40, "E": 1}
    channel = np.concatenate([[c] * n for c, n in sizes.items()])
    accounts = pd.DataFrame(
        {
            "account_id": [f"a{i}" for i in range(len(channel))],
            "acquired_date": pd.Timestamp("2021-01-01")
            + pd.to_timedelta(rng.integers(0, 1400, len(channel)), unit="D"),
            "acquisition_channel": channel,
        }
    )
    lines = rng.integers(0, len(accounts), 1500)
    gap = pd.to_timedelta(rng.integers(0, 900, len(lines)), unit="D")
    margin = np.round(rng.gamma(1.0, 40.0, len(lines)), 2)
    whole = accounts["acquisition_channel"].to_numpy()[lines] == "C"
    margin[whole] = rng.integers(0, 4, whole.sum()) * 10.0
    orders = pd.DataFrame(
        {
            "account_id": accounts["account_id"].to_numpy()[lines],
            "order_date": accounts["acquired_date"].to_numpy()[lines] + gap,
            "gross_margin": margin,
            "status": rng.choice(["completed", "cancelled"], len(lines), p=[0.9, 0.1]),
        }
    )
    costs = pd.DataFrame(
        {
            "paid": [True, True, True, True, True, False],
            "cac": [150.0, 1e7, 20.0, 300.0, 50.0, 1.0],
            "mature_leads": [400, 100, 0, 50, 10, 5],
            "mature_customers": [60, 30, 40, 0, 1, 1],
            "mature_spend": [9000.0, 3e8, 800.0, 15000.0, 50.0, 1.0],
        },
        index=["A", "B", "C", "D", "E", "F"],
    )
    return orders, accounts, costs


def test_block_draws_are_the_successive_draws():
    """What the vectorised payback interval relies on: one ``integers(0, m, (b, m))`` gives the
    same numbers, and leaves the generator in the same state, as b draws of m, odd or even."""
    for m in (1, 2, 7, 64, 1001):
        one, many = np.random.default_rng(3), np.random.default_rng(3)
        block = one.integers(0, m, (5, m))
        assert np.array_equal(block, np.stack([many.integers(0, m, m) for _ in range(5)]))
        assert one.bit_generator.state == many.bit_generator.state


@pytest.mark.parametrize(("block_bytes", "seed"), [(pp.BLOCK_BYTES, 1), (8 * 61 * 7, 2)])
def test_payback_interval_equals_the_per_draw_reference(monkeypatch, block_bytes, seed):
    monkeypatch.setattr(pp, "BLOCK_BYTES", block_bytes)  # small: several blocks per channel
    orders, accounts, costs = _paying_company(seed)
    for c in (costs, costs[["paid", "cac"]]):  # with and without the won-count draws
        ours = pb.payback_interval(orders, accounts, c, AS_OF, n_draws=150, seed=seed)
        theirs = _reference_payback_interval(orders, accounts, c, AS_OF, n_draws=150, seed=seed)
        pd.testing.assert_frame_equal(ours, theirs, check_exact=True)
        assert "D" not in ours.index and ours.loc["B"].isna().all()  # never pays back
        assert ours.loc["A"].notna().all()


def test_payback_draws_on_exact_ties_with_the_cac():
    """Whole-number margins whose cumulative reaches the CAC exactly: month by month the same
    as the per-draw reference (the draws near the CAC are recomputed the original way)."""
    rng = np.random.default_rng(9)
    margin = rng.integers(0, 3, (25, 12)) * 10.0
    age = rng.integers(0, 14, 25)
    cac = rng.integers(1, 8, 300) * 10.0
    ours = pp._payback_draws(np.random.default_rng(4), margin, age, cac)
    ref_rng = np.random.default_rng(4)
    theirs = [pp._payback_months_of(margin, age, ref_rng.integers(0, 25, 25), c) for c in cac]
    assert np.array_equal(ours, np.array(theirs, dtype=float))
    assert np.isfinite(ours).any() and len(np.unique(ours)) > 3


def _reference_payback_months(orders, accounts, costs, as_of, max_months=36):
    """``payback.payback_months`` before issue #15's shared lookup: a join of the whole orders
    frame with the accounts (kept as the oracle)."""
    acc = accounts.set_index("account_id")
    o = orders[(orders["status"] != "cancelled") & (orders["order_date"] <= as_of)]
    o = o.join(acc[["acquired_date", "acquisition_channel"]], on="account_id")
    o["k"] = ((o["order_date"] - o["acquired_date"]).dt.days // 30.44).astype(int)
    out = {}
    for channel, row in costs[costs["paid"]].iterrows():
        mine = acc[acc["acquisition_channel"] == channel]
        if mine.empty or not np.isfinite(row["cac"]):
            continue
        age = ((as_of - mine["acquired_date"]).dt.days // 30.44).astype(int)
        margin = o[o["acquisition_channel"] == channel].groupby("k")["gross_margin"].sum()
        at_risk = np.array([(age >= k).sum() for k in range(max_months)])
        per_month = margin.reindex(range(max_months), fill_value=0).to_numpy() / np.maximum(
            at_risk, 1
        )
        hit = np.flatnonzero(np.cumsum(per_month) >= row["cac"])
        out[channel] = float(hit[0] + 1) if len(hit) else float("nan")
    return pd.Series(out, name="payback_months", dtype=float)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_payback_months_equal_the_joined_reference(seed):
    """The months from the shared per-account-month sums (:func:`margin_months`) equal the
    join's, on companies whose cumulative margins meet the CAC exactly (channel C), and with
    the sums passed in (as ``ltv_cac`` does) or made inside; the step's two payback columns
    equal the two references."""
    orders, accounts, costs = _paying_company(seed)
    want = _reference_payback_months(orders, accounts, costs, AS_OF)
    assert want.notna().sum() >= 2 and want.isna().sum() >= 1
    pd.testing.assert_series_equal(pb.payback_months(orders, accounts, costs, AS_OF), want)
    months = pp.margin_months(orders, accounts, AS_OF)
    got = pb.payback_months(orders, accounts, costs, AS_OF, months=months)
    pd.testing.assert_series_equal(got, want)
    for cheap in (1.0, 30.0, 75.0):  # CACs that each month's margin can meet
        c = costs.assign(cac=cheap)
        pd.testing.assert_series_equal(
            pb.payback_months(orders, accounts, c, AS_OF, months=months),
            _reference_payback_months(orders, accounts, c, AS_OF),
        )
    pd.testing.assert_frame_equal(
        pb.payback_interval(orders, accounts, costs, AS_OF, n_draws=50, seed=seed, months=months),
        _reference_payback_interval(orders, accounts, costs, AS_OF, n_draws=50, seed=seed),
        check_exact=True,
    )


def _former_order_months(orders: pd.DataFrame, accounts: pd.DataFrame, as_of: pd.Timestamp):
    """``payback_period.order_months`` before the sums moved to the engine (verbatim, its
    ``OrderMonths`` a namespace): per order line, its account's row and month, and margin."""
    acc = accounts.set_index("account_id")
    keep = (orders["status"] != "cancelled") & (orders["order_date"] <= as_of)
    o = orders.loc[keep, ["account_id", "order_date", "gross_margin"]]
    account = acc.index.get_indexer(o["account_id"])
    acquired = acc["acquired_date"].to_numpy()[account]
    acquired[account < 0] = np.datetime64("NaT")  # an order of an unknown account
    days = (o["order_date"] - pd.Series(acquired, index=o.index)).dt.days
    return SimpleNamespace(
        accounts=acc,
        account=account,
        k=(days // 30.44).astype(int).to_numpy(),
        margin=o["gross_margin"].to_numpy(),
        as_of=as_of,
    )


def _former_margin_by_month(months, max_months: int) -> np.ndarray:
    """The former ``payback_period._margin_by_month`` (verbatim): accounts x months."""
    inside = (months.k >= 0) & (months.k < max_months) & (months.account >= 0)
    account, k = months.account[inside], months.k[inside]
    sums = pd.Series(months.margin[inside]).groupby([account, k]).sum()
    dense = np.zeros((len(months.accounts), max_months))
    dense[sums.index.get_level_values(0), sums.index.get_level_values(1)] = sums.to_numpy()
    return dense


def _payback_lines(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """:func:`_paying_company` with order lines of every kind: returns (negative margins),
    cancellations, missing margins (an account-month of only missing margins too), same-day
    lines, lines before the acquisition, on its day, at exactly 761 days (where ``// 30.44``
    and ``floor(/ 30.44)`` differ), from month 36 on, on the as-of date and after it, a time of
    day; accounts without lines; Arrow text columns as loaded."""
    orders, accounts, costs = _paying_company(seed)
    rng = np.random.default_rng(seed)
    status = rng.choice(["completed", "cancelled", "returned"], len(orders), p=[0.75, 0.1, 0.15])
    margin = orders["gross_margin"].to_numpy().copy()
    margin[status == "returned"] *= -1
    margin[rng.random(len(orders)) < 0.05] = np.nan
    orders = orders.assign(status=status, gross_margin=margin)
    acquired = accounts.set_index("account_id")["acquired_date"]
    a, b = accounts["account_id"].iloc[0], accounts["account_id"].iloc[1]
    edge = [
        (a, acquired[a], 5.0, "completed"),
        (a, acquired[a], 7.0, "completed"),  # the same day
        (a, acquired[a] - pd.Timedelta(days=1), 1000.0, "completed"),  # before: left out
        (a, acquired[a] + pd.Timedelta(days=761), 11.0, "completed"),  # month 24, not 25
        (a, acquired[a] + pd.Timedelta(days=730, hours=13), 13.0, "completed"),  # 730 d: 23
        (a, acquired[a] - pd.Timedelta(hours=12), 3000.0, "completed"),  # day -1: left out
        (a, acquired[a] + pd.Timedelta(days=1096), 17.0, "completed"),  # month 36: left out
        (b, acquired[b] + pd.Timedelta(days=40), np.nan, "completed"),  # only missing margins
        (b, acquired[b] + pd.Timedelta(days=41), np.nan, "returned"),
        (a, AS_OF, 19.0, "completed"),  # on the as-of date
        (a, AS_OF + pd.Timedelta(days=1), 2000.0, "completed"),  # after it
    ]
    extra = pd.DataFrame(edge, columns=["account_id", "order_date", "gross_margin", "status"])
    orders = pd.concat([orders, extra], ignore_index=True)
    orders = orders[orders["account_id"] != accounts["account_id"].iloc[-2]]  # one without
    accounts = accounts.astype({"account_id": TEXT, "acquisition_channel": TEXT})
    return orders.astype({"account_id": TEXT, "status": TEXT}), accounts, costs


TEXT = pd.StringDtype("pyarrow", na_value=np.nan)


@pytest.mark.parametrize("seed", [1, 2])
def test_margin_months_in_the_engine_equal_the_former_lines(seed):
    """Per account and month since acquisition, the engine's sums are the former per-line
    lookup's sums (rtol 1e-9: the engine adds in its own order), from a frame or an Ibis
    table; the payback months and their interval equal the pandas references exactly."""
    orders, accounts, costs = _payback_lines(seed)
    former = _former_margin_by_month(_former_order_months(orders, accounts, AS_OF), 36)
    assert (former < 0).any() and (former > 0).sum() > 100
    for source in (orders, ibis.memtable(orders)):
        months = pp.margin_months(source, accounts, AS_OF)
        got = pp._margin_by_month(months, np.arange(len(accounts)), 36)
        np.testing.assert_allclose(got, former, rtol=1e-9, atol=1e-9)
        assert np.array_equal(got != 0, former != 0)
        assert months.k.max() < 36 and months.k.min() >= 0
        assert len(set(zip(months.account, months.k, strict=True))) == len(months.k)
        pd.testing.assert_series_equal(
            pb.payback_months(source, accounts, costs, AS_OF, months=months),
            _reference_payback_months(orders, accounts, costs, AS_OF),
        )
        pd.testing.assert_frame_equal(
            pb.payback_interval(source, accounts, costs, AS_OF, n_draws=60, seed=seed),
            _reference_payback_interval(orders, accounts, costs, AS_OF, n_draws=60, seed=seed),
            check_exact=True,
        )
    # the engine gives the entries in no defined order: the sums do not depend on it
    shuffle = np.random.default_rng(seed).permutation(len(months.k))
    mixed = dataclasses.replace(
        months, account=months.account[shuffle], k=months.k[shuffle], margin=months.margin[shuffle]
    )
    pd.testing.assert_series_equal(
        pb.payback_months(orders, accounts, costs.assign(cac=75.0), AS_OF, months=mixed),
        pb.payback_months(orders, accounts, costs.assign(cac=75.0), AS_OF, months=months),
        check_exact=True,
    )
    assert np.array_equal(
        pp._margin_by_month(mixed, np.arange(len(accounts)), 36),
        pp._margin_by_month(months, np.arange(len(accounts)), 36),
    )


def test_months_since_acquisition_in_the_engine_are_the_pandas_floor_division():
    days = pd.DataFrame({"days": np.arange(0, 200_001, dtype=float)})
    table = ibis.memtable(days)
    got = engine.to_pandas(table.select("days", k=pp._months_expr(table.days)))
    got = got.sort_values("days")["k"].to_numpy()
    want = (days["days"] // 30.44).astype(int).to_numpy()
    assert np.array_equal(got, want) and got[761] == 24 and np.floor(761 / 30.44) == 25


def test_payback_leaves_out_lines_of_unknown_accounts_and_given_sums_must_reach():
    orders, accounts = _orders_and_accounts()
    stray = pd.DataFrame(
        {
            "account_id": ["zz"],
            "order_date": [pd.Timestamp("2024-01-10")],
            "gross_margin": [1e6],
            "status": ["completed"],
        }
    )
    with_stray = pd.concat([orders, stray], ignore_index=True)
    months = pp.margin_months(with_stray, accounts, AS_OF)
    entries = sorted(zip(months.account, months.k, months.margin, strict=True))
    assert entries == [(0, 0, 60.0), (0, 1, 60.0), (1, 0, 10.0)]  # zz's line left out
    assert pb.payback_months(with_stray, accounts, _costs(), AS_OF)["X"] == 2.0
    short = pp.margin_months(orders, accounts, AS_OF, max_months=12)
    with pytest.raises(ValueError, match="reach month 12, not 36"):
        pb.payback_months(orders, accounts, _costs(), AS_OF, months=short)
    # frames without rows, built in code (untyped columns) and as loaded: no margin, no payback
    for empty in (
        orders.iloc[:0].astype(object),
        pd.DataFrame({c: [] for c in pp.ORDER_COLUMNS}),
        orders.iloc[:0],
    ):
        none = pp.margin_months(empty, accounts, AS_OF)
        for got, dtype in ((none.account, np.int32), (none.k, np.int32), (none.margin, float)):
            assert got.dtype == dtype and got.shape == (0,)
        assert none.accounts.equals(accounts.set_index("account_id"))
        paid = pb.payback_months(empty, accounts, _costs(), AS_OF)
        pd.testing.assert_series_equal(
            paid, pd.Series(np.nan, index=["X", "V"], name="payback_months", dtype=float)
        )


def test_ltv_cac_on_a_cached_data_set_reads_no_orders(demo, root):
    """Payback through :func:`payback.order_lines` on a data set read from the load-once
    cache: the orders file is aggregated in place (no orders frame), with the payback of the
    data set's frames."""
    fresh = demo
    load_dataset("demo")
    got = load_dataset("demo")
    channels = fresh["accounts"]["acquisition_channel"].unique()
    costs = pd.DataFrame({"paid": True, "cac": 400.0}, index=list(channels))
    table = pd.DataFrame(
        {"mean": 2000.0, "low": 1500.0, "high": 2500.0, "n": 10}, index=list(channels)
    )
    ltv = lv.ChannelLtv(table=table, source="given")
    as_of = fresh.analysis_date
    want = pb.ltv_cac(ltv, costs, fresh["orders"], fresh["accounts"], as_of)
    lines = pb.order_lines(got)
    ratio = pb.ltv_cac(ltv, costs, lines, got.tables.get("accounts"), as_of)
    assert got.tables.read() == ["accounts"]  # the orders were never read into pandas
    assert engine._bound_backend(lines) is not None  # a scan of the cached file
    assert want["payback_months"].notna().sum() >= 2
    pd.testing.assert_frame_equal(ratio, want, check_exact=True)
    assert pb.order_lines(Dataset({}, "test", AS_OF, "x")) is None
