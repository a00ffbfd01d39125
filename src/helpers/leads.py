"""Lead grading and look-alike prospects: which leads deserve sales time.

Only what is known early about a lead is used (its base data and the touches within
``early_days`` of its creation): later touches such as negotiation meetings happen *because*
the deal progressed and would leak the outcome into the grade.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

GRADES: tuple[tuple[str, float], ...] = (
    ("excellent", 0.20),
    ("good", 0.30),
    ("to nurture", 0.30),
    ("to improve", 0.20),
)
#: Weights of the hand-made score (each indicator is scaled to 0-1 first).
GRADE_WEIGHTS: dict[str, float] = {
    "data_completeness": 0.4,
    "inquiry": 0.2,
    "demo": 0.2,
    "repeat_visits": 0.2,
}


def early_behaviour(
    leads: pd.DataFrame, touchpoints: pd.DataFrame | None, early_days: int = 14
) -> pd.DataFrame:
    """Per lead: completeness and counts of inquiries, demos and site visits up to
    ``early_days`` after creation (0 when there is no touchpoints table)."""
    out = pd.DataFrame(index=leads["lead_id"])
    out["data_completeness"] = leads.set_index("lead_id")["data_completeness"].fillna(0.5)
    for kind in ("inquiry", "demo", "site_visit"):
        out[kind] = 0.0
    if touchpoints is not None:
        t = touchpoints[touchpoints["lead_id"].notna()].merge(
            leads[["lead_id", "created_date"]], on="lead_id"
        )
        t = t[
            (t["touched_at"] >= t["created_date"])
            & (t["touched_at"] < t["created_date"] + pd.Timedelta(days=early_days + 1))
        ]
        counts = t.pivot_table(
            index="lead_id", columns="kind", values="channel", aggfunc="size", fill_value=0
        )
        for kind in ("inquiry", "demo", "site_visit"):
            if kind in counts:
                out[kind] = counts[kind].reindex(out.index, fill_value=0).astype(float)
    out["repeat_visits"] = out.pop("site_visit")
    return out


def grade_score(behaviour: pd.DataFrame, weights: Mapping[str, float] | None = None) -> pd.Series:
    """Hand-weighted score 0-1: completeness, had an inquiry, had a demo, repeat visits (3+
    counts fully), weighted by ``weights`` (normalised)."""
    w = dict(GRADE_WEIGHTS if weights is None else weights)
    scaled = pd.DataFrame(
        {
            "data_completeness": behaviour["data_completeness"].clip(0, 1),
            "inquiry": (behaviour["inquiry"] > 0).astype(float),
            "demo": (behaviour["demo"] > 0).astype(float),
            "repeat_visits": behaviour["repeat_visits"].clip(upper=3) / 3,
        }
    )
    return (scaled[list(w)] * pd.Series(w)).sum(axis=1) / sum(w.values())


def grades(score: pd.Series) -> pd.Series:
    """Grades by score rank: the top 20% excellent, next 30% good, 30% to nurture, 20% to
    improve (ties broken by lead id)."""
    order = score.sort_index().rank(method="first", ascending=False) / len(score)
    bounds = np.cumsum([share for _, share in GRADES])
    names = np.array([g for g, _ in GRADES])[
        np.minimum(np.searchsorted(bounds, order.to_numpy(), side="left"), len(GRADES) - 1)
    ]
    dtype = pd.CategoricalDtype([g for g, _ in GRADES], ordered=True)
    return pd.Series(names, index=order.index).astype(dtype).reindex(score.index)


def validate_grades(
    leads: pd.DataFrame,
    grade: pd.Series,
    score: pd.Series,
    as_of: pd.Timestamp,
    mature_days: int = 365,
) -> tuple[pd.DataFrame, float]:
    """Conversion (won) rate by grade among leads old enough to be decided, and the score's
    AUC (probability that a won lead scores above a not-won one)."""
    from sklearn.metrics import roc_auc_score

    mature = leads[leads["created_date"] <= as_of - pd.Timedelta(days=mature_days)]
    won = mature.set_index("lead_id")["won_date"].notna()
    table = won.groupby(grade.reindex(won.index), observed=False).agg(["size", "mean"])
    table.columns = ["leads", "conversion"]
    auc = float(roc_auc_score(won, score.reindex(won.index))) if won.nunique() == 2 else np.nan
    return table, auc


def learnt_weights(
    behaviour: pd.DataFrame, leads: pd.DataFrame, as_of: pd.Timestamp, mature_days: int = 365
) -> tuple[pd.DataFrame, float]:
    """Logistic regression (statsmodels) of won on the same indicators, on decided leads:
    coefficients with 95% intervals and the in-sample AUC of its predictions."""
    import statsmodels.api as sm
    from sklearn.metrics import roc_auc_score

    mature = leads[leads["created_date"] <= as_of - pd.Timedelta(days=mature_days)]
    y = mature.set_index("lead_id")["won_date"].notna().astype(float)
    x = pd.DataFrame(
        {
            "data_completeness": behaviour["data_completeness"],
            "inquiry": (behaviour["inquiry"] > 0).astype(float),
            "demo": (behaviour["demo"] > 0).astype(float),
            "repeat_visits": behaviour["repeat_visits"].clip(upper=3) / 3,
        }
    ).reindex(y.index)
    fit = sm.Logit(y, sm.add_constant(x)).fit(disp=False)
    ci = fit.conf_int()
    table = pd.DataFrame({"coef": fit.params, "low": ci[0], "high": ci[1], "p": fit.pvalues})
    return table, float(roc_auc_score(y, fit.predict(sm.add_constant(x))))


LOOKALIKE_FEATURES = ("size_band", "industry", "region", "source_channel")


def lookalikes(
    leads: pd.DataFrame,
    behaviour: pd.DataFrame,
    valuable_accounts: set[str],
    as_of: pd.Timestamp,
    seed: int = 42,
    test_days: int = 365,
    mature_days: int = 180,
) -> tuple[dict[str, float], pd.DataFrame]:
    """Propensity of a lead to become a *valuable* customer (an account in ``valuable_accounts``).

    Time split: trained on leads created before ``as_of - test_days - mature_days``, evaluated
    on the leads of the following ``test_days`` (AUC, lift of the top decile), then refitted on
    all decided leads to score open prospects (neither won nor lost). Returns the evaluation and
    the open prospects ranked by propensity.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    cats = [c for c in LOOKALIKE_FEATURES if c in leads and leads[c].notna().any()]
    data = leads.set_index("lead_id")[
        [*cats, "created_date", "account_id", "won_date", "lost_date"]
    ].join(behaviour)
    data[cats] = data[cats].fillna("unknown")
    data["y"] = data["account_id"].isin(valuable_accounts).astype(int)
    nums = list(behaviour.columns)
    model = make_pipeline(
        ColumnTransformer(
            [("cat", OneHotEncoder(handle_unknown="ignore"), cats), ("num", StandardScaler(), nums)]
        ),
        LogisticRegression(max_iter=1000, random_state=seed),
    )
    split = as_of - pd.Timedelta(days=test_days + mature_days)
    end = as_of - pd.Timedelta(days=mature_days)
    train = data[data["created_date"] < split]
    test = data[(data["created_date"] >= split) & (data["created_date"] < end)]
    if train["y"].nunique() < 2 or test["y"].nunique() < 2:
        raise ValueError("Too few valuable customers before the split date to learn look-alikes.")
    model.fit(train[cats + nums], train["y"])
    p = model.predict_proba(test[cats + nums])[:, 1]
    top = p >= np.quantile(p, 0.9)
    evaluation = {
        "auc": float(roc_auc_score(test["y"], p)),
        "lift_top_decile": float(test["y"][top].mean() / test["y"].mean()),
        "train_leads": len(train),
        "test_leads": len(test),
        "base_rate": float(test["y"].mean()),
    }
    decided = data[data["won_date"].notna() | data["lost_date"].notna()]
    model.fit(decided[cats + nums], decided["y"])
    open_ = data[data["won_date"].isna() & data["lost_date"].isna()].copy()
    open_["propensity"] = model.predict_proba(open_[cats + nums])[:, 1] if len(open_) else []
    ranked = open_.sort_values(["propensity"], ascending=False)
    return evaluation, ranked.reset_index()[["lead_id", *cats, "created_date", "propensity"]]
