"""Lead grading and look-alike prospects: which leads deserve sales time.

Only what is known early about a lead is used (its base data and the touches within
``early_days`` of its creation): later touches such as negotiation meetings happen *because*
the deal progressed and would leak the outcome into the grade.

Notebook 01 calls two steps, :func:`grade_leads` and :func:`lookalikes`; both return a
:class:`helpers.steps.Skipped` when the data source has no leads table, and the accessors
(:func:`grade_table`, :func:`top_prospects`, the sentences) pass that on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from helpers.segmentation.codes import is_unique, set_index, sorted_codes
from helpers.steps import Skipped, step

if TYPE_CHECKING:
    from helpers.engine import Engine
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


#: Touch kinds counted in a lead's early days (as they are named in the touchpoints table).
EARLY_KINDS: tuple[str, ...] = ("inquiry", "demo", "site_visit")


def early_behaviour(
    leads: pd.DataFrame,
    touchpoints: object | None,
    early_days: int = 14,
    engine: Engine | str | None = None,
) -> pd.DataFrame:
    """Per lead: completeness and counts of inquiries, demos and site visits up to
    ``early_days`` after creation (0 when there is no touchpoints table).

    ``touchpoints`` (lead_id, kind, touched_at) is a pandas frame or an Ibis table (e.g.
    :meth:`helpers.loading.Dataset.engine_table`, which lets DuckDB scan a cached table in
    place). The touches are matched to their lead in the engine (``engine``; None: the one the
    frames carry, else DuckDB), which streams back each counted touch as two small numbers
    (the lead's row, the kind's code) for ``np.bincount``: at 1M accounts 11M counted touches
    of 36M, without matching 10^7 text ids in this process. (Counting per lead and kind in
    DuckDB instead ran out of its 512 MB cap there: 10M groups.) A touch counts when
    ``created <= touched_at < created + early_days + 1 days`` (the creation day is day 0); a
    touch without lead, time or kind, or of a lead not in ``leads``, does not. Lead ids are
    unique (the contract's key; ``ValueError`` otherwise).
    """
    out = pd.DataFrame(index=leads["lead_id"])
    out["data_completeness"] = leads["data_completeness"].fillna(0.5).to_numpy()
    for kind in EARLY_KINDS:
        out[kind] = 0.0
    if touchpoints is not None and len(out):
        if not is_unique(out.index):
            raise ValueError("early_behaviour needs unique lead ids (the leads table's key)")
        counts = _early_counts(leads, touchpoints, early_days, engine)
        for code, kind in enumerate(EARLY_KINDS):
            out[kind] = counts[code]
    out["repeat_visits"] = out.pop("site_visit")
    return out


def _early_counts(
    leads: pd.DataFrame, touchpoints: object, early_days: int, engine: Engine | str | None
) -> np.ndarray:
    """Counts (float) of shape (kinds of :data:`EARLY_KINDS`, leads): touches of each kind in
    each lead's early window (see :func:`early_behaviour`). The window's end is computed
    here, so the engine only compares timestamps."""
    import ibis

    from helpers import engine as engines
    from helpers.features import as_table

    engine = engines.resolve(engine, touchpoints, leads)
    created = pd.to_datetime(leads["created_date"].to_numpy()).astype("datetime64[ns]")
    people = pd.DataFrame(
        {
            "lead_id": leads["lead_id"].array,  # Arrow text stays Arrow
            "row": np.arange(len(leads), dtype=np.int64),
            "since": created,
            "until": created + pd.Timedelta(days=early_days + 1),
        }
    )
    p = engines.memtable(people, list(people.columns))
    t = as_table(touchpoints, ("lead_id", "kind", "touched_at"), engine)
    t = t.filter(t.kind.isin(list(EARLY_KINDS)) & t.lead_id.notnull())
    code = ibis.cases(*[(t.kind == kind, i) for i, kind in enumerate(EARLY_KINDS)])
    t = t.select("lead_id", code=code.cast("int8"), at=t.touched_at.cast("timestamp"))
    j = t.join(p, "lead_id")
    j = j.filter((j.at >= j.since.cast("timestamp")) & (j.at < j.until.cast("timestamp")))
    n = len(leads)
    cells = [  # kind code * leads + lead row, one int64 per counted touch
        batch.column(1).to_numpy().astype(np.int64) * n + batch.column(0).to_numpy()
        for batch in engines.to_batches(j.select("row", "code"), engine)
    ]
    flat = np.concatenate(cells) if cells else np.zeros(0, dtype=np.int64)
    return np.bincount(flat, minlength=len(EARLY_KINDS) * n).reshape(-1, n).astype(float)


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
    dtype = pd.CategoricalDtype([g for g, _ in GRADES], ordered=True)
    codes = _grade_codes(score)
    if codes is not None:
        return pd.Series(pd.Categorical.from_codes(codes, dtype=dtype), index=score.index)
    order = score.sort_index().rank(method="first", ascending=False) / len(score)
    bounds = np.cumsum([share for _, share in GRADES])
    names = np.array([g for g, _ in GRADES])[
        np.minimum(np.searchsorted(bounds, order.to_numpy(), side="left"), len(GRADES) - 1)
    ]
    return pd.Series(names, index=order.index).astype(dtype).reindex(score.index)


def _grade_codes(score: pd.Series) -> np.ndarray | None:
    """Per lead of ``score``: the code of its grade in :data:`GRADES` (0 = excellent), as
    :func:`grades` cuts the ranks of the scores sorted by lead id; None when a score is
    missing or the lead ids repeat (pandas' way then).

    Only ties decide where the order of the ids matters, and only for a group of equal scores
    that spans a cut between two grades (at most one per cut): the scores are sorted
    (descending, stable), and the members of each such group ordered by their ids; every other
    lead's grade follows from its position alone. The same grades as ranking every score after
    sorting 10^6 id texts (and reindexing them back), with a few thousand ids sorted instead.
    """
    values = score.to_numpy(dtype=float)
    if np.isnan(values).any() or not is_unique(score.index):
        return None
    n = len(values)
    if n == 0:
        return np.empty(0, dtype=np.int8)
    order = np.argsort(-values, kind="stable")
    bounds = np.cumsum([share for _, share in GRADES])
    at = np.arange(1, n + 1, dtype=float) / n  # rank / n, as pandas' ranks divide
    grade_at = np.minimum(np.searchsorted(bounds, at, side="left"), len(GRADES) - 1)
    ranked = values[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    ends = np.r_[starts[1:], n]
    spans = grade_at[starts] != grade_at[ends - 1]
    for start, end in zip(starts[spans], ends[spans], strict=True):
        members = order[start:end]
        ids, _ = sorted_codes(score.index.take(members))
        if (ids < 0).any():  # a missing id sorts last in pandas: its way
            return None
        order[start:end] = members[np.argsort(ids, kind="stable")]
    codes = np.empty(n, dtype=np.int8)
    codes[order] = grade_at
    return codes


def _rows_of(index: pd.Index, leads: pd.DataFrame, mask: np.ndarray) -> np.ndarray | None:
    """Positions in ``index`` of the leads ``mask`` selects, when ``index`` is the leads'
    unique ids in their order (as the grading's tables are): what ``reindex`` on those leads'
    ids finds, without hashing 10^5 id texts. None otherwise."""
    if len(index) != len(leads) or not index.equals(pd.Index(leads["lead_id"])):
        return None
    return np.flatnonzero(mask) if is_unique(index) else None


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
    won = set_index(leads.loc[decided, ["lead_id", "won_date"]], "lead_id")["won_date"].notna()
    rows = _rows_of(grade.index, leads, decided.to_numpy())
    if rows is not None and score.index.equals(grade.index):
        grade, score = grade.iloc[rows].set_axis(won.index), score.iloc[rows].set_axis(won.index)
    else:
        grade, score = grade.reindex(won.index), score.reindex(won.index)
    table = won.groupby(grade, observed=False).agg(["size", "mean"])
    table.columns = ["leads", "conversion"]
    # arrays: sklearn asks a Series for attributes, which pandas looks up in its index of ids
    auc = float(roc_auc_score(won.to_numpy(), score.to_numpy())) if won.nunique() == 2 else np.nan
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
    # the model's own modules: statsmodels.api imports all of statsmodels (about 1.5 s more)
    from sklearn.metrics import roc_auc_score
    from statsmodels.discrete.discrete_model import Logit
    from statsmodels.tools.tools import add_constant

    decided = leads["created_date"] <= as_of - pd.Timedelta(days=mature_days)
    y = set_index(leads.loc[decided, ["lead_id", "won_date"]], "lead_id")["won_date"]
    y = y.notna().astype(float)
    x = pd.DataFrame(
        {
            "data_completeness": behaviour["data_completeness"],
            "inquiry": (behaviour["inquiry"] > 0).astype(float),
            "demo": (behaviour["demo"] > 0).astype(float),
            "repeat_visits": behaviour["repeat_visits"].clip(upper=3) / 3,
        }
    )
    rows = _rows_of(behaviour.index, leads, decided.to_numpy())
    x = x.reindex(y.index) if rows is None else x.iloc[rows]
    # numbered rows: the fit and its predictions use the values only, and statsmodels looks
    # attribute names up in a Series' index (a hash table of 10^5 lead ids otherwise)
    x, y = x.reset_index(drop=True), y.reset_index(drop=True)
    varying = x.loc[:, x.nunique() > 1]
    design = add_constant(varying, has_constant="add")
    fit = Logit(y, design).fit(disp=False)
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
    # the three columns counted, as an engine table: read from the cache, DuckDB scans them in
    # place (at 1M accounts the 36M touchpoints took ~2 GB as pandas columns in this kernel)
    touches = (
        ds.engine_table("touchpoints", ["lead_id", "kind", "touched_at"])
        if ds.has("touchpoints")
        else None
    )
    behaviour = early_behaviour(leads, touches, early_days, ds.engine)
    del touches  # frees its upload (a data set not from the cache) before the fits below
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


# the look-alike model and its step live in helpers.lookalikes (re-exported here: notebook 01
# calls both parts of the lead study through this module)
from helpers.lead_tables import INDICATOR_WORDS as INDICATOR_WORDS  # noqa: E402
from helpers.lead_tables import evaluation_view as evaluation_view  # noqa: E402
from helpers.lead_tables import grade_view as grade_view  # noqa: E402
from helpers.lead_tables import prospects_view as prospects_view  # noqa: E402
from helpers.lead_tables import weights_view as weights_view  # noqa: E402
from helpers.lookalikes import LOOKALIKE_FEATURES as LOOKALIKE_FEATURES  # noqa: E402
from helpers.lookalikes import Lookalikes as Lookalikes  # noqa: E402
from helpers.lookalikes import evaluation_table as evaluation_table  # noqa: E402
from helpers.lookalikes import lookalike_model as lookalike_model  # noqa: E402
from helpers.lookalikes import lookalike_sentence as lookalike_sentence  # noqa: E402
from helpers.lookalikes import lookalikes as lookalikes  # noqa: E402
from helpers.lookalikes import save_prospects as save_prospects  # noqa: E402
from helpers.lookalikes import top_prospects as top_prospects  # noqa: E402
from helpers.lookalikes import valuable_accounts as valuable_accounts  # noqa: E402
