"""Lead grading and look-alikes: the planted conversion on the demo, hand-checked sentences,
and the Skipped results when the data source has no leads table."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from helpers import leads as ld
from helpers.contract import TABLES
from helpers.loading import TEXT, Dataset, demo_config, entry, load_dataset
from helpers.loading.clean import complete_columns
from helpers.steps import Skipped

NO_LEADS = (
    "the data source 'demo without leads' does not provide the leads table (CRM "
    "opportunities) (add it to the source YAML to get this part)"
)


@pytest.fixture(scope="module")
def no_leads(demo_dir):
    """The demo without its leads table, loaded as an own-data source would be."""
    config = demo_config(demo_dir)
    tables = {k: v for k, v in config.tables.items() if k != "leads"}
    return load_dataset(dataclasses.replace(config, tables=tables, label="demo without leads"))


@pytest.fixture(scope="module")
def grading(demo):
    return ld.grade_leads(demo, demo.analysis_date, early_days=14)


def test_lead_grades_convert_monotonically(demo):
    behaviour = ld.early_behaviour(demo["leads"], demo["touchpoints"])
    score = ld.grade_score(behaviour)
    table, auc = ld.validate_grades(demo["leads"], ld.grades(score), score, demo.analysis_date)
    assert table["conversion"].is_monotonic_decreasing  # excellent first
    assert auc > 0.65


def test_grading_without_touchpoints_uses_completeness_only(demo):
    behaviour = ld.early_behaviour(demo["leads"], None)
    assert (behaviour[["inquiry", "demo", "repeat_visits"]] == 0).all().all()


def test_grade_leads_is_the_grading_pipeline(demo, grading):
    behaviour = ld.early_behaviour(demo["leads"], demo["touchpoints"], early_days=14)
    score = ld.grade_score(behaviour)
    table, auc = ld.validate_grades(demo["leads"], ld.grades(score), score, demo.analysis_date)
    pd.testing.assert_frame_equal(ld.grade_table(grading=grading), table)
    assert grading.auc == auc
    assert list(ld.weights_table(grading=grading).columns) == ["coef", "low", "high", "p"]
    assert grading.learnt_auc >= grading.auc  # learnt weights fit at least as well in sample
    assert grading.grade.value_counts(normalize=True)["excellent"] == pytest.approx(0.2, abs=0.01)


def test_grading_a_cached_data_set_builds_no_touchpoints_frame(
    demo_dir, root, grading, monkeypatch
):
    """Read from the load-once cache, the grading counts the touches in the engine from the
    entry file (no touchpoints column in pandas in this process), with the same result as
    from frames."""
    load_dataset("demo")
    ds = load_dataset("demo")
    converted = []
    real = entry.arrow_to_pandas
    monkeypatch.setattr(
        entry, "arrow_to_pandas", lambda t: converted.append(t.schema.names) or real(t)
    )
    fresh = ld.grade_leads(ds, ds.analysis_date, early_days=14)
    assert converted == [list(ds["leads"].columns)]  # the leads alone
    pd.testing.assert_frame_equal(fresh.behaviour, grading.behaviour, check_exact=True)
    pd.testing.assert_series_equal(fresh.grade, grading.grade)
    assert fresh.auc == grading.auc
    frames = dataclasses.replace(ds, tables=dict(ds.tables))  # every table a pandas frame
    pd.testing.assert_frame_equal(
        ld.early_behaviour(frames["leads"], frames["touchpoints"], 14),
        fresh.behaviour,
        check_exact=True,
    )


def test_grade_leads_passes_early_days_on(demo, grading):
    same_day = ld.grade_leads(demo, demo.analysis_date, early_days=0)
    assert same_day.behaviour["inquiry"].sum() < grading.behaviour["inquiry"].sum()


def _grading(conversion: list[float]) -> ld.LeadGrading:
    table = pd.DataFrame(
        {"leads": [10, 10], "conversion": conversion}, index=["excellent", "to improve"]
    )
    empty = pd.Series(dtype=float)
    return ld.LeadGrading(pd.DataFrame(), empty, empty, table, 0.7349, pd.DataFrame(), 0.81)


def test_grading_sentence_hand_checked():
    assert ld.grading_sentence(grading=_grading([0.32, 0.027])) == (
        "Conversion falls from 32% for excellent leads to 3% for leads to improve; the "
        "hand-weighted score has an AUC of 0.73, weights learnt by logistic regression reach "
        "0.81 (in sample; 20 decided leads)."
    )
    assert ld.grading_sentence(grading=_grading([0.05, 0.10])).startswith(
        "Conversion rises from 5%"
    )


def test_lookalikes_on_the_demo(demo, grading):
    result = ld.lookalikes(demo, grading, demo.analysis_date, weights=None, seed=42)
    assert result.auc > 0.8 and result.lift_top_decile > 3  # planted: strong signal
    assert result.target == "strategic and key"
    assert result.train_leads > result.test_leads > 0
    prospects = result.prospects
    assert prospects["propensity"].is_monotonic_decreasing
    open_ids = demo["leads"].loc[
        demo["leads"]["won_date"].isna() & demo["leads"]["lost_date"].isna(), "lead_id"
    ]
    assert set(prospects["lead_id"]) == set(open_ids)
    top = ld.top_prospects(result=result, n=5)
    assert top.index.name == "lead_id" and list(top.index) == list(prospects["lead_id"][:5])
    assert ld.evaluation_table(result=result).loc["test_leads", "value"] == result.test_leads


def test_lookalike_sentence_table_and_file(tmp_path):
    prospects = pd.DataFrame({"lead_id": ["L2", "L1"], "propensity": [0.9, 0.4]})
    result = ld.Lookalikes(0.912, 7.64, 100, 40, 0.02, prospects, target="strategic and key")
    assert ld.lookalike_sentence(result=result) == (
        "On the hold-out year (40 leads, 2.0% of them future strategic and key accounts) the "
        "model's AUC is 0.91; its top decile holds 7.6× that share."
    )
    assert ld.evaluation_table(result=result)["value"].to_dict() == {
        "auc": 0.912,
        "lift_top_decile": 7.64,
        "train_leads": 100,
        "test_leads": 40,
        "base_rate": 0.02,
    }
    view = ld.evaluation_view(result=result).set_index("measure")["value"]
    assert view.tolist() == ["0.91", "7.6×", "100 leads", "40 leads", "2.0%"]
    assert "train_leads" not in view.index and "base_rate" not in view.index
    path = ld.save_prospects(result=result, path=tmp_path / "lookalikes.csv")
    assert pd.read_csv(path).equals(prospects)


def test_lookalike_model_skips_without_valuable_customers(demo, grading):
    result = ld.lookalike_model(
        demo["leads"], grading.behaviour, valuable_accounts=set(), as_of=demo.analysis_date
    )
    assert isinstance(result, Skipped)
    assert "do not include both valuable and other customers" in result.reason


def test_without_leads_table_grading_and_lookalikes_skip(no_leads):
    as_of = no_leads.analysis_date
    grading = ld.grade_leads(no_leads, as_of)
    assert isinstance(grading, Skipped)
    assert grading.sentence() == f"Lead grading is not available: {NO_LEADS}."
    assert ld.grading_sentence(grading=grading) == grading
    assert isinstance(ld.grade_table(grading=grading), Skipped)
    lookalike = ld.lookalikes(no_leads, grading, as_of, weights=None)
    assert lookalike.sentence() == f"Look-alikes is not available: {NO_LEADS}."
    assert ld.top_prospects(result=lookalike).step == "The prospects list"
    assert isinstance(ld.save_prospects(result=lookalike, path="never-written.csv"), Skipped)


def test_learnt_weights_leave_out_indicators_that_do_not_vary(demo):
    behaviour = ld.early_behaviour(demo["leads"], None)  # no touchpoints: only completeness
    table, auc = ld.learnt_weights(behaviour, demo["leads"], demo.analysis_date)
    assert list(table.index) == ["const", "data_completeness", "inquiry", "demo", "repeat_visits"]
    assert table.loc[["inquiry", "demo", "repeat_visits"]].isna().all().all()
    assert table.loc["data_completeness", "coef"] > 0 and 0.5 < auc < 1


def _company(*, buying_from: str | None = None, seed: int = 0, n: int = 400) -> Dataset:
    """Won leads of two size bands whose accounts all buy the same (4 orders of 1,000, 60
    days apart, from 10 days after the win or from ``buying_from``): nothing in the leads
    predicts which account becomes valuable, except through a label that uses the size band."""
    rng = np.random.default_rng(seed)
    as_of = pd.Timestamp("2025-12-31")
    created = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 1640, n), unit="D")
    won = created + pd.Timedelta(days=30)
    ids = [f"A{i:03d}" for i in range(n)]
    size = rng.choice(["micro", "enterprise"], n)
    channel = rng.choice(["web", "fair"], n)
    lost = [f"X{i:03d}" for i in range(n // 4)]  # lost leads: never an account
    leads = pd.DataFrame(
        {
            "lead_id": [f"L{i:03d}" for i in range(n)] + lost + ["OPEN"],
            "account_id": [*ids] + [None] * len(lost) + [None],
            "source_channel": [*channel, *channel[: len(lost)], "web"],
            "created_date": [*created, *created[: len(lost)], as_of - pd.Timedelta(days=10)],
            "won_date": [*won] + [pd.NaT] * len(lost) + [pd.NaT],
            "lost_date": [pd.NaT] * n + [*won[: len(lost)]] + [pd.NaT],
            "size_band": [*size, *size[: len(lost)], "micro"],
            "industry": "tools",
            "region": "north",
            "data_completeness": rng.uniform(0.2, 1.0, n + len(lost) + 1),
        }
    )
    orders = pd.DataFrame(
        [
            {
                "order_id": f"{account}-{k}",
                "account_id": account,
                "order_date": day,
                "net_amount": 1000.0,
                "quantity": 1.0,
                "product_category": "parts",
                "status": "completed",
            }
            for i, account in enumerate(ids)
            for k in range(4)
            if (
                day := (
                    pd.Timestamp(buying_from) if buying_from else won[i] + pd.Timedelta(days=10)
                )
                + pd.Timedelta(days=60 * k + int(rng.integers(0, 20)))
            )
            <= as_of
        ]
    )
    accounts = pd.DataFrame(
        {
            "account_id": ids,
            "account_name": ids,
            "industry": "tools",
            "size_band": size,
            "region": "north",
            "ownership_type": "private",
            "business_type": "brand_owner",
            "acquisition_channel": channel,
            "acquired_date": won,
        }
    )
    tables = {"accounts": accounts, "orders": orders, "leads": leads}
    return Dataset(
        tables={k: complete_columns(v, TABLES[k]) for k, v in tables.items()},
        source="test",
        analysis_date=as_of,
        fingerprint="x",
    )


@pytest.mark.filterwarnings("ignore")
def test_lookalike_label_does_not_contain_a_model_feature():
    """Size band is a model feature; were it also in the label's tier score (as before), the
    model would find it again: hold-out AUC 0.88 here on leads that carry no signal."""
    ds = _company()
    grading = ld.grade_leads(ds, ds.analysis_date)
    result = ld.lookalikes(ds, grading, ds.analysis_date, weights=None, seed=1)
    assert result.auc < 0.65
    assert 0.1 < result.train_base_rate < 0.25  # a fifth of the accounts, lost leads aside


@pytest.mark.filterwarnings("ignore")
def test_lookalike_training_labels_are_the_tiers_at_the_split_date():
    """Every account starts buying after the split date: at the split no training lead had
    become a valuable customer, so there is nothing to learn from (today's tiers, used before,
    labelled a fifth of them valuable with information from after the split)."""
    ds = _company(buying_from="2025-01-01")
    grading = ld.grade_leads(ds, ds.analysis_date)
    result = ld.lookalikes(ds, grading, ds.analysis_date, weights=None)
    assert isinstance(result, Skipped)
    assert "training leads labelled by the tiers of 2024-07-04" in result.reason


def test_valuable_accounts_ignore_size_band_and_attributes():
    ds = _company(seed=3)
    swapped = ds.tables["accounts"].assign(
        size_band=lambda a: a["size_band"].map({"micro": "enterprise", "enterprise": "micro"})
    )
    other = dataclasses.replace(ds, tables={**ds.tables, "accounts": swapped})
    when = ds.analysis_date
    assert ld.valuable_accounts(ds, when, weights=None) == ld.valuable_accounts(
        other, when, weights=None
    )


def test_grading_skips_what_it_cannot_check():
    ds = _company(seed=5)
    leads = ds.tables["leads"]
    as_of = ds.analysis_date
    same = dataclasses.replace(
        ds, tables={**ds.tables, "leads": leads.assign(data_completeness=0.5)}
    )
    assert ld.grade_leads(same, as_of).reason.startswith(
        "the lead score is the same for every lead"
    )
    recent = leads[leads["created_date"] > as_of - pd.Timedelta(days=150)]
    short = dataclasses.replace(ds, tables={**ds.tables, "leads": recent})
    skipped = ld.grade_leads(short, as_of)
    assert skipped.reason.startswith("lead grading needs 180 days of lead history, the data has 1")
    all_won = leads[leads["won_date"].notna()]
    won = ld.grade_leads(dataclasses.replace(ds, tables={**ds.tables, "leads": all_won}), as_of)
    assert won.hint == "checking the grades needs decided leads of both outcomes"


def test_report_views_of_grading_and_prospects():
    grading = _grading([0.32, 0.027])
    assert ld.grade_view(grading=grading).iloc[0].tolist() == ["Excellent", "10", "32.0%"]
    weights = pd.DataFrame(
        {"coef": [-4.88, 1.632], "low": [-5.09, 1.5], "high": [-4.66, 1.76], "p": [0.0, 0.0123]},
        index=["const", "inquiry"],
    )
    view = ld.weights_view(grading=dataclasses.replace(grading, weights=weights))
    assert view.to_dict("records")[1] == {
        "indicator": "sent an inquiry",
        "coefficient (log-odds)": "+1.63",
        "95% interval": "+1.50 to +1.76",
        "p-value": "0.012",
    }
    assert view.loc[0, "p-value"] == "<0.001"
    prospects = pd.DataFrame(
        {
            "lead_id": ["L2"],
            "size_band": ["large"],
            "industry": ["food_processing"],
            "region": ["south"],
            "source_channel": ["linkedin_ads"],
            "created_date": [pd.Timestamp("2025-11-23")],
            "propensity": [0.561],
        }
    )
    result = ld.Lookalikes(0.9, 7.0, 100, 40, 0.02, prospects)
    row = ld.prospects_view(result=result, names={"south": "South region"}).iloc[0].tolist()
    assert row == [
        "L2",
        "Large",
        "Food processing",
        "South region",
        "LinkedIn ads",
        "23 Nov 2025",
        "56%",
    ]


def test_early_behaviour_counts_touches_in_the_window_hand_checked():
    leads = pd.DataFrame(
        {
            "lead_id": ["A", "B", "C"],
            "created_date": pd.to_datetime(["2025-01-01", "2025-01-10", None]),
            "data_completeness": [1.0, np.nan, 0.2],
        }
    )
    day = pd.Timestamp("2025-01-01")
    touches = pd.DataFrame(
        {
            "lead_id": ["A", "A", "A", "A", "B", "B", None, "Z", "C", "A"],
            "kind": [
                "inquiry",
                "demo",
                "site_visit",
                "site_visit",
                "site_visit",
                "demo",
                "demo",
                "demo",
                "inquiry",
                np.nan,
            ],  # fmt: skip
            "channel": "web",
            "touched_at": [
                day,  # A: creation day counts
                day + pd.Timedelta(days=2, hours=23),  # A: last counted day (early_days=2)
                day + pd.Timedelta(days=3),  # A: a day too late
                day - pd.Timedelta(hours=1),  # A: before creation
                day + pd.Timedelta(days=8),  # B: before its creation
                day + pd.Timedelta(days=10),  # B: on creation
                day,  # no lead
                day,  # a lead not in the table
                day,  # C: no creation date
                day,  # A: no kind
            ],
        }
    )
    out = ld.early_behaviour(leads, touches, early_days=2)
    # no touches (frames built in code: float64 or object columns; a typed one): zeros, the
    # table of no touchpoints table at all
    for nothing in (
        pd.DataFrame({"lead_id": [], "kind": [], "touched_at": []}),
        pd.DataFrame(columns=["lead_id", "kind", "touched_at"]),
        touches.iloc[:0],
    ):
        none = ld.early_behaviour(leads, nothing, early_days=2)
        pd.testing.assert_frame_equal(none, ld.early_behaviour(leads, None, early_days=2))
        assert none[["inquiry", "demo", "repeat_visits"]].eq(0).all().all()
    assert list(out.columns) == ["data_completeness", "inquiry", "demo", "repeat_visits"]
    assert out.loc["A"].tolist() == [1.0, 1.0, 1.0, 0.0]
    assert out.loc["B"].tolist() == [0.5, 0.0, 1.0, 0.0]
    assert out.loc["C"].tolist() == [0.2, 0.0, 0.0, 0.0]
    for some in (touches, touches.iloc[:0]):  # with touches or without (any touchpoints frame)
        with pytest.raises(ValueError, match="unique lead ids"):
            ld.early_behaviour(pd.concat([leads, leads.iloc[:1]]), some)


@pytest.mark.parametrize("levels", [3, 40])  # dense stacking (few categories), sparse (many)
def test_lookalike_pipeline_fits_the_earlier_model(levels):
    """The look-alike model (its design matrix built in one array where the transformer
    stacks densely) gives the coefficients and probabilities of the earlier pipeline, exactly."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from helpers.lookalikes import _DenseModel, _model

    rng = np.random.default_rng(levels)
    n = 3_000
    cats = ["size_band", "industry"]
    x = pd.DataFrame(
        {
            "size_band": rng.integers(0, 5, n),
            "industry": rng.integers(0, levels, n),
            "inquiry": rng.poisson(0.5, n).astype(float),
            "data_completeness": rng.random(n),
        }
    )
    y = rng.random(n) < 0.2 + 0.1 * (x["industry"] % 3 == 0) + 0.2 * x["inquiry"].clip(0, 1)
    old = make_pipeline(
        ColumnTransformer(
            [
                ("cat", OneHotEncoder(handle_unknown="ignore"), cats),
                ("num", StandardScaler(), ["inquiry", "data_completeness"]),
            ]
        ),
        LogisticRegression(max_iter=1000, random_state=7),
    ).fit(x, y.astype(int))
    new = _model(x, cats, 7).fit(x, y.astype(int))
    assert old[0].sparse_output_ == (levels == 40)
    assert isinstance(new, _DenseModel) == (levels == 3)
    fitted = new.regression if levels == 3 else new[-1]
    np.testing.assert_array_equal(fitted.coef_, old[-1].coef_)
    np.testing.assert_array_equal(fitted.intercept_, old[-1].intercept_)
    other = x.assign(industry=rng.integers(0, levels + 2, n))  # unseen categories too
    np.testing.assert_array_equal(new.predict_proba(other), old.predict_proba(other))


def _early_behaviour_before(leads, touchpoints, early_days):
    """early_behaviour as it was before the touches were filtered by kind first (oracle)."""
    out = pd.DataFrame(index=leads["lead_id"])
    out["data_completeness"] = leads.set_index("lead_id")["data_completeness"].fillna(0.5)
    lead = out.index.get_indexer(touchpoints["lead_id"])  # pandas itself
    created = leads["created_date"].to_numpy()[lead]
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


@pytest.mark.parametrize(("seed", "dtype"), [(0, object), (1, object), (0, TEXT), (1, TEXT)])
def test_early_behaviour_equals_matching_every_touch(seed, dtype):
    rng = np.random.default_rng(seed)
    n, m = 500, 8_000
    day = pd.Timestamp("2024-01-01")
    leads = pd.DataFrame(
        {
            "lead_id": [f"L{i}" for i in rng.permutation(n)],
            "created_date": day + pd.to_timedelta(rng.integers(0, 60, n), unit="D"),
            "data_completeness": np.where(rng.random(n) < 0.1, np.nan, rng.random(n)),
        }
    )
    kinds = np.array(["inquiry", "demo", "site_visit", "email", "meeting", None], dtype=object)
    touches = pd.DataFrame(
        {
            "lead_id": np.array([f"L{i}" for i in rng.integers(-20, n + 20, m)], dtype=object),
            "kind": kinds[rng.integers(0, len(kinds), m)],
            "touched_at": day + pd.to_timedelta(rng.integers(0, 90 * 24, m), unit="h"),
        }
    )
    touches.loc[rng.random(m) < 0.02, "lead_id"] = None
    leads["lead_id"], touches = leads["lead_id"].astype(dtype), touches.astype({"lead_id": dtype})
    touches["kind"] = touches["kind"].astype(dtype)  # missing kinds stay missing (NaN)
    for early_days in (0, 14):
        got = ld.early_behaviour(leads, touches, early_days)
        want = _early_behaviour_before(leads, touches, early_days)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        assert got[["inquiry", "demo", "repeat_visits"]].sum().min() > 5  # touches counted


def _grades_before(score):
    """grades as it was (ranking the scores sorted by lead id, reindexed back): oracle."""
    order = score.sort_index().rank(method="first", ascending=False) / len(score)
    bounds = np.cumsum([share for _, share in ld.GRADES])
    names = np.array([g for g, _ in ld.GRADES])[
        np.minimum(np.searchsorted(bounds, order.to_numpy(), side="left"), len(ld.GRADES) - 1)
    ]
    dtype = pd.CategoricalDtype([g for g, _ in ld.GRADES], ordered=True)
    return pd.Series(names, index=order.index).astype(dtype).reindex(score.index)


@pytest.mark.parametrize("dtype", [object, TEXT])
@pytest.mark.parametrize("n", [1, 7, 10, 1_000])
def test_grades_equal_ranking_the_scores_sorted_by_id(n, dtype):
    """Few distinct scores (ties across every cut between grades), ids in random order whose
    text order differs from their number order: the grades of ranking after sorting by id."""
    rng = np.random.default_rng(n)
    ids = pd.Index([f"L{i}" for i in rng.permutation(n)], dtype=dtype, name="lead_id")
    for values in (rng.integers(0, 3, n) / 4, rng.random(n), np.zeros(n)):
        score = pd.Series(values, index=ids)
        got = ld.grades(score)
        assert ld._grade_codes(score) is not None  # the fast path answered
        pd.testing.assert_series_equal(got, _grades_before(score), check_exact=True)
        assert got.index is score.index


def test_grades_with_missing_scores_or_ids_take_pandas_way():
    score = pd.Series([0.5, np.nan, 0.5, 0.1], index=pd.Index(["b", "a", "c", "d"], dtype=TEXT))
    assert ld._grade_codes(score) is None
    pd.testing.assert_series_equal(ld.grades(score), _grades_before(score))
    score = pd.Series([0.5, 0.5, 0.5, 0.1], index=pd.Index(["b", None, "c", "d"], dtype=TEXT))
    assert ld._grade_codes(score) is None  # a missing id in a tie across a cut
    pd.testing.assert_series_equal(ld.grades(score), _grades_before(score))
    twice = pd.Series([0.5, 0.2], index=pd.Index(["b", "b"], dtype=TEXT))
    assert ld._grade_codes(twice) is None
    pd.testing.assert_series_equal(ld.grades(twice), _grades_before(twice))


def _validate_and_learn_before(leads, behaviour, grade, score, as_of, mature_days):
    """validate_grades and learnt_weights as they were (reindexing on the lead ids): oracle."""
    from sklearn.metrics import roc_auc_score
    from statsmodels.discrete.discrete_model import Logit
    from statsmodels.tools.tools import add_constant

    decided = leads["created_date"] <= as_of - pd.Timedelta(days=mature_days)
    won = leads.loc[decided, ["lead_id", "won_date"]].set_index("lead_id")["won_date"].notna()
    table = won.groupby(grade.reindex(won.index), observed=False).agg(["size", "mean"])
    table.columns = ["leads", "conversion"]
    auc = float(roc_auc_score(won, score.reindex(won.index)))
    y = won.astype(float)
    x = pd.DataFrame(
        {
            "data_completeness": behaviour["data_completeness"],
            "inquiry": (behaviour["inquiry"] > 0).astype(float),
            "demo": (behaviour["demo"] > 0).astype(float),
            "repeat_visits": behaviour["repeat_visits"].clip(upper=3) / 3,
        }
    ).reindex(y.index)
    design = add_constant(x.loc[:, x.nunique() > 1], has_constant="add")
    fit = Logit(y, design).fit(disp=False)
    ci = fit.conf_int()
    learnt = pd.DataFrame({"coef": fit.params, "low": ci[0], "high": ci[1], "p": fit.pvalues})
    learnt = learnt.reindex(["const", *x.columns])
    return table, auc, learnt, float(roc_auc_score(y, fit.predict(design)))


@pytest.mark.parametrize("shuffled", [False, True])  # tables in the leads' order, or not
def test_grade_checks_equal_reindexing_on_the_lead_ids(demo, shuffled):
    leads, as_of = demo["leads"], demo.analysis_date
    behaviour = ld.early_behaviour(leads, demo["touchpoints"], 14)
    if shuffled:
        behaviour = behaviour.sample(frac=1.0, random_state=1)
    score = ld.grade_score(behaviour)
    grade = ld.grades(score)
    table, auc = ld.validate_grades(leads, grade, score, as_of, 365)
    learnt, learnt_auc = ld.learnt_weights(behaviour, leads, as_of, 365)
    want = _validate_and_learn_before(leads, behaviour, grade, score, as_of, 365)
    pd.testing.assert_frame_equal(table, want[0], check_exact=True)
    pd.testing.assert_frame_equal(learnt, want[2], check_exact=True)
    assert (auc, learnt_auc) == (want[1], want[3])
    fast = ld._rows_of(behaviour.index, leads, np.ones(len(leads), bool)) is not None
    assert fast != shuffled  # the leads' own order takes positions, another order reindexes


@pytest.mark.parametrize(("seed", "dtype"), [(0, object), (1, object), (0, TEXT), (1, TEXT)])
def test_lookalike_inputs_equal_the_text_join(seed, dtype):
    """The model's inputs from factorized columns are the table and labels of the earlier
    fill, join and factorize on the texts: missing categories filled with "unknown" (also
    where "unknown" is a value already), a column without any value left out, leads
    without an account labelled 0."""
    from helpers.lookalikes import _inputs, _inputs_by_join

    rng = np.random.default_rng(seed)
    n = 2_000

    def texts(pool, missing):
        values = np.array(pool, dtype=object)[rng.integers(0, len(pool), n)]
        values[rng.random(n) < missing] = None
        return values

    leads = pd.DataFrame(
        {
            "lead_id": [f"L{i}" for i in rng.permutation(n)],
            "size_band": texts(["small", "large", "Ä-big", "micro"], 0.1),
            "industry": texts(["retail", "unknown", "b", "a"], 0.2),
            "region": texts(["north"], 1.0),  # no value at all
            "source_channel": texts(["web", "fair", "ads"], 0.0),
            "account_id": texts([f"acc-{i}" for i in range(300)], 0.5),
        }
    ).astype(dtype)  # Python strings, or Arrow text with missing values as loaded
    behaviour = pd.DataFrame(
        {"inquiry": rng.poisson(0.5, n).astype(float), "demo": rng.random(n)},
        index=pd.Index(leads["lead_id"]),
    )
    valuable, then = {f"acc-{i}" for i in range(40)}, {f"acc-{i}" for i in range(20, 30)}
    got = _inputs(leads, behaviour, valuable, then)
    want = _inputs_by_join(leads, behaviour, valuable, then)
    assert got[0] == want[0] == ["size_band", "industry", "source_channel"]
    pd.testing.assert_frame_equal(got[1], want[1], check_exact=True)
    np.testing.assert_array_equal(got[2], want[2])
    np.testing.assert_array_equal(got[3], want[3])
    assert 0 < got[3].sum() < got[2].sum()
    mixed = {7, "acc-3", "acc-5"}  # an id that is not text: pandas' membership test
    np.testing.assert_array_equal(
        _inputs(leads, behaviour, mixed, set())[2],
        _inputs_by_join(leads, behaviour, mixed, set())[2],
    )
    # the behaviour in another order: the join's turn
    assert _inputs(leads, behaviour.iloc[::-1], valuable, then) is None
