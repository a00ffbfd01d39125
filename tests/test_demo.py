"""The demo generator: deterministic, realistic, and its planted truths are what it says."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from scipy.special import expit, logit

from helpers import demo
from helpers.demo.__main__ import main
from helpers.features import features_for
from helpers.loading import demo_config, load_dataset


def _hashes(folder) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.suffix in (".parquet", ".json")
    }


def test_same_seed_same_bytes(tmp_path):
    demo.write(tmp_path / "a", n_accounts=300, seed=7)
    # a company that fits in one chunk is generated in one piece, as it always was
    demo.write(tmp_path / "b", n_accounts=300, seed=7, chunk_accounts=300)
    demo.write(tmp_path / "c", n_accounts=300, seed=8)
    a, b, c = (_hashes(tmp_path / x) for x in "abc")
    assert len(a) == 7 and a == b
    assert a["orders.parquet"] != c["orders.parquet"]


def test_command_line_writes_what_write_writes(tmp_path, capsys):
    main(["--out", str(tmp_path / "cli"), "--accounts", "300", "--seed", "7"])
    truth = demo.write(tmp_path / "api", n_accounts=300, seed=7)
    assert _hashes(tmp_path / "cli") == _hashes(tmp_path / "api")
    assert (tmp_path / "cli" / ".complete").exists()
    assert f"wrote {truth['n_accounts']} accounts" in capsys.readouterr().out


def test_size_is_a_parameter_and_benchmark_mode_skips_tables(tmp_path):
    truth = demo.write(tmp_path, n_accounts=2000, seed=1, tables=("accounts", "orders"))
    assert 1800 <= truth["n_accounts"] <= 2200
    assert {p.name for p in tmp_path.glob("*.parquet")} == {
        "accounts.parquet",
        "orders.parquet",
        "truth_accounts.parquet",
    }


def test_default_size_and_loads_cleanly(demo, truth):
    assert 2700 <= truth["n_accounts"] <= 3300
    assert len(demo["accounts"]) == truth["n_accounts"]
    assert truth["as_of"] == "2025-12-31"
    assert demo.analysis_date == pd.Timestamp("2025-12-31")


def test_pareto_share_is_planted_and_realised(demo, truth):
    share = truth["purchasing"]["top20_revenue_share"]
    assert 0.75 <= share <= 0.80
    o = demo["orders"]
    revenue = o[o["status"] != "cancelled"].groupby("account_id")["net_amount"].sum()
    revenue = revenue.reindex(demo["accounts"]["account_id"], fill_value=0.0)
    top = int(np.ceil(0.2 * len(revenue)))
    assert revenue.nlargest(top).sum() / revenue.sum() == pytest.approx(share, abs=1e-4)


def test_realised_cost_per_lead_is_exact(demo, truth):
    spend, leads = demo["channel_spend"], demo["leads"]
    for channel, info in truth["channels"].items():
        if not info["paid"]:
            assert channel not in set(spend["channel"])
            continue
        rows = spend[spend["channel"] == channel]
        months = set(rows["month"])
        mine = leads[leads["source_channel"] == channel]
        n = int(mine["created_date"].dt.to_period("M").dt.to_timestamp().isin(months).sum())
        assert n == info["realised"]["leads_in_months_with_spend"]
        assert round(rows["spend"].sum() / n, 2) == info["realised"]["cost_per_lead"]
        # and it is near the planted cost per lead at mean spend (diminishing returns move it)
        assert info["realised"]["cost_per_lead"] == pytest.approx(
            info["planted_cpl_at_mean_spend"], rel=0.15
        )


@pytest.mark.parametrize("channel", demo.CHANNELS)
def test_marginal_stage_rates_match_simulation(channel):
    rng = np.random.default_rng(0)
    q = rng.standard_normal(400_000)
    p = expit(logit(np.array(demo.STAGE_P[channel]))[:, None] + demo.QUALITY_EFFECT * q[None, :])
    reach = np.cumprod(rng.random(p.shape) < p, axis=0).mean(axis=1)
    rates = demo.marginal_stage_rates(channel)
    simulated = reach / np.concatenate([[1.0], reach[:-1]])
    expected = [rates[s] for s in ("intent", "proposal", "negotiation", "won")]
    np.testing.assert_allclose(simulated, expected, atol=0.006)
    assert rates["lead_to_won"] == pytest.approx(reach[-1], abs=0.003)


def test_warts_are_present(demo, truth):
    o = demo["orders"]
    returned = o[o["status"] == "returned"]
    assert len(returned) == truth["purchasing"]["n_returned_lines"] > 0
    assert (returned["net_amount"] < 0).all()
    assert (o["status"] == "cancelled").sum() == truth["purchasing"]["n_cancelled_lines"] > 0
    late = o["order_date"].dt.strftime("%Y-%m") == truth["warts"]["late_arriving_month"]
    assert late.sum() == truth["purchasing"]["late_month_rows"]
    assert late.iloc[-late.sum() :].all(), "the late month sits at the end of the file"
    assert not o["order_date"].is_monotonic_increasing
    miss = truth["warts"]["missing_spend"]
    spend = demo["channel_spend"]
    assert not (
        (spend["channel"] == miss["channel"])
        & (spend["month"] == pd.Timestamp(miss["month"] + "-01"))
    ).any()
    names = set(demo["accounts"]["account_name"])
    assert set(truth["warts"]["special_account_names"]) <= names


def test_kaplan_meier_median_recovers_planted_median(demo, truth):
    f = features_for(demo, churn_threshold_days=truth["churn"]["churn_threshold_days"])
    f = f[f["in_survival"]]
    km = KaplanMeierFitter().fit(f["duration_days"], f["event"])
    planted = truth["churn"]["marginal_median_days"]
    assert km.median_survival_time_ == pytest.approx(planted, rel=0.10)


def test_planted_ltv_cac_order_is_well_separated(truth):
    ltv = truth["ltv_cac"]
    ratios = [ltv[c]["ratio"] for c in ltv["order_best_to_worst"]]
    assert ratios == sorted(ratios, reverse=True)
    assert all(a / b >= 1.3 for a, b in zip(ratios, ratios[1:], strict=False))


# --- a company written in chunks (helpers.demo.chunks) -----------------------------------------


@pytest.fixture(scope="module")
def chunked(tmp_path_factory):
    """A 900-account company written in 3 chunks of 300 accounts: (folder, truth)."""
    folder = tmp_path_factory.mktemp("chunked") / "a"
    return folder, demo.write(folder, n_accounts=900, seed=7, chunk_accounts=300)


def test_chunked_company_same_seed_same_bytes(chunked, tmp_path):
    folder, truth = chunked
    assert truth["chunks"]["count"] == 3
    args = ["--out", str(tmp_path / "b"), "--accounts", "900", "--seed", "7"]
    main([*args, "--chunk-accounts", "300"])
    assert _hashes(tmp_path / "b") == _hashes(folder)


def test_chunked_company_loads_cleanly_and_its_truth_adds_up(chunked):
    folder, truth = chunked
    ds = load_dataset(demo_config(folder), cache=False)
    accounts, orders, leads = ds["accounts"], ds["orders"], ds["leads"]
    assert 800 <= len(accounts) == truth["n_accounts"] <= 1000
    assert accounts["account_id"].is_unique and leads["lead_id"].is_unique
    assert ds["touchpoints"]["touchpoint_id"].is_unique
    # every account is the won lead of exactly one lead, across chunks
    assert sorted(leads["account_id"].dropna()) == sorted(accounts["account_id"])
    assert (
        accounts["account_name"]
        .value_counts()[list(truth["warts"]["special_account_names"])]
        .eq(1)
        .all()
    )
    buying = truth["purchasing"]
    assert len(orders) == buying["n_order_lines"]
    late = orders["order_date"].dt.strftime("%Y-%m") == truth["warts"]["late_arriving_month"]
    assert late.sum() == buying["late_month_rows"] > 0
    assert late.iloc[-late.sum() :].all(), "the late month of every chunk is at the end"
    revenue = orders[orders["status"] != "cancelled"].groupby("account_id")["net_amount"].sum()
    revenue = revenue.reindex(accounts["account_id"], fill_value=0.0)
    top = int(np.ceil(0.2 * len(revenue)))
    share = revenue.nlargest(top).sum() / revenue.sum()
    assert share == pytest.approx(buying["top20_revenue_share"], abs=1e-4)
    spend = ds["channel_spend"]
    for channel in demo.PAID_CHANNELS:
        rows = spend[spend["channel"] == channel]
        mine = leads[leads["source_channel"] == channel]
        months = mine["created_date"].dt.to_period("M").dt.to_timestamp()
        n = int(months.isin(set(rows["month"])).sum())
        assert n == truth["channels"][channel]["realised"]["leads_in_months_with_spend"]
