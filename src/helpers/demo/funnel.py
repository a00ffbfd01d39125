"""The demand side: spend and leads per channel and month, the stage funnel, the lead tables.

Times are float day offsets from ``START`` (whole days: every draw is floored or ceiled), so a
stage is in the export when its offset is at most ``window`` (the ``AS_OF`` offset). Every
function that takes ``rng`` draws from it in a fixed order; the generator calls them in a
fixed order, which is what makes the same seed give the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from helpers.demo.arrays import (
    Numbering,
    calendar_months,
    categorical,
    logistic,
    logit,
    to_dates,
)
from helpers.demo.parameters import (
    ARCHETYPE_MIX,
    ARCHETYPES,
    BUSINESS_LINES,
    CHANNELS,
    CPL,
    ELASTICITY,
    INDUSTRIES,
    LEAD_SHARE,
    MISSING_SPEND,
    QUALITY_EFFECT,
    REGIONS,
    SIZE_BANDS,
    SIZE_BANDS_BY_ARCHETYPE,
    SPEND_SIGMA,
    STAGE_DAYS,
    STAGE_P,
    STAGE_SHAPE,
    STAGES,
    START,
)


class SpendSeries(NamedTuple):
    """One paid channel's monthly spend (currency), impressions and clicks (counts)."""

    channel: str
    months: np.ndarray
    spend: np.ndarray
    impressions: np.ndarray
    clicks: np.ndarray


@dataclass(frozen=True)
class LeadFlow:
    """Leads in creation order: day offset of creation and index of the source channel.

    ``spend`` holds the paid channels' monthly spend series, in ``CHANNELS`` order.
    """

    created: np.ndarray
    channel_idx: np.ndarray
    spend: list[SpendSeries]

    @property
    def n_leads(self) -> int:
        """Number of leads created from ``START`` to ``AS_OF``."""
        return len(self.created)


@dataclass(frozen=True)
class Funnel:
    """Each lead's hidden quality and its way through the stages (arrays over leads).

    ``stage_time[:, k]`` is the day offset at which stage ``k`` (``STAGES``) is or would be
    reached; ``observed_stage[:, k]`` says it was reached on or before ``AS_OF``. The decision
    (won, or lost at the first failed stage) falls at ``decision_time``; ``won_obs`` and
    ``lost_obs`` mark decisions made on or before ``AS_OF`` (the rest are open deals).
    """

    quality: np.ndarray
    stage_time: np.ndarray
    observed_stage: np.ndarray
    decision_time: np.ndarray
    won_obs: np.ndarray
    lost_obs: np.ndarray


@dataclass(frozen=True)
class Prospects:
    """Attributes of each lead's company (indices into the parameter tuples) and its data quality.

    ``completeness`` is the share 0-1 of the lead record that is filled in (better leads fill in
    more); the rest are indices into ``ARCHETYPES``, ``SIZE_BANDS``, ``INDUSTRIES``, ``REGIONS``
    and ``BUSINESS_LINES``.
    """

    archetype: np.ndarray
    size: np.ndarray
    industry: np.ndarray
    region: np.ndarray
    business_line: np.ndarray
    completeness: np.ndarray


# --- planted marginal quantities -------------------------------------------------------------


def marginal_stage_rates(channel: str) -> dict[str, float]:
    """Planted stage-to-stage conversion rates of ``channel``, averaged over lead quality.

    ``rate[stage]`` is P(reach stage | reached the previous stage) for the population of
    leads, i.e. E[prod of pass probabilities up to the stage] / E[... up to the previous one]
    with quality ``q ~ N(0, 1)``, computed by 60-point Gauss-Hermite quadrature (exact to 1e-12).
    """
    nodes, weights = np.polynomial.hermite_e.hermegauss(60)
    weights = weights / weights.sum()
    base = logit(np.asarray(STAGE_P[channel]))
    reach = np.cumprod(logistic(base[:, None] + QUALITY_EFFECT * nodes[None, :]), axis=0)
    mean_reach = reach @ weights
    previous = np.concatenate([[1.0], mean_reach[:-1]])
    out = {s: float(r) for s, r in zip(STAGES, mean_reach / previous, strict=True)}
    out["lead_to_won"] = float(mean_reach[-1])
    return out


def lead_intensity(n_accounts: int) -> dict[str, float]:
    """Mean leads per month per channel (at mean spend) so that about ``n_accounts`` are won.

    Assumes the planted lead shares and marginal lead-to-won rates; leads created in the last
    months are often still open at ``AS_OF``, so the volume is inflated by 4%.
    """
    win = sum(LEAD_SHARE[c] * marginal_stage_rates(c)["lead_to_won"] for c in CHANNELS)
    total_leads = n_accounts / win
    # Leads created in the last months are often still open: inflate a little.
    total_leads *= 1.04
    months = len(calendar_months())
    return {c: total_leads * LEAD_SHARE[c] / months for c in CHANNELS}


# --- simulation steps --------------------------------------------------------------------------


def _monthly_spend(
    rng: np.random.Generator, channel: str, intensity: float, months: np.ndarray
) -> tuple[np.ndarray, SpendSeries]:
    """A paid channel's spend per month and the mean leads per month it buys.

    Spend is log-normal around ``intensity * CPL`` (currency, mean preserved); leads respond
    with the planted elasticity. Clicks are Poisson (one per 2.5 currency), impressions Poisson
    (40 per click).
    """
    mean_spend = intensity * CPL[channel]
    z = rng.standard_normal(len(months))
    spend = mean_spend * np.exp(SPEND_SIGMA * z - SPEND_SIGMA**2 / 2)
    spend = np.round(spend, 2)
    lam = intensity * (spend / mean_spend) ** ELASTICITY[channel]
    clicks = rng.poisson(spend / 2.5)
    impressions = rng.poisson(clicks * 40.0)
    return lam, SpendSeries(channel, months, spend, impressions, clicks)


def _days_in_months(rng: np.random.Generator, counts: np.ndarray, months: np.ndarray) -> np.ndarray:
    """``counts[m]`` leads created in month ``months[m]``, each on a uniform day of it (offsets)."""
    month_start = (months.astype("datetime64[D]") - START).astype(int)
    month_len = ((months + 1).astype("datetime64[D]") - months.astype("datetime64[D]")).astype(int)
    offsets = np.repeat(month_start, counts) + rng.random(counts.sum()) * np.repeat(
        month_len, counts
    )
    return np.floor(offsets)


def _creation_days(rng: np.random.Generator, lam: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Poisson(``lam``) leads per month, each created on a uniform day of its month (offsets)."""
    return _days_in_months(rng, rng.poisson(lam), months)


def _sorted_flow(lead_created: list[np.ndarray], spend_rows: list[SpendSeries]) -> LeadFlow:
    """Leads of every channel (``CHANNELS`` order) sorted by creation day, then channel."""
    created = np.concatenate(lead_created)
    channel_idx = np.repeat(np.arange(len(lead_created)), [len(d) for d in lead_created])
    order = np.lexsort((channel_idx, created))
    return LeadFlow(created[order], channel_idx[order], spend_rows)


def simulate_lead_flow(
    rng: np.random.Generator, intensity: dict[str, float], months: np.ndarray
) -> LeadFlow:
    """Spend and leads of every channel and month, leads sorted by creation day then channel.

    ``intensity`` is the mean leads per month per channel (``lead_intensity``). Paid channels'
    lead volume follows their spend (``_monthly_spend``); unpaid ones are a steady Poisson flow.
    """
    spend_rows: list[SpendSeries] = []
    lead_created: list[np.ndarray] = []
    for channel in CHANNELS:
        lam = np.full(len(months), intensity[channel])
        if channel in CPL:
            lam, series = _monthly_spend(rng, channel, intensity[channel], months)
            spend_rows.append(series)
        lead_created.append(_creation_days(rng, lam, months))
    return _sorted_flow(lead_created, spend_rows)


def simulate_spend_and_counts(
    rng: np.random.Generator, intensity: dict[str, float], months: np.ndarray
) -> tuple[list[SpendSeries], np.ndarray]:
    """Company-level part of the lead flow: paid channels' spend and leads per channel-month.

    The same model as ``simulate_lead_flow`` (the counts are Poisson around the spend-driven
    mean), without the creation days, which ``lead_flow_from_counts`` draws per chunk. Returns
    the spend series and the counts, shape (``len(CHANNELS)``, ``len(months)``).
    """
    spend_rows: list[SpendSeries] = []
    counts = np.zeros((len(CHANNELS), len(months)), dtype=np.int64)
    for ci, channel in enumerate(CHANNELS):
        lam = np.full(len(months), intensity[channel])
        if channel in CPL:
            lam, series = _monthly_spend(rng, channel, intensity[channel], months)
            spend_rows.append(series)
        counts[ci] = rng.poisson(lam)
    return spend_rows, counts


def lead_flow_from_counts(
    rng: np.random.Generator, counts: np.ndarray, months: np.ndarray
) -> LeadFlow:
    """Leads of one chunk from its share of the counts per channel-month (no spend series)."""
    return _sorted_flow([_days_in_months(rng, row, months) for row in counts], [])


def lead_counts(flow: LeadFlow, months: np.ndarray) -> np.ndarray:
    """Leads per channel and creation month, shape (``len(CHANNELS)``, ``len(months)``)."""
    month = to_dates(flow.created).astype("datetime64[M]")
    month_idx = (month - months[0]).astype(np.int64)
    counts = np.zeros((len(CHANNELS), len(months)), dtype=np.int64)
    np.add.at(counts, (flow.channel_idx, month_idx), 1)
    return counts


def simulate_funnel(rng: np.random.Generator, flow: LeadFlow, window: int) -> Funnel:
    """Pass each lead through the stages and date every stage (day offsets).

    A lead of quality ``q ~ N(0, 1)`` passes stage ``k`` with probability
    ``logistic(logit(STAGE_P[channel][k]) + QUALITY_EFFECT * q)``; the step to each stage takes
    a gamma number of days (mean ``STAGE_DAYS``, shape ``STAGE_SHAPE``, rounded up) whatever the
    outcome, and the lead is decided when the stage it fails (or 'won') would have been reached.
    """
    n_leads, channel_idx = flow.n_leads, flow.channel_idx
    quality = rng.standard_normal(n_leads)
    base_p = np.array([STAGE_P[c] for c in CHANNELS])[channel_idx]  # (n, 4)
    pass_p = logistic(logit(base_p) + QUALITY_EFFECT * quality[:, None])
    passed = rng.random((n_leads, 4)) < pass_p
    reached = np.cumprod(passed, axis=1).astype(bool)  # reached[:, k]: stage k reached
    means = np.array([STAGE_DAYS[c] for c in CHANNELS])[channel_idx]
    steps = rng.gamma(STAGE_SHAPE, means / STAGE_SHAPE)
    stage_time = flow.created[:, None] + np.cumsum(np.ceil(steps), axis=1)  # day offsets
    # The lead is decided at the first stage it fails (lost) or at 'won' (stage 3).
    n_passed = reached.sum(axis=1)
    decided_at = np.minimum(n_passed, 3)
    decision_time = stage_time[np.arange(n_leads), decided_at]
    won = n_passed == 4
    return Funnel(
        quality=quality,
        stage_time=stage_time,
        observed_stage=reached & (stage_time <= window),
        decision_time=decision_time,
        won_obs=won & (decision_time <= window),
        lost_obs=~won & (decision_time <= window),
    )


def draw_prospects(rng: np.random.Generator, flow: LeadFlow, funnel: Funnel) -> Prospects:
    """Company attributes of each lead: archetype from its channel's mix, size from archetype.

    Industry, region and business line are uniform; the record's completeness (share 0-1,
    two decimals) rises with lead quality.
    """
    n_leads = flow.n_leads
    mix = np.array([ARCHETYPE_MIX[c] for c in CHANNELS])[flow.channel_idx]
    archetype = categorical(rng, mix)
    size_p = np.array([SIZE_BANDS_BY_ARCHETYPE[a] for a in ARCHETYPES])[archetype]
    size = categorical(rng, size_p)
    industry = rng.integers(0, len(INDUSTRIES), n_leads)
    region = rng.integers(0, len(REGIONS), n_leads)
    business_line = rng.integers(0, len(BUSINESS_LINES), n_leads)
    completeness = np.round(
        np.clip(logistic(0.3 + 0.9 * funnel.quality + 0.5 * rng.standard_normal(n_leads)), 0, 1),
        2,
    )
    return Prospects(archetype, size, industry, region, business_line, completeness)


# --- tables ------------------------------------------------------------------------------------


def leads_table(
    flow: LeadFlow,
    funnel: Funnel,
    prospects: Prospects,
    account_lead: np.ndarray,
    account_ids: pa.ChunkedArray,
    numbering: Numbering,
) -> pa.Table:
    """The ``leads`` contract table: one row per lead, stage dates null until reached.

    ``account_lead`` is the lead index of each account (in account order) and ``account_ids``
    its id; leads that did not become an account have a null ``account_id``. Lead ids are
    numbered by ``numbering``.
    """
    n_leads = flow.n_leads
    account_of_lead = np.full(n_leads, None, dtype=object)
    account_of_lead[account_lead] = account_ids.to_numpy(zero_copy_only=False)

    def stage_date(k: int) -> pa.Array:
        """Date stage ``k`` was reached, null when not reached by ``AS_OF``."""
        return pa.array(to_dates(funnel.stage_time[:, k]), mask=~funnel.observed_stage[:, k])

    decided = to_dates(funnel.decision_time)
    return pa.table(
        {
            "lead_id": numbering.ids("lead", "L", np.arange(n_leads), n_leads),
            "account_id": pa.array(account_of_lead, type=pa.string()),
            "source_channel": pa.array(np.array(CHANNELS)[flow.channel_idx]),
            "created_date": pa.array(to_dates(flow.created)),
            "intent_date": stage_date(0),
            "proposal_date": stage_date(1),
            "negotiation_date": stage_date(2),
            "won_date": pa.array(decided, mask=~funnel.won_obs),
            "lost_date": pa.array(decided, mask=~funnel.lost_obs),
            "data_completeness": pa.array(prospects.completeness),
            "region": pa.array(np.array(REGIONS)[prospects.region]),
            "business_line": pa.array(np.array(BUSINESS_LINES)[prospects.business_line]),
            "size_band": pa.array(np.array(SIZE_BANDS)[prospects.size]),
            "industry": pa.array(np.array(INDUSTRIES)[prospects.industry]),
        }
    )


def spend_table(rows: list[SpendSeries]) -> pa.Table:
    """The ``channel_spend`` contract table, with the planted missing channel-month left out."""
    frames = []
    for channel, months, spend, impressions, clicks in rows:
        frames.append(
            pd.DataFrame(
                {
                    "channel": channel,
                    "month": months.astype("datetime64[D]"),
                    "spend": spend,
                    "impressions": impressions.astype(float),
                    "clicks": clicks.astype(float),
                }
            )
        )
    spend = pd.concat(frames, ignore_index=True)
    gone = (spend["channel"] == MISSING_SPEND[0]) & (
        spend["month"] == pd.Timestamp(MISSING_SPEND[1] + "-01")
    )
    spend = spend.loc[~gone].reset_index(drop=True)
    table = pa.Table.from_pandas(spend, preserve_index=False)
    return table.set_column(1, "month", pc.cast(table["month"], pa.date32()))
