"""Which groups of accounts buy alike? K-means clusters of the accounts with two or more orders
on rate-like behaviour features (log order value, log orders per active month, margin rate,
log product breadth; standardised), the number of clusters by silhouette, their stability under
subsampling (adjusted Rand index, 1 = stable), plain names from each cluster's medians, the
cluster profile, a two-component PCA map and the sentence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.segmentation.windows import varies
from helpers.steps import Skipped, step

#: Behaviour features of the clusters (see :func:`cluster_features`).
CLUSTER_FEATURES: tuple[str, ...] = (
    "log_order_value",
    "log_orders_per_month",
    "margin_rate",
    "log_breadth",
)


def cluster_features(features: pd.DataFrame) -> pd.DataFrame:
    """Standardisable behaviour features of accounts with at least two orders.

    Rate-like features describe *how* an account buys, not how long it has been a customer:
    log mean order value, log orders per active month (orders over the span from first to last
    order plus a month), margin rate and log product breadth; a feature the data cannot fill
    (no margin column) or that does not vary (one product category, the same margin rate
    everywhere) is left out, so the clusters use what exists. Recency and tenure mostly measure
    when the account arrived or left and blur the buying patterns (tested: with them, the
    clusters recover the demo's planted archetypes far worse), so they are kept for RFM.
    """
    f = features[features["n_orders"] >= 2].set_index("account_id")
    span = (f["last_order"] - f["first_order"]).dt.days + 30.4
    x = pd.DataFrame(
        {
            "log_order_value": np.log(f["monetary_mean"].clip(lower=1)),
            "log_orders_per_month": np.log(f["n_orders"] / span * 30.4),
            "margin_rate": f["margin_rate"].fillna(f["margin_rate"].median()).clip(0, 1),
            "log_breadth": np.log1p(f["n_categories"]),
        }
    )
    return x[[c for c in x.columns if x[c].notna().all() and varies(x[c])]]


def clusters(
    x: pd.DataFrame,
    k: int | str = "auto",
    seed: int = 42,
    candidates: tuple[int, ...] = (2, 3, 4, 5, 6, 7),
) -> tuple[pd.Series, pd.Series]:
    """K-means on standardised features; ``k="auto"`` (or 0) picks the best silhouette among
    ``candidates``. Returns the labels (ordered by mean order value, 0 = lowest) and the
    silhouette per k tried."""
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler

    k = "auto" if k in ("auto", 0) else k
    z = StandardScaler().fit_transform(x)
    distinct = _distinct_rows(z, enough=max(candidates, default=0))
    ks = [c for c in candidates if c < min(len(x), distinct + 1)] if k == "auto" else [int(k)]
    if not ks or ks[0] >= len(x):
        raise ValueError(
            f"Clustering needs more accounts than clusters: {len(x)} accounts with "
            f"two or more orders, k = {k}."
        )
    scores, fits = {}, {}
    silhouette = _SampledSilhouette(z, min(3000, len(x)), seed)
    for c in ks:
        fits[c] = KMeans(c, n_init=10, random_state=seed).fit(z)
        scores[c] = silhouette(fits[c].labels_) if c > 1 else float("nan")
    best = max(scores, key=lambda c: scores[c]) if k == "auto" else ks[0]
    labels = pd.Series(fits[best].labels_, index=x.index)
    order = x.groupby(labels)[x.columns[0]].mean().sort_values(kind="stable").index
    labels = labels.map({old: new for new, old in enumerate(order)})
    return labels.rename("cluster"), pd.Series(scores, name="silhouette")


def _distinct_rows(z: np.ndarray, enough: int, head: int = 2_000) -> int:
    """``len(np.unique(np.round(z, 9), axis=0))`` (distinct rows to 9 decimals), or a number
    of at least ``enough`` distinct rows found among the first ``head`` rows: the caller only
    compares the count with ``enough`` or less, and sorting every row costs more."""
    first = len(np.unique(np.round(z[:head], 9), axis=0))
    if first >= enough or len(z) <= head:
        return first
    return len(np.unique(np.round(z, 9), axis=0))


class _SampledSilhouette:
    """``silhouette_score(z, labels, sample_size=size, random_state=seed)`` for several
    clusterings of the same rows ``z``, with the sample's distance matrix computed once.

    sklearn draws the same sample for each call (the permutation of the seed) and computes
    the same distances each time; this draws it as sklearn does, keeps the distances as
    sklearn's own ``pairwise_distances_chunked`` yields them (zero diagonal) and scores each
    clustering with ``silhouette_samples(metric="precomputed")``, which reduces the same
    chunks of the same numbers: the same scores (tested against ``silhouette_score``).
    """

    def __init__(self, z: np.ndarray, size: int, seed: int) -> None:
        from sklearn.metrics import pairwise_distances_chunked
        from sklearn.utils import check_random_state

        self.rows = check_random_state(seed).permutation(z.shape[0])[:size]
        self.distances = np.vstack(list(pairwise_distances_chunked(z[self.rows])))

    def __call__(self, labels: np.ndarray) -> float:
        """The mean silhouette (-1 to 1) of ``labels`` (one per row of ``z``) on the sample."""
        from sklearn.metrics import silhouette_samples

        chosen = np.asarray(labels)[self.rows]
        return float(np.mean(silhouette_samples(self.distances, chosen, metric="precomputed")))


def cluster_stability(
    x: pd.DataFrame,
    k: int,
    n: int = 10,
    seed: int = 42,
    *,
    full: pd.Series | np.ndarray | None = None,
) -> float:
    """Mean adjusted Rand index between the full-data clustering and clusterings of 80%
    subsamples (on the subsampled accounts): 1 = perfectly stable.

    ``full``: the full-data clustering when the caller already has it (the labels of
    ``KMeans(k, n_init=10, random_state=seed)`` on the standardised ``x``, one per row of
    ``x``, in any numbering: the index counts pairs of accounts, so it does not depend on the
    cluster numbers), as :func:`clusters` returns them; None: fitted here.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score
    from sklearn.preprocessing import StandardScaler

    z = StandardScaler().fit_transform(x)
    if full is None:
        full = KMeans(k, n_init=10, random_state=seed).fit_predict(z)
    full = np.asarray(full)
    rng = np.random.default_rng(seed)
    scores = []
    for _ in range(n):
        idx = rng.choice(len(z), int(0.8 * len(z)), replace=False)
        sub = KMeans(k, n_init=5, random_state=seed).fit_predict(z[idx])
        scores.append(adjusted_rand_score(full[idx], sub))
    return float(np.mean(scores))


def name_clusters(x: pd.DataFrame, labels: pd.Series) -> pd.Series:
    """Plain names from each cluster's profile relative to the overall medians: frequency,
    order size and margin, each only when it is among the features (no "high margin" name
    when the data has no margin that varies)."""
    words = {
        "log_orders_per_month": ("frequent", "occasional"),
        "log_order_value": ("large orders", "small orders"),
        "margin_rate": ("high margin", "low margin"),
    }
    prof = x.groupby(labels).median()
    med = x.median()
    used = [f for f in words if f in x.columns]
    names = {
        c: ", ".join(words[f][0] if row[f] > med[f] else words[f][1] for f in used) or f"group {c}"
        for c, row in prof.iterrows()
    }
    return labels.map(names)


@dataclass(frozen=True, eq=False)
class Clusters:
    """Behavioural clusters of the accounts with two or more orders.

    ``features`` are :func:`cluster_features` (one row per clustered account), ``labels`` the
    cluster per account (0 = lowest mean order value), ``names`` its plain name
    (:func:`name_clusters`), ``silhouettes`` the silhouette per number of clusters tried
    (-1 to 1, higher = better separated) and ``stability`` the mean adjusted Rand index under
    80% subsamples (:func:`cluster_stability`, 1 = perfectly stable).
    """

    features: pd.DataFrame
    labels: pd.Series
    names: pd.Series
    silhouettes: pd.Series
    stability: float

    @property
    def k(self) -> int:
        """The number of clusters."""
        return int(self.labels.nunique())


#: Fewest accounts (with two or more orders) that the behavioural clustering runs on.
MIN_CLUSTER_ACCOUNTS = 20


@step("The behavioural clustering")
def behaviour_clusters(
    features: pd.DataFrame, *, k: int | str = "auto", seed: int = 42, stability_runs: int = 5
) -> Clusters | Skipped:
    """K-means clusters of buying behaviour (:func:`clusters`; ``k`` 0 or ``"auto"``: the
    best silhouette), named, with their stability over ``stability_runs`` subsamples.

    Skipped when too few accounts have two or more orders (fewer than
    :data:`MIN_CLUSTER_ACCOUNTS`, or not more than ``k``), or when no behaviour feature
    varies between them.
    """
    x = cluster_features(features)
    fewest = 2 if k in ("auto", 0) else int(k)
    needed = max(MIN_CLUSTER_ACCOUNTS, fewest + 1)
    if len(x) < needed:
        return Skipped(
            f"only {len(x)} account{' has' if len(x) == 1 else 's have'} two or more orders",
            f"clustering needs at least {needed} such accounts",
        )
    if x.shape[1] == 0:
        return Skipped(
            "no behaviour feature (order value, order frequency, margin rate, product "
            "breadth) varies between the accounts",
            "clusters need accounts that buy differently",
        )
    labels, silhouettes = clusters(x, k, seed)
    # the k-means fit of the chosen k is the stability's full-data clustering: reuse it (the
    # same fit as a refit, 10 k-means runs fewer) unless a cluster came out empty
    fitted = int(silhouettes.idxmax()) if k in ("auto", 0) else int(k)
    full = labels if labels.nunique() == fitted else None
    stability = cluster_stability(x, labels.nunique(), n=stability_runs, seed=seed, full=full)
    return Clusters(x, labels, name_clusters(x, labels), silhouettes, stability)


@step("The behavioural clustering")
def silhouettes(result: Clusters) -> pd.DataFrame:
    """The silhouette per number of clusters tried, as a one-row table (columns: k)."""
    return result.silhouettes.to_frame().T


@step("The cluster profile")
def cluster_profile(result: Clusters) -> pd.DataFrame:
    """Per named cluster: the median of each behaviour feature (log order value, log orders
    per active month, margin rate 0-1, log product breadth) and ``accounts``."""
    profile = result.features.groupby(result.names).median()
    profile.index.name = "name"
    profile["accounts"] = result.names.value_counts()
    return profile


@step("The behavioural clustering")
def cluster_sentence(result: Clusters) -> str:
    """The number of clusters with its silhouette and the stability under resampling."""
    return (
        f"{result.k} clusters of {len(result.labels):,} accounts with two or more orders "
        f"(silhouette {result.silhouettes[result.k]:.2f}); stability "
        f"under resampling: adjusted Rand index {result.stability:.2f}."
    )


@step("The cluster map")
def cluster_projection(result: Clusters, seed: int = 42) -> pd.DataFrame:
    """Each clustered account in the first two principal components of its standardised
    behaviour features (``pc1``, ``pc2``, unitless) with its cluster name (``cluster``);
    ``attrs['explained']``: the share of the variance (0-1) each component explains."""
    from sklearn.decomposition import PCA

    x = result.features
    pca = PCA(2, random_state=seed)
    xy = pca.fit_transform((x - x.mean()) / x.std())
    out = pd.DataFrame(
        {"pc1": xy[:, 0], "pc2": xy[:, 1], "cluster": result.names.to_numpy()}, index=x.index
    )
    out.attrs["explained"] = [float(v) for v in pca.explained_variance_ratio_]
    return out
