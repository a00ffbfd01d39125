"""The customers: won leads become accounts, with covariates, a planted hazard and a lifetime.

An account is a lead won on or before ``AS_OF``; its acquisition day is the won day (a day
offset from ``START``). Its churn lifetime ``T`` (days from the first to the final order) is
Weibull proportional hazards, ``S(t | x) = exp(-(t / scale) ** shape * exp(x . beta))``, with
the planted log-hazard ratios ``LOG_HR``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from helpers.demo.arrays import Numbering, prefixed_ids, to_dates
from helpers.demo.funnel import Funnel, LeadFlow, Prospects
from helpers.demo.parameters import (
    ARCHETYPES,
    BUSINESS,
    BUSINESS_LINES,
    BUSINESS_P,
    CHANNELS,
    COUNTRIES,
    GROWING_SHARE,
    INDUSTRIES,
    LOG_HR,
    OWNERSHIP,
    OWNERSHIP_P,
    PRICE_INSENSITIVE_SHARE,
    REGIONS,
    REPS_PER_REGION,
    SIZE_BANDS,
    SPECIAL_NAMES,
    WEIBULL_SCALE_DAYS,
    WEIBULL_SHAPE,
)


@dataclass(frozen=True)
class Accounts:
    """Arrays over accounts, in account order (account ``i`` has id ``A`` + ``i + 1``).

    ``lead`` is the index of the won lead, ``acquired`` the acquisition day offset; the
    categorical covariates are indices into the parameter tuples (``CHANNELS``, ``ARCHETYPES``,
    ``SIZE_BANDS``, ``INDUSTRIES``, ``REGIONS``, ``BUSINESS_LINES``, ``OWNERSHIP``,
    ``BUSINESS``). ``log_hazard`` is the planted ``x . beta`` and ``lifetime`` the planted
    lifetime in whole days (at least 1).
    """

    lead: np.ndarray
    acquired: np.ndarray
    channel: np.ndarray
    archetype: np.ndarray
    size: np.ndarray
    industry: np.ndarray
    region: np.ndarray
    business_line: np.ndarray
    owner: np.ndarray
    business: np.ndarray
    growing: np.ndarray
    insensitive: np.ndarray
    log_hazard: np.ndarray
    lifetime: np.ndarray

    @property
    def n(self) -> int:
        """Number of accounts."""
        return len(self.lead)


def _log_hazard(
    owner: np.ndarray,
    size: np.ndarray,
    channel: np.ndarray,
    industry: np.ndarray,
    business: np.ndarray,
) -> np.ndarray:
    """Planted log-hazard ``x . beta`` from the covariates' indices (reference levels add 0)."""
    return (
        np.array([LOG_HR["ownership_type"][v] for v in OWNERSHIP])[owner]
        + np.array([LOG_HR["size_band"][v] for v in SIZE_BANDS])[size]
        + np.array([LOG_HR["acquisition_channel"][v] for v in CHANNELS])[channel]
        + np.array([LOG_HR["industry"][v] for v in INDUSTRIES])[industry]
        + np.array([LOG_HR["business_type"][v] for v in BUSINESS])[business]
    )


def draw_accounts(
    rng: np.random.Generator, flow: LeadFlow, funnel: Funnel, prospects: Prospects
) -> Accounts:
    """Accounts from the leads won by ``AS_OF``, with the account-only draws and a lifetime.

    Ownership and business type are drawn with the planted shares; ``GROWING_SHARE`` of
    accounts grow and ``PRICE_INSENSITIVE_SHARE`` are price-insensitive. The lifetime is drawn
    by inversion, ``T = scale * (-log U / exp(lp)) ** (1 / shape)``, rounded up to whole days.
    """
    lead = np.flatnonzero(funnel.won_obs)
    n_acc = len(lead)
    size, industry = prospects.size[lead], prospects.industry[lead]
    channel = flow.channel_idx[lead]
    owner = rng.choice(len(OWNERSHIP), n_acc, p=OWNERSHIP_P)
    business = rng.choice(len(BUSINESS), n_acc, p=BUSINESS_P)
    growing = rng.random(n_acc) < GROWING_SHARE
    insensitive = rng.random(n_acc) < PRICE_INSENSITIVE_SHARE
    log_hazard = _log_hazard(owner, size, channel, industry, business)
    # Weibull PH by inversion: S(T) = U  =>  T = scale * (-log U / exp(lp)) ** (1 / shape)
    u = rng.random(n_acc)
    lifetime = WEIBULL_SCALE_DAYS * (-np.log(u) / np.exp(log_hazard)) ** (1 / WEIBULL_SHAPE)
    return Accounts(
        lead=lead,
        acquired=funnel.decision_time[lead],
        channel=channel,
        archetype=prospects.archetype[lead],
        size=size,
        industry=industry,
        region=prospects.region[lead],
        business_line=prospects.business_line[lead],
        owner=owner,
        business=business,
        growing=growing,
        insensitive=insensitive,
        log_hazard=log_hazard,
        lifetime=np.maximum(np.ceil(lifetime), 1.0),
    )


def truth_accounts_table(
    accounts: Accounts, funnel: Funnel, n_leads: int, window: int, numbering: Numbering
) -> pa.Table:
    """``truth_accounts.parquet``: each account's hidden archetype, quality, hazard, lifetime.

    ``churned_by_as_of`` says the planted lifetime ended on or before ``AS_OF`` (``window``);
    ``n_leads`` is the number of leads the accounts were won from; ids by ``numbering``.
    """
    a = accounts
    return pa.table(
        {
            "account_id": numbering.ids("account", "A", np.arange(a.n), a.n),
            "lead_id": numbering.ids("lead", "L", a.lead, n_leads),
            "archetype": pa.array(np.array(ARCHETYPES)[a.archetype]),
            "lead_quality": pa.array(funnel.quality[a.lead]),
            "log_hazard": pa.array(a.log_hazard),
            "lifetime_days": pa.array(a.lifetime.astype(np.int64)),
            "churned_by_as_of": pa.array(a.acquired + a.lifetime <= window),
            "growing": pa.array(a.growing),
            "price_insensitive": pa.array(a.insensitive),
        }
    )


def _account_names(n_acc: int, offset: int = 0) -> np.ndarray:
    """``Company <n>`` for account n, with the planted awkward names at every 7th account.

    ``offset`` is the number of accounts before these (a later chunk of the company): the
    awkward names replace the company's accounts 1, 8 and 15, wherever they fall.
    """
    numbers = np.arange(offset + 1, offset + n_acc + 1)
    names = pc.binary_join_element_wise(
        "Company ", pc.cast(pa.array(numbers), pa.string()), ""
    ).to_numpy(zero_copy_only=False)
    names = names.astype(object)
    for i, special in enumerate(SPECIAL_NAMES):
        if 0 <= i * 7 - offset < n_acc:
            names[i * 7 - offset] = special
    return names


def accounts_table(
    rng: np.random.Generator,
    accounts: Accounts,
    account_ids: pa.ChunkedArray,
    numbering: Numbering,
) -> pa.Table:
    """The ``accounts`` contract table; draws each account's country and sales rep.

    The country is one of its region's two (``COUNTRIES``); reps are numbered by region,
    ``REPS_PER_REGION`` each; names are numbered after ``numbering``'s account offset.
    """
    a = accounts
    country_pick = rng.integers(0, 2, a.n)
    countries = np.array([COUNTRIES[r] for r in REGIONS])[a.region, country_pick]
    rep_number = a.region * REPS_PER_REGION + rng.integers(0, REPS_PER_REGION, a.n) + 1
    return pa.table(
        {
            "account_id": account_ids,
            "account_name": pa.array(
                _account_names(a.n, numbering.offset("account")), type=pa.string()
            ),
            "industry": pa.array(np.array(INDUSTRIES)[a.industry]),
            "size_band": pa.array(np.array(SIZE_BANDS)[a.size]),
            "region": pa.array(np.array(REGIONS)[a.region]),
            "country": pa.array(countries),
            "business_line": pa.array(np.array(BUSINESS_LINES)[a.business_line]),
            "ownership_type": pa.array(np.array(OWNERSHIP)[a.owner]),
            "business_type": pa.array(np.array(BUSINESS)[a.business]),
            "acquisition_channel": pa.array(np.array(CHANNELS)[a.channel]),
            "acquired_date": pa.array(to_dates(a.acquired)),
            "sales_rep": prefixed_ids("rep_", rep_number, 2),
        }
    )
