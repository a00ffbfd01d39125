"""BG/NBD and Gamma-Gamma (helpers.survival.bgnbd): the CDNOW reference of Fader, Hardie & Lee
(2005), the order-log summary, and the steps on the demo data (an order log alone)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from helpers import survival as sv
from helpers.schemas import ChurnMetrics, from_json
from helpers.steps import Skipped
from helpers.survival import bgnbd, bgnbd_checks

# Fader, Hardie & Lee (2005), maximum likelihood on the CDNOW sample (39-week calibration)
PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


# ---- the CDNOW reference ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def cdnow_model(cdnow):
    return bgnbd.fit_beta_geo(cdnow, priors="flat")


def test_cdnow_sample_is_the_published_one(cdnow):
    assert len(cdnow) == 2357
    assert cdnow["T"].max() == pytest.approx(38.86)


def test_flat_prior_map_fit_reproduces_the_published_maximum_likelihood(cdnow_model):
    fitted = bgnbd.parameters(cdnow_model)
    for name, published in PUBLISHED.items():
        assert fitted[name] == pytest.approx(published, rel=0.01), name


def test_customer_one_p_alive_and_expected_purchases(cdnow_model):
    one = pd.DataFrame({"customer_id": [1], "frequency": [2], "recency": [30.43], "T": [38.86]})
    assert bgnbd.p_alive(cdnow_model, one)[0] == pytest.approx(0.7266, rel=0.01)
    assert bgnbd.expected_purchases(cdnow_model, one, periods=39)[0] == pytest.approx(
        1.2259, rel=0.01
    )


def test_unknown_priors_are_refused(cdnow):
    with pytest.raises(ValueError, match="flat"):
        bgnbd.fit_beta_geo(cdnow, priors="informative")


def _compiled_modules() -> tuple[int, int]:
    """C modules this process has loaded from PyTensor's disk cache and compiled so far."""
    from pytensor.link.c.basic import get_module_cache

    hits, loads, compiles = get_module_cache().stats
    return loads, compiles


def test_a_fit_on_data_of_another_size_reuses_the_compiled_code(cdnow_model, cdnow):
    # pymc-marketing's own models put the data into the graph as constants: each new data size
    # loaded (warm cache) or compiled (cold) its own C modules; ours take it as pm.Data
    before = _compiled_modules()
    other = bgnbd.fit_beta_geo(cdnow.iloc[:1000], priors="flat")
    assert _compiled_modules() == before
    assert bgnbd.parameters(other) != bgnbd.parameters(cdnow_model)  # really fitted anew


def test_the_likelihoods_hold_no_data_as_constants(cdnow):
    from pytensor.graph.traversal import ancestors
    from pytensor.tensor.variable import TensorConstant

    bg, gg = bgnbd._models()
    beta_geo = bg(model_config=bgnbd._priors(bgnbd.PARAMS, "flat"))
    beta_geo.build_model(cdnow[["customer_id", "frequency", "recency", "T"]])
    spend = gg(model_config=bgnbd._priors(bgnbd.SPEND_PARAMS, "flat"))
    spend.build_model(
        cdnow.loc[cdnow["frequency"] > 0, ["customer_id", "frequency", "monetary_value"]]
    )
    for model in (beta_geo.model, spend.model):
        constants = [v for v in ancestors([model.logp()]) if isinstance(v, TensorConstant)]
        assert all(c.data.size <= 2 for c in constants), [c.data.shape for c in constants]


# ---- the order-log summary -------------------------------------------------------------------


def _orders(rows: list[tuple[str, str, float, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["account_id", "order_date", "net_amount", "status"]).assign(
        order_date=lambda f: pd.to_datetime(f["order_date"])
    )


def test_rfm_summary_counts_purchase_days_in_periods():
    orders = _orders(
        [
            ("A", "2025-01-01", 100.0, "completed"),
            ("A", "2025-01-01", 50.0, "completed"),  # same day: one purchase of 150
            ("A", "2025-01-15", 200.0, "completed"),
            ("A", "2025-01-29", 400.0, "completed"),
            ("A", "2025-02-05", 999.0, "cancelled"),  # ignored
            ("B", "2025-01-08", 80.0, "completed"),
            ("C", "2025-03-01", 10.0, "completed"),  # after as_of: not seen
        ]
    )
    s = bgnbd.rfm_summary(orders, as_of="2025-02-12", period_days=7).set_index("customer_id")
    assert list(s.index) == ["A", "B"]
    a, b = s.loc["A"], s.loc["B"]
    assert a["frequency"] == 2 and a["recency"] == pytest.approx(4.0)  # 28 days
    assert a["T"] == pytest.approx(6.0)  # 42 days from the first purchase
    assert a["monetary_value"] == pytest.approx(300.0)  # mean of the repeat purchases
    assert b["frequency"] == 0 and b["recency"] == 0 and b["monetary_value"] == 0
    assert b["T"] == pytest.approx(5.0)


def test_rfm_summary_with_a_holdout_counts_later_purchase_days():
    orders = _orders(
        [
            ("A", "2025-01-01", 100.0, "completed"),
            ("A", "2025-01-15", 100.0, "completed"),
            ("A", "2025-02-01", 100.0, "completed"),  # holdout
            ("A", "2025-02-08", 100.0, "completed"),  # holdout
            ("B", "2025-01-20", 100.0, "completed"),
            ("C", "2025-02-03", 100.0, "completed"),  # first bought in the holdout: left out
        ]
    )
    s = bgnbd.rfm_summary(
        orders, as_of="2025-02-28", period_days=7, calibration_end="2025-01-29"
    ).set_index("customer_id")
    assert list(s.index) == ["A", "B"]
    assert s.loc["A", "frequency"] == 1 and s.loc["A", "T"] == pytest.approx(4.0)
    assert s.loc["A", "holdout_frequency"] == 2 and s.loc["B", "holdout_frequency"] == 0


def _rfm_summary_before(orders, as_of, period_days, calibration_end=None):
    """rfm_summary as it was, grouping the purchase days in pandas (the oracle)."""
    as_of = pd.Timestamp(as_of)
    end = pd.Timestamp(calibration_end) if calibration_end is not None else as_of
    days = bgnbd.purchase_days(orders, as_of)
    cal = days[days["order_date"] <= end]
    g = cal.groupby("account_id")
    first, last, n = g["order_date"].min(), g["order_date"].max(), g.size()
    first_spend = cal.loc[g["order_date"].idxmin(), ["account_id", "spend"]]
    repeat = (g["spend"].sum() - first_spend.set_index("account_id")["spend"]).clip(lower=0)
    out = pd.DataFrame(
        {
            "customer_id": n.index,
            "frequency": (n - 1).to_numpy(),
            "recency": ((last - first).dt.days / period_days).to_numpy(),
            "T": ((end - first).dt.days / period_days).to_numpy(),
            "monetary_value": np.where(n > 1, repeat / (n - 1).clip(lower=1), 0.0),
        }
    )
    if calibration_end is not None:
        later = days[days["order_date"] > end].groupby("account_id").size()
        out["holdout_frequency"] = out["customer_id"].map(later).fillna(0).astype(int).to_numpy()
    return out.reset_index(drop=True)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("calibration_end", [None, "2025-03-31"])
def test_rfm_summary_equals_grouping_the_purchase_days_in_pandas(seed, calibration_end):
    """The engine's per-account summary is the pandas one (sums to rounding: another
    summation order), on random lines with several lines a day, cancellations and returns,
    lines after ``as_of`` and accounts that first bought in the holdout."""
    rng = np.random.default_rng(seed)
    n = 3_000
    orders = pd.DataFrame(
        {
            "account_id": [f"acc{i:03d}" for i in rng.integers(0, 250, n)],
            "order_date": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 600, n), unit="D"),
            "net_amount": rng.gamma(2.0, 50.0, n).round(2),
            "status": rng.choice(["completed", "returned", "cancelled"], n, p=[0.8, 0.1, 0.1]),
        }
    )
    got = bgnbd.rfm_summary(orders, "2025-06-30", 7, calibration_end=calibration_end)
    want = _rfm_summary_before(orders, "2025-06-30", 7, calibration_end)
    assert list(got.columns) == list(want.columns) and len(got) == len(want) > 200
    pd.testing.assert_series_equal(
        got["customer_id"], want["customer_id"], check_dtype=False, check_names=False
    )
    exact = [c for c in got.columns if c not in ("customer_id", "monetary_value")]
    pd.testing.assert_frame_equal(got[exact], want[exact], check_exact=True)
    np.testing.assert_allclose(got["monetary_value"], want["monetary_value"], rtol=1e-12)
    assert (got["frequency"] > 0).sum() > 100
    if calibration_end is not None:
        assert got["holdout_frequency"].sum() > 100


# ---- the steps on the demo data --------------------------------------------------------------


@pytest.fixture(scope="module")
def orders_only(demo):
    """The demo data as an order log alone (no accounts table)."""
    return dataclasses.replace(demo, tables={"orders": demo["orders"]})


@pytest.fixture(scope="module")
def btyd(orders_only):
    return bgnbd.buy_till_you_die(orders_only, orders_only.analysis_date, period_days=7)


@pytest.fixture(scope="module")
def holdout(orders_only):
    return bgnbd_checks.holdout_check(orders_only, orders_only.analysis_date, holdout_days=365)


@pytest.fixture(scope="module")
def cox_backtest(demo):
    return sv.run_backtest(
        demo["orders"], demo["accounts"], demo.analysis_date, 365, 90, 180, penalizer=0.01
    )


def test_buy_till_you_die_runs_on_an_order_log_alone(btyd, orders_only):
    assert isinstance(btyd, bgnbd.BuyTillYouDie)
    a = btyd.accounts
    assert a["account_id"].is_unique
    assert (
        a["account_id"].nunique()
        == orders_only["orders"].query("status == 'completed'")["account_id"].nunique()
    )
    assert a["p_alive"].between(0, 1).all()
    # BG/NBD: an account can only die right after a purchase, so one-time buyers are alive
    assert (a.loc[a["frequency"] == 0, "p_alive"] == 1).all()
    assert (a["expected_purchases"] >= 0).all()
    assert set(btyd.params) == {"r", "alpha", "a", "b"}
    assert set(btyd.spend_params) == {"p", "q", "v"}
    repeat = a["frequency"] > 0
    assert a.loc[repeat, "expected_spend"].notna().all()
    assert a.loc[~repeat, "expected_spend"].isna().all()


def test_p_alive_falls_with_the_silence_of_a_regular_buyer(btyd):
    """Same history, a longer silence since the last purchase: a lower P(alive)."""
    probe = pd.DataFrame(
        {"customer_id": [1, 2], "frequency": [10, 10], "recency": [50.0, 50.0], "T": [52.0, 80.0]}
    )
    recent, silent = bgnbd.p_alive(btyd.model, probe)
    assert silent < recent


def test_independence_check_is_pearson_on_the_repeat_buyers(btyd):
    a = btyd.accounts
    repeat = a[(a["frequency"] > 0) & (a["monetary_value"] > 0)]
    r, _ = stats.pearsonr(repeat["frequency"], repeat["monetary_value"])
    assert btyd.independence["r"] == pytest.approx(r)
    assert btyd.independence["n"] == len(repeat)
    assert "Frequency and spend" in bgnbd_checks.bgnbd_sentence(btyd)


def test_holdout_table_and_total_error(holdout, orders_only):
    table = holdout.by_frequency
    assert list(table.index)[:2] == ["0", "1"] and list(table.index)[-1] == "7+"
    assert table["accounts"].sum() == len(holdout.accounts)
    # the total is the per-bucket means weighted back to sums
    assert (table["actual"] * table["accounts"]).sum() == pytest.approx(holdout.total_actual)
    assert holdout.error == pytest.approx(
        (holdout.total_predicted - holdout.total_actual) / holdout.total_actual
    )
    # the model has to predict the holdout reasonably (within 25% in total)
    assert abs(holdout.error) < 0.25
    # no account first seen in the holdout
    first = orders_only["orders"].query("status == 'completed'").groupby("account_id")["order_date"]
    first = pd.to_datetime(first.min())
    assert (first[holdout.accounts["account_id"]] <= holdout.calibration_end).all()


def test_p_alive_at_the_backtest_start_ranks_the_churners(holdout, cox_backtest):
    result = bgnbd_checks.p_alive_backtest(holdout, cox_backtest)
    assert result.start == cox_backtest.start
    assert result.auc_p_alive > 0.5
    assert result.auc_cox == cox_backtest.metrics["auc_at_horizon"]
    assert result.accounts == len(cox_backtest.frame)


def test_p_alive_auc_is_written_to_metrics_beside_the_cox_auc(demo, btyd, holdout, cox_backtest):
    check = bgnbd_checks.p_alive_backtest(holdout, cox_backtest)
    skipped = Skipped("not in this test")
    m = sv.metrics(
        ds=demo,
        definition=skipped,
        km=skipped,
        model=skipped,
        backtest=cox_backtest,
        prechurn=skipped,
        ltv_by_tier=skipped,
        ltv_by_channel=skipped,
        settings=sv.LtvSettings(),
        horizon_days=90,
        filters={},
        bgnbd=bgnbd_checks.bgnbd_metrics(btyd, holdout, check),
    )
    data = m.to_json()
    assert data["schema_version"] == ChurnMetrics.VERSION >= 2
    assert data["p_alive_auc"] == check.auc_p_alive > 0.5
    assert data["bgnbd"]["auc_cox"] == data["backtest"]["auc_at_horizon"]
    assert data["bgnbd"]["holdout_error"] == pytest.approx(holdout.error)
    assert from_json(data, ChurnMetrics) == m


def test_metrics_without_the_bgnbd_view_keep_their_old_values(demo):
    skipped = Skipped("not in this test")
    m = sv.metrics(
        ds=demo,
        definition=skipped,
        km=skipped,
        model=skipped,
        backtest=skipped,
        prechurn=skipped,
        ltv_by_tier=skipped,
        ltv_by_channel=skipped,
        settings=sv.LtvSettings(),
        horizon_days=90,
        filters={},
    )
    assert m.bgnbd is None and m.p_alive_auc is None
    assert "bgnbd" not in m.skipped and "p_alive_auc" not in m.skipped
    # a skipped BG/NBD view is recorded with its reason
    again = sv.metrics(
        ds=demo,
        definition=skipped,
        km=skipped,
        model=skipped,
        backtest=skipped,
        prechurn=skipped,
        ltv_by_tier=skipped,
        ltv_by_channel=skipped,
        settings=sv.LtvSettings(),
        horizon_days=90,
        filters={},
        bgnbd=Skipped("only 3 accounts bought on more than one day"),
    )
    assert (
        again.skipped["bgnbd"]
        == again.skipped["p_alive_auc"]
        == ("only 3 accounts bought on more than one day")
    )


def test_agreement_table_and_prechurn_join(btyd, orders_only):
    definition = sv.define_churn(orders_only, orders_only.analysis_date, 180)
    table = bgnbd_checks.churn_agreement(btyd, definition)
    assert table.loc["All", "All"] == len(definition.features)
    churned = int(definition.features["churned"].sum())
    assert table.loc["All", "silence-churned"] == churned
    below = int((btyd.accounts["p_alive"] < 0.5).sum())
    assert table.loc["P(alive) < 0.5", "All"] == below
    # both views see the same long silences: they agree far more often than not
    diagonal = (
        table.loc["P(alive) < 0.5", "silence-churned"] + table.loc["P(alive) ≥ 0.5", "active"]
    )
    assert diagonal / table.loc["All", "All"] > 0.7
    assert "agree on" in bgnbd_checks.agreement_sentence(table)

    prechurn = definition.features.loc[~definition.features["churned"], ["account_id"]].head(25)
    joined = bgnbd_checks.with_p_alive(prechurn, btyd)
    assert list(joined["account_id"]) == list(prechurn["account_id"])
    alive = btyd.accounts.set_index("account_id")["p_alive"]
    assert np.allclose(joined["p_alive"], alive[prechurn["account_id"]].to_numpy())
    assert "expected_purchases" in joined


# ---- steps that cannot run -------------------------------------------------------------------


def test_too_few_repeat_buyers_is_skipped_and_passed_on(demo):
    orders = _orders(
        [("A", "2025-01-01", 1.0, "completed"), ("A", "2025-01-09", 1.0, "completed")]
        + [(f"B{i}", "2025-01-05", 1.0, "completed") for i in range(30)]
    )
    ds = dataclasses.replace(demo, tables={"orders": orders})
    result = bgnbd.buy_till_you_die(ds, pd.Timestamp("2025-02-01"))
    assert isinstance(result, Skipped)
    assert result.step == "The BG/NBD model" and "only 1 accounts" in result.reason
    # the steps downstream skip under their own names, the pre-churn list stays as it is
    assert (
        bgnbd_checks.churn_agreement(result, result).step == "The agreement of the two churn views"
    )
    assert isinstance(bgnbd_checks.bgnbd_metrics(result, result, result), Skipped)
    prechurn = pd.DataFrame({"account_id": ["A"]})
    assert bgnbd_checks.with_p_alive(prechurn, result) is prechurn
    assert bgnbd_checks.bgnbd_sentence(result) is result


def test_no_orders_table_is_skipped(demo):
    ds = dataclasses.replace(demo, tables={"accounts": demo["accounts"]})
    assert "no orders table" in bgnbd.buy_till_you_die(ds, demo.analysis_date).reason
    assert "no orders table" in bgnbd_checks.holdout_check(ds, demo.analysis_date).reason


def test_p_alive_backtest_needs_the_split_at_the_backtest_start(holdout, cox_backtest):
    moved = dataclasses.replace(
        holdout, calibration_end=holdout.calibration_end - pd.Timedelta(days=30)
    )
    result = bgnbd_checks.p_alive_backtest(moved, cox_backtest)
    assert isinstance(result, Skipped) and "back-test start" in result.reason
    assert bgnbd_checks.p_alive_backtest(Skipped("no orders"), cox_backtest).step == (
        "The P(alive) back-test"
    )
