"""Look-alike prospects: open leads that resemble the leads that became valuable accounts.

A logistic model on what is known early about a lead (its base data, :data:`LOOKALIKE_FEATURES`,
and its early touches from :func:`helpers.leads.early_behaviour`) learns which leads became
accounts of the top value tiers; it is checked on the leads of the last ``test_days`` before
being applied to the open leads. Notebook 01 calls :func:`lookalikes` (through
:mod:`helpers.leads`, which re-exports this module's names).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from helpers import formats
from helpers.segmentation.codes import is_unique, set_index, sorted_codes
from helpers.steps import Skipped, step
from helpers.text_arrays import arrow_text, is_text

if TYPE_CHECKING:  # helpers.leads imports this module (its re-exports): no import back
    from sklearn.pipeline import Pipeline

    from helpers.leads import LeadGrading
    from helpers.loading import Dataset


LOOKALIKE_FEATURES = ("size_band", "industry", "region", "source_channel")


#: The column transformer's default: parts stacked sparse below this share of non-zeros.
_SPARSE_THRESHOLD = 0.3


class _DenseModel:
    """The look-alike pipeline's model on its dense design matrix, built in one array.

    Where sklearn's column transformer stacks the one-hot and the standardised columns into a
    dense matrix (see :func:`_model`), it builds each part, converts the one-hot part from
    sparse and copies both into the stack (seconds at 10^6 leads). This writes the same
    matrix directly: per category column, a 0/1 column per level seen in fitting (sorted,
    as the encoder orders them; an unseen level is all zeros, its ``handle_unknown="ignore"``),
    then sklearn's own ``StandardScaler`` output; the same logistic regression then sees the
    same floats, so it finds the same coefficients (tested against the pipeline).
    """

    def __init__(self, cats: list[str], seed: int) -> None:
        self.cats, self.seed = cats, seed

    def fit(self, x: pd.DataFrame, y: np.ndarray) -> _DenseModel:
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        self.nums = [c for c in x.columns if c not in self.cats]
        self.levels = [np.unique(x[c].to_numpy()) for c in self.cats]
        self.scaler = StandardScaler().fit(x[self.nums]) if self.nums else None
        design = self._design(x)
        self.regression = LogisticRegression(max_iter=1000, random_state=self.seed)
        self.regression.fit(design, y)
        return self

    def _design(self, x: pd.DataFrame) -> np.ndarray:
        width = sum(len(levels) for levels in self.levels) + len(self.nums)
        out = np.zeros((len(x), width))
        # the ones are written through the flat array (row x width + column): one index per
        # one instead of numpy's two-dimensional fancy indexing, several times faster
        flat, row_start = out.reshape(-1), np.arange(len(x), dtype=np.intp) * width
        at = 0
        for c, levels in zip(self.cats, self.levels, strict=True):
            values = x[c].to_numpy()
            where = np.searchsorted(levels, values).clip(max=len(levels) - 1)
            seen = levels[where] == values
            flat[(row_start + at + where)[seen]] = 1.0
            at += len(levels)
        if self.scaler is not None:
            out[:, at:] = self.scaler.transform(x[self.nums])
        return out

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        """Per row of ``x``: the probabilities of 0 and 1 (as the pipeline's)."""
        return self.regression.predict_proba(self._design(x))


def _model(x: pd.DataFrame, cats: list[str], seed: int) -> Pipeline | _DenseModel:
    """The look-alike model to be fitted on ``x``: one-hot ``cats`` (integer codes), the other
    columns standardised, a logistic regression (``random_state=seed``): sklearn's pipeline of
    a column transformer and the regression.

    Where that transformer stacks its parts into a dense matrix (its share of non-zeros, one
    per row and category column plus the dense numeric columns, is at least its sparse
    threshold; sklearn's own rule), :class:`_DenseModel` builds the same matrix in one
    array; below it, the pipeline (the regression then sees a sparse matrix, whose
    arithmetic differs in the last digits). Either way, the coefficients of the pipeline.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    nums = [c for c in x.columns if c not in cats]
    onehot = sum(int(x[c].nunique()) for c in cats)
    nnz, total = len(cats) + len(nums), onehot + len(nums)
    if not cats or nnz / total >= _SPARSE_THRESHOLD:
        return _DenseModel(cats, seed)
    return make_pipeline(
        ColumnTransformer(
            [("cat", OneHotEncoder(handle_unknown="ignore"), cats), ("num", StandardScaler(), nums)]
        ),
        LogisticRegression(max_iter=1000, random_state=seed),
    )


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
    from sklearn.metrics import roc_auc_score

    then = valuable_accounts if train_valuable is None else train_valuable
    inputs = _inputs(leads, behaviour, valuable_accounts, then)
    if inputs is None:  # lead ids repeated, the behaviour in another order, or odd columns
        inputs = _inputs_by_join(leads, behaviour, valuable_accounts, then)
    cats, x, y, y_then = inputs
    split = as_of - pd.Timedelta(days=test_days + mature_days)
    end = as_of - pd.Timedelta(days=mature_days)
    created = leads["created_date"].to_numpy()
    in_train = created < split.to_datetime64()
    in_test = (created >= split.to_datetime64()) & (created < end.to_datetime64())
    train_y, test_y = pd.Series(y_then[in_train]), pd.Series(y[in_test])
    if train_y.nunique() < 2 or test_y.nunique() < 2:
        return Skipped(
            f"the leads before {end:%Y-%m-%d} do not include both valuable and other customers "
            f"on each side of {split:%Y-%m-%d} (training leads labelled by the tiers of "
            f"{split:%Y-%m-%d})",
            "a longer history of leads would enable it",
        )
    model = _model(x[in_train], cats, seed).fit(x[in_train], train_y.to_numpy())
    p = model.predict_proba(x[in_test])[:, 1]
    top = p >= np.quantile(p, 0.9)
    auc = float(roc_auc_score(test_y, p))
    lift = float(test_y[top].mean() / test_y.mean())
    won, lost = leads["won_date"].isna().to_numpy(), leads["lost_date"].isna().to_numpy()
    is_decided, is_open = ~won | ~lost, won & lost
    model = _model(x[is_decided], cats, seed).fit(x[is_decided], y[is_decided])
    # the open leads' texts only become Python strings (as the prospects list has them)
    open_ = pd.DataFrame(
        {c: leads[c].array[is_open].to_numpy() for c in cats},
        index=pd.Index(leads["lead_id"].array[is_open].to_numpy(), name="lead_id"),
    )
    open_[cats] = open_[cats].fillna("unknown")
    open_["created_date"] = created[is_open]
    open_["propensity"] = model.predict_proba(x[is_open])[:, 1] if len(open_) else []
    ranked = open_.sort_values(["propensity"], ascending=False)
    return Lookalikes(
        auc=auc,
        lift_top_decile=lift,
        train_leads=int(in_train.sum()),
        test_leads=int(in_test.sum()),
        base_rate=float(test_y.mean()),
        train_base_rate=float(train_y.mean()),
        split=split,
        prospects=ranked.reset_index()[["lead_id", *cats, "created_date", "propensity"]],
    )


#: The model's inputs: the category columns used, the design table (categories as the ranks
#: of their texts, then the behaviour columns; numbered rows in the leads' order) and the
#: labels valuable now and at the split date (0/1 per lead).
_Inputs = tuple[list[str], pd.DataFrame, np.ndarray, np.ndarray]


def _inputs(
    leads: pd.DataFrame, behaviour: pd.DataFrame, valuable: set[str], then: set[str]
) -> _Inputs | None:
    """:func:`_inputs_by_join` from arrays, for the usual case (unique lead ids, ``behaviour``
    in the leads' order, text category columns (Arrow-backed ``str`` or Python strings), no
    missing id among the valuable accounts): each category and account id column is
    factorized once (by Arrow for Arrow text) (the ranks of the filled texts,
    presence and membership follow from its few distinct values) instead of pandas testing,
    filling, joining and factorizing 10^5 texts several times. The same table and labels
    (tested against :func:`_inputs_by_join`); None outside that case."""
    usual = (
        behaviour.index.equals(pd.Index(leads["lead_id"]))
        and is_unique(behaviour.index)  # the grading's index: checked (and kept) already
        and all(is_text(leads[c]) for c in LOOKALIKE_FEATURES if c in leads)
        and is_text(leads["account_id"])
        and not any(pd.isna(v) for v in (*valuable, *then))
    )
    if not usual:
        return None
    codes = {}
    for c in [c for c in LOOKALIKE_FEATURES if c in leads]:
        code, texts = pd.factorize(leads[c])
        missing = code < 0
        if missing.all():  # no value at all: not a model feature
            continue
        texts = np.asarray(texts, dtype=object)
        if missing.any():  # fillna("unknown"): one more text unless it is there already
            unknown = np.flatnonzero(texts == "unknown")
            if not len(unknown):
                texts = np.append(texts, np.array(["unknown"], dtype=object))
                unknown = [len(texts) - 1]
            code = np.where(missing, unknown[0], code)
        rank, _ = sorted_codes(texts)  # distinct texts: each one's rank, factorize(sort=True)
        codes[c] = rank[code]
    cats = list(codes)
    x = behaviour.reset_index(drop=True).assign(**codes)[cats + list(behaviour.columns)]
    account, accounts = pd.factorize(leads["account_id"])
    texts = arrow_text(accounts)

    def member(chosen: set[str]) -> np.ndarray:
        if texts is not None and all(isinstance(v, str) for v in chosen):
            # Arrow's hash set of the chosen ids (pandas' isin of Arrow text first makes an
            # Arrow scalar of each one in Python: seconds at 10^5 ids)
            found = pc.is_in(texts, value_set=pa.array(list(chosen), type=texts.type))
            hit = found.to_numpy(zero_copy_only=False)
        else:
            hit = pd.Index(accounts, dtype=object).isin(list(chosen))
        return np.append(hit, False)[account].astype(int)  # code -1 (no account): False

    return cats, x, member(valuable), member(then)


def _inputs_by_join(
    leads: pd.DataFrame, behaviour: pd.DataFrame, valuable: set[str], then: set[str]
) -> _Inputs:
    """The model's inputs by pandas on the texts: the category columns with a value (missing
    ones filled with "unknown"), joined to ``behaviour`` on the lead id, labelled by
    membership of the account in ``valuable`` and ``then``."""
    cats = [c for c in LOOKALIKE_FEATURES if c in leads and leads[c].notna().any()]
    data = set_index(leads, "lead_id")[[*cats, "account_id"]].join(behaviour)
    data[cats] = data[cats].fillna("unknown")
    nums = list(behaviour.columns)
    # the encoder sees each category as its rank among the column's texts: it sorts integer
    # categories as it sorts text ones, so the one-hot columns are the same, without Python
    # set and dict look-ups of every text value (seconds at 10^5 leads); rows are numbered
    # (a RangeIndex) and masks and labels are arrays, because pandas looks names up in a text
    # index each time a slice of it becomes an array
    x = data[nums].assign(**{c: pd.factorize(data[c], sort=True)[0] for c in cats})[cats + nums]
    y = data["account_id"].isin(valuable).astype(int).to_numpy()
    return cats, x.reset_index(drop=True), y, data["account_id"].isin(then).astype(int).to_numpy()


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
    tiers = value_tiers(features, ds, when, weights=w)
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
