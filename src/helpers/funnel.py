"""How a channel's leads move through the funnel, and how fast they are decided.

Stages in order: :data:`STAGES` (a lead's ``<stage>_date`` is set when it reached the stage);
*intent* is an inquiry (the prospect asked about a product), *won* a new customer. Rates are
shares 0-1 with Wilson intervals; durations in days. The counts behind the rates (leads per
channel and stage) run in the engine of the data (:mod:`helpers.engine`; DuckDB by default) as
one Ibis aggregation; pandas receives the per-channel counts.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
from statsmodels.stats.proportion import proportion_confint

from helpers import engine as engines
from helpers import formats
from helpers.features import as_table
from helpers.steps import Skipped, step

if TYPE_CHECKING:
    from lifelines import KaplanMeierFitter

STAGES: tuple[str, ...] = ("intent", "proposal", "negotiation", "won")

#: The channel of a lead whose source channel is empty (as the loader's ``fill`` names it).
NO_CHANNEL = "unknown"

#: The youngest a lead may be to count in the funnel rates, in days, however short the history.
MIN_MATURE_DAYS = 30


def channel_of(leads: pd.DataFrame) -> pd.Series:
    """The leads' source channel, empty ones named :data:`NO_CHANNEL`: Arrow-backed text
    stays so (filled in Arrow: a Python string per lead cost seconds at 1M accounts and made
    every later comparison a Python one); any other column as object text."""
    column = leads["source_channel"]
    if isinstance(getattr(column.array, "_pa_array", None), pa.ChunkedArray):
        return column.fillna(NO_CHANNEL)
    return column.astype("object").where(column.notna(), NO_CHANNEL)


def _dated(leads: pd.DataFrame) -> pd.DataFrame:
    """Whether each lead has a date for each stage of :data:`STAGES` (a missing column: no)."""
    return pd.DataFrame(
        {s: leads[f"{s}_date"].notna() if f"{s}_date" in leads.columns else False for s in STAGES},
        index=leads.index,
    ).astype(bool)


def reached_stages(leads: pd.DataFrame) -> pd.DataFrame:
    """Whether each lead reached each stage of :data:`STAGES` (bool, one column per stage).

    A stage counts as reached when its ``<stage>_date`` is set *or a later stage is dated*: a
    won lead without a proposal date did pass the proposal (exports often keep only the
    creation and the won date). A stage column the leads lack counts as empty.
    """
    dated = _dated(leads)
    # reached = dated here or at any later stage: a cumulative "or" from the last stage back
    return dated[list(STAGES[::-1])].cummax(axis=1)[list(STAGES)].astype(bool)


def undated_stages(leads: pd.DataFrame) -> int:
    """How many (lead, stage) pairs count as reached only because a later stage is dated
    (see :func:`reached_stages`); 0 when every reached stage has its own date."""
    return int((reached_stages(leads) & ~_dated(leads)).to_numpy().sum())


# --- conversion by stage -----------------------------------------------------------------------


_FUNNEL_COLUMNS = ("source_channel", "created_date", *(f"{s}_date" for s in STAGES), "lost_date")


def _stage_counts(mature: ibis.Table) -> ibis.Expr:
    """Per channel (sorted): ``leads``; ``lost`` (leads with a lost date); per stage of
    :data:`STAGES`, ``entered_<stage>`` (leads that reached the previous stage, all leads for
    the first), ``reached_<stage>``, ``open_<stage>`` (entered, did not reach it, neither won
    nor lost) and ``undated_<stage>`` (reached without its own date). The engine-side half of
    :func:`conversion`; "reached" as in :func:`reached_stages` (dated here or later)."""
    cols = mature.columns
    false = ibis.literal(False)
    dated = {s: mature[f"{s}_date"].notnull() if f"{s}_date" in cols else false for s in STAGES}
    reached, later = {}, false
    for s in STAGES[::-1]:  # a cumulative "or" from the last stage back
        later = reached[s] = dated[s] | later
    # so a lead that reached a stage reached every earlier one: "entered and reached" = reached
    not_won = mature.won_date.isnull() if "won_date" in cols else ibis.literal(True)
    not_lost = mature.lost_date.isnull() if "lost_date" in cols else ibis.literal(True)
    is_open = not_won & not_lost
    counts = {"leads": mature.count(), "lost": mature.count(where=~not_lost)}
    previous = ibis.literal(True)
    for s in STAGES:
        counts[f"entered_{s}"] = mature.count(where=previous)
        counts[f"reached_{s}"] = mature.count(where=reached[s])
        counts[f"open_{s}"] = mature.count(where=previous & ~reached[s] & is_open)
        counts[f"undated_{s}"] = mature.count(where=reached[s] & ~dated[s])
        previous = reached[s]
    channel = mature.source_channel.cast("string").fill_null(NO_CHANNEL)
    return mature.group_by(channel=channel).aggregate(**counts).order_by("channel")


@step("The funnel")
def conversion(
    leads: pd.DataFrame,
    as_of: pd.Timestamp,
    mature_days: int = 365,
    alpha: float = 0.05,
    engine: engines.Engine | str | None = None,
) -> pd.DataFrame | Skipped:
    """Stage-to-stage conversion per channel with Wilson intervals (one row per channel and
    stage of :data:`STAGES`; shares 0-1).

    Only leads created at least ``mature_days`` before ``as_of`` count (their outcome is
    known: open deals would bias rates down); with a shorter history of leads (days from the
    first lead to ``as_of``), at most a third of it (``attrs["mature_days"]`` says which),
    and Skipped below :data:`MIN_MATURE_DAYS`. When the leads have lost dates, a mature
    lead still open on ``as_of`` (neither won nor lost) is left out of the stage it has not
    reached yet (``open`` counts them): it is not a non-converter yet. ``rate`` at a stage is
    the share of leads that reached the previous stage (or were created, for intent) and
    reached this one; ``share_of_leads`` the share of all the channel's leads that reached it.
    Stage dates after ``as_of`` must already be masked. Skipped when no lead is that old.
    The counts per channel and stage run in the engine (``engine``; None: the one ``leads``
    carries, else DuckDB; see :mod:`helpers.engine`); only the per-channel counts come back.

    A stage counts as reached when a later stage is dated (:func:`reached_stages`): ``undated``
    counts those leads per stage, and a warning gives the total. Leads with an empty source
    channel form the channel :data:`NO_CHANNEL`.
    """
    engine = engines.resolve(engine, leads)
    t = as_table(leads, _FUNNEL_COLUMNS, engine)
    t = t.mutate(created_date=t.created_date.cast("timestamp"))
    day = ibis.literal(as_of.to_pydatetime(), type="timestamp")
    first = engines.to_pandas(
        t.aggregate(first=t.created_date.min(where=t.created_date <= day)), engine
    )
    known = pd.Timestamp(first["first"].iloc[0]) if first["first"].notna().iloc[0] else None
    history = int((as_of - known).days) if known is not None else 0
    if history // 3 < mature_days:  # a shorter history: a third of it
        if history // 3 < MIN_MATURE_DAYS:
            return Skipped(
                f"the funnel needs {3 * MIN_MATURE_DAYS} days of lead history, the data has "
                f"{history}",
                f"rates count leads at least {MIN_MATURE_DAYS} days old, whose deals are decided",
            )
        mature_days = history // 3
    cutoff = ibis.literal((as_of - pd.Timedelta(days=mature_days)).to_pydatetime(), "timestamp")
    counts = engines.to_pandas(_stage_counts(t.filter(t.created_date <= cutoff)), engine)
    if counts.empty:
        return Skipped(
            f"no lead in the selection was created {mature_days} days before {as_of:%Y-%m-%d}",
            "a smaller MATURE_DAYS gives rates from younger, partly open leads",
        )
    inferred = int(sum(counts[f"undated_{s}"].sum() for s in STAGES))
    if inferred:
        warnings.warn(
            f"{inferred:,} stage(s) of mature leads have no date but a later stage is dated: "
            "counted as reached",
            stacklevel=3,
        )
    # without any lost date a lead not won cannot be told open from lost: none is "open"
    has_lost = bool(counts["lost"].sum() > 0)
    rows = []
    for row in counts.itertuples(index=False):
        c = row._asdict()
        base = int(c["leads"])
        for stage in STAGES:
            k, pending = int(c[f"reached_{stage}"]), int(c[f"open_{stage}"]) if has_lost else 0
            n = int(c[f"entered_{stage}"]) - pending
            lo, hi = proportion_confint(k, n, alpha=alpha, method="wilson") if n else (np.nan,) * 2
            rows.append(
                {
                    "channel": c["channel"],
                    "stage": stage,
                    "entered": n,
                    "converted": k,
                    "open": pending,
                    "undated": int(c[f"undated_{stage}"]),
                    "rate": k / n if n else float("nan"),
                    "low": lo,
                    "high": hi,
                    "share_of_leads": k / base if base else float("nan"),
                }
            )
    out = pd.DataFrame(rows)
    out.attrs["mature_days"] = mature_days
    out.attrs["history_days"] = history
    return out


@step("The funnel")
def rates(fun: pd.DataFrame) -> pd.DataFrame:
    """Stage-to-stage rates (0-1) of :func:`conversion`, channel x stage in :data:`STAGES` order."""
    return fun.pivot(index="channel", columns="stage", values="rate")[list(STAGES)]


@step("The funnel")
def rate_table(rates: pd.DataFrame, names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """:func:`rates` for readers: channels by display name (``names``: the data source's
    overrides), stages as columns; every cell a share 0-1 (format with
    :func:`helpers.formats.share`)."""
    return formats.display_names(rates, names).rename_axis("channel").rename_axis(None, axis=1)


@step("The funnel")
def shares(fun: pd.DataFrame) -> pd.DataFrame:
    """Share of each channel's leads (0-1) reaching each stage, stage x channel (stages in
    :data:`STAGES` order), for the funnel chart."""
    return fun.pivot(index="stage", columns="channel", values="share_of_leads").loc[list(STAGES)]


@step("The funnel")
def close_sentence(
    fun: pd.DataFrame, alpha: float = 0.05, *, names: Mapping[str, str] | None = None
) -> str:
    """Which channel's negotiations close best (``fun`` as :func:`conversion`), with the
    Wilson interval and the number of negotiations behind the rate; channels by display name
    (``names``: the data source's overrides).

    When the data dates no negotiation at all (every negotiation counts as reached only
    because the deal was won), the close rate would be 100% by construction: the sentence
    gives the channel whose mature leads are won most often instead. Stages counted as
    reached without their own date are counted in a second sentence."""
    undated = int(fun["undated"].sum()) if "undated" in fun.columns else 0
    days, history = fun.attrs.get("mature_days"), fun.attrs.get("history_days")
    age = (
        f" Rates count leads at least {days} days old (a third of the {history}-day lead history)."
        if days and history and days == history // 3
        else ""
    )
    note = age + (
        f" {undated:,} stage(s) of mature leads have no date and count as reached because a "
        "later stage is dated."
        if undated
        else ""
    )
    won = fun[(fun["stage"] == "won") & (fun["entered"] > 0)].set_index("channel")
    if won.empty:
        return "No mature lead reached a negotiation." + note
    neg = fun[fun["stage"] == "negotiation"]
    if "undated" in fun.columns and (neg["undated"] == neg["converted"]).all():
        base = fun[fun["stage"] == "intent"].set_index("channel")["entered"]
        rate = (won["converted"] / base.loc[won.index]).astype(float)
        best = rate.idxmax()
        k, n = int(won.loc[best, "converted"]), int(base.loc[best])
        lo, hi = proportion_confint(k, n, alpha=alpha, method="wilson")
        which = "are won most often" if len(rate) > 1 else "are won"
        return (
            f"The data dates no negotiation: mature leads from "
            f"{formats.display_name(best, names)} {which} "
            f"({k / n:.0%} of {n:,} leads, 95% interval {lo:.0%}–{hi:.0%})." + note
        )
    best = won["rate"].idxmax()
    r = won.loc[best]
    return (
        f"Negotiations from {formats.display_name(best, names)} close best "
        f"({r['rate']:.0%} won, 95% interval "
        f"{r['low']:.0%}–{r['high']:.0%}, of {int(r['entered']):,} negotiations)." + note
    )


@dataclass(frozen=True)
class DecisionTimes:
    """Kaplan-Meier fits of days from lead to decision per channel (``fits``) and their
    medians in days (``medians``; inf when fewer than half are decided: say "not reached").
    ``decision`` names the event: ``"decision"`` (won or lost) or ``"won"`` when the data
    has no lost dates."""

    fits: dict[str, KaplanMeierFitter]
    medians: pd.Series
    decision: str = "decision"


@step("Time to decision")
def time_to_decision(leads: pd.DataFrame, as_of: pd.Timestamp) -> DecisionTimes:
    """Kaplan-Meier fits of days from lead creation to the decision (won or lost) per channel,
    open deals censored at ``as_of``; and the median days. The decision date is used, not the
    won date alone, because lost deals never close-won: censoring them would treat them as
    still open (in the demo, time to decision does not depend on the outcome).

    Without lost dates (no ``lost_date`` column, or none set) the event is the win: time to
    won, every lead not won censored at ``as_of`` (``decision="won"``). Leads with an empty
    source channel form the channel :data:`NO_CHANNEL`."""
    from lifelines import KaplanMeierFitter

    lost = leads["lost_date"] if "lost_date" in leads.columns else None
    has_lost = lost is not None and bool(lost.notna().any())
    decided = leads["won_date"].fillna(lost) if has_lost else leads["won_date"]
    end = decided.fillna(as_of)
    days = (end - leads["created_date"]).dt.days.clip(lower=0)
    event = decided.notna().astype(int)
    channel = channel_of(leads)
    fits, medians = {}, {}
    for ch in sorted(channel.unique()):
        m = (channel == ch).to_numpy()
        fits[ch] = KaplanMeierFitter(label=ch).fit(days[m], event[m])
        medians[ch] = float(fits[ch].median_survival_time_)
    return DecisionTimes(
        fits,
        pd.Series(medians, name="median_days_to_decision", dtype=float),
        "decision" if has_lost else "won",
    )


@step("Time to decision")
def decision_sentence(times: DecisionTimes, *, names: Mapping[str, str] | None = None) -> str:
    """The range of median times to decision over channels (:func:`helpers.formats.days`;
    "not reached" when fewer than half of a channel's leads are decided); without lost dates,
    time to won, and says so. Channels by display name (``names``: the data source's
    overrides)."""
    what = times.decision
    note = (
        " The data has no lost dates: time to decision is time to won, leads not won are "
        "censored at the analysis date."
        if what == "won"
        else ""
    )
    reached = times.medians[np.isfinite(times.medians)]
    if reached.empty:
        done = "decided" if what == "decision" else "won"
        return (
            f"Fewer than half of each channel's leads are {done}: the median time to {what} "
            "is not reached for any channel." + note
        )

    def name(code: str) -> str:
        return formats.display_name(code, names)

    text = (
        f"Median time to {what} ranges from {formats.days(reached.min())} "
        f"({name(reached.idxmin())}) to {formats.days(reached.max())} ({name(reached.idxmax())})"
        if len(times.medians) > 1
        else f"Median time to {what}: {formats.days(reached.iloc[0])} ({name(reached.index[0])})"
    )
    open_ = [name(c) for c in times.medians.index.difference(reached.index)]
    return text + (f"; not reached for {', '.join(open_)}." if open_ else ".") + note
