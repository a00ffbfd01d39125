"""The churn study on the data shapes companies have (issue: real exports): every step runs or
says in one sentence why not, and metrics record null with the reason; never a traceback."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_survival import _metrics

from helpers import survival as sv
from helpers.loading import Dataset
from helpers.steps import Skipped

AS_OF = pd.Timestamp("2025-12-31")


def _order_log(
    n: int, months: int, seed: int, *, mean_life_days: float = 400, accounts: bool = False
) -> Dataset:
    """Order lines of ``n`` customers over the last ``months`` months: orders about every 30
    days from a random start until a random end of life (one line = one order, no margin)."""
    rng = np.random.default_rng(seed)
    first_day = AS_OF - pd.DateOffset(months=months)
    span = (AS_OF - first_day).days
    rows = []
    for i in range(n):
        start = rng.integers(0, max(span - 30, 1))
        end = min(start + rng.exponential(mean_life_days), span)
        day = float(start)
        while day <= end:
            rows.append((f"C{i:04d}", first_day + pd.Timedelta(days=int(day)), rng.gamma(2, 50)))
            day += rng.gamma(4, 7.5)
    orders = pd.DataFrame(rows, columns=["account_id", "order_date", "net_amount"])
    orders = orders.assign(
        order_id=[f"O{i}" for i in range(len(orders))],
        line_number=1,
        quantity=1.0,
        gross_margin=np.nan,
        product_category=None,
        status="completed",
    )
    tables = {"orders": orders}
    if accounts:
        ids = sorted(orders["account_id"].unique())
        tables["accounts"] = pd.DataFrame(
            {
                "account_id": ids,
                "account_name": ids,
                "region": "north",
                "industry": "x",
                "size_band": "small",
                "ownership_type": "private",
                "business_type": "brand_owner",
                "acquisition_channel": "direct_sales",
                "acquired_date": pd.NaT,
                "sales_rep": "rep",
            }
        )
    return Dataset(tables, "test", AS_OF, f"shape-{seed}")


def _study(ds: Dataset, **kwargs) -> sv.ChurnStudy:
    return sv.churn_study(ds, AS_OF, n_boot=20, **kwargs)


@pytest.fixture(scope="module")
def order_log() -> Dataset:
    return _order_log(300, 36, seed=1)


def test_order_log_only_gives_threshold_and_kaplan_meier_and_says_what_else_needs(order_log):
    study = _study(order_log)
    assert study.definition.threshold > 0 and study.definition.derived
    assert not isinstance(study.km, Skipped) and np.isfinite(study.km.median_days)
    assert isinstance(study.model, Skipped)
    assert "no covariate varies" in study.model.reason
    assert "acquisition_channel: not in the data" in study.model.reason
    assert isinstance(study.prechurn, Skipped) and isinstance(study.ltv_by_channel, Skipped)
    assert "The data has no acquisition dates" in sv.entry_sentence(study.definition)
    m = _metrics(order_log, study)
    assert m.churn_rate is not None and m.km_median_days is not None
    assert m.cox_concordance is None and m.revenue_at_risk is None
    assert m.skipped["cox_concordance"].startswith("no covariate varies")
    sentences = sv.findings(study.definition, study.km, study.model, study.prechurn, 90)
    assert any(
        s.startswith("The Cox model is not available: no covariate varies") for s in sentences
    )


def test_without_margin_lifetime_value_is_not_available_rather_than_zero():
    ds = _order_log(400, 36, seed=2, accounts=True)
    rng = np.random.default_rng(0)
    acc = ds["accounts"]
    acc["size_band"] = rng.choice(["small", "medium", "large"], len(acc))
    definition = sv.define_churn(ds, AS_OF)
    model = sv.churn_model(definition, covariates=["size_band"])
    assert not isinstance(model, Skipped)
    ltv = sv.ltv_by_channel(definition, model, sv.LtvSettings(n_boot=20))
    assert isinstance(ltv, Skipped) and "no gross margin" in ltv.reason


def test_nine_months_of_history_skip_the_backtest_with_the_months_needed():
    ds = _order_log(150, 9, seed=3, mean_life_days=120, accounts=True)
    ds["accounts"]["size_band"] = np.resize(["small", "large"], len(ds["accounts"]))
    study = _study(ds, covariates=["size_band"])
    bt = study.backtest
    assert isinstance(bt, Skipped)
    assert bt.reason.startswith("needs ") and "months of history, the data has 9" in bt.reason


def test_one_account_and_all_churned_and_none_churned_run_to_the_end():
    one = _order_log(1, 36, seed=4)
    study = _study(one, threshold_days=90)
    assert not isinstance(study.definition, Skipped)
    assert isinstance(study.model, Skipped) and "only" in study.model.reason
    _metrics(one, study)

    gone = _order_log(120, 36, seed=5, mean_life_days=60, accounts=True)
    gone.tables["orders"] = gone["orders"][gone["orders"]["order_date"] < "2025-03-01"]
    gone["accounts"]["size_band"] = np.resize(["small", "large"], len(gone["accounts"]))
    study = _study(gone, threshold_days=90, covariates=["size_band"])
    assert not isinstance(study.model, Skipped)
    assert study.definition.features["churned"].all()
    assert isinstance(study.scores, Skipped) and "no account is active" in study.scores.reason
    m = _metrics(gone, study)
    assert m.churn_rate == 1.0 and m.prechurn_accounts is None

    loyal = _order_log(40, 36, seed=6, mean_life_days=1e9)
    study = _study(loyal, threshold_days=120)
    m = _metrics(loyal, study)
    assert m.churn_rate == 0.0 and m.km_median_days is None
    assert m.skipped["km_median_days"] == "the median lifetime is not reached in the data"
