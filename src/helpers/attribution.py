"""Multi-touch attribution of conversions to channels, from touch paths.

Rule-based models (first touch, last touch, linear, time decay, position based) and the
first-order Markov removal effect. Written here because the maintained options are GPL-3
(ChannelAttribution) or alpha quality (mta); the Markov model is a small absorbing-chain solve.

A path is the ordered channels of a lead's touches inside the conversion window before its
conversion (or before the analysis date / its loss for non-converting leads). Touches after the
conversion are ignored. Paths longer than ``max_touches`` keep their last touches (reported).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MODELS: tuple[str, ...] = (
    "first touch",
    "last touch",
    "linear",
    "time decay",
    "position based",
    "markov",
)


@dataclass
class Paths:
    """Touches in attribution order: ``touches`` has lead_id, channel, position, n, days_before
    and converted; ``truncated`` counts paths cut to ``max_touches``."""

    touches: pd.DataFrame
    n_paths: int
    n_converted: int
    truncated: int


def build_paths(
    touchpoints: pd.DataFrame,
    leads: pd.DataFrame,
    conversion: pd.Series,
    as_of: pd.Timestamp,
    window_days: int = 90,
    max_touches: int = 20,
) -> Paths:
    """Vectorised path building (no per-lead Python).

    ``conversion`` maps lead_id to its conversion timestamp (NaT = did not convert; pass only
    conversions up to ``as_of``). A non-converting path ends at the lead's loss date or
    ``as_of``, whichever is earlier: no touch after ``as_of`` counts.
    """
    end = conversion.reindex(leads["lead_id"].to_numpy())
    lost = leads.set_index("lead_id")["lost_date"]
    # a loss after the analysis date is not known on it: such a path ends at the analysis date
    stop = end.fillna(lost.reindex(end.index)).fillna(as_of).clip(upper=as_of)
    t = touchpoints.loc[touchpoints["lead_id"].notna(), ["lead_id", "channel", "touched_at"]]
    t = t[t["lead_id"].isin(stop.index)]
    t = t.assign(end=stop.reindex(t["lead_id"]).to_numpy() + pd.Timedelta(days=1))
    t = t[
        (t["touched_at"] < t["end"])
        & (t["touched_at"] >= t["end"] - pd.Timedelta(days=window_days + 1))
    ]
    t = t.sort_values(["lead_id", "touched_at", "channel"], kind="mergesort")
    t["days_before"] = (t["end"] - t["touched_at"]).dt.total_seconds() / 86400.0
    t["from_end"] = t.groupby("lead_id").cumcount(ascending=False)
    lengths = t.groupby("lead_id").size()
    truncated = int((lengths > max_touches).sum())
    t = t[t["from_end"] < max_touches].copy()
    t["position"] = t.groupby("lead_id").cumcount()
    t["n"] = t.groupby("lead_id")["channel"].transform("size")
    converted = conversion.notna()
    t["converted"] = converted.reindex(t["lead_id"]).fillna(False).to_numpy()
    paths = t["lead_id"].nunique()
    n_conv = int(t.drop_duplicates("lead_id")["converted"].sum())
    return Paths(
        t[["lead_id", "channel", "position", "n", "days_before", "converted"]].reset_index(
            drop=True
        ),
        paths,
        n_conv,
        truncated,
    )


def rule_weights(
    touches: pd.DataFrame, model: str, half_life_days: float = 7.0, ends: float = 0.4
) -> pd.Series:
    """Credit of each touch of a converting path under a rule-based model (sums to 1 per path)."""
    pos, n = touches["position"].to_numpy(), touches["n"].to_numpy()
    if model == "first touch":
        w = (pos == 0).astype(float)
    elif model == "last touch":
        w = (pos == n - 1).astype(float)
    elif model == "linear":
        w = 1.0 / n
    elif model == "time decay":
        raw = 0.5 ** (touches["days_before"].to_numpy() / half_life_days)
        w = raw / pd.Series(raw).groupby(touches["lead_id"].to_numpy()).transform("sum").to_numpy()
    elif model == "position based":
        middle = np.where(n > 2, (1 - 2 * ends) / np.maximum(n - 2, 1), 0.0)
        w = np.where(
            n == 1, 1.0, np.where(n == 2, 0.5, np.where((pos == 0) | (pos == n - 1), ends, middle))
        )
    else:
        raise ValueError(f"unknown rule-based model {model!r}; use one of {MODELS[:-1]}")
    return pd.Series(w, index=touches.index, dtype=float)


def markov_removal(touches: pd.DataFrame) -> pd.Series:
    """Share of conversions credited to each channel by the Markov removal effect.

    States: start, each channel, conversion, null. Transition probabilities are counted from
    all paths (consecutive repeats of a channel kept). P(conversion from start) solves the
    absorbing chain ``(I - Q) x = r``. Removing a channel sends its traffic to null; its
    removal effect is ``1 - P_without / P``; effects are normalised to sum to 1.
    """
    if touches.empty:
        return pd.Series(dtype=float)
    channels = sorted(touches["channel"].unique())
    idx = {c: i for i, c in enumerate(channels)}
    k = len(channels)
    start_row = np.zeros(k)
    trans = np.zeros((k, k))
    to_conv = np.zeros(k)
    to_null = np.zeros(k)
    ch = touches["channel"].map(idx).to_numpy()
    first = touches["position"].to_numpy() == 0
    last = touches["position"].to_numpy() == touches["n"].to_numpy() - 1
    np.add.at(start_row, ch[first], 1)
    nxt = np.roll(ch, -1)
    inner = ~last
    np.add.at(trans, (ch[inner], nxt[inner]), 1)
    conv = touches["converted"].to_numpy().astype(bool)
    np.add.at(to_conv, ch[last & conv], 1)
    np.add.at(to_null, ch[last & ~conv], 1)
    out_total = trans.sum(axis=1) + to_conv + to_null
    q = trans / np.maximum(out_total, 1)[:, None]
    r = to_conv / np.maximum(out_total, 1)
    s = start_row / start_row.sum()

    def p_conversion(removed: int | None) -> float:
        qq, rr = q.copy(), r.copy()
        if removed is not None:
            qq[removed, :] = 0.0
            rr[removed] = 0.0
            qq[:, removed] = 0.0  # traffic into the removed channel is lost (goes to null)
        x = np.linalg.solve(np.eye(k) - qq, rr)
        ss = s.copy()
        if removed is not None:
            ss[removed] = 0.0
        return float(ss @ x)

    base = p_conversion(None)
    effects = np.array([1 - p_conversion(i) / base if base > 0 else 0.0 for i in range(k)])
    effects = np.clip(effects, 0, None)
    return pd.Series(
        effects / effects.sum() if effects.sum() else effects, index=channels, name="markov"
    )


def attribute(paths: Paths, values: pd.Series | None = None) -> pd.DataFrame:
    """Attributed conversions (and value, when ``values`` maps lead_id to revenue) per channel
    and model: a table with one column per model (and one ``<model> revenue`` column each).
    A NaN value means "not known yet": that lead adds no revenue under any model."""
    conv = paths.touches[paths.touches["converted"]]
    out = {}
    for model in MODELS[:-1]:
        w = rule_weights(conv, model)
        out[model] = w.groupby(conv["channel"]).sum()
    out["markov"] = markov_removal(paths.touches) * paths.n_converted
    table = pd.DataFrame(out).fillna(0.0)
    if values is not None:
        v = values.reindex(conv["lead_id"]).fillna(0.0).to_numpy()
        for model in MODELS[:-1]:
            w = rule_weights(conv, model).to_numpy() * v
            table[f"{model} revenue"] = (
                pd.Series(w, index=conv.index).groupby(conv["channel"]).sum()
            )
        # the Markov split of revenue comes from the paths whose value is known: a converted
        # lead with NaN value (its window is not complete) would otherwise give its channel a
        # share of revenue that other leads earned
        t = paths.touches
        known = ~t["converted"] | values.reindex(t["lead_id"]).notna().to_numpy()
        share = markov_removal(t[known.to_numpy()].reset_index(drop=True))
        total = float(values.reindex(conv["lead_id"].unique()).sum())  # NaN skipped
        table["markov revenue"] = share.reindex(table.index).fillna(0.0) * total
    return table.fillna(0.0).sort_index()
