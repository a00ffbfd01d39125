"""Churn survival: planted hazards recovered, back-test near the oracle, metrics, edge cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.exceptions import ConvergenceError
from lifelines.utils import concordance_index

from helpers import survival as sv
from helpers.config import DEMO_DIR
from helpers.features import features_for
from helpers.loading import Dataset, load_dataset
from helpers.order_gaps import GapCounts
from helpers.steps import Skipped, is_skipped


@pytest.fixture(scope="module")
def demo_surv(demo, truth):
    f = features_for(demo, churn_threshold_days=truth["churn"]["churn_threshold_days"])
    return sv.survival_frame(f)


def test_default_threshold_from_the_data(demo, truth):
    gaps = sv.gaps_for(demo["orders"], demo.analysis_date)
    assert sv.default_threshold(gaps) == truth["churn"]["churn_threshold_days"] == 180
    assert sv.default_threshold(pd.Series([10] * 98 + [65, 65])) == 90  # q99 = 65 -> 90
    with pytest.raises(ValueError, match="cannot be derived"):
        sv.default_threshold(pd.Series([], dtype=float))


def test_cox_recovers_every_planted_log_hazard_ratio(demo_surv, truth):
    """Each planted log-HR lies inside the fitted 95% interval (no slack was needed)."""
    design = sv.design_matrix(demo_surv, references=truth["churn"]["reference_levels"])
    cph, _ = sv.fit_cox(design, penalizer=0.0)
    summary = cph.summary
    checked = 0
    for covariate, levels in truth["churn"]["log_hazard_ratios"].items():
        for level, planted in levels.items():
            if level == truth["churn"]["reference_levels"][covariate]:
                continue
            row = summary.loc[f"{covariate}={level}"]
            assert row["coef lower 95%"] <= planted <= row["coef upper 95%"], (covariate, level)
            checked += 1
    assert checked == 17


def test_backtest_c_index_is_close_to_the_oracle(demo, truth):
    bt = sv.run_backtest(
        demo["orders"],
        demo["accounts"],
        demo.analysis_date,
        365,
        90,
        180,
        references=truth["churn"]["reference_levels"],
    )
    planted = pd.read_parquet(demo_dir_path(demo) / "truth_accounts.parquet").set_index(
        "account_id"
    )["log_hazard"]
    oracle = oracle_c(bt, planted)
    assert abs(bt.metrics["harrell_c"] - oracle) <= 0.03
    assert bt.metrics["brier_model"] < bt.metrics["brier_km"]  # attributes help
    assert bt.calibration["observed"].iloc[-1] > bt.calibration["observed"].iloc[0]


def test_backtest_probabilities_are_calibrated_for_the_silence(demo):
    """The raw Cox horizon probabilities run low (the silence since the last order is
    evidence the Cox timeline cannot see); the landmark recalibration brings the mean within
    5 points of what happened, lowers the Brier score, and uses no data after the back-test's
    start: refitted on data cut at the start, its coefficients are the same."""
    orders, accounts, as_of = demo["orders"], demo["accounts"], demo.analysis_date
    bt = sv.run_backtest(orders, accounts, as_of, 365, 90, 180)
    assert bt.recalibration is not None
    observed = ((bt.frame["time"] <= 90) & (bt.frame["event"] == 1)).mean()
    assert observed - bt.frame["p_cox_h"].mean() > 0.08  # the problem is real on this data
    assert abs(bt.frame["p_churn_h"].mean() - observed) <= 0.05
    assert bt.metrics["brier_model"] < bt.metrics["brier_cox_uncalibrated"] - 0.01
    cut = sv.fit_recalibration(
        orders[orders["order_date"] <= bt.start],
        accounts[accounts["acquired_date"] <= bt.start],
        bt.start,
        90,
        180,
        penalizer=bt.metrics["penalizer"],
    )
    np.testing.assert_allclose(cut.coef, bt.recalibration.coef, rtol=1e-8)


def test_stratified_model_predicts_with_each_accounts_own_baseline(demo_surv):
    """After the proportional-hazards remedy, predictions match lifelines' own stratified
    survival curves row by row (not the first stratum's baseline for everybody), conditional
    on the age reached too; past a stratum's last churn the risk keeps growing (lifelines
    pads every stratum's curve flat to the shared timeline, which must not mean zero risk)."""
    design = sv.design_matrix(demo_surv)
    cph, _ = sv.fit_cox(design, penalizer=0.01)
    check = sv.ph_check(cph, design)
    check["violated"] = check["covariate"] == "ownership_type"  # pretend it breaks PH
    model, strat, note = sv.remedy_ph(cph, design, check, 0.01)
    assert "ownership_type" in note and strat.strata == ["ownership_type"] and model.strata
    rows = demo_surv.groupby("ownership_type").head(3)
    x = sv.align(rows, strat)
    assert set(x["ownership_type"]) == set(demo_surv["ownership_type"])
    assert (strat.data["ownership_type"] == sv.covariate_levels(demo_surv, "ownership_type")).all()
    times = model.baseline_cumulative_hazard_.index.to_numpy(float)[[5, 40, 120]]
    ours = sv.conditional_survival(model, x, np.zeros(len(x)), times)
    theirs = model.predict_survival_function(x, times=times)[x.index].to_numpy().T  # by row id
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
    age = np.full(len(x), 200.0)
    ours = sv.conditional_survival(model, x, age, np.array([100.0]))[:, 0]
    theirs = model.predict_survival_function(x, times=[100.0], conditional_after=age)  # +100 d
    np.testing.assert_allclose(ours, theirs[x.index].to_numpy()[0], rtol=1e-6)
    far = model.baseline_cumulative_hazard_.index.max() + 365
    p_far = 1 - sv.conditional_survival(model, x, np.full(len(x), far), np.array([90.0]))[:, 0]
    assert (p_far > 0.01).all()  # every stratum keeps a hazard after its own last churn
    ltv = sv.lifetime_value(sv.with_rates(rows), model, strat, pd.Timestamp("2025-12-31"))
    assert ltv.notna().all()


def test_missing_covariate_is_scored_as_unknown_not_as_the_reference():
    frame = pd.DataFrame(
        {
            "duration_days": np.arange(60) * 10.0 + 5,
            "event": [1, 0] * 30,
            "industry": ["a"] * 20 + ["b"] * 20 + [None] * 20,
        }
    )
    design = sv.design_matrix(frame, covariates=["industry"], min_events=1)
    assert "industry=unknown" in design.data.columns
    x = sv.align(pd.DataFrame({"industry": [None, "a", "b"]}), design)
    assert x.loc[0, "industry=unknown"] == 1.0 and x.loc[1:, "industry=unknown"].sum() == 0


def demo_dir_path(demo):
    return DEMO_DIR


def oracle_c(backtest: sv.Backtest, planted: pd.Series) -> float:
    """Harrell's C of the planted log-hazards on the back-test's own accounts and outcomes."""
    lp = planted.reindex(backtest.frame["account_id"]).to_numpy()
    f = backtest.frame
    return float(concordance_index(f["time"], -lp, f["event"]))


def test_study_on_demo(demo, root):
    """Notebook 02's steps on the demo read from the load-once cache: the order lines are
    aggregated in the engine (scanned in place), never read into pandas; the channel LTV
    equals the one of a data set whose frames are uploaded (``demo``)."""
    load_dataset("demo")  # builds the entry
    ds = load_dataset("demo")
    study = sv.churn_study(ds, ds.analysis_date, n_boot=50)
    sv.tier_survival(ds, study.definition)
    sv.buy_till_you_die(ds, ds.analysis_date)
    sv.holdout_check(ds, ds.analysis_date)
    assert "orders" not in ds.tables.read()
    assert study.definition.threshold == 180 and study.definition.derived
    assert not is_skipped(study.model) and not is_skipped(study.backtest)
    pre = study.prechurn
    assert (pre["revenue_at_risk"].diff().dropna() <= 1e-9).all()  # ranked
    assert {"account_id", "sales_rep", "p_churn", "revenue_at_risk"} <= set(pre.columns)
    ltv = study.ltv_by_channel
    assert (ltv["low"] <= ltv["mean"]).all() and (ltv["mean"] <= ltv["high"]).all()
    settings = sv.LtvSettings(n_boot=50)
    light = sv.channel_ltv(demo, demo.analysis_date, settings)  # the channel study's path
    pd.testing.assert_frame_equal(light, ltv)
    m = _metrics(ds, study)
    assert "orders" not in ds.tables.read()  # the quarterly churn too
    assert set(m.ltv_by_channel) == set(demo["accounts"]["acquisition_channel"])
    assert m.skipped == {} and m.ltv_definition == settings.as_dict()
    forest = study.model.forest
    assert m.log_hazard_ratios == forest["log_hr"].to_dict()  # what is reported is what was fitted
    assert m.log_hazard_ratio_intervals["size_band=micro"] == list(
        forest.loc["size_band=micro", ["low", "high"]]
    )
    assert m.references["size_band"] == "medium" and m.stratified_on == []
    assert m.cox_concordance == m.cox_concordance_unstratified  # no PH remedy on the demo
    sentences = sv.findings(study.definition, study.km, study.model, study.prechurn, 90)
    assert any("silent" in s for s in sentences)
    driver = next(s for s in sentences if "the churn hazard of" in s)
    assert "95% interval" in driver and "as fast" not in driver


def _metrics(ds, study: sv.ChurnStudy):
    return sv.metrics(
        ds=ds,
        definition=study.definition,
        km=study.km,
        model=study.model,
        backtest=study.backtest,
        prechurn=study.prechurn,
        ltv_by_tier=study.ltv_by_tier,
        ltv_by_channel=study.ltv_by_channel,
        settings=study.settings,
        horizon_days=study.horizon_days,
        filters={},
    )


def _dataset(orders: pd.DataFrame, accounts: pd.DataFrame, as_of: str) -> Dataset:
    return Dataset({"orders": orders, "accounts": accounts}, "test", pd.Timestamp(as_of), "x")


def _steady_accounts(n: int, until: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = [f"A{i}" for i in range(n)]
    accounts = pd.DataFrame(
        {
            "account_id": ids,
            "account_name": ids,
            "industry": "x",
            "size_band": "small",
            "region": "north",
            "ownership_type": "private",
            "business_type": "brand_owner",
            "acquisition_channel": "referral",
            "acquired_date": pd.Timestamp("2024-01-01"),
            "sales_rep": "rep_01",
        }
    )
    dates = pd.date_range("2024-01-01", until, freq="30D")
    orders = pd.DataFrame(
        [(f"{a}-{d:%Y%m%d}", a, d) for a in ids for d in dates],
        columns=["order_id", "account_id", "order_date"],
    )
    orders = orders.assign(
        line_number=1,
        net_amount=100.0,
        gross_margin=20.0,
        quantity=1.0,
        product_category="x",
        status="completed",
    )
    return orders, accounts


def test_no_churn_events_gives_km_and_a_clear_note():
    """Too few churn events: Kaplan-Meier runs, the Cox model and everything built on it
    are Skipped with one sentence, and metrics record null with the reason."""
    orders, accounts = _steady_accounts(30, "2025-12-20")
    ds = _dataset(orders, accounts, "2025-12-31")
    study = sv.churn_study(ds, pd.Timestamp("2025-12-31"), threshold_days=90)
    assert not is_skipped(study.km)
    assert is_skipped(study.model) and is_skipped(study.prechurn)
    sentence = study.model.sentence()
    assert sentence.startswith("The Cox model is not available: only 0 churn events")
    assert "needs at least 20" in sentence
    assert study.prechurn.sentence().startswith("The pre-churn list is not available: only 0")
    m = _metrics(ds, study)
    assert m.churn_rate == 0.0
    assert m.cox_concordance is None and m.log_hazard_ratios is None
    assert m.skipped["cox_concordance"].startswith("only 0 churn events")
    assert m.skipped["revenue_at_risk"] == m.skipped["cox_concordance"]
    assert m.skipped["km_median_days"] == "the median lifetime is not reached in the data"
    findings = sv.findings(study.definition, study.km, study.model, study.prechurn, 90)
    assert sentence in findings


def test_no_varying_covariate_skips_the_cox_model_with_its_reason():
    orders, accounts = _steady_accounts(40, "2024-06-30")  # all silent since mid-2024
    ds = _dataset(orders, accounts, "2025-12-31")
    definition = sv.define_churn(ds, pd.Timestamp("2025-12-31"), threshold_days=90)
    assert definition.events == 40
    model = sv.churn_model(definition, covariates=["industry", "size_band"])
    assert is_skipped(model) and "no covariate varies" in model.reason
    assert "industry: a single level" in model.reason


def test_small_segments_are_merged_into_other():
    values = pd.Series(["a"] * 30 + ["b"] * 30 + ["c"] * 5)
    events = pd.Series([1] * 20 + [0] * 10 + [1] * 15 + [0] * 15 + [1] * 3 + [0] * 2)
    merged, small = sv.merge_small_groups(values, events, min_events=10)
    assert small == ["c"] and set(merged) == {"a", "b", "other"}


def test_collinear_covariates_are_dropped_with_a_note():
    rng = np.random.default_rng(1)
    n = 400
    region = rng.choice(["north", "south", "east"], n)
    frame = pd.DataFrame(
        {
            "duration_days": rng.integers(1, 500, n).astype(float),
            "event": rng.integers(0, 2, n),
            "region": region,
            "country": pd.Series(region).map({"north": "DE", "south": "IT", "east": "PL"}),
        }
    )
    design = sv.design_matrix(frame, ["region", "country"])
    assert any("collinear" in note for note in design.notes)
    assert len([c for c in design.data.columns if c.startswith("country=")]) == 0


def test_non_convergence_is_retried_with_a_penalizer(monkeypatch):
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {
            "duration_days": rng.integers(1, 300, 200).astype(float),
            "event": rng.integers(0, 2, 200),
            "g": rng.choice(["a", "b"], 200),
        }
    )
    design = sv.design_matrix(frame, ["g"])
    real_fit = CoxPHFitter.fit

    def flaky(self, *args, **kwargs):
        if self.penalizer == 0.0:
            raise ConvergenceError("simulated")
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(CoxPHFitter, "fit", flaky)
    cph, notes = sv.fit_cox(design, 0.0)
    assert cph.penalizer == 0.01 and "refitted with penalizer 0.01" in notes[0]


def test_integrated_brier_weights_each_grid_time_by_the_censoring_of_the_data():
    """With censoring, the integrated score is the trapezoid of the IPCW Brier scores, each
    weighted by the Kaplan-Meier of censoring (1 - event), not of churn."""
    rng = np.random.default_rng(3)
    time = rng.integers(1, 40, 200).astype(float)
    event = (rng.random(200) < 0.6).astype(int)
    grid = np.linspace(4.0, 30.0, 6)

    def surv(t):
        return np.exp(-t / 25.0) * np.ones(len(time))

    scores = [sv.brier_at(time, event, surv(t), t) for t in grid]
    expected = np.trapezoid(scores, grid) / (grid[-1] - grid[0])
    assert sv.integrated_brier(time, event, surv, grid) == pytest.approx(expected, rel=1e-12)
    churn_km = KaplanMeierFitter().fit(time, event)  # the wrong weights give another score
    wrong = [sv.brier_at(time, event, surv(t), t, censoring=churn_km) for t in grid]
    assert np.trapezoid(wrong, grid) / (grid[-1] - grid[0]) != pytest.approx(expected, rel=1e-3)


def test_metrics_on_hand_checkable_data():
    time = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    event = np.ones(6, dtype=int)
    risk = np.array([6.0, 5.0, 4.0, 3.0, 2.0, 1.0])  # perfect: higher risk churns first
    assert sv.uno_c(time, event, risk, tau=10) == pytest.approx(1.0)
    assert sv.uno_c(time, event, -risk, tau=10) == pytest.approx(0.0)
    assert sv.auc_at(time, event, risk, 3.0) == pytest.approx(1.0)
    surv_at_3 = np.array([0, 0, 0, 1, 1, 1], dtype=float)  # dead by t=3 or alive: exact
    assert sv.brier_at(time, event, surv_at_3, 3.0) == pytest.approx(0.0)
    assert sv.brier_at(time, event, np.full(6, 0.5), 3.0) == pytest.approx(0.25)
    shuffled = np.array([2.0, 6.0, 1.0, 5.0, 3.0, 4.0])
    no_censoring_uno = sv.uno_c(time, event, shuffled, tau=10)
    assert no_censoring_uno == pytest.approx(concordance_index(time, -shuffled, event))


def test_bootstrap_interval_contains_the_mean_and_is_seeded():
    values = pd.Series(np.arange(100, dtype=float))
    groups = pd.Series(["a"] * 50 + ["b"] * 50)
    one = sv.bootstrap_mean(values, groups, n_boot=200, seed=3)
    two = sv.bootstrap_mean(values, groups, n_boot=200, seed=3)
    pd.testing.assert_frame_equal(one, two)
    assert one.loc["a", "mean"] == 24.5 and one.loc["a", "low"] < 24.5 < one.loc["a", "high"]


def _late_orders(orders: pd.DataFrame, start: pd.Timestamp) -> pd.DataFrame:
    """1,000 orders 300 days after ``start`` by accounts silent for 200 days before it: long
    gaps that a back-test leaking dates past its start would see."""
    last = orders[orders["order_date"] <= start - pd.Timedelta(days=200)].drop_duplicates(
        "account_id", keep="last"
    )
    return last.head(1000).assign(
        order_id=lambda f: f["order_id"].astype(str) + "-late",
        order_date=start + pd.Timedelta(days=300),
        status="completed",
    )


def test_backtest_scores_use_nothing_after_its_start(demo):
    """Deleting and adding orders after the back-test's start leaves every start-date score
    unchanged: the threshold is derived from the gaps up to the start (a threshold derived to
    the analysis date would move with the later orders: 1,000 long gaps added after the start
    push the 99th percentile of all gaps past a year)."""
    orders, accounts, as_of = demo["orders"], demo["accounts"], demo.analysis_date
    before = sv.run_backtest(orders, accounts, as_of, 365, 90, None, penalizer=0.01)
    start = before.start
    rng = np.random.default_rng(5)
    kept = orders[(orders["order_date"] <= start) | (rng.random(len(orders)) < 0.5)]
    late = _late_orders(orders, start)
    changed = pd.concat([kept, late], ignore_index=True)
    leaked = sv.default_threshold(sv.gaps_for(changed, as_of))
    assert leaked > before.threshold  # the change is one a leak would see
    after = sv.run_backtest(changed, accounts, as_of, 365, 90, None, penalizer=0.01)
    assert after.threshold == before.threshold
    cols = ["account_id", "risk", "p_cox_h", "p_churn_h"]
    pd.testing.assert_frame_equal(after.frame[cols], before.frame[cols])


def test_reported_hazard_ratios_match_the_planted_truth_against_the_stated_references(
    demo_surv, truth
):
    """The forest table and the metrics report each level against the stated reference
    (medium size band, private ownership, brand owner; else the most frequent level): every
    planted log-HR, re-expressed against those references, lies within 3 standard errors of
    the reported one, and within the reported 95% interval for all but at most two of them.
    A flipped sign or a wrong reference fails."""
    model = sv.fit_churn_model(demo_surv, penalizer=0.0)
    assert model.references["size_band"] == "medium"
    assert model.references["ownership_type"] == "private"
    planted = truth["churn"]["log_hazard_ratios"]
    table = model.forest
    inside = 0
    for name, row in table.iterrows():
        column, level = name.split("=", 1)
        assert row["reference"] == f"{column}={model.references[column]}"
        expected = planted[column][level] - planted[column][model.references[column]]
        se = (row["high"] - row["low"]) / (2 * 1.959964)
        assert abs(row["log_hr"] - expected) < 3 * se, (name, row["log_hr"], expected)
        inside += row["low"] <= expected <= row["high"]
    assert len(table) == 17 and inside >= 15
    assert table.loc["size_band=micro", "log_hr"] > 0 > table.loc["size_band=enterprise", "log_hr"]


def test_a_left_truncated_export_recovers_the_full_exports_survival(demo, truth):
    """Cut the demo's orders at 2024-01-01, as a company whose export starts late: accounts
    acquired before then enter the risk set at their age on that day (delayed entry), so the
    Kaplan-Meier median stays within 3.5% of the full export's (411 days; counting lifetimes
    from the first order in the export gives 385) and every planted log-HR lies in its 95%
    interval."""
    as_of = demo.analysis_date
    full = sv.kaplan_meier(sv.define_churn(demo, as_of), segments=()).median_days
    orders = demo["orders"]
    cut = Dataset(
        {**demo.tables, "orders": orders[orders["order_date"] >= pd.Timestamp("2024-01-01")]},
        "cut",
        as_of,
        "x",
    )
    definition = sv.define_churn(cut, as_of)
    assert definition.left_truncated > 500
    truncated = sv.kaplan_meier(definition, segments=()).median_days
    assert abs(truncated - full) / full < 0.035, (truncated, full)
    model = sv.fit_churn_model(definition.survival, penalizer=0.0)
    assert model.cox.entry_col == "entry_days"
    planted = truth["churn"]["log_hazard_ratios"]
    for name, row in model.forest.iterrows():
        column, level = name.split("=", 1)
        expected = planted[column][level] - planted[column][model.references[column]]
        assert row["low"] <= expected <= row["high"], name


def test_discounting_by_hand():
    """With S = 1 over three years the discounted lifetime is (1 - e^{-rH}) / r days, r the
    daily rate of 10% a year: less than the undiscounted 1,095 days (a compounding sign would
    give more)."""
    grid = np.linspace(0, 1095, 2001)
    r = np.log(1.10) / 365.25
    got = sv.discounted_lifetime(np.ones((1, len(grid))), grid, 0.10)[0]
    assert got == pytest.approx((1 - np.exp(-r * 1095)) / r, rel=1e-6)
    assert got < 1095 * 0.88
    assert sv.discounted_lifetime(np.ones((1, len(grid))), grid, 0.0)[0] == pytest.approx(1095)


def test_bootstrap_interval_has_the_stated_level():
    """For 400 standard-normal values the 95% interval of the mean is about ±1.96/20 wide (a
    50% interval would be ±0.67/20)."""
    values = pd.Series(np.random.default_rng(11).normal(0, 1, 400))
    table = sv.bootstrap_mean(values, pd.Series(["a"] * 400), n_boot=4000, seed=1)
    half = (table.loc["a", "high"] - table.loc["a", "low"]) / 2
    assert half == pytest.approx(1.96 * values.std() / 20, rel=0.1)


def test_margin_rate_follows_the_company_cadence():
    f = pd.DataFrame(
        {
            "first_order": pd.to_datetime(["2025-01-01", "2025-01-01"]),
            "last_order": pd.to_datetime(["2025-01-01", "2025-04-11"]),
            "monetary_total": [600.0, 1600.0],
            "margin_total": [120.0, 320.0],
        }
    )
    rates = sv.with_rates(f, cadence_days=60.0)
    assert list(rates["margin_per_day"]) == [2.0, 2.0]  # 120/60; 320/(100 + 60)
    assert list(rates["revenue_per_day"]) == [10.0, 10.0]


def test_recalibration_scales_the_cumulative_hazard():
    scores = pd.DataFrame({"p_cox": [0.2, 0.5], "p_churn": [0.36, 0.5]})
    np.testing.assert_allclose(sv.recalibration_scale(scores), [2.0, 1.0])
    assert list(sv.recalibration_scale(scores[["p_cox"]])) == [1.0, 1.0]


def test_weibull_tail_continues_a_weibull_curve():
    t = np.arange(1.0, 800.0)
    h = (t / 700.0) ** 1.2
    assert sv.weibull_tail_shape(t, h) == pytest.approx(1.2, rel=1e-9)
    assert sv.weibull_tail_shape(t[:3], h[:3]) is None


def test_new_customer_survival_keeps_day_zero_churn():
    """At acquisition the survival is unconditional: the churn at day 0 (one order, never
    again) counts; conditioning on a lifetime > 0 would start every curve at 1."""
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(
        {
            "duration_days": np.r_[np.zeros(40), rng.integers(1, 900, 160)].astype(float),
            "event": np.r_[np.ones(40), rng.integers(0, 2, 160)],
            "g": rng.choice(["a", "b"], 200),
        }
    )
    model = sv.fit_churn_model(frame, covariates=["g"], penalizer=0.0)
    x = sv.align(frame.head(20), model.cox_design)
    zero = np.zeros(len(x))
    free = sv.conditional_survival(model.cox, x, zero, np.array([0.0]), unconditional=True)
    cond = sv.conditional_survival(model.cox, x, zero, np.array([0.0]))
    assert (free[:, 0] < 0.9).all() and np.allclose(cond[:, 0], 1.0)


def test_revenue_at_risk_interval_by_hand_and_by_simulation():
    """Two accounts, p = 0.5 and 0.2, revenue 1,000 and 500: expected loss 600, sd
    sqrt(0.25·1e6 + 0.16·2.5e5) = 538.5; and over 100 accounts the interval holds about 95% of
    simulated outcomes."""
    pre = pd.DataFrame({"p_churn": [0.5, 0.2], "expected_revenue": [1000.0, 500.0]})
    risk = sv.revenue_at_risk(pre)
    assert risk.total == pytest.approx(600.0) and risk.accounts == 2
    assert risk.high == pytest.approx(600 + 1.959964 * np.sqrt(0.25e6 + 0.16 * 2.5e5), rel=1e-5)
    assert risk.low == 0.0  # floored
    rng = np.random.default_rng(8)
    many = pd.DataFrame(
        {"p_churn": rng.uniform(0.1, 0.9, 100), "expected_revenue": rng.uniform(100, 900, 100)}
    )
    r = sv.revenue_at_risk(many)
    lost = (rng.random((20000, 100)) < many["p_churn"].to_numpy()) @ many["expected_revenue"]
    share = ((lost >= r.low) & (lost <= r.high)).mean()
    assert 0.93 <= share <= 0.97


def test_survival_by_tier_uses_tiers_at_the_landmark(demo):
    """Tiers come from the data up to the landmark only (deleting every later order changes
    none of them), and the accounts are followed from the landmark: long-tail accounts of
    then still leave sooner than strategic ones, without today's tiers encoding the churn."""
    definition = sv.define_churn(demo, demo.analysis_date)
    tiers = sv.tier_survival(demo, definition)
    orders = demo["orders"]
    early = Dataset(
        {**demo.tables, "orders": orders[orders["order_date"] <= tiers.landmark]},
        "early",
        demo.analysis_date,
        "x",
    )
    again = sv.landmark_tiers(early, tiers.landmark, definition.threshold)
    pd.testing.assert_series_equal(again, tiers.tiers)
    assert (tiers.frame["duration_days"] >= 0).all()
    assert set(tiers.frame["account_id"]) <= set(tiers.tiers.index)
    medians = tiers.medians["median_days"]
    assert medians["long tail"] < medians["standard"] < medians["strategic"]
    assert sv.days_text(float("inf")) == "not reached"


def test_kaplan_meier_median_recovers_the_planted_one(demo, truth):
    """The demo's KM median lifetime (active accounts censored) is within 5% of the planted
    marginal median (400.9 days); treating every account as churned would roughly halve it."""
    km = sv.kaplan_meier(sv.define_churn(demo, demo.analysis_date), segments=())
    planted = truth["churn"]["marginal_median_days"]
    assert abs(km.median_days - planted) / planted < 0.05


def test_a_covariate_that_breaks_proportional_hazards_is_stratified_and_still_named():
    """Group b's hazard rises while group a's falls (crossing curves): the PH check flags g,
    the model is stratified on it and re-checked, both concordances are kept, and the findings
    name g's effect from Kaplan-Meier medians instead of dropping it."""
    rng = np.random.default_rng(3)
    n = 600
    g = np.repeat(["a", "b"], n // 2)
    t = np.where(g == "a", 400 * rng.weibull(0.6, n), 400 * rng.weibull(4.0, n)).round()
    censor = rng.uniform(200, 900, n).round()
    frame = pd.DataFrame(
        {
            "duration_days": np.minimum(t, censor),
            "event": (t <= censor).astype(int),
            "g": g,
            "h": rng.choice(["x", "y"], n),
        }
    )
    model = sv.fit_churn_model(frame, covariates=["g", "h"], penalizer=0.01)
    assert model.stratified_on == ["g"]
    assert model.ph_after is not None and "After stratifying" in model.ph_note
    assert "g=b" not in model.forest.index and "h=y" in model.forest.index
    assert model.cox.concordance_index_ != model.unstratified.concordance_index_
    definition = sv.ChurnDefinition(
        pd.Timestamp("2025-12-31"),
        90,
        False,
        GapCounts.of([30]),
        frame.assign(churned=frame["event"] == 1),
        frame,
    )
    km = sv.kaplan_meier(definition, segments=())
    text = " ".join(sv.findings(definition, km, model, Skipped("none"), 90))
    assert "G changes the churn hazard differently over an account's life" in text
    assert "median lifetimes run from" in text


def test_a_numeric_attribute_enters_linearly_per_standard_deviation():
    """A monthly charge (a free numeric account attribute) is one standardised column, not a
    dummy per value: its planted log-HR per unit, times its standard deviation, lies in the
    reported interval; new rows are scored with the training mean and deviation."""
    rng = np.random.default_rng(9)
    n = 3000
    charge = rng.uniform(20, 120, n)
    beta = 0.02  # per currency unit of monthly charge
    t = rng.exponential(400 * np.exp(-beta * (charge - 70)))
    censor = rng.uniform(100, 1500, n)
    frame = pd.DataFrame(
        {
            "duration_days": np.minimum(t, censor).round(),
            "event": (t <= censor).astype(int),
            "monthly_charge": charge,
            "contract": rng.choice(["month", "year"], n),
        }
    )
    model = sv.fit_churn_model(frame, covariates=["monthly_charge", "contract"], penalizer=0.0)
    row = model.forest.loc["monthly_charge"]
    sd = model.design.numeric["monthly_charge"][1]
    assert row["low"] <= beta * sd <= row["high"] and row["reference"] == "per standard deviation"
    x = sv.align(frame.head(3), model.cox_design)
    np.testing.assert_allclose(
        x["monthly_charge"], (frame["monthly_charge"].head(3) - charge.mean()) / sd
    )


@pytest.mark.parametrize("as_of", ["2025-12-31", "2024-03-15"])
def test_rethreshold_gives_what_the_engine_gives_for_that_threshold(demo, as_of):
    """The sensitivity table derives every threshold's churn columns from one feature table:
    they must be the engine's own for that threshold (boundaries included: an account silent
    exactly the threshold churns, a first order exactly at the cut-off is at risk)."""
    from helpers.features import customer_features

    orders, accounts = demo.tables["orders"], demo.tables["accounts"]
    base = customer_features(orders, accounts, as_of, 90)
    when = pd.Timestamp(as_of)
    silent = base["recency_days"].dropna().astype(int)
    at_risk_edge = int((when - base["first_order"].dropna()).dt.days.iloc[0])
    for n in sorted({1, 60, 365, 5000, int(silent.iloc[0]), at_risk_edge}):
        want = customer_features(orders, accounts, as_of, n)
        got = sv.rethreshold(base, when, n)
        cols = ["churned", "in_survival", "duration_days", "event"]
        pd.testing.assert_frame_equal(got[cols], want[cols], check_exact=True)
        assert list(got.columns) == list(want.columns)


def test_sensitivity_reuses_the_definitions_features_with_the_same_table(demo):
    """The sensitivity step derives every threshold from the definition's own feature table
    (no new engine pass); the table is the one built from the first threshold's features, as
    before (the old computation as the oracle), to the last bit."""
    from helpers.features import shared_features_info

    definition = sv.define_churn(demo, demo.analysis_date, 120)
    before = shared_features_info().misses
    got = sv.sensitivity(demo, definition)
    assert shared_features_info().misses == before  # the definition's table, not a new one
    thresholds = sorted({*sv.definition.SENSITIVITY_THRESHOLDS, 120})
    want = sv.threshold_sensitivity(
        demo["orders"], demo.tables.get("accounts"), definition.as_of, thresholds
    )
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert 120 in got.index and got["churned"].nunique() > 1


def test_gaps_up_to_an_earlier_day_ignore_later_orders(demo):
    """The back-test's start-date threshold comes from the gaps counted at the start: orders
    after the start, which change the gaps to the analysis date (and the threshold derived from
    them), leave them unchanged, and they are the per-gap oracle's at the start."""
    from test_order_gaps import _oracle_gaps

    orders, as_of = demo["orders"], demo.analysis_date
    start = as_of - pd.Timedelta(days=365)
    changed = pd.concat([orders, _late_orders(orders, start)], ignore_index=True)
    for day in (start, start + pd.Timedelta(hours=13), start + pd.Timedelta(days=299)):
        want = GapCounts.of(_oracle_gaps(orders, day)["gap_days"])
        assert sv.gaps_for(changed, day) == want == sv.gaps_for(orders, day)
    assert sv.default_threshold(sv.gaps_for(changed, start)) != sv.default_threshold(
        sv.gaps_for(changed, as_of)
    )  # the later orders would move the threshold: a leak would show


def test_backtest_step_derives_its_threshold_from_the_gaps_at_its_start(demo, monkeypatch):
    """The back-test step derives its threshold from the gaps up to its start (the per-gap
    oracle's threshold there), not from the definition's gaps to the analysis date, which the
    orders added after the start move."""
    import sys

    from test_order_gaps import _oracle_gaps

    bt = sys.modules["helpers.survival.backtest"]  # the module (the package exports the step)
    orders, as_of = demo["orders"], demo.analysis_date
    history = (as_of - sv.export_start(orders)).days
    start = as_of - pd.Timedelta(days=min(365, history // 3))
    # 100 long gaps after the start: a threshold to the analysis date of 210 days instead of
    # 180, still short enough for the step to run the back-test (horizon + threshold < 365)
    changed = pd.concat([orders, _late_orders(orders, start).head(100)], ignore_index=True)
    ds = Dataset(
        tables={"orders": changed, "accounts": demo["accounts"]},
        source="test",
        analysis_date=as_of,
        fingerprint="0",
    )
    definition = sv.define_churn(ds, as_of)
    seen = {}

    class Stop(Exception):
        pass

    def stop(*args, **kwargs):
        seen["threshold"] = args[5]
        raise Stop

    monkeypatch.setattr(bt, "fit_and_score", stop)
    with pytest.raises(Stop):
        sv.backtest(ds, definition, None, 365, 90)
    want = sv.default_threshold(_oracle_gaps(changed, start)["gap_days"])
    assert seen["threshold"] == want != definition.threshold


@pytest.mark.slow  # a Cox model with its cross-validation on the demo: `make test-slow`
def test_new_customer_ltv_per_profile_equals_the_per_row_computation(demo):
    """lifetime_value at acquisition integrates once per profile: the same floats as the
    per-row survival matrix it replaced (the old computation kept here as the oracle)."""
    from helpers.survival.ltv import discounted_lifetime
    from helpers.survival.predict import conditional_survival

    definition = sv.define_churn(demo, demo.analysis_date)
    model = sv.churn_model(definition)
    every = sv.with_rates(definition.features, definition.cadence_days)
    got = sv.lifetime_value(
        every, model.cox, model.cox_design, definition.as_of, at_acquisition=True
    )
    x = sv.align(every, model.cox_design)
    grid = np.linspace(0, 3 * 365, 61)
    surv = conditional_survival(model.cox, x, np.zeros(len(every)), grid, unconditional=True)
    want = discounted_lifetime(surv, grid, 0.10) * every["margin_per_day"].to_numpy()
    np.testing.assert_array_equal(got.to_numpy(), want)
    assert got.nunique() > 10


def _align_before(frame: pd.DataFrame, design: sv.Design) -> pd.DataFrame:
    """``align`` before issue #15 (levels computed once per dummy): the oracle."""
    cols = [c for c in design.data.columns if c not in sv.cox.OUTCOME_COLUMNS]
    out = pd.DataFrame(0.0, index=frame.index, columns=[c for c in cols if c not in design.strata])
    for c in out.columns:
        if c in design.numeric:
            mean, sd = design.numeric[c]
            out[c] = ((frame[c].astype(float).fillna(mean) - mean) / sd).to_numpy()
            continue
        col, level = c.split("=", 1)
        if level == "other":
            known = (
                set(design.levels[col]) - {"other"}
                if col in design.levels
                else {k.split("=", 1)[1] for k in cols if k.startswith(f"{col}=")}
            )
            out[c] = (
                ~sv.covariate_levels(frame, col).isin(known | {design.references.get(col)})
            ).astype(float)
        else:
            out[c] = (sv.covariate_levels(frame, col) == level).astype(float)
    for col in design.strata:
        known = set(design.data[col])
        fallback = "other" if "other" in known else design.references[col]
        values = sv.covariate_levels(frame, col)
        out[col] = values.where(values.isin(known), fallback).to_numpy()
    return out


def test_align_equals_the_per_dummy_computation():
    """New rows (unseen levels, missing values, a numeric covariate, a stratum) get the same
    design rows as before levels were computed once per covariate."""
    rng = np.random.default_rng(8)
    n = 600
    frame = pd.DataFrame(
        {
            "size_band": rng.choice(["small", "medium", "large"], n),
            "industry": rng.choice(["a", "b", "c", "d", "rare"], n, p=[0.3, 0.3, 0.2, 0.19, 0.01]),
            "charge": rng.normal(50, 10, n),
            "duration_days": rng.integers(1, 900, n).astype(float),
            "event": rng.integers(0, 2, n),
        }
    )
    design = sv.design_matrix(frame, ["size_band", "industry", "charge"])
    assert "industry=other" in design.data.columns
    new = frame.head(50).copy()
    new.loc[new.index[:5], "industry"] = "unseen"
    new.loc[new.index[5:8], "size_band"] = None
    new.loc[new.index[8:10], "charge"] = np.nan
    pd.testing.assert_frame_equal(sv.align(new, design), _align_before(new, design))
    stratified = sv.Design(
        design.data.drop(columns=[c for c in design.data if c.startswith("size_band=")]).assign(
            size_band=design.levels["size_band"].to_numpy()
        ),
        design.covariates,
        design.references,
        strata=["size_band"],
        levels=design.levels,
        numeric=design.numeric,
    )
    got = sv.align(new, stratified)
    pd.testing.assert_frame_equal(got, _align_before(new, stratified))
    assert set(got["size_band"]) == {"small", "medium", "large"}
