"""Multi-touch attribution of conversions to channels, from touch paths.

Rule-based models (first touch, last touch, linear, time decay, position based) and the
first-order Markov removal effect. Written here because the maintained options are GPL-3
(ChannelAttribution) or alpha quality (mta); the Markov model is a small absorbing-chain solve.

A path is the ordered channels of a lead's touches inside the conversion window before its
conversion (or before its loss for leads lost by the analysis date), built in the engine of
the data (:func:`helpers.attribution_paths.build_paths`). Touches after the
conversion are ignored. Leads still open on the analysis date (neither converted nor lost) are
left out: they are not non-converters yet. Paths longer than ``max_touches`` keep their last
touches (reported).

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
from helpers.attribution_codes import (
    channel_codes,
    factorize_paths,
    in_path_order,
    path_codes,
    reindex,
)
from helpers.attribution_paths import Paths, build_paths
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


def rule_weights(
    touches: pd.DataFrame,
    model: str,
    half_life_days: float = 7.0,
    ends: float = 0.4,
    codes: np.ndarray | None = None,
) -> pd.Series:
    """Credit of each touch of a converting path under a rule-based model (sums to 1 per path).
    ``codes`` (optional): :func:`path_codes` of the touches' lead ids, when already known."""
    pos, n = touches["position"].to_numpy(), touches["n"].to_numpy()
    if model == "first touch":
        w = (pos == 0).astype(float)
    elif model == "last touch":
        w = (pos == n - 1).astype(float)
    elif model == "linear":
        w = 1.0 / n
    elif model == "time decay":
        raw = 0.5 ** (touches["days_before"].to_numpy() / half_life_days)
        if codes is None:
            codes = path_codes(touches["lead_id"])[0]
        # grouped by the integer path codes, not the lead id strings: the same groups, and
        # pandas sums each group's rows in the same order, so the same floats
        w = raw / pd.Series(raw).groupby(codes).transform("sum").to_numpy()
    elif model == "position based":
        middle = np.where(n > 2, (1 - 2 * ends) / np.maximum(n - 2, 1), 0.0)
        w = np.where(
            n == 1, 1.0, np.where(n == 2, 0.5, np.where((pos == 0) | (pos == n - 1), ends, middle))
        )
    else:
        raise ValueError(f"unknown rule-based model {model!r}; use one of {MODELS[:-1]}")
    return pd.Series(w, index=touches.index, dtype=float)


def markov_removal(touches: pd.DataFrame) -> pd.Series:
    """Share of conversions credited to each channel by the Markov removal effect: how much
    the modelled conversion probability drops when the channel is removed from the paths (an
    association in the observed journeys, not a measured causal effect).

    States: start, each channel, conversion, null. Transition probabilities are counted from
    all paths (consecutive repeats of a channel kept), in path order whatever the row order
    of ``touches`` (sorted by lead and position first, unless they come so). P(conversion
    from start) solves the absorbing chain ``(I - Q) x = r``. Removing a channel sends its
    traffic to null; its removal effect is ``1 - P_without / P``; effects are normalised to
    sum to 1.
    """
    if touches.empty:
        return pd.Series(dtype=float)
    codes, _, ordered = factorize_paths(touches["lead_id"])
    if not (ordered and in_path_order(codes, touches["position"].to_numpy())):
        touches = touches.sort_values(["lead_id", "position"], kind="mergesort")
    ch, names = channel_codes(touches["channel"])
    return _markov(
        ch,
        names,
        touches["position"].to_numpy(),
        touches["n"].to_numpy(),
        touches["converted"].to_numpy().astype(bool),
    )


def _markov(
    ch: np.ndarray, names: np.ndarray, position: np.ndarray, n: np.ndarray, conv: np.ndarray
) -> pd.Series:
    """:func:`markov_removal` of touches in path order given as arrays: channel codes ``ch``
    (ranks among the channel ``names`` present), ``position``, path length ``n`` and whether
    the path ``conv``-erted."""
    channels = list(names)
    k = len(channels)
    first = position == 0
    last = position == n - 1
    # counts of whole touches: bincount gives the floats np.add.at gave, faster
    start_row = np.bincount(ch[first], minlength=k).astype(float)
    nxt = np.roll(ch, -1)
    inner = ~last
    trans = np.bincount(ch[inner] * k + nxt[inner], minlength=k * k).reshape(k, k).astype(float)
    to_conv = np.bincount(ch[last & conv], minlength=k).astype(float)
    to_null = np.bincount(ch[last & ~conv], minlength=k).astype(float)
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
    A NaN value means "not known yet": that lead adds no revenue under any model.

    The touches are grouped by integer codes (:mod:`helpers.attribution_codes`) rather than by their strings: the same groups, summed in the same row
    order, so the same floats as grouping by the strings, in a fraction of the time."""
    conv = paths.touches[paths.touches["converted"]]
    codes, lead_ids = path_codes(conv["lead_id"])
    ch, names = channel_codes(conv["channel"])

    def per_channel(w: np.ndarray) -> pd.Series:
        sums = pd.Series(w).groupby(ch).sum()
        return pd.Series(sums.to_numpy(), index=pd.Index(names[sums.index], name="channel"))

    touches = _PathArrays.of(paths.touches)
    v = None
    if values is not None:
        if touches.ordered:  # one lookup of every path's value; the converted ones are a part
            every = reindex(values, touches.ids)
            per_lead = every.iloc[np.flatnonzero(touches.converted_path)]
        else:
            per_lead = reindex(values, lead_ids)  # one value per path, then per touch
        v = per_lead.fillna(0.0).to_numpy()[codes]
    # one model's weights at a time (at 1M accounts each is 20M floats, 0.16 GB; all five
    # were kept until the revenue split)
    out, booked = {}, {}
    for model in MODELS[:-1]:
        w = rule_weights(conv, model, codes=codes).to_numpy()
        out[model] = per_channel(w)
        if v is not None:
            booked[f"{model} revenue"] = per_channel(w * v)
    out["markov"] = touches.markov() * paths.n_converted
    table = pd.DataFrame(out).fillna(0.0)
    if values is not None:
        for column, sums in booked.items():
            table[column] = sums
        # the Markov split of revenue comes from the paths whose value is known: a converted
        # lead with NaN value (its window is not complete) would otherwise give its channel a
        # share of revenue that other leads earned
        if not touches.ordered:
            every = reindex(values, touches.ids)
        known = ~touches.conv | every.notna().to_numpy()[touches.codes]
        share = touches.markov(known)
        total = float(per_lead.sum())  # NaN skipped; the leads in order of first appearance
        table["markov revenue"] = share.reindex(table.index).fillna(0.0) * total
    return table.fillna(0.0).sort_index()


@dataclass
class _PathArrays:
    """Every touch of the paths as arrays, coded once for the Markov models of
    :func:`attribute` (on all paths, then on those of known value): ``codes``/``ids`` as
    :func:`path_codes`; ``ordered`` when the touches come in path order (as
    :func:`build_paths` returns them), else the models take :func:`markov_removal`'s way on
    the frame; ``converted_path`` says per path (``ids``) whether it converted."""

    frame: pd.DataFrame
    codes: np.ndarray
    ids: Any
    ordered: bool
    conv: np.ndarray

    @classmethod
    def of(cls, touches: pd.DataFrame) -> _PathArrays:
        codes, ids, ordered = factorize_paths(touches["lead_id"])
        ordered = ordered and in_path_order(codes, touches["position"].to_numpy())
        conv = touches["converted"].to_numpy().astype(bool)
        return cls(touches, codes, ids, ordered, conv)

    @property
    def converted_path(self) -> np.ndarray:
        """Per path (in ``ids`` order): whether it converted (its first touch says)."""
        first = np.flatnonzero(np.r_[True, self.codes[1:] != self.codes[:-1]])
        return self.conv[first]

    def markov(self, keep: np.ndarray | None = None) -> pd.Series:
        """:func:`markov_removal` of the touches, or of those where ``keep`` (whole paths):
        on the arrays when ordered (the same channel codes a frame of those rows gets: the
        ranks among the channels present), else on the frame."""
        if not self.ordered or self.frame.empty:
            t = self.frame if keep is None else self.frame[keep].reset_index(drop=True)
            return markov_removal(t)
        ch, names = channel_codes(self.frame["channel"])
        position, n, conv = self.frame["position"].to_numpy(), self.frame["n"].to_numpy(), self.conv
        if keep is not None:
            if not keep.any():
                return pd.Series(dtype=float)
            present = np.bincount(ch[keep], minlength=len(names)) > 0
            ch, names = (np.cumsum(present) - 1)[ch[keep]], names[present]
            position, n, conv = position[keep], n[keep], conv[keep]
        return _markov(ch, names, position, n, conv)


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
    # the three columns the paths use, as an engine table: read from the cache, DuckDB scans
    # them in place (at 1M accounts the 36M touchpoints took 1.9 GB as pandas columns here);
    # made inside the call, so that an upload is freed when the paths are built
    paths = build_paths(
        ds.engine_table("touchpoints", ["lead_id", "channel", "touched_at"]),
        leads,
        conv,
        as_of,
        window_days,
        max_touches,
        engine=ds.engine,
    )
    if paths.n_converted == 0:
        return Skipped(
            f"no converting lead has a touch in the {window_days} days before converting",
            "a longer WINDOW_DAYS or another CONVERSION_ACTION may find paths",
        )
    # the order lines the revenue sums need, summed in the engine (not read into pandas)
    ds.require("orders", purpose="this step")
    orders = orders_table(ds)
    value = revenue_after_conversion(leads, orders, conv, as_of, revenue_days, ds.engine)
    table = attribute(paths, values=value)
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
