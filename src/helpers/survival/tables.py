"""Report tables of the churn study: the steps' results written for readers.

Each function returns a small DataFrame of *text* (every number through
:mod:`helpers.formats`: money with the data's currency, shares in percent, durations in days or
months, "not reached" for a median lifetime the curve never reaches, p-values as "<0.001"),
readable column names, codes from the data by their display names (``names``: the data
source's ``display_names``) and no row numbers (the first column names the row; show it with
``reporting.styled(..., hide_index=True)``). The step results are unchanged, so the metrics
read the same numbers. A skipped input passes its cause on (:func:`helpers.steps.step`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from helpers import formats
from helpers.steps import Skipped, step
from helpers.survival.backtest import Backtest
from helpers.survival.cox import ChurnModel
from helpers.survival.kaplan_meier import KaplanMeier

Names = Mapping[str, str] | None


def p_value(p: Any) -> str:
    """A p-value for reading: two significant digits, "<0.001" below a thousandth."""
    if not formats.finite(p):
        return formats.MISSING
    return "<0.001" if float(p) < 0.001 else formats.number(float(p), 2)


def p_words(p: Any) -> str:
    """A p-value after "p" in a sentence: "< 0.001" or "= 0.042"."""
    text = p_value(p)
    return f"< {text[1:]}" if text.startswith("<") else f"= {text}"


def lifetime(days: Any) -> str:
    """A median lifetime (days) for reading; "not reached" when the curve never reaches it."""
    return formats.days(days, missing="not reached")


def covariate_name(term: str, names: Names = None) -> str:
    """A model term for reading: ``acquisition_channel=b2b_marketplace`` -> "Acquisition
    channel: B2B marketplace"; a numeric covariate by its display name."""
    if "=" not in term:
        return formats.display_name(term, names)
    column, level = term.split("=", 1)
    return f"{formats.display_name(column, names)}: {formats.display_name(level, names)}"


@step("The threshold sensitivity")
def sensitivity_view(sensitivity: pd.DataFrame) -> pd.DataFrame:
    """:func:`~helpers.survival.sensitivity` for readers: per churn threshold (days) the
    accounts, those called churned, the churn rate and the median lifetime ("not reached")."""
    return pd.DataFrame(
        {
            "silent for (threshold)": [f"{t:,} days" for t in sensitivity.index],
            "accounts": [formats.count(v) for v in sensitivity["accounts"]],
            "churned": [formats.count(v) for v in sensitivity["churned"]],
            "churn rate": [formats.share(v, 1) for v in sensitivity["churn_rate"]],
            "median lifetime": [lifetime(v) for v in sensitivity["median_days"]],
        }
    )


@step("Kaplan-Meier by segment")
def medians_view(km: KaplanMeier, names: Names = None) -> pd.DataFrame | Skipped:
    """The median lifetime of every segment level with its 95% interval ("not reached" for a
    median or an end the curve never reaches), accounts and churn events; Skipped when the
    data has no segment column."""
    medians = km.medians
    if medians.empty:
        return Skipped(
            "the data has none of the segment columns (SEGMENTS)",
            "map acquisition channel, industry or ownership type to compare segments",
        )
    segments = medians.index.get_level_values(0)
    groups = medians.index.get_level_values(1)
    return pd.DataFrame(
        {
            "segment": [formats.display_name(s, names) for s in segments],
            "group": [formats.display_name(g, names) for g in groups],
            "accounts": [formats.count(v) for v in medians["accounts"]],
            "churned": [formats.count(v) for v in medians["churned"]],
            "median lifetime": [lifetime(v) for v in medians["median_days"]],
            "95% interval": [
                f"{lifetime(lo)} to {lifetime(hi)}"
                for lo, hi in zip(medians["low"], medians["high"], strict=True)
            ],
        }
    )


@step("The log-rank tests")
def logrank_view(km: KaplanMeier, names: Names = None) -> pd.DataFrame | Skipped:
    """The log-rank p-value of each segment (all its curves at once), "<0.001" when tiny."""
    logrank = km.logrank
    if isinstance(logrank, Skipped):
        return logrank
    return pd.DataFrame(
        {
            "segment": [formats.display_name(s, names) for s in logrank.index],
            "log-rank p-value": [p_value(p) for p in logrank.iloc[:, 0]],
        }
    )


@step("The pairwise log-rank tests")
def pairs_view(km: KaplanMeier, names: Names = None) -> pd.DataFrame | Skipped:
    """The pairs of segment levels whose curves differ: segment, the two levels, the test
    statistic and the Holm-corrected p-value (no row numbers)."""
    pairs = km.pairs
    if isinstance(pairs, Skipped):
        return pairs
    return pd.DataFrame(
        {
            "segment": [formats.display_name(s, names) for s in pairs.index.get_level_values(0)],
            "group": [formats.display_name(g, names) for g in pairs["group_a"]],
            "against": [formats.display_name(g, names) for g in pairs["group_b"]],
            "test statistic": [f"{v:.1f}" for v in pairs["test_statistic"]],
            "p-value (Holm)": [p_value(p) for p in pairs["p_holm"]],
        }
    )


@step("The proportional-hazards check")
def ph_view(model: ChurnModel, names: Names = None) -> pd.DataFrame:
    """The proportional-hazards check per attribute for readers (all levels of an attribute
    in one row): the attribute in words, its smallest Holm-corrected p-value and whether its
    effect changes over an account's life (yes/no), those that do first."""
    ph = model.ph
    attribute = [t.split("=", 1)[0] for t in ph.index]
    by = pd.DataFrame({"p": ph["p_holm"].to_numpy(), "violated": ph["violated"].to_numpy()})
    by = by.groupby(pd.Index(attribute, name="attribute"), sort=False).agg(
        p=("p", "min"), violated=("violated", "any")
    )
    by = by.sort_values(["violated", "p"], ascending=[False, True], kind="stable")
    return pd.DataFrame(
        {
            "attribute": [formats.display_name(a, names) for a in by.index],
            "smallest p-value (Holm)": [p_value(p) for p in by["p"]],
            "effect changes over time": ["yes" if v else "no" for v in by["violated"]],
        }
    )


#: Why the Cox model has no AIC in :func:`aft_view`.
COX_AIC = "none (partial likelihood, not comparable)"


@step("The parametric (AFT) models")
def aft_view(aft: pd.DataFrame) -> pd.DataFrame:
    """The AFT comparison for readers: model, AIC (lower fits better; the Cox model has none
    and says why) and concordance (0.5 = chance) to three decimals."""
    return pd.DataFrame(
        {
            "model": [str(m) for m in aft.index],
            "AIC (lower is better)": [
                formats.count(v) if formats.finite(v) else COX_AIC for v in aft["AIC"]
            ],
            "concordance": [f"{v:.3f}" for v in aft["concordance"]],
        }
    )


#: Rows of :func:`backtest_view`: metric -> (words, kind).
BACKTEST_ROWS: dict[str, tuple[str, str]] = {
    "accounts": ("Accounts active at the start", "accounts"),
    "churned_in_horizon": ("Of them churned within the horizon", "accounts"),
    "harrell_c": ("Harrell's C of the risk score (0.5 = chance)", "score"),
    "uno_c": ("Uno's C at the horizon", "score"),
    "auc_at_horizon": ("AUC of the risk score at the horizon", "score"),
    "harrell_c_probability": ("Harrell's C of the recalibrated probability", "score"),
    "auc_at_horizon_probability": ("AUC of the recalibrated probability", "score"),
    "brier_model": ("Brier score, recalibrated model (lower is better)", "score"),
    "brier_cox_uncalibrated": ("Brier score, Cox before recalibration", "score"),
    "brier_km": ("Brier score, Kaplan-Meier baseline", "score"),
    "ibs_model": ("Integrated Brier score, model", "score"),
    "ibs_km": ("Integrated Brier score, Kaplan-Meier baseline", "score"),
    "penalizer": ("Penalizer of the Cox model", "number"),
}


@step("The back-test")
def backtest_view(bt: Backtest) -> pd.DataFrame:
    """The back-test's metrics in words (``measure``) with their values (scores to three
    decimals, accounts as counts); the start date in the value column's name."""
    column = f"back-test from {formats.date(bt.start)}"
    rows = []
    for key, (words, kind) in BACKTEST_ROWS.items():
        if key not in bt.metrics:
            continue
        value = bt.metrics[key]
        if kind == "accounts":
            text = f"{formats.count(value)} accounts"
        elif kind == "score":
            text = f"{value:.3f}" if formats.finite(value) else formats.MISSING
        else:
            text = formats.number(value)
        rows.append({"measure": words, column: text})
    return pd.DataFrame(rows)


#: Columns of :func:`prechurn_view`: column -> (reader's label, kind).
PRECHURN_COLUMNS: dict[str, tuple[str, str]] = {
    "account_id": ("account", "text"),
    "account_name": ("name", "text"),
    "sales_rep": ("sales rep", "code"),
    "region": ("region", "code"),
    "silent_days": ("silent for", "days"),
    "p_churn": ("churn probability", "share"),
    "p_alive": ("P(alive)", "share"),
    "expected_purchases": ("expected purchase days", "one decimal"),
    "expected_revenue": ("expected revenue", "money"),
    "revenue_at_risk": ("revenue at risk", "money"),
    "reason": ("reason", "text"),
}


def _prechurn_cell(kind: str, value: Any, currency: str | None, names: Names) -> str:
    if kind == "money":
        return formats.money(value, currency)
    if kind == "share":
        return formats.share(value)
    if kind == "days":
        return f"{formats.count(value)} days" if formats.finite(value) else formats.MISSING
    if kind == "one decimal":
        return f"{value:.1f}" if formats.finite(value) else formats.MISSING
    if kind == "code":
        return formats.display_name(value, names)
    return formats.MISSING if value is None or value != value else str(value)


@step("The pre-churn list")
def prechurn_view(
    prechurn: pd.DataFrame, n: int = 15, currency: str | None = None, names: Names = None
) -> pd.DataFrame:
    """The first ``n`` accounts of the pre-churn list (with P(alive) when it has it) for
    readers: money in ``currency``, probabilities in %, silence in days, regions and sales
    reps by their display names; the columns it lacks are left out."""
    top = prechurn.head(n)
    out = pd.DataFrame(index=range(len(top)))
    for column, (label, kind) in PRECHURN_COLUMNS.items():
        if column in top:
            out[label] = [_prechurn_cell(kind, v, currency, names) for v in top[column]]
    return out


@step("The lifetime value")
def ltv_view(ltv: pd.DataFrame, currency: str | None = None, names: Names = None) -> pd.DataFrame:
    """Lifetime value by group (tier or channel) for readers: the group by its display name,
    the mean value in ``currency`` with its 95% interval, and the accounts it rests on."""
    return pd.DataFrame(
        {
            "group": [formats.display_name(g, names) for g in ltv.index],
            "lifetime value": [formats.money(v, currency) for v in ltv["mean"]],
            "95% interval": [
                f"{formats.money(lo, currency)} to {formats.money(hi, currency)}"
                for lo, hi in zip(ltv["low"], ltv["high"], strict=True)
            ],
            "accounts": [formats.count(v) for v in ltv["n"]],
        }
    )


#: What each BG/NBD and Gamma-Gamma parameter means, for :func:`bgnbd_view`.
BGNBD_WORDS: dict[str, str] = {
    "r": "purchase rate: shape",
    "alpha": "purchase rate: scale (periods)",
    "a": "chance of leaving after a purchase: shape a",
    "b": "chance of leaving after a purchase: shape b",
    "spend p": "spend per purchase: shape p",
    "spend q": "spend per purchase: shape q",
    "spend v": "spend per purchase: scale v",
}


@step("The BG/NBD model")
def bgnbd_view(table: pd.DataFrame) -> pd.DataFrame:
    """The fitted BG/NBD (and Gamma-Gamma) parameters with what each means, to three
    significant digits."""
    return pd.DataFrame(
        {
            "parameter": [str(k) for k in table.index],
            "meaning": [BGNBD_WORDS.get(str(k), "") for k in table.index],
            "value": [formats.number(v) for v in table.iloc[:, 0]],
        }
    )
