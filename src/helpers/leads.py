"""Lead grading and look-alike prospects: which leads deserve sales time.

Only what is known early about a lead is used (its base data and the touches within
``early_days`` of its creation): later touches such as negotiation meetings happen *because*
the deal progressed and would leak the outcome into the grade.

Notebook 01 calls two steps, :func:`grade_leads` and :func:`lookalikes`; both return a
:class:`helpers.steps.Skipped` when the data source has no leads table, and the accessors
(:func:`grade_table`, :func:`top_prospects`, the sentences) pass that on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from helpers import formats
from helpers.steps import Skipped, step

if TYPE_CHECKING:
    from helpers.loading import Dataset

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


def _positions(values: pd.Series, keys: pd.Index) -> np.ndarray:
    """Position of each of ``values`` among the unique ``keys`` (-1 when absent), as
    ``keys.get_indexer(values)``. Text keys are matched by Arrow's hash join on the string
    buffers, about three times faster than pandas' hash table of Python strings at 10^6
    values; other keys (or text Arrow cannot take) by pandas."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        found = pc.index_in(
            pa.array(values.to_numpy(dtype=object), type=pa.string(), from_pandas=True),
            value_set=pa.array(keys.to_numpy(dtype=object), type=pa.string()),
        )
    except (pa.ArrowException, TypeError):
        return keys.get_indexer(values)
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.intp)


def early_behaviour(
    leads: pd.DataFrame, touchpoints: pd.DataFrame | None, early_days: int = 14
) -> pd.DataFrame:
    """Per lead: completeness and counts of inquiries, demos and site visits up to
    ``early_days`` after creation (0 when there is no touchpoints table).

    Lead ids are unique (the contract's key; ``ValueError`` otherwise). Touches are matched to
    their lead by position (:func:`_positions`) and counted with ``np.bincount``: counts are
    whole numbers, so this gives the same table as a merge and a pivot, without either on
    10^6 text keys.
    """
    out = pd.DataFrame(index=leads["lead_id"])
    out["data_completeness"] = leads.set_index("lead_id")["data_completeness"].fillna(0.5)
    for kind in ("inquiry", "demo", "site_visit"):
        out[kind] = 0.0
    if touchpoints is not None and len(out):
        if not out.index.is_unique:
            raise ValueError("early_behaviour needs unique lead ids (the leads table's key)")
        # whole columns as arrays: taking rows of text columns first costs more than the rest
        lead = _positions(touchpoints["lead_id"], out.index)  # -1: no lead, or not in leads
        created = leads["created_date"].to_numpy()[lead]  # lead -1 picks a row masked below
        touched = touchpoints["touched_at"].to_numpy()
        window = np.timedelta64(early_days + 1, "D")
        rows = np.flatnonzero((lead >= 0) & (touched >= created) & (touched < created + window))
        kinds, names = pd.factorize(touchpoints["kind"].to_numpy()[rows])
        lead = lead[rows]
        for kind in ("inquiry", "demo", "site_visit"):
            chosen = lead[np.isin(kinds, np.flatnonzero(names == kind))]
            out[kind] = np.bincount(chosen, minlength=len(out)).astype(float)
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

    decided = leads["created_date"] <= as_of - pd.Timedelta(days=mature_days)
    won = leads.loc[decided, ["lead_id", "won_date"]].set_index("lead_id")["won_date"].notna()
    table = won.groupby(grade.reindex(won.index), observed=False).agg(["size", "mean"])
    table.columns = ["leads", "conversion"]
    auc = float(roc_auc_score(won, score.reindex(won.index))) if won.nunique() == 2 else np.nan
    return table, auc


def learnt_weights(
    behaviour: pd.DataFrame, leads: pd.DataFrame, as_of: pd.Timestamp, mature_days: int = 365
) -> tuple[pd.DataFrame, float]:
    """Logistic regression (statsmodels) of won on the same indicators, on decided leads:
    coefficients with 95% intervals and the in-sample AUC of its predictions.

    An indicator that does not vary among the decided leads (e.g. no demo within the early
    days, or no touchpoints table at all) cannot be estimated: it is left out of the fit and
    its row is empty (NaN).
    """
    import statsmodels.api as sm
    from sklearn.metrics import roc_auc_score

    decided = leads["created_date"] <= as_of - pd.Timedelta(days=mature_days)
    y = leads.loc[decided, ["lead_id", "won_date"]].set_index("lead_id")["won_date"]
    y = y.notna().astype(float)
    x = pd.DataFrame(
        {
            "data_completeness": behaviour["data_completeness"],
            "inquiry": (behaviour["inquiry"] > 0).astype(float),
            "demo": (behaviour["demo"] > 0).astype(float),
            "repeat_visits": behaviour["repeat_visits"].clip(upper=3) / 3,
        }
    ).reindex(y.index)
    varying = x.loc[:, x.nunique() > 1]
    design = sm.add_constant(varying, has_constant="add")
    fit = sm.Logit(y, design).fit(disp=False)
    ci = fit.conf_int()
    table = pd.DataFrame({"coef": fit.params, "low": ci[0], "high": ci[1], "p": fit.pvalues})
    table = table.reindex(["const", *x.columns])
    return table, float(roc_auc_score(y, fit.predict(design)))


# --- lead grading as a study step ---------------------------------------------------------------


def _without_leads(ds: Dataset) -> Skipped | None:
    """A Skipped naming the missing leads table (None when the data source has one)."""
    from helpers.loading import TABLE_WORDS

    if ds.missing_sentence("leads", purpose="lead grading") is None:
        return None
    return Skipped(
        f"the data source '{ds.source}' does not provide {TABLE_WORDS['leads']}",
        "add it to the source YAML to get this part",
    )


@dataclass(frozen=True, eq=False)
class LeadGrading:
    """Lead grades and how well they predict a won deal.

    ``behaviour`` is :func:`early_behaviour` per lead, ``score`` the hand-weighted score 0-1,
    ``grade`` the grade per lead (:data:`GRADES`), ``table`` the number of decided leads and
    their conversion (won share 0-1) per grade, ``auc`` the score's AUC on decided leads
    (0.5 = no better than chance), ``weights`` the logistic regression's coefficients with
    95% intervals and p-values, ``learnt_auc`` that model's in-sample AUC.
    """

    behaviour: pd.DataFrame
    score: pd.Series
    grade: pd.Series
    table: pd.DataFrame
    auc: float
    weights: pd.DataFrame
    learnt_auc: float


#: Shortest age (days) at which leads count as decided when the grades are checked.
MIN_MATURE_DAYS = 60


@step("Lead grading")
def grade_leads(
    ds: Dataset,
    as_of: pd.Timestamp,
    *,
    early_days: int = 14,
    weights: Mapping[str, float] | None = None,
    mature_days: int = 365,
) -> LeadGrading | Skipped:
    """Grade every lead on what was known ``early_days`` after its creation (its data
    completeness; an inquiry, a demo and repeat site visits from the touchpoints table when
    there is one) and check the grades on the leads created ``mature_days`` or more before
    ``as_of`` (old enough to be decided). With a shorter history of leads, ``mature_days`` is
    at most a third of it (days from the first lead to ``as_of``). Skipped when the data
    source has no leads table, when that window is under :data:`MIN_MATURE_DAYS`, or when the
    decided leads are not both won and not won (nothing to check the grades against), or
    when the score does not vary (grades by rank alone would be arbitrary).
    """
    missing = _without_leads(ds)
    if missing is not None:
        return missing
    leads = ds["leads"]
    known = leads.loc[leads["created_date"] <= as_of, "created_date"]
    history = int((as_of - known.min()).days) if len(known) else 0
    mature_days = min(mature_days, history // 3)
    if mature_days < MIN_MATURE_DAYS:
        return Skipped(
            f"lead grading needs {3 * MIN_MATURE_DAYS} days of lead history, the data has "
            f"{history}",
            f"grades are checked on leads at least {MIN_MATURE_DAYS} days old",
        )
    mature = leads.loc[leads["created_date"] <= as_of - pd.Timedelta(days=mature_days), "won_date"]
    if mature.notna().nunique() < 2:
        return Skipped(
            f"the {len(mature):,} leads created {mature_days} or more days before "
            f"{as_of:%Y-%m-%d} are not both won and not won",
            "checking the grades needs decided leads of both outcomes",
        )
    behaviour = early_behaviour(leads, ds.tables.get("touchpoints"), early_days)
    score = grade_score(behaviour, weights)
    if score.nunique() < 2:
        return Skipped(
            "the lead score is the same for every lead (no data completeness and no early "
            "touchpoints to tell leads apart)",
            "fill the leads' data_completeness or export the touchpoints table",
        )
    grade = grades(score)
    table, auc = validate_grades(leads, grade, score, as_of, mature_days)
    learnt, learnt_auc = learnt_weights(behaviour, leads, as_of, mature_days)
    return LeadGrading(behaviour, score, grade, table, auc, learnt, learnt_auc)


@step("Lead grading")
def grade_table(grading: LeadGrading) -> pd.DataFrame:
    """Decided leads (``leads``) and their conversion (won share 0-1) per grade."""
    return grading.table


@step("The learnt weights")
def weights_table(grading: LeadGrading) -> pd.DataFrame | Skipped:
    """The logistic regression's coefficients (log-odds per unit of each 0-1 indicator) with
    their 95% interval and p-value; indicators that do not vary among the decided leads (no
    estimate) are left out. Skipped when none varies."""
    table = grading.weights.dropna(how="all")
    if len(table.drop(index="const", errors="ignore")) == 0:
        return Skipped(
            "no early-behaviour indicator varies among the decided leads",
            "touchpoints (inquiries, demos, visits) or data completeness would enable it",
        )
    return table


@step("Lead grading")
def grading_sentence(grading: LeadGrading) -> str:
    """How conversion differs from the best grade to the worst, and the AUC of the
    hand-weighted score against the learnt weights."""
    first, last = grading.table["conversion"].iloc[0], grading.table["conversion"].iloc[-1]
    verb = "falls" if first >= last else "rises"
    return (
        f"Conversion {verb} from {first:.0%} for {grading.table.index[0]} leads to {last:.0%} "
        f"for leads {grading.table.index[-1]}; the hand-weighted score has an AUC of "
        f"{grading.auc:.2f}, weights learnt by logistic regression reach "
        f"{grading.learnt_auc:.2f} (in sample; {int(grading.table['leads'].sum()):,} decided "
        "leads)."
    )


LOOKALIKE_FEATURES = ("size_band", "industry", "region", "source_channel")


def lookalike_model(
    leads: pd.DataFrame,
    behaviour: pd.DataFrame,
    valuable_accounts: set[str],
    as_of: pd.Timestamp,
    seed: int = 42,
    test_days: int = 365,
    mature_days: int = 180,
    *,
    train_valuable: set[str] | None = None,
) -> Lookalikes | Skipped:
    """Propensity of a lead to become a *valuable* customer (an account in ``valuable_accounts``).

    Time split: trained on leads created before ``split = as_of - test_days - mature_days``,
    evaluated on the leads of the following ``test_days`` (AUC, lift of the top decile), then
    refitted on all decided leads to score open prospects (neither won nor lost). The training
    labels are ``train_valuable`` (the accounts valuable *at the split date*, what a model
    fitted then could have known; None: ``valuable_accounts``, which leaks later value into the
    back-test); the test and refit labels are ``valuable_accounts`` (valuable at ``as_of``).
    Returns the evaluation and the open prospects ranked by propensity; Skipped when the
    training or the test leads do not include both valuable and other customers.
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
    then = valuable_accounts if train_valuable is None else train_valuable
    data["y_then"] = data["account_id"].isin(then).astype(int)
    nums = list(behaviour.columns)
    # the encoder sees each category as its rank among the column's texts: it sorts integer
    # categories as it sorts text ones, so the one-hot columns are the same, without Python
    # set and dict look-ups of every text value (seconds at 10^5 leads); rows are numbered
    # (a RangeIndex) and masks and labels are arrays, because pandas looks names up in a text
    # index each time a slice of it becomes an array
    x = data[nums].assign(**{c: pd.factorize(data[c], sort=True)[0] for c in cats})[cats + nums]
    x = x.reset_index(drop=True)
    model = make_pipeline(
        ColumnTransformer(
            [("cat", OneHotEncoder(handle_unknown="ignore"), cats), ("num", StandardScaler(), nums)]
        ),
        LogisticRegression(max_iter=1000, random_state=seed),
    )
    split = as_of - pd.Timedelta(days=test_days + mature_days)
    end = as_of - pd.Timedelta(days=mature_days)
    created = data["created_date"].to_numpy()
    in_train = created < split.to_datetime64()
    in_test = (created >= split.to_datetime64()) & (created < end.to_datetime64())
    train, test = data[in_train], data[in_test]
    if train["y_then"].nunique() < 2 or test["y"].nunique() < 2:
        return Skipped(
            f"the leads before {end:%Y-%m-%d} do not include both valuable and other customers "
            f"on each side of {split:%Y-%m-%d} (training leads labelled by the tiers of "
            f"{split:%Y-%m-%d})",
            "a longer history of leads would enable it",
        )
    model.fit(x[in_train], train["y_then"].to_numpy())
    p = model.predict_proba(x[in_test])[:, 1]
    top = p >= np.quantile(p, 0.9)
    auc = float(roc_auc_score(test["y"], p))
    lift = float(test["y"][top].mean() / test["y"].mean())
    is_decided = (data["won_date"].notna() | data["lost_date"].notna()).to_numpy()
    is_open = (data["won_date"].isna() & data["lost_date"].isna()).to_numpy()
    model.fit(x[is_decided], data["y"].to_numpy()[is_decided])
    open_ = data[is_open].copy()
    open_["propensity"] = model.predict_proba(x[is_open])[:, 1] if len(open_) else []
    ranked = open_.sort_values(["propensity"], ascending=False)
    return Lookalikes(
        auc=auc,
        lift_top_decile=lift,
        train_leads=len(train),
        test_leads=len(test),
        base_rate=float(test["y"].mean()),
        train_base_rate=float(train["y_then"].mean()),
        split=split,
        prospects=ranked.reset_index()[["lead_id", *cats, "created_date", "propensity"]],
    )


@dataclass(frozen=True, eq=False)
class Lookalikes:
    """Look-alike prospects and how the model did on a later year of leads.

    ``auc`` (0.5 = chance) and ``lift_top_decile`` (share of valuable customers among the top
    tenth of scored leads over the ``base_rate``, 0-1) are measured on ``test_leads`` leads the
    model did not see (trained on ``train_leads``). ``prospects`` are the open leads ranked by
    ``propensity`` (0-1); ``target`` names the valuable customers in sentences.
    ``train_base_rate`` is the valuable share among the training leads, labelled by the tiers
    at the ``split`` date (0-1).
    """

    auc: float
    lift_top_decile: float
    train_leads: int
    test_leads: int
    base_rate: float
    prospects: pd.DataFrame
    target: str = "valuable"
    train_base_rate: float | None = None
    split: pd.Timestamp | None = None

    def evaluation(self) -> dict[str, float]:
        """The hold-out evaluation as a mapping (as the metrics record it)."""
        return {
            "auc": self.auc,
            "lift_top_decile": self.lift_top_decile,
            "train_leads": self.train_leads,
            "test_leads": self.test_leads,
            "base_rate": self.base_rate,
        }


#: Tier-score ingredients that describe what an account *is* (size band, ownership and
#: business type) rather than what it bought: weighted 0 in the look-alike label, so that no
#: model feature (size band is one) is also an ingredient of what it predicts.
LABEL_LEFT_OUT: tuple[str, ...] = ("size", "attributes")


def valuable_accounts(
    ds: Dataset,
    when: pd.Timestamp,
    *,
    weights: Mapping[str, float] | None,
    valuable: tuple[str, ...] = ("strategic", "key"),
) -> set[str]:
    """Accounts in the ``valuable`` tiers as of ``when``, the tiers scored on what the
    accounts bought up to ``when`` only: the study's tier ``weights`` (None: the default)
    with :data:`LABEL_LEFT_OUT` set to 0 (:func:`helpers.segmentation.value_tiers`)."""
    from helpers.features import features_for
    from helpers.segmentation import TIER_WEIGHTS, value_tiers

    w = {k: 0.0 if k in LABEL_LEFT_OUT else v for k, v in (weights or TIER_WEIGHTS).items()}
    features = features_for(ds, when)
    if features.empty or (features["n_orders"] == 0).all():
        return set()
    tiers = value_tiers(features, ds["orders"], when, weights=w)
    return set(tiers[tiers.isin(valuable)].index)


@step("Look-alikes")
def lookalikes(
    ds: Dataset,
    grading: LeadGrading,
    as_of: pd.Timestamp,
    *,
    weights: Mapping[str, float] | None,
    seed: int = 42,
    valuable: tuple[str, ...] = ("strategic", "key"),
    test_days: int = 365,
    mature_days: int = 180,
) -> Lookalikes | Skipped:
    """Open prospects that look like the leads which became accounts of the ``valuable``
    tiers, by :func:`lookalike_model` on the leads' attributes and the early behaviour of
    ``grading``. The label is :func:`valuable_accounts` (tiers from purchases only, scored with
    ``weights``): as of the split date for the training leads, as of ``as_of`` for the hold-out
    leads and the final refit. Skipped without a leads or an orders table, or when the history
    has too few valuable customers to learn from."""
    if "orders" not in ds.tables:
        return Skipped(
            f"the data source '{ds.source}' has no orders table",
            "the label (which leads became valuable customers) needs the orders of the accounts",
        )
    split = as_of - pd.Timedelta(days=test_days + mature_days)
    first = ds["leads"]["created_date"].min()
    if pd.isna(first) or first >= split - pd.Timedelta(days=test_days):
        have = 0 if pd.isna(first) else int((as_of - first).days / 30.44)
        need = int(np.ceil((2 * test_days + mature_days) / 30.44))
        return Skipped(
            f"look-alikes need {need} months of lead history, the data has {have}",
            f"a year of leads to learn from, a year to check on and {mature_days} days for "
            "the later leads to be decided",
        )
    now = valuable_accounts(ds, as_of, weights=weights, valuable=valuable)
    then = valuable_accounts(ds, split, weights=weights, valuable=valuable)
    result = lookalike_model(
        ds["leads"],
        grading.behaviour,
        now,
        as_of,
        seed,
        test_days,
        mature_days,
        train_valuable=then,
    )
    if isinstance(result, Skipped):
        return result
    return dataclasses.replace(result, target=" and ".join(valuable))


@step("Look-alikes")
def evaluation_table(result: Lookalikes) -> pd.DataFrame:
    """The hold-out evaluation as a one-column table (``value``)."""
    return pd.Series(result.evaluation(), dtype=object).to_frame("value")


@step("The prospects list")
def top_prospects(result: Lookalikes, n: int = 15) -> pd.DataFrame:
    """The ``n`` open prospects with the highest propensity, indexed by lead id."""
    return result.prospects.head(n).set_index("lead_id")


@step("The prospects list")
def save_prospects(result: Lookalikes, path: str | Path) -> Path:
    """Write every ranked open prospect to the CSV file ``path`` (atomically); its path."""
    from helpers.reporting import atomic_write_csv

    return atomic_write_csv(result.prospects, path)


@step("Look-alikes")
def lookalike_sentence(result: Lookalikes) -> str:
    """The model's hold-out AUC and the lift of its top decile, in words."""
    return (
        f"On the hold-out year ({result.test_leads:,} leads, {formats.share(result.base_rate, 1)} of them "
        f"future {result.target} accounts) the model's AUC is {result.auc:.2f}; its top decile "
        f"holds {result.lift_top_decile:.1f}× that share."
    )


# the reader tables live in helpers.lead_tables; re-exported so notebooks write leads.grade_view
from helpers.lead_tables import INDICATOR_WORDS as INDICATOR_WORDS  # noqa: E402
from helpers.lead_tables import evaluation_view as evaluation_view  # noqa: E402
from helpers.lead_tables import grade_view as grade_view  # noqa: E402
from helpers.lead_tables import prospects_view as prospects_view  # noqa: E402
from helpers.lead_tables import weights_view as weights_view  # noqa: E402
