"""Segmentation: hand-checked steps, planted truths on the demo, and the study's metrics."""

from __future__ import annotations

import dataclasses
import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from helpers import leads as ld
from helpers import plots, reporting, schemas
from helpers import segmentation as sg
from helpers.features import features_for
from helpers.loading import demo_config, load_dataset
from helpers.steps import Skipped


@pytest.fixture(scope="module")
def features(demo):
    return features_for(demo)


@pytest.fixture(scope="module")
def planted(demo_dir):
    return pd.read_parquet(demo_dir / "truth_accounts.parquet").set_index("account_id")


def test_concentration_hand_checked():
    r = pd.Series([60.0, 20.0, 10.0, 5.0, 5.0], index=list("abcde"))
    c = sg.concentration(r, tops=(0.2, 0.4))
    assert c["top_20pct_share"] == 0.6 and c["top_40pct_share"] == 0.8
    assert sg.concentration(pd.Series([1.0] * 4))["gini"] == pytest.approx(0.0)
    assert list(sg.abc_classes(r)) == ["A", "A", "B", "B", "C"]
    assert sg.concentration(pd.Series([0.0, 0.0])).sentence() == (
        "Revenue concentration is not available: the selection has no positive revenue "
        "(concentration needs accounts that bought)."
    )
    assert sg.concentration(pd.Series([5.0])).reason == "the selection has one account"


def test_pareto_share_matches_truth(features, truth):
    share = sg.concentration(sg.account_revenue(features))["top_20pct_share"]
    assert share == pytest.approx(truth["purchasing"]["top20_revenue_share"], abs=0.02)


def test_quintile_ties_are_deterministic():
    s = sg.quintile_score(pd.Series([5.0] * 10, index=[f"a{i}" for i in range(10)]))
    assert list(s) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]  # identical values split by order


def test_rfm_segments_cover_accounts(features):
    r = sg.rfm(features)
    assert r["segment"].isin([n for n, _ in sg.RFM_SEGMENTS]).all()
    champions = r[r["segment"] == "champions"]
    assert (champions["R"] >= 4).all() and (champions["F"] >= 4).all()


def test_value_tiers_shares_and_weights(features):
    tiers = sg.value_tier(features)
    shares = tiers.value_counts(normalize=True)
    assert shares["strategic"] == pytest.approx(0.05, abs=0.01)
    with pytest.raises(ValueError, match="Unknown tier weight"):
        sg.value_tier(features, weights={"revnue": 1.0})


def test_tier_migration_counts():
    before = pd.Series(["key", "standard"], index=["a", "b"])
    after = pd.Series(["strategic", "standard"], index=["a", "b"])
    m = sg.tier_migration(before=before, after=after, revenue=pd.Series({"a": 10.0, "b": 5.0}))
    assert m.counts.loc["key", "strategic"] == 1 and m.money.loc["key", "strategic"] == 10.0
    assert (m.moved_up, m.moved_down) == (1, 0)


def test_clusters_recover_planted_archetypes(features, planted):
    x = sg.cluster_features(features)
    labels, scores = sg.clusters(x, "auto", seed=42)
    ari = adjusted_rand_score(planted.loc[x.index, "archetype"], labels)
    assert labels.nunique() == 4 and ari >= 0.6, ari


def test_fewer_accounts_than_clusters_is_a_clear_error():
    x = pd.DataFrame(np.random.default_rng(0).normal(size=(3, 4)), columns=sg.CLUSTER_FEATURES)
    with pytest.raises(ValueError, match="more accounts than clusters"):
        sg.clusters(x, 5)


def test_customer_types_find_planted_growth_and_margin(demo, features, planted):
    types = sg.customer_types(demo["orders"], features, demo.analysis_date)
    truth = planted.loc[types.index]
    # The demo's planted growth is too weak for any single account to pass the false
    # discovery rate control (smallest q 0.055): none is called growing, yet the planted
    # growers' trend p-values are clearly smaller (median 0.30 against 0.53).
    assert (types["type"] == "growing").sum() == 0
    assert (
        types.loc[truth["growing"], "p"].median() < 0.6 * types.loc[~truth["growing"], "p"].median()
    )
    typed_pi = types["type"] == "price-insensitive"
    assert (
        typed_pi[truth["price_insensitive"]].mean()
        >= 3 * typed_pi[~truth["price_insensitive"]].mean()
    )


def test_cluster_stability_takes_the_full_clustering_in_any_numbering(features):
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler

    x = sg.cluster_features(features).iloc[:400]
    full = KMeans(3, n_init=10, random_state=7).fit_predict(StandardScaler().fit_transform(x))
    fitted = sg.cluster_stability(x, 3, n=2, seed=7)
    assert sg.cluster_stability(x, 3, n=2, seed=7, full=(full + 1) % 3) == fitted
    assert sg.cluster_stability(x, 3, n=2, seed=7, full=np.zeros(len(x), int)) != fitted


def test_single_order_accounts_are_left_out_of_clusters(features):
    x = sg.cluster_features(features)
    singles = features.loc[features["n_orders"] == 1, "account_id"]
    assert not set(singles) & set(x.index)


def test_filter_selecting_nothing_is_clear(demo):
    with pytest.raises(ValueError, match="selects no accounts"):
        demo.filter({"region": "atlantis"})


# --- the notebook's steps -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def no_leads(demo_dir):
    """The demo without its leads table, loaded as an own-data source would be."""
    config = demo_config(demo_dir)
    tables = {k: v for k, v in config.tables.items() if k != "leads"}
    return load_dataset(dataclasses.replace(config, tables=tables, label="demo without leads"))


def _counts(rows: dict[tuple[str, str], int]) -> pd.DataFrame:
    names = [t for t, _ in sg.TIERS]
    counts = pd.DataFrame(0, index=names, columns=names)
    for (a, b), n in rows.items():
        counts.loc[a, b] = n
    return counts


def test_tier_moves_follow_the_tier_order_not_the_names():
    counts = _counts(
        {
            ("key", "strategic"): 2,  # up
            ("standard", "strategic"): 4,  # up, though both names start with "s"
            ("long tail", "key"): 3,  # up, though "l" sorts after "k"
            ("key", "long tail"): 7,  # down
            ("strategic", "standard"): 1,  # down
            ("standard", "standard"): 50,  # stays
        }
    )
    assert sg.tier_moves(counts=counts) == (9, 8)


def test_tier_moves_reject_unknown_tiers():
    with pytest.raises(KeyError):
        sg.tier_moves(counts=pd.DataFrame({"gold": [1]}, index=["key"]))


def test_migration_scores_earlier_tiers_with_the_given_weights(demo, features):
    as_of = demo.analysis_date
    revenue = sg.account_revenue(features)
    weights = {"revenue": 1.0}
    tiers = sg.value_tiers(features, demo["orders"], as_of, weights=weights)
    m = sg.tier_migration_since(demo, tiers, revenue, as_of, months=12, weights=weights)
    start = as_of - pd.DateOffset(months=12)
    earlier = sg.value_tiers(features_for(demo, start), demo["orders"], start, weights=weights)
    expected = sg.tier_migration(before=earlier, after=tiers, revenue=revenue)
    assert m.counts.equals(expected.counts) and m.money.equals(expected.money)
    default = sg.tier_migration_since(demo, tiers, revenue, as_of, months=12, weights=None)
    assert not m.counts.equals(default.counts)  # the weights did reach the earlier tiers
    assert (m.start, m.end, m.months) == (start, as_of, 12)
    assert m.moved_up + m.moved_down + np.trace(m.counts.to_numpy()) == m.counts.to_numpy().sum()
    assert sg.migration_sentence(m).startswith(f"{m.moved_up} accounts moved up")
    assert sg.migration_caption(m).startswith("Tier migration from 31 Dec 2024 (rows)")


def test_value_tiers_use_the_weights(demo, features):
    as_of = demo.analysis_date
    by_revenue = sg.value_tiers(features, demo["orders"], as_of, weights={"revenue": 1.0})
    top = sg.account_revenue(features).sort_values(ascending=False).index[:100]
    assert (by_revenue[top] == "strategic").all()  # revenue alone: the largest are strategic
    default = sg.value_tiers(features, demo["orders"], as_of, weights=None)
    assert default.equals(sg.value_tier(features, sg.revenue_growth(demo["orders"], as_of)))


FEATURES = pd.DataFrame(
    {
        "account_id": ["a", "b", "c", "d"],
        "n_orders": [10, 4, 2, 0],
        "monetary_total": [600.0, 300.0, 150.0, -50.0],
        "margin_rate": [0.2, 0.4, 0.3, np.nan],
    }
)
TIERS = pd.Series(
    ["strategic", "key", "key", "long tail"],
    index=pd.Index(["a", "b", "c", "d"], name="account_id"),
    dtype=pd.CategoricalDtype([t for t, _ in sg.TIERS], ordered=True),
)


def test_tier_profile_hand_checked():
    prof = sg.tier_profile(features=FEATURES, tiers=TIERS)
    assert list(prof.index) == ["strategic", "key", "long tail"]  # tier order, empty left out
    assert prof.loc["key", "accounts"] == 2 and prof.loc["key", "revenue"] == 450.0
    assert prof.loc["key", "mean_orders"] == 3.0
    assert prof.loc["key", "margin_rate"] == pytest.approx(0.35)
    assert prof.loc["strategic", "revenue_share"] == pytest.approx(600 / 1000)
    assert prof.loc["long tail", "revenue_share"] == pytest.approx(-50 / 1000)


def test_concentration_table_abc_table_and_sentence():
    conc = {"top_1pct_share": 0.1, "top_20pct_share": 0.8, "gini": 0.7, "accounts": 1200}
    table = sg.concentration_table(concentration=conc)
    assert table["value"].to_dict() == {
        "top 1% share": 0.1,
        "top 20% share": 0.8,
        "Gini coefficient": 0.7,
    }
    assert sg.concentration_sentence(concentration=conc) == (
        "Revenue is highly concentrated: 80% from the top fifth of the 1,200 accounts."
    )
    assert sg.concentration_sentence(concentration={**conc, "top_20pct_share": 0.3}).startswith(
        "Revenue is not very concentrated: 30%"
    )
    revenue = pd.Series([60.0, 20.0, 10.0, 5.0, 5.0, -3.0], index=list("abcdef"))
    abc = sg.abc_classes(revenue)
    t = sg.abc_table(abc=abc, revenue=revenue)
    assert t["accounts"].to_dict() == {"A": 2, "B": 2, "C": 2}
    assert t.loc["A", "revenue_share"] == pytest.approx(0.8)
    assert t.loc["C", "account_share"] == pytest.approx(2 / 6)


def test_rfm_tables_and_champions_sentence():
    scores = pd.DataFrame(
        {
            "R": [5, 5, 1, 1],
            "F": [5, 5, 5, 1],
            "monetary": [100.0, 300.0, 50.0, 10.0],
            "segment": ["champions", "champions", "at risk", "lost"],
        }
    )
    seg = sg.rfm_segments(scores=scores)
    assert list(seg.index) == ["champions", "at risk", "lost"]  # rule order
    assert seg.loc["champions"].to_dict() == {"accounts": 2, "mean_revenue": 200.0}
    heat = sg.rfm_heat(scores=scores)
    assert list(heat.index) == [5, 1] and heat.loc[5, 5] == 200.0 and heat.loc[1, 1] == 10.0
    assert sg.champions_sentence(scores=scores, currency="EUR") == (
        "Champions (recent and frequent) are 2 accounts with mean revenue 200 EUR."
    )
    view = sg.rfm_view(segments=seg, currency="EUR")
    assert view.to_dict("records")[0] == {
        "segment": "Champions",
        "accounts": "2",
        "mean revenue per account": "200 EUR",
    }


def test_type_summary_and_sentence_hand_checked():
    types = pd.DataFrame(
        {
            "slope": [0.5, 0.4, 0.0, -0.3],
            "growth": [0.6, 0.5, 0.0, -0.2],
            "type": ["growing", "growing", "steady", "shrinking"],
        },
        index=["a", "b", "c", "d"],
    )
    revenue = pd.Series({"a": 100.0, "b": 300.0, "c": 500.0, "d": 100.0, "e": 999.0})
    summary = sg.type_summary(types=types, revenue=revenue)
    assert summary.loc["growing", "accounts"] == 2 and summary.loc["growing", "revenue"] == 400
    assert summary.loc["growing", "revenue_share"] == pytest.approx(0.4)  # e is not typed
    assert summary.loc["steady", "account_share"] == pytest.approx(0.25)
    assert sg.types_sentence(types=types) == (
        "2 of 4 typed accounts grow their order value significantly (5% false discovery rate; "
        "median growth 55% a year)."
    )
    assert sg.types_sentence(types=types[types["type"] != "growing"]).startswith("None of the 2")


def test_behaviour_clusters_step(features):
    result = sg.behaviour_clusters(features, k="auto", seed=42, stability_runs=2)
    x = sg.cluster_features(features)
    assert result.k == 4 and len(result.labels) == len(x)
    assert result.stability > 0.9
    profile = sg.cluster_profile(result=result)
    assert profile["accounts"].sum() == len(x) and len(profile) == 4
    assert set(profile.index) == set(result.names)
    assert sg.silhouettes(result=result).loc["silhouette", 4] == result.silhouettes[4]
    assert sg.cluster_sentence(result=result).startswith(
        f"4 clusters of {len(x):,} accounts with two or more orders "
        f"(silhouette {result.silhouettes[4]:.2f})"
    )
    xy = sg.cluster_projection(result=result, seed=42)
    assert list(xy.columns) == ["pc1", "pc2", "cluster"] and len(xy) == len(x)
    assert xy["pc1"].var() >= xy["pc2"].var()  # principal components by explained variance
    assert 0 < xy.attrs["explained"][1] <= xy.attrs["explained"][0] < 1  # for the axis labels
    ax = plots.cluster_scatter(xy)
    assert len(ax.collections) == 4  # one colour per cluster
    plt.close("all")


def test_clusters_skip_with_too_few_accounts(features):
    few = features[features["n_orders"] >= 2].head(25)
    result = sg.behaviour_clusters(few.head(3), k=5, seed=42)
    assert isinstance(result, Skipped)
    assert result.sentence() == (
        "The behavioural clustering is not available: only 3 accounts have two or more "
        "orders (clustering needs at least 20 such accounts)."
    )
    assert "needs at least 31" in sg.behaviour_clusters(few.head(25), k=30).hint
    assert sg.cluster_profile(result=result).step == "The cluster profile"
    assert isinstance(sg.cluster_projection(result=result), Skipped)


def test_findings_hand_checked():
    revenue = pd.Series({"a": 600.0, "b": 300.0, "c": 150.0, "d": -50.0})
    conc = {"top_1pct_share": 0.5, "top_20pct_share": 0.6, "gini": 0.45}
    abc = pd.Series(["A", "A", "B", "C"], index=list("abcd"))
    tiers = pd.Series(["strategic", "key", "key", "long tail"], index=list("abcd"))
    assert sg.findings(concentration=conc, abc=abc, tiers=tiers, revenue=revenue) == [
        "The top 20% of the 4 accounts bring 60% of revenue; the top 1% alone 50% (Gini 0.45).",
        "2 A-accounts (50% of 4 accounts) make 80% of revenue.",
        "1 strategic accounts hold 57% of revenue.",  # 600 / (600 + 300 + 150)
    ]


def test_metrics_record_skipped_steps_as_null_with_the_reason(no_leads, tmp_path):
    as_of = no_leads.analysis_date
    feats = features_for(no_leads, as_of)
    revenue = sg.account_revenue(feats)
    tiers = sg.value_tiers(feats, no_leads["orders"], as_of, weights=None)
    grading = ld.grade_leads(no_leads, as_of)
    metrics = sg.metrics(
        ds=no_leads,
        as_of=as_of,
        concentration=sg.concentration(revenue),
        abc=sg.abc_classes(revenue),
        tiers=tiers,
        profile=sg.tier_profile(features=feats, tiers=tiers),
        clusters=sg.behaviour_clusters(feats.head(2), k=3),
        types=sg.customer_types(no_leads["orders"], feats, as_of),
        grading=grading,
        lookalike=ld.lookalikes(no_leads, grading, as_of, weights=None),
    )
    assert metrics.lead_grade_conversion is None and metrics.lookalike is None
    assert metrics.lead_score_auc is None and metrics.clusters is None
    assert set(metrics.skipped) == {
        "clusters",
        "cluster_stability",
        "lead_grade_conversion",
        "lead_score_auc",
        "lookalike",
    }
    assert metrics.skipped["lookalike"] == (
        "the data source 'demo without leads' does not provide the leads table (CRM "
        "opportunities) (add it to the source YAML to get this part)"
    )
    assert metrics.strategic_accounts == (tiers == "strategic").sum()
    assert metrics.tier_counts == tiers.value_counts().to_dict()
    reporting.write_metrics(tmp_path, metrics)
    written = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert written["lookalike"] is None and written["skipped"]["lead_score_auc"]
    assert schemas.read(tmp_path, schemas.SegmentationMetrics).skipped == metrics.skipped


def _trend_orders(slopes: dict[str, float], orders: int, seed: int) -> pd.DataFrame:
    """Completed one-line orders over two years; log order value = slope x years + N(0, 0.5)."""
    rng = np.random.default_rng(seed)
    rows = []
    for account, slope in slopes.items():
        days = np.sort(rng.choice(np.arange(1, 730), size=orders, replace=False))
        values = np.exp(6 + slope * days / 365.25 + rng.normal(0, 0.5, orders))
        for i, (day, value) in enumerate(zip(days, values, strict=True)):
            rows.append(
                {
                    "account_id": account,
                    "order_id": f"{account}-{i}",
                    "order_date": pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(day)),
                    "net_amount": float(value),
                    "status": "completed",
                }
            )
    return pd.DataFrame(rows)


def test_customer_types_control_the_false_discovery_rate():
    """2,000 accounts without any trend: one test each at 5% would call ~2.5% of them growing
    (~50); with Benjamini-Hochberg at 5% the family of null tests yields a discovery at all
    only about 5% of the time. 40 accounts that do grow (x4.5 a year) are still found."""
    slopes = {f"n{i:04d}": 0.0 for i in range(2000)} | {f"g{i:02d}": 1.5 for i in range(40)}
    orders = _trend_orders(slopes, orders=24, seed=7)
    features = pd.DataFrame({"account_id": list(slopes), "margin_rate": np.nan})
    types = sg.customer_types(orders, features, pd.Timestamp("2025-12-31"), months=24)
    null = types.loc[types.index.str.startswith("n"), "type"]
    assert (null == "growing").sum() <= 3
    assert (null == "price-insensitive").sum() == 0  # no margin data: never assigned
    assert (types.loc[types.index.str.startswith("g"), "type"] == "growing").mean() >= 0.9
    assert types["q"].ge(types["p"]).all()  # adjusted p-values are never smaller


def test_windows_adapt_to_the_history_at_hand():
    dates = pd.Series(pd.to_datetime(["2022-01-15", "2025-12-01", "2026-02-01"]))
    as_of = pd.Timestamp("2025-12-31")
    assert sg.history_months(dates=dates, as_of=as_of) == 48  # Jan 2022 to Dec 2025
    assert sg.history_months(dates=dates, as_of=pd.Timestamp("2021-12-31")) == 0
    assert sg.adapted_window(12, 48, minimum=3, what="x") == 12  # the default fits
    assert sg.adapted_window(12, 30, minimum=3, what="x") == 10  # a third of 30 months
    assert sg.adapted_window(24, 9, minimum=6, what="x", share=1.0) == 9
    short = sg.adapted_window(12, 8, minimum=3, what="the tier migration")
    assert short.reason == "needs 9 months of history, the data has 8"
    assert short.hint == "the tier migration uses a window of at least 3 months"


def test_short_history_skips_the_migration_and_shrinks_the_growth_window(demo):
    """The demo cut to its last 8 months: a third is under the 3-month minimum."""
    as_of = demo.analysis_date
    orders = demo["orders"][demo["orders"]["order_date"] > as_of - pd.DateOffset(months=8)]
    ds = dataclasses.replace(demo, tables={**demo.tables, "orders": orders})
    features = sg.account_features(ds, as_of)
    tiers = sg.value_tiers(features, orders, as_of, weights=None)
    revenue = sg.account_revenue(features)
    migration = sg.tier_migration_since(ds, tiers, revenue, as_of, months=12, weights=None)
    assert migration.sentence() == (
        "The tier migration is not available: needs 9 months of history, the data has 8 "
        "(the tier migration uses a window of at least 3 months)."
    )
    assert isinstance(sg.migration_sentence(migration=migration), Skipped)


def test_clusters_use_the_features_that_vary(features):
    constant = features.assign(margin_rate=0.3, n_categories=1)
    x = sg.cluster_features(constant)
    assert list(x.columns) == ["log_order_value", "log_orders_per_month"]
    labels = pd.Series([0, 1] * (len(x) // 2) + [0] * (len(x) % 2), index=x.index)
    assert not sg.name_clusters(x, labels).str.contains("margin").any()
    no_margin = sg.cluster_features(features.assign(margin_rate=np.nan))
    assert "margin_rate" not in no_margin and no_margin.notna().all().all()


def test_report_tables_are_text_with_units_and_reader_names():
    conc = {
        "top_1pct_share": 0.14,
        "top_20pct_share": 0.8,
        "gini": 0.7512,
        "accounts": 2883,
    }
    view = sg.concentration_view(concentration=conc).set_index("measure")["value"]
    assert view["Share of revenue from the top 1% of accounts"] == "14%"
    assert view["Gini coefficient (0 equal, 1 one account)"] == "0.75"
    assert view["Accounts"] == "2,883"
    prof = sg.tier_view(profile=sg.tier_profile(features=FEATURES, tiers=TIERS), currency="EUR")
    assert prof["tier"].tolist() == ["Strategic", "Key", "Long tail"]
    key = prof.set_index("tier").loc["Key"]
    assert (key["revenue"], key["orders per account"], key["median margin rate"]) == (
        "450 EUR",
        "3",
        "35.0%",
    )
    revenue = pd.Series([60.0, 20.0, 10.0, 5.0, 5.0, -3.0], index=list("abcdef"))
    abc = sg.abc_view(abc_table=sg.abc_table(abc=sg.abc_classes(revenue), revenue=revenue))
    assert abc.iloc[0].tolist() == ["A", "2", "33%", "80%"]
    migration = sg.tier_migration(
        pd.Series({"a": "key", "b": "long tail"}),
        pd.Series({"a": "strategic", "b": "long tail"}),
        pd.Series({"a": 12_345_678.0, "b": 10.0}),
        start=pd.Timestamp("2024-12-31"),
        end=pd.Timestamp("2025-12-31"),
        months=12,
    )
    money = sg.migration_money_view(migration=migration, currency="EUR")
    assert money.loc["Key", "Strategic"] == "12.3M EUR"
    assert (money.index.name, money.columns.name) == ("tier on 31 Dec 2024", "tier on 31 Dec 2025")
    assert sg.migration_counts_view(migration=migration).loc["Long tail", "Long tail"] == "1"
    assert sg.migration_caption(migration=migration).startswith(
        "Tier migration from 31 Dec 2024 (rows) to 31 Dec 2025 (columns)"
    )
    for frame in (view.to_frame(), prof, abc, money):  # no raw floats left for the styler
        assert all(isinstance(v, str) for v in frame.to_numpy().ravel())


def test_cluster_tables_read_on_their_own_scales(features):
    result = sg.behaviour_clusters(features, k=4, seed=42, stability_runs=2)
    view = sg.cluster_view(result=result, currency="EUR")
    assert list(view.columns) == [
        "cluster",
        "median order value",
        "orders per active month",
        "margin rate",
        "product categories",
        "accounts",
    ]
    assert view["median order value"].str.endswith(" EUR").all()
    assert not any("log" in c for c in view.columns)
    sil = sg.silhouette_view(result=result)
    assert sil.loc[sil["chosen"] == "yes", "clusters"].tolist() == ["4"]
    assert sil["silhouette"].str.fullmatch(r"-?\d\.\d\d").all()


def _random_lines(seed: int, n: int = 4_000) -> pd.DataFrame:
    """Order lines with text ids in no particular order, several lines per order, some
    cancelled lines, missing ids and amounts, over three years."""
    rng = np.random.default_rng(seed)
    account = rng.choice([f"acc-{i}" for i in rng.permutation(300)], n).astype(object)
    account[rng.random(n) < 0.01] = None
    order = np.array(
        [f"o{a}-{k}" for a, k in zip(account, rng.integers(0, 9, n), strict=True)], dtype=object
    )
    order[rng.random(n) < 0.01] = None
    amount = rng.lognormal(5, 2, n) * rng.choice([1.0, 1.0, 1.0, -0.2], n)
    amount[rng.random(n) < 0.01] = np.nan
    return pd.DataFrame(
        {
            "order_id": order,
            "account_id": account,
            "order_date": pd.Timestamp("2023-01-01")
            + pd.to_timedelta(rng.integers(0, 3 * 365, n), unit="D"),
            "net_amount": amount,
            "status": rng.choice(["completed", "completed", "cancelled", "returned"], n),
        }
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_revenue_growth_equals_the_text_group_by(seed):
    """The oracle is the earlier code: window sums grouped by the id texts."""
    orders = _random_lines(seed)
    as_of = pd.Timestamp("2025-12-31")

    def oracle(months: int) -> pd.Series:
        kept, date = orders["status"] != "cancelled", orders["order_date"]
        recent_start = as_of - pd.DateOffset(months=months)
        early_start = as_of - pd.DateOffset(months=2 * months)
        recent = orders.loc[kept & (date > recent_start) & (date <= as_of)]
        early = orders.loc[kept & (date > early_start) & (date <= recent_start)]
        r = recent.groupby("account_id")["net_amount"].sum()
        e = early.groupby("account_id")["net_amount"].sum()
        return (r.reindex(e.index, fill_value=0.0) / e.where(e > 0) - 1).rename("growth")

    for months in (6, 12):
        got = sg.revenue_growth(orders, as_of, months)
        # sums in the engine's order: equal to the last digits only
        pd.testing.assert_series_equal(got, oracle(months), check_exact=False, rtol=1e-9)
        assert got.notna().sum() > 100


@pytest.mark.parametrize("seed", [0, 1])
def test_value_tier_equals_the_text_sort(seed):
    """Tiers ranked on the ids' codes are the tiers of sorting (score, id text) in pandas,
    the earlier code, with many tied scores (ties go by id) and accounts without orders."""
    from helpers.segmentation.tiers import _value_tier_by_text_sort

    rng = np.random.default_rng(seed)
    n = 3_000
    ids = np.array([f"acc-{i}" for i in rng.permutation(n)] + ["Ä-1", "a", "B"], dtype=object)
    features = pd.DataFrame(
        {
            "account_id": ids,
            "monetary_total": rng.choice([0.0, 10.0, 20.0, 35.5], len(ids)),
            "margin_total": rng.choice([1.0, 2.0, np.nan], len(ids)),
            "n_orders": rng.choice([0, 1, 2, 5], len(ids)),
            "size_band": rng.choice(["small", "large", None], len(ids)),
        }
    )
    growth = pd.Series(rng.choice([0.1, -0.2, np.nan], len(ids)), index=ids)
    weights = {"revenue": 0.5, "orders": 0.3, "growth": 0.1, "size": 0.1}
    got = sg.value_tier(features, growth, weights)
    score = sg.tier_score(features, growth, weights)
    want = _value_tier_by_text_sort(features, score, got.dtype)
    pd.testing.assert_series_equal(got, want)
    assert score.duplicated().sum() > n // 2  # ties decided by the ids
    assert got.value_counts()["strategic"] > 0


@pytest.mark.parametrize("n", [500, 4_000])  # every row, or sklearn's sample of 3000
def test_sampled_silhouette_equals_sklearn(n):
    """The silhouettes from one distance matrix are sklearn's ``silhouette_score`` on its
    own sample, exactly, for several clusterings."""
    from sklearn.metrics import silhouette_score

    from helpers.segmentation.behaviour import _SampledSilhouette

    rng = np.random.default_rng(n)
    z = rng.normal(size=(n, 4)) + rng.integers(0, 3, (n, 1)) * 2.0
    size = min(3000, n)
    silhouette = _SampledSilhouette(z, size, seed=42)
    for k in (2, 3, 5):
        labels = rng.integers(0, k, n) if k == 5 else (z[:, 0] > np.quantile(z[:, 0], 0.5)) * k
        want = silhouette_score(z, labels, sample_size=size, random_state=42)
        assert silhouette(labels) == float(want)


def test_distinct_rows_counts_or_finds_enough():
    from helpers.segmentation.behaviour import _distinct_rows

    z = np.repeat(np.arange(6.0).reshape(3, 2), 2_000, axis=0)  # 3 distinct rows, 6000 rows
    assert _distinct_rows(z, enough=7) == 3  # fewer than enough: the exact count
    rng = np.random.default_rng(0)
    many = rng.normal(size=(5_000, 2))
    assert _distinct_rows(many, enough=7) >= 7
    assert _distinct_rows(many[:100], enough=7) == 100
