"""Multi-touch attribution of conversions to channels, from touch paths.

Rule-based models (first touch, last touch, linear, time decay, position based) and the
first-order Markov removal effect. Written here because the maintained options are GPL-3
(ChannelAttribution) or alpha quality (mta); the Markov model is a small absorbing-chain solve.

A path is the ordered channels of a lead's touches inside the conversion window before its
conversion (or before its loss for leads lost by the analysis date), built in the engine of
the data (:func:`helpers.attribution_paths.build_paths`). Touches after the
conversion are ignored. Leads still open on the analysis date (neither converted nor lost) are
left out: they are not non-converters yet. Paths longer than ``max_touches`` keep their last
touches (reported). Every model needs of a path only its steps (a touch's channel, position,
the path's length, the next touch's channel, the outcome, weights and value), so the engine
sums the touches per step and the models here work on that small table (:func:`attribute`);
:func:`~helpers.attribution_paths.path_touches` shows the touches themselves.

The study step is :func:`attribute_conversions`: conversions of the chosen key action, their
paths, the credit and revenue of each channel under every model, and the spend per attributed
conversion (an :class:`Attribution`), or a :class:`~helpers.steps.Skipped` when the data has
no touchpoints table. The conversions and the revenue after them are in
:mod:`helpers.attribution_value`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from helpers import formats
from helpers.attribution_paths import Paths, build_paths
from helpers.attribution_paths import path_touches as path_touches
from helpers.attribution_value import ACTIONS as ACTIONS
from helpers.attribution_value import conversion_times, revenue_after_conversion
from helpers.features import orders_table
from helpers.steps import Skipped, step

if TYPE_CHECKING:
    from helpers.loading import Dataset

MODELS: tuple[str, ...] = (
    "first touch",
    "last touch",
    "linear",
    "time decay",
    "position based",
    "markov",
)


def rule_weights(position: np.ndarray, n: np.ndarray, model: str, ends: float = 0.4) -> np.ndarray:
    """Credit of a touch at ``position`` (0 = first) of a converting path of ``n`` touches
    under a position rule (sums to 1 over a path): first touch, last touch, linear, or
    position based (``ends`` to the first and to the last touch each, the rest shared by the
    middle). Time decay depends on each touch's time, not its position: its weights are
    summed in the engine (:func:`build_paths`, ``decay``)."""
    pos, n = np.asarray(position), np.asarray(n)
    if model == "first touch":
        return (pos == 0).astype(float)
    if model == "last touch":
        return (pos == n - 1).astype(float)
    if model == "linear":
        return 1.0 / n
    if model == "position based":
        middle = np.where(n > 2, (1 - 2 * ends) / np.maximum(n - 2, 1), 0.0)
        return np.where(
            n == 1, 1.0, np.where(n == 2, 0.5, np.where((pos == 0) | (pos == n - 1), ends, middle))
        )
    if model == "time decay":
        raise ValueError("time decay weights depend on each touch's time (Paths.steps' decay)")
    raise ValueError(f"unknown rule-based model {model!r}; use one of {MODELS[:-1]}")


def markov_removal(steps: pd.DataFrame) -> pd.Series:
    """Share of conversions credited to each channel by the Markov removal effect: how much
    the modelled conversion probability drops when the channel is removed from the paths (an
    association in the observed journeys, not a measured causal effect).

    ``steps`` are :attr:`Paths.steps` (or some of them): touches counted per channel, next
    channel, position, path length and outcome. States: start, each channel, conversion,
    null. Transition probabilities are the counts of first touches (from start), of
    consecutive touches (repeats of a channel kept) and of last touches (to conversion or
    null) over all paths. P(conversion from start) solves the absorbing chain
    ``(I - Q) x = r``. Removing a channel sends its traffic to null; its removal effect is
    ``1 - P_without / P``; effects are normalised to sum to 1. Channels: those of ``steps``,
    sorted.
    """
    if steps.empty or not steps["touches"].any():
        return pd.Series(dtype=float)
    steps = steps[steps["touches"] > 0]
    names = np.array(sorted(set(steps["channel"])), dtype=object)
    k = len(names)
    index = {name: i for i, name in enumerate(names)}
    ch = steps["channel"].map(index).to_numpy(dtype=np.int64)
    count = steps["touches"].to_numpy(dtype=float)  # whole counts: sums are exact
    position, n = steps["position"].to_numpy(), steps["n"].to_numpy()
    first, last = position == 0, position == n - 1
    conv = steps["converted"].to_numpy(dtype=bool)
    inner = ~last
    nxt = steps["next_channel"][inner].map(index).to_numpy(dtype=np.int64)

    def counted(rows: np.ndarray, at: np.ndarray, size: int) -> np.ndarray:
        return np.bincount(at, weights=count[rows], minlength=size)

    start = counted(first, ch[first], k)
    trans = counted(inner, ch[inner] * k + nxt, k * k).reshape(k, k)
    to_conv = counted(last & conv, ch[last & conv], k)
    to_null = counted(last & ~conv, ch[last & ~conv], k)
    return _removal(names, start, trans, to_conv, to_null)


def _removal(
    names: np.ndarray,
    start: np.ndarray,
    trans: np.ndarray,
    to_conv: np.ndarray,
    to_null: np.ndarray,
) -> pd.Series:
    """:func:`markov_removal` from the counts: of first touches per channel (``start``), of
    transitions channel x channel (``trans``), of last touches of converting and of other
    paths per channel."""
    channels = list(names)
    k = len(channels)
    out_total = trans.sum(axis=1) + to_conv + to_null
    q = trans / np.maximum(out_total, 1)[:, None]
    r = to_conv / np.maximum(out_total, 1)
    s = start / start.sum()

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


def attribute(paths: Paths) -> pd.DataFrame:
    """Attributed conversions per channel and model: a table with one column per model and,
    when the paths were built with values, one ``<model> revenue`` column each (currency). A
    converted lead whose value is not known yet adds no revenue under any model.

    Computed from the paths' steps (:attr:`Paths.steps`): a position rule's credit of a
    channel is the sum over its steps of touches x weight(position, n), its revenue the sum of
    value x weight; time decay's are the engine's sums; Markov's are the removal shares of all
    paths times the conversions, and for revenue the shares of the paths of known value times
    their revenue."""
    steps = paths.steps
    conv = steps[steps["converted"]]
    channel = conv["channel"].to_numpy()
    position, n = conv["position"].to_numpy(), conv["n"].to_numpy()
    touches, value = conv["touches"].to_numpy(dtype=float), conv["value"].to_numpy()

    def per_channel(amount: np.ndarray) -> pd.Series:
        return pd.Series(amount, dtype=float).groupby(channel).sum().rename_axis("channel")

    out, booked = {}, {}
    for model in MODELS[:-1]:
        if model == "time decay":
            credit, revenue = conv["decay"].to_numpy(), conv["decay_value"].to_numpy()
        else:
            w = rule_weights(position, n, model)
            credit, revenue = touches * w, value * w
        out[model] = per_channel(credit)
        booked[f"{model} revenue"] = per_channel(revenue)
    out["markov"] = markov_removal(steps) * paths.n_converted
    table = pd.DataFrame(out).fillna(0.0)
    if paths.valued:
        for column, sums in booked.items():
            table[column] = sums
        # the Markov split of revenue comes from the paths whose value is known: a converted
        # lead whose value is not known (its window is not complete) would otherwise give its
        # channel a share of revenue that other leads earned
        share = markov_removal(steps[steps["known"]])
        total = float(conv.loc[conv["position"] == 0, "value"].sum())
        table["markov revenue"] = share.reindex(table.index).fillna(0.0) * total
    table.index.name = None
    return table.fillna(0.0).sort_index()


# --- the study step ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Attribution:
    """Conversions and revenue credited to channels under every model (:data:`MODELS`).

    ``credit``: attributed conversions, channel x model (each model hands out
    ``paths.n_converted`` conversions). ``revenue``: attributed revenue (currency), channel x
    model, from the ``valued`` conversions whose ``revenue_days`` window is complete;
    ``pending`` conversions are too recent and add no revenue. ``spend_per_conversion``:
    spend / attributed conversions per paid channel and model (currency; the CAC when the
    action is ``"won"``), Skipped without spend. ``action``, ``max_touches`` and
    ``revenue_days`` are the settings the result was computed with.
    """

    paths: Paths
    credit: pd.DataFrame
    revenue: pd.DataFrame
    spend_per_conversion: pd.DataFrame | Skipped
    valued: int
    pending: int
    action: str
    max_touches: int
    revenue_days: int


@step("Spend per attributed conversion")
def spend_per_conversion(credit: pd.DataFrame, costs: pd.DataFrame) -> pd.DataFrame:
    """Spend over the reporting period divided by the conversions each model attributes to a
    paid channel (currency per conversion), channel x model. ``credit`` is channel x model
    conversions, ``costs`` the table of :func:`helpers.channels.volume_and_cost` (``paid``,
    ``spend``). A paid channel with no credit under a model is NaN (no division by zero);
    channels without spend are left out."""
    paid = costs.index[costs["paid"]]
    return (
        credit[list(MODELS)]
        .reindex(paid)
        .replace(0, float("nan"))
        .rdiv(costs.loc[paid, "spend"], axis=0)
    )


@step("Attribution", optional=("costs",))
def attribute_conversions(
    ds: Dataset,
    leads: pd.DataFrame,
    as_of: pd.Timestamp,
    costs: pd.DataFrame | Skipped,
    *,
    action: str = "won",
    window_days: int = 90,
    max_touches: int = 20,
    revenue_days: int = 365,
) -> Attribution | Skipped:
    """Attribute the reporting period's conversions to channels (an :class:`Attribution`).

    ``leads`` are the period's leads; a conversion is the key ``action`` up to ``as_of``
    (:func:`conversion_times`); a path holds the lead's touches in the ``window_days`` before
    it (:func:`build_paths`, at most ``max_touches``); each converted lead is worth its
    account's revenue in the ``revenue_days`` after converting (:func:`revenue_after_conversion`).
    ``costs`` (may be Skipped) gives the spend per attributed conversion. Skipped when the
    data has no touchpoints table or no converting lead has a touch in its window.
    """
    if not ds.has("touchpoints"):
        return Skipped(
            "the data has no touchpoints table",
            "export touchpoints to credit conversions to the channels along the journey",
        )
    conv = conversion_times(ds, action, as_of).reindex(leads["lead_id"])
    # each converted lead's worth: its account's revenue after converting, summed in the engine
    # (not read into pandas); without orders the paths are still counted, then the step stops
    value = None
    if ds.has("orders"):
        value = revenue_after_conversion(
            leads, orders_table(ds), conv, as_of, revenue_days, ds.engine
        )
    # the three columns the paths use, as an engine table: read from the cache, DuckDB scans
    # them in place (at 1M accounts the 36M touchpoints took 1.9 GB as pandas columns here);
    # only the paths' sums per step come back
    paths = build_paths(
        ds.engine_table("touchpoints", ["lead_id", "channel", "touched_at"]),
        leads,
        conv,
        as_of,
        window_days,
        max_touches,
        engine=ds.engine,
        values=value,
    )
    if paths.n_converted == 0:
        return Skipped(
            f"no converting lead has a touch in the {window_days} days before converting",
            "a longer WINDOW_DAYS or another CONVERSION_ACTION may find paths",
        )
    ds.require("orders", purpose="this step")
    table = attribute(paths)
    credit = table[list(MODELS)]
    revenue = table[[f"{m} revenue" for m in MODELS]].set_axis(list(MODELS), axis=1)
    return Attribution(
        paths=paths,
        credit=credit,
        revenue=revenue,
        spend_per_conversion=spend_per_conversion(credit=credit, costs=costs),
        # (on arrays: both are the leads' in order; aligning their text indexes hashed them)
        valued=int((conv.notna().to_numpy() & value.notna().to_numpy()).sum()),
        pending=int(value.isna().sum()),
        action=action,
        max_touches=max_touches,
        revenue_days=revenue_days,
    )


MEASURES: tuple[str, ...] = ("conversions", "revenue", "spend per conversion")


@step("Attribution")
def by_model(
    att: Attribution, measure: str, names: Mapping[str, str] | None = None
) -> pd.DataFrame | Skipped:
    """One table of ``att``, channel x model: ``"conversions"`` (attributed conversions),
    ``"revenue"`` (currency) or ``"spend per conversion"`` (currency; Skipped without
    spend); channels by display name when ``names`` is given (the data source's overrides;
    ``{}`` for the built-in names), by code otherwise. A skipped attribution passes through,
    so a notebook cell can show it either way. Format its cells with :func:`cell_format`."""
    tables = {
        "conversions": att.credit,
        "revenue": att.revenue,
        "spend per conversion": att.spend_per_conversion,
    }
    if measure not in tables:
        raise ValueError(f"measure must be one of {', '.join(MEASURES)}, got {measure!r}")
    table = tables[measure]
    if names is None or isinstance(table, Skipped):
        return table
    return formats.display_names(table, names).rename_axis("channel")


def cell_format(measure: str, currency: str | None = None) -> Callable[[Any], str]:
    """How a cell of :func:`by_model`'s ``measure`` reads: conversions as whole counts, revenue
    and spend per conversion as money in ``currency``."""
    if measure == "conversions":
        return formats.count
    return lambda value: formats.money(value, currency)


@step("Attribution")
def paths_sentence(att: Attribution) -> str:
    """How many paths were built, how many convert, how many were cut (said only when some
    were), and how many open leads were left out."""
    p, cap = att.paths, att.max_touches
    cut = (
        f"; {p.truncated:,} {'path' if p.truncated == 1 else 'paths'} longer than {cap} "
        f"touches {'was cut to its' if p.truncated == 1 else 'were cut to their'} last {cap}"
        if p.truncated
        else ""
    )
    head = f"{p.n_paths:,} paths, {p.n_converted:,} converting{cut}; "
    if p.no_lost:
        return head + (
            "the data has no lost dates, so no lead can be told open: each lead not converted "
            "counts as a non-converter, its path ending on the analysis date."
        )
    return head + (
        f"{p.open:,} leads still open on the analysis date were left out (not yet converted "
        "or lost)."
    )


@step("Attribution")
def credit_sentence(
    att: Attribution,
    model: str,
    *,
    currency: str | None = None,
    names: Mapping[str, str] | None = None,
) -> str:
    """Which channel earns most credit under ``model`` (conversions and revenue in
    ``currency``), and where first and last touch disagree most; channels by display name."""
    if model not in MODELS:
        raise ValueError(f"HEADLINE_MODEL must be one of {', '.join(MODELS)}, got {model!r}")
    credit = att.credit
    top = credit[model].idxmax()
    split = (credit["first touch"] - credit["last touch"]).abs().idxmax()
    return (
        f"Under the {model} model, {formats.display_name(top, names)} earns most credit "
        f"({formats.count(credit.loc[top, model])} conversions, "
        f"{formats.money(att.revenue.loc[top, model], currency)} of revenue); first- and "
        f"last-touch disagree most on {formats.display_name(split, names)}."
    )


@step("Attribution")
def revenue_sentence(att: Attribution) -> str:
    """What attributed revenue counts, and how many recent conversions it leaves out."""
    return (
        f"Attributed revenue: the converted accounts' orders in their first {att.revenue_days} "
        f"days, for the {att.valued:,} conversions at least that old ({att.pending:,} more "
        "recent ones are left out: their window is not complete)."
    )


@step("Attribution")
def spend_sentence(att: Attribution) -> str:
    """What the spend-per-conversion table divides by (the key action of ``att``)."""
    return (
        f"Spend per attributed conversion ({att.action.replace('_', ' ')}) under each model "
        "(the CAC when the conversion is a won deal):"
    )
