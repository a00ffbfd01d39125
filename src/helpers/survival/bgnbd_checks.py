"""Checks and uses of the BG/NBD lens (:mod:`.bgnbd`): the calibration/holdout validation,
P(alive) at the back-test start against the churns that followed, its agreement with
silence-churn, the pre-churn list with both views, the sentences and the metrics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers import formats
from helpers.features import orders_table
from helpers.steps import Skipped, step
from helpers.survival.accuracy import auc_at
from helpers.survival.backtest import Backtest
from helpers.survival.bgnbd import (
    HOLDOUT_BUCKETS,
    INDEPENDENCE_R,
    BuyTillYouDie,
    expected_purchases,
    fit_beta_geo,
    p_alive,
    parameters,
    rfm_summary,
    too_few,
)
from helpers.survival.definition import ChurnDefinition


@dataclass(frozen=True)
class Holdout:
    """Calibration/holdout validation of the BG/NBD model.

    Fitted on purchases up to ``calibration_end``; ``by_frequency`` per calibration frequency
    bucket (``0`` .. ``6``, ``7+``): ``accounts``, ``actual`` and ``predicted`` mean repeat
    purchases per account in the holdout (``holdout_days`` after ``calibration_end``);
    ``total_actual``/``total_predicted`` over all accounts; ``error`` (predicted − actual) /
    actual, share. ``accounts`` holds each account's ``p_alive`` at ``calibration_end``.
    """

    calibration_end: pd.Timestamp
    holdout_days: int
    period_days: int
    params: dict[str, float]
    by_frequency: pd.DataFrame
    total_actual: float
    total_predicted: float
    accounts: pd.DataFrame

    @property
    def error(self) -> float:
        """Relative error of the total holdout purchases (share; + means over-predicted)."""
        return (self.total_predicted - self.total_actual) / self.total_actual


@step("The BG/NBD holdout check")
def holdout_check(
    ds,
    as_of: pd.Timestamp,
    holdout_days: int = 365,
    period_days: int = 7,
    priors: str = "flat",
) -> Holdout | Skipped:
    """Fit the BG/NBD model on the purchases up to ``as_of - holdout_days`` and compare its
    expected repeat purchases in the following ``holdout_days`` with the actual ones, per
    calibration frequency bucket and in total (the validation of Fader, Hardie & Lee 2005)."""
    if "orders" not in ds.tables:
        return Skipped("the data has no orders table", "add orders to the source YAML")
    end = pd.Timestamp(as_of) - pd.Timedelta(days=holdout_days)
    summary = rfm_summary(orders_table(ds), as_of, period_days, calibration_end=end)
    if summary.empty:
        return Skipped(
            f"no account bought before {end:%Y-%m-%d}", "a longer history or a shorter holdout"
        )
    cause = too_few(summary)
    if cause is not None:
        return cause
    model = fit_beta_geo(summary, priors)
    predicted = expected_purchases(model, summary, holdout_days / period_days)
    frame = summary.assign(
        predicted=predicted,
        bucket=np.where(
            summary["frequency"] >= HOLDOUT_BUCKETS,
            f"{HOLDOUT_BUCKETS}+",
            summary["frequency"].astype(str),
        ),
    )
    order = [str(i) for i in range(HOLDOUT_BUCKETS)] + [f"{HOLDOUT_BUCKETS}+"]
    table = (
        frame.groupby("bucket")
        .agg(
            accounts=("customer_id", "size"),
            actual=("holdout_frequency", "mean"),
            predicted=("predicted", "mean"),
        )
        .reindex([b for b in order if b in set(frame["bucket"])])
    )
    table.index.name = "repeat purchases in calibration"
    accounts = summary.rename(columns={"customer_id": "account_id"}).assign(
        p_alive=p_alive(model, summary)
    )
    return Holdout(
        end,
        int(holdout_days),
        int(period_days),
        parameters(model),
        table,
        float(frame["holdout_frequency"].sum()),
        float(frame["predicted"].sum()),
        accounts,
    )


@dataclass(frozen=True)
class PAliveBacktest:
    """P(alive) at the back-test start against the churns of the next ``horizon_days``.

    ``auc_p_alive`` is the cumulative/dynamic AUC at the horizon of 1 − P(alive) (0.5 = coin
    flip), computed exactly as the back-test's ``auc_at_horizon`` of the Cox risk
    (``auc_cox``), on the same accounts (``accounts``)."""

    start: pd.Timestamp
    horizon_days: int
    auc_p_alive: float
    auc_cox: float
    accounts: int

    @property
    def table(self) -> pd.DataFrame:
        """The two AUCs side by side (for display)."""
        return pd.DataFrame(
            {"AUC at the horizon": [self.auc_p_alive, self.auc_cox]},
            index=["1 − P(alive) (BG/NBD)", "Cox risk"],
        )


@step("The P(alive) back-test")
def p_alive_backtest(holdout: Holdout, backtest: Backtest) -> PAliveBacktest | Skipped:
    """Rank the accounts alive at the back-test start by 1 − P(alive) from the holdout fit
    (which saw no data after the start) and score the ranking against the churns the back-test
    observed in its horizon, beside the Cox risk's AUC. Needs the holdout split at the
    back-test start (``holdout_days`` = the back-test's days)."""
    if holdout.calibration_end != backtest.start:
        return Skipped(
            f"the holdout split ({holdout.calibration_end:%Y-%m-%d}) is not the back-test "
            f"start ({backtest.start:%Y-%m-%d})",
            "use the back-test's days as the holdout",
        )
    alive = holdout.accounts.set_index("account_id")["p_alive"]
    frame = backtest.frame.assign(p_alive=backtest.frame["account_id"].map(alive))
    frame = frame.dropna(subset=["p_alive"])
    t, e = frame["time"].to_numpy(float), frame["event"].to_numpy(int)
    h = backtest.horizon_days
    return PAliveBacktest(
        backtest.start,
        h,
        auc_at(t, e, 1 - frame["p_alive"].to_numpy(float), h),
        float(backtest.metrics["auc_at_horizon"]),
        int(len(frame)),
    )


@step("The agreement of the two churn views")
def churn_agreement(
    btyd: BuyTillYouDie, definition: ChurnDefinition, cutoff: float = 0.5
) -> pd.DataFrame:
    """Accounts by P(alive) < ``cutoff`` (BG/NBD) against silence-churned (the threshold):
    counts, rows ``P(alive) < cutoff`` / ``P(alive) ≥ cutoff``, columns ``silence-churned`` /
    ``active``, with totals."""
    f = definition.features[["account_id", "churned"]]
    joined = f.merge(btyd.accounts[["account_id", "p_alive"]], on="account_id", how="inner")
    rows = np.where(joined["p_alive"] < cutoff, f"P(alive) < {cutoff:g}", f"P(alive) ≥ {cutoff:g}")
    cols = np.where(joined["churned"], "silence-churned", "active")
    table = pd.crosstab(
        pd.Series(rows, name="BG/NBD"), pd.Series(cols, name="silence"), margins=True
    )
    wanted_rows = [f"P(alive) < {cutoff:g}", f"P(alive) ≥ {cutoff:g}", "All"]
    wanted_cols = ["silence-churned", "active", "All"]
    return table.reindex(index=wanted_rows, columns=wanted_cols, fill_value=0)


@step("The pre-churn list with P(alive)", optional=("btyd",))
def with_p_alive(prechurn: pd.DataFrame, btyd: BuyTillYouDie | Skipped) -> pd.DataFrame:
    """The pre-churn list with the BG/NBD view joined on: ``p_alive`` (0-1) and
    ``expected_purchases`` in the horizon (purchase days); unchanged when the BG/NBD model is
    skipped."""
    if isinstance(btyd, Skipped):
        return prechurn
    cols = btyd.accounts[["account_id", "p_alive", "expected_purchases"]]
    return prechurn.merge(cols, on="account_id", how="left")


# ---- sentences -------------------------------------------------------------------------------


def bgnbd_sentence(btyd: BuyTillYouDie | Skipped, currency: str | None = None) -> str | Skipped:
    """What the BG/NBD view says about the accounts (expected revenue in ``currency``), and
    the Gamma-Gamma independence check."""
    if isinstance(btyd, Skipped):
        return btyd
    a = btyd.accounts
    out = (
        f"The BG/NBD model puts {formats.share((a['p_alive'] < 0.5).mean())} of the {len(a):,} buying "
        f"accounts below an even chance of still being customers; together the accounts are "
        f"expected to buy on {a['expected_purchases'].sum():,.0f} days in the next "
        f"{btyd.horizon_days} days"
    )
    revenue = a["expected_revenue"].sum(min_count=1)
    if np.isfinite(revenue):
        out += f" (repeat buyers: {formats.money(revenue, currency)} of expected revenue)"
    out += "."
    r = btyd.independence["r"]
    if np.isfinite(r):
        verdict = (
            "small enough for the Gamma-Gamma spend model's independence assumption"
            if abs(r) <= INDEPENDENCE_R
            else "too strong for the Gamma-Gamma model's independence assumption: read its "
            "spend with caution"
        )
        out += f" Frequency and spend of repeat buyers correlate at r = {r:.2f}, {verdict}."
    return out


def holdout_sentence(holdout: Holdout | Skipped) -> str | Skipped:
    """The holdout check in one sentence: total predicted against actual repeat purchases."""
    if isinstance(holdout, Skipped):
        return holdout
    return (
        f"Fitted on the orders up to {formats.date(holdout.calibration_end)}, the model expected "
        f"{holdout.total_predicted:,.0f} repeat purchase days in the next {holdout.holdout_days} "
        f"days; {holdout.total_actual:,.0f} happened ({holdout.error:+.1%})."
    )


def agreement_sentence(table: pd.DataFrame | Skipped, cutoff: float = 0.5) -> str | Skipped:
    """How often the two churn views agree (share of accounts on the diagonal)."""
    if isinstance(table, Skipped):
        return table
    total = table.loc["All", "All"]
    same = (
        table.loc[f"P(alive) < {cutoff:g}", "silence-churned"]
        + table.loc[f"P(alive) ≥ {cutoff:g}", "active"]
    )
    return (
        f"The two views agree on {formats.share(same / total)} of the {total:,} accounts; the off-diagonal "
        "cells are the accounts where silence and buying rhythm tell different stories."
    )


def p_alive_sentence(result: PAliveBacktest | Skipped) -> str | Skipped:
    """The P(alive) back-test beside the Cox model's, in one sentence."""
    if isinstance(result, Skipped):
        return result
    better = "better than" if result.auc_p_alive > result.auc_cox else "not as well as"
    return (
        f"Computed at {formats.date(result.start)} with no later data, P(alive) ranks the "
        f"{result.accounts:,} accounts that were active by who churned in the next "
        f"{result.horizon_days} days with an AUC of {result.auc_p_alive:.2f}, {better} the "
        f"Cox risk ({result.auc_cox:.2f})."
    )


def bgnbd_metrics(
    btyd: BuyTillYouDie | Skipped,
    holdout: Holdout | Skipped,
    backtest: PAliveBacktest | Skipped,
) -> Mapping[str, float] | Skipped:
    """Headline numbers of the BG/NBD view for ``ChurnMetrics.bgnbd``: parameters, mean
    P(alive), share below 0.5, the frequency–spend correlation, the holdout error and the
    P(alive) AUC beside the Cox AUC (keys absent when their step was skipped); Skipped when the
    model itself is."""
    if isinstance(btyd, Skipped):
        return btyd
    out: dict[str, float] = dict(btyd.params)
    out["period_days"] = float(btyd.period_days)
    out["mean_p_alive"] = float(btyd.accounts["p_alive"].mean())
    out["share_p_alive_below_half"] = float((btyd.accounts["p_alive"] < 0.5).mean())
    out["spend_frequency_r"] = btyd.independence["r"]
    if not isinstance(holdout, Skipped):
        out["holdout_error"] = holdout.error
    if not isinstance(backtest, Skipped):
        out["auc_p_alive"] = backtest.auc_p_alive
        out["auc_cox"] = backtest.auc_cox
    return out
