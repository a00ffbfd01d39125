"""How a channel's leads move through the funnel, and how fast they are decided.

Stages in order: :data:`STAGES` (a lead's ``<stage>_date`` is set when it reached the stage);
*intent* is an inquiry (the prospect asked about a product), *won* a new customer. Rates are
shares 0-1 with Wilson intervals; durations in days.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from helpers.steps import Skipped, step

if TYPE_CHECKING:
    from lifelines import KaplanMeierFitter

STAGES: tuple[str, ...] = ("intent", "proposal", "negotiation", "won")


# --- conversion by stage -----------------------------------------------------------------------


@step("The funnel")
def conversion(
    leads: pd.DataFrame, as_of: pd.Timestamp, mature_days: int = 365, alpha: float = 0.05
) -> pd.DataFrame | Skipped:
    """Stage-to-stage conversion per channel with Wilson intervals (one row per channel and
    stage of :data:`STAGES`; shares 0-1).

    Only leads created at least ``mature_days`` before ``as_of`` count (their outcome is
    known: open deals would bias rates down). When the leads have a ``lost_date``, a mature
    lead still open on ``as_of`` (neither won nor lost) is left out of the stage it has not
    reached yet (``open`` counts them): it is not a non-converter yet. ``rate`` at a stage is
    the share of leads that reached the previous stage (or were created, for intent) and
    reached this one; ``share_of_leads`` the share of all the channel's leads that reached it.
    Stage dates after ``as_of`` must already be masked. Skipped when no lead is that old.
    """
    mature = leads[leads["created_date"] <= as_of - pd.Timedelta(days=mature_days)]
    if mature.empty:
        return Skipped(
            f"no lead in the selection was created {mature_days} days before {as_of:%Y-%m-%d}",
            "a smaller MATURE_DAYS gives rates from younger, partly open leads",
        )
    rows = []
    for ch, part in mature.groupby("source_channel"):
        base = len(part)
        reached_prev = np.ones(len(part), bool)
        is_open = (
            (part["won_date"].isna() & part["lost_date"].isna()).to_numpy()
            if "lost_date" in part.columns
            else np.zeros(len(part), bool)
        )
        for stage in STAGES:
            reached = part[f"{stage}_date"].notna().to_numpy() & reached_prev
            pending = reached_prev & ~reached & is_open
            n, k = int((reached_prev & ~pending).sum()), int(reached.sum())
            lo, hi = proportion_confint(k, n, alpha=alpha, method="wilson") if n else (np.nan,) * 2
            rows.append(
                {
                    "channel": ch,
                    "stage": stage,
                    "entered": n,
                    "converted": k,
                    "open": int(pending.sum()),
                    "rate": k / n if n else float("nan"),
                    "low": lo,
                    "high": hi,
                    "share_of_leads": k / base if base else float("nan"),
                }
            )
            reached_prev = reached
    return pd.DataFrame(rows)


@step("The funnel")
def rates(fun: pd.DataFrame) -> pd.DataFrame:
    """Stage-to-stage rates (0-1) of :func:`conversion`, channel x stage in :data:`STAGES` order."""
    return fun.pivot(index="channel", columns="stage", values="rate")[list(STAGES)]


@step("The funnel")
def shares(fun: pd.DataFrame) -> pd.DataFrame:
    """Share of each channel's leads (0-1) reaching each stage, stage x channel (stages in
    :data:`STAGES` order), for the funnel chart."""
    return fun.pivot(index="stage", columns="channel", values="share_of_leads").loc[list(STAGES)]


@step("The funnel")
def close_sentence(fun: pd.DataFrame) -> str:
    """Which channel's negotiations close best (``fun`` as :func:`conversion`), with the
    Wilson interval and the number of negotiations behind the rate."""
    won = fun[(fun["stage"] == "won") & (fun["entered"] > 0)].set_index("channel")
    if won.empty:
        return "No mature lead reached a negotiation."
    best = won["rate"].idxmax()
    r = won.loc[best]
    return (
        f"Negotiations from {best} close best ({r['rate']:.0%} won, 95% interval "
        f"{r['low']:.0%}–{r['high']:.0%}, of {int(r['entered']):,} negotiations)."
    )


@dataclass(frozen=True)
class DecisionTimes:
    """Kaplan-Meier fits of days from lead to decision per channel (``fits``) and their
    medians in days (``medians``; inf when fewer than half are decided)."""

    fits: dict[str, KaplanMeierFitter]
    medians: pd.Series


def time_to_decision(leads: pd.DataFrame, as_of: pd.Timestamp) -> DecisionTimes:
    """Kaplan-Meier fits of days from lead creation to the decision (won or lost) per channel,
    open deals censored at ``as_of``; and the median days. The decision date is used, not the
    won date alone, because lost deals never close-won: censoring them would treat them as
    still open (in the demo, time to decision does not depend on the outcome)."""
    from lifelines import KaplanMeierFitter

    decided = leads["won_date"].fillna(leads["lost_date"])
    end = decided.fillna(as_of)
    days = (end - leads["created_date"]).dt.days.clip(lower=0)
    event = decided.notna().astype(int)
    fits, medians = {}, {}
    for ch in sorted(leads["source_channel"].unique()):
        m = (leads["source_channel"] == ch).to_numpy()
        fits[ch] = KaplanMeierFitter(label=ch).fit(days[m], event[m])
        medians[ch] = float(fits[ch].median_survival_time_)
    return DecisionTimes(fits, pd.Series(medians, name="median_days_to_decision", dtype=float))


def decision_sentence(times: DecisionTimes) -> str:
    """The range of median days to decision over channels ("not reached" when fewer than
    half of a channel's leads are decided)."""
    reached = times.medians[np.isfinite(times.medians)]
    if reached.empty:
        return "Fewer than half of each channel's leads are decided: no median is reached."
    text = (
        f"Median days to decision range from {reached.min():.0f} ({reached.idxmin()}) to "
        f"{reached.max():.0f} ({reached.idxmax()})"
    )
    open_ = times.medians.index.difference(reached.index)
    return text + (f"; not reached for {', '.join(open_)}." if len(open_) else ".")
