"""Seeded generator of a realistic B2B company, with the truths it planted written down.

``python -m helpers.demo --out data/demo`` writes the five contract tables as Parquet plus
``truth.json`` (what was planted, and the few realised figures tests compare against) and
``truth_accounts.parquet`` (per-account hidden truth: archetype, planted log-hazard, lifetime).
Same seed and size, same bytes.

The company (defaults: about 3,000 accounts acquired between 2022-01-01 and 2025-12-31):

* **Channels and funnel.** Six channels bring leads; four are paid. Monthly spend per paid channel
  is log-normal around a mean level; leads in a month are Poisson with mean
  ``L_c * (spend / mean spend) ** elasticity_c`` (diminishing returns when elasticity < 1), so the
  cost per lead at the mean spend level is the planted ``cpl``. Unpaid channels (referral,
  organic web) bring a steady Poisson flow. Each lead has a hidden quality ``q ~ N(0, 1)``; it
  passes the stages intent -> proposal -> negotiation -> won with probability
  ``logistic(logit(p_channel,stage) + QUALITY_EFFECT * q)``. ``truth.json`` stores both the
  per-channel base probabilities and the *marginal* stage-to-stage rates (averaged over ``q`` by
  Gauss-Hermite quadrature), which are what an observed conversion rate estimates. Stage
  durations are gamma distributed (weeks to months); the time to the decision does not depend on
  its outcome, and a lead that fails at a stage is closed-lost when that stage would have been
  reached. Stages dated after the as-of date are not in the export (open deals).
* **Accounts** are the won leads; the acquisition date is the won date. An archetype
  (key account, steady small buyer, project buyer, opportunistic buyer) drawn from a
  channel-specific mix sets size band, order cadence, order value, product breadth and margin.
* **Purchasing.** Orders follow a gamma renewal process (regular reorders, shape 4) at the
  archetype's mean gap, with log-normal order values; 20% of accounts grow (+40% a year in order
  value) and 10% are price-insensitive (+12 points of margin). Revenue is heavy tailed: the top
  20% of accounts hold about 75-80% of it (``truth.json`` stores the realised share).
* **Churn.** Each account's lifetime ``T`` (days from first to final order) is Weibull
  proportional hazards: ``S(t | x) = exp(-(t / scale) ** shape * exp(x . beta))`` with planted
  log-hazard ratios for ownership type, size band, acquisition channel, industry and business
  type (reference levels in ``truth.json``). The final order is placed at ``T``; afterwards the
  account is silent forever, so churn is observed as silence after the last order.
* **Warts** the loaders and analyses must handle: returned lines (negative amounts, status
  ``returned``), cancelled orders, one month of order lines that arrived late and sits at the
  end of the file out of date order, and one channel-month of spend that is missing.

Vectorised with NumPy and PyArrow (no per-row Python), so ``--accounts 250000`` (about 10M
order lines) runs in under a minute. ``tables=("accounts", "orders")`` skips leads,
touchpoints and spend output for benchmarks (the funnel is still simulated to make accounts).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from helpers.config import DEMO_DIR

START = np.datetime64("2022-01-01")
AS_OF = np.datetime64("2025-12-31")
DEFAULT_SEED = 20251231
DEFAULT_ACCOUNTS = 3000

CHANNELS: tuple[str, ...] = (
    "trade_show",
    "search_ads",
    "linkedin_ads",
    "b2b_marketplace",
    "referral",
    "organic_web",
)
PAID_CHANNELS: tuple[str, ...] = CHANNELS[:4]
#: Share of all leads each channel brings (at mean spend).
LEAD_SHARE = dict(zip(CHANNELS, (0.12, 0.25, 0.15, 0.23, 0.10, 0.15), strict=True))
#: Planted cost per lead at the channel's mean spend level (currency).
CPL = {"trade_show": 600.0, "search_ads": 210.0, "linkedin_ads": 600.0, "b2b_marketplace": 120.0}
#: Planted elasticity of leads to spend (log-log slope), per paid channel.
ELASTICITY = {"trade_show": 0.5, "search_ads": 0.8, "linkedin_ads": 0.6, "b2b_marketplace": 0.7}
#: Month-to-month variation of spend (sd of log spend).
SPEND_SIGMA = 0.6
#: Base probability of passing each stage (intent, proposal, negotiation, won) at quality 0.
STAGE_P = {
    "trade_show": (0.75, 0.65, 0.70, 0.60),
    "search_ads": (0.55, 0.55, 0.60, 0.55),
    "linkedin_ads": (0.60, 0.60, 0.65, 0.55),
    "b2b_marketplace": (0.50, 0.45, 0.55, 0.50),
    "referral": (0.85, 0.75, 0.75, 0.65),
    "organic_web": (0.50, 0.50, 0.60, 0.50),
}
#: Log-odds added per standard deviation of lead quality, at every stage.
QUALITY_EFFECT = 0.6
#: Mean days from the previous step to each stage (created->intent, ->proposal, ->negotiation,
#: ->decision); gamma with shape ``STAGE_SHAPE``.
STAGE_DAYS = {
    "trade_show": (7.0, 21.0, 35.0, 30.0),
    "search_ads": (10.0, 14.0, 21.0, 20.0),
    "linkedin_ads": (14.0, 21.0, 28.0, 25.0),
    "b2b_marketplace": (5.0, 10.0, 14.0, 14.0),
    "referral": (7.0, 14.0, 21.0, 21.0),
    "organic_web": (12.0, 18.0, 21.0, 20.0),
}
STAGE_SHAPE = 2.0

ARCHETYPES: tuple[str, ...] = ("key_account", "steady_small", "project_buyer", "opportunistic")
#: Archetype mix of the accounts each channel brings.
ARCHETYPE_MIX = {
    "trade_show": (0.30, 0.30, 0.30, 0.10),
    "search_ads": (0.08, 0.50, 0.17, 0.25),
    "linkedin_ads": (0.15, 0.40, 0.25, 0.20),
    "b2b_marketplace": (0.03, 0.35, 0.07, 0.55),
    "referral": (0.20, 0.45, 0.20, 0.15),
    "organic_web": (0.08, 0.50, 0.12, 0.30),
}
#: Per archetype: mean days between orders, median order value (currency), sd of log order
#: value, margin rate, mean number of product categories bought, sd of the account's own
#: log value level.
ARCHETYPE_PARAMS = {
    "key_account": dict(gap=25.0, value=6000.0, sigma=0.5, margin=0.18, breadth=5.0, level=0.5),
    "steady_small": dict(gap=40.0, value=900.0, sigma=0.4, margin=0.30, breadth=1.5, level=0.5),
    "project_buyer": dict(gap=100.0, value=12000.0, sigma=0.6, margin=0.22, breadth=2.0, level=0.5),
    "opportunistic": dict(gap=75.0, value=500.0, sigma=0.6, margin=0.10, breadth=2.5, level=0.5),
}
SIZE_BANDS_BY_ARCHETYPE = {
    # micro, small, medium, large, enterprise
    "key_account": (0.0, 0.0, 0.10, 0.45, 0.45),
    "steady_small": (0.35, 0.45, 0.20, 0.0, 0.0),
    "project_buyer": (0.0, 0.0, 0.45, 0.45, 0.10),
    "opportunistic": (0.50, 0.35, 0.15, 0.0, 0.0),
}
SIZE_BANDS = ("micro", "small", "medium", "large", "enterprise")
ORDER_GAP_SHAPE = 4.0
GROWING_SHARE = 0.20
GROWTH_PER_YEAR = 0.40
PRICE_INSENSITIVE_SHARE = 0.10
PRICE_INSENSITIVE_MARGIN = 0.12

INDUSTRIES = (
    "machinery",
    "chemicals",
    "electronics",
    "construction",
    "food_processing",
    "textiles",
)
REGIONS = ("north", "south", "east", "west", "international")
COUNTRIES = {
    "north": ("DE", "DK"),
    "south": ("IT", "ES"),
    "east": ("PL", "CZ"),
    "west": ("FR", "NL"),
    "international": ("US", "CN"),
}
BUSINESS_LINES = ("components", "equipment", "services")
OWNERSHIP = ("state_owned", "private", "individual_business")
OWNERSHIP_P = (0.15, 0.70, 0.15)
BUSINESS = ("brand_owner", "trader_reseller")
BUSINESS_P = (0.65, 0.35)
CATEGORIES = (
    "fasteners",
    "bearings",
    "hydraulics",
    "electrical",
    "packaging",
    "tooling",
    "safety",
    "spare_parts",
)
CATEGORY_PRICE = (2.0, 15.0, 120.0, 40.0, 5.0, 60.0, 25.0, 80.0)

#: Churn: Weibull proportional hazards. Reference levels have log-hazard ratio 0.
WEIBULL_SHAPE = 1.2
WEIBULL_SCALE_DAYS = 700.0
LOG_HR: dict[str, dict[str, float]] = {
    "ownership_type": {"state_owned": -0.5, "private": 0.0, "individual_business": 0.4},
    "size_band": {"micro": 0.5, "small": 0.25, "medium": 0.0, "large": -0.3, "enterprise": -0.6},
    "acquisition_channel": {
        "trade_show": -0.3,
        "search_ads": 0.0,
        "linkedin_ads": -0.1,
        "b2b_marketplace": 0.5,
        "referral": -0.4,
        "organic_web": 0.1,
    },
    "industry": {
        "machinery": 0.0,
        "chemicals": -0.2,
        "electronics": 0.2,
        "construction": 0.3,
        "food_processing": 0.0,
        "textiles": 0.4,
    },
    "business_type": {"brand_owner": 0.0, "trader_reseller": 0.35},
}
REFERENCE_LEVELS = {
    "ownership_type": "private",
    "size_band": "medium",
    "acquisition_channel": "search_ads",
    "industry": "machinery",
    "business_type": "brand_owner",
}
#: Silent days after which the analyses call an account churned; the order process is regular
#: enough (gamma gaps, shape 4) that a live account almost never stays silent this long.
CHURN_THRESHOLD_DAYS = 180
CANCEL_SHARE = 0.03
RETURN_SHARE = 0.015
LATE_MONTH = "2025-10"
MISSING_SPEND = ("linkedin_ads", "2024-07")
#: Horizon and yearly discount rate of the planted lifetime value (LTV:CAC order).
LTV_HORIZON_DAYS = 3 * 365
LTV_DISCOUNT = 0.10
REPS_PER_REGION = 4
SPECIAL_NAMES = (
    "Müller & Söhne <Industrie> GmbH",
    'O\'Brien "Fasteners" Ltd',
    "Ştefan Trading <script>alert(1)</script>",
)


# --- small vectorised tools --------------------------------------------------------------------


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded numbers, as an Arrow string array (no Python strings)."""
    text = pc.utf8_lpad(pc.cast(pa.array(numbers, type=pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, text, "")


def _choice(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of ``probs`` (rows sum to 1): index of the chosen column."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs))[:, None]
    return np.minimum((u > cum).sum(axis=1), probs.shape[1] - 1)


def _logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1.0 - p))


def _days(values: np.ndarray) -> np.ndarray:
    """Float day offsets from START -> datetime64[D]."""
    return START + np.floor(values).astype("timedelta64[D]")


def _window_days() -> int:
    return int((AS_OF - START).astype(int))


def _months() -> np.ndarray:
    return np.arange(START.astype("datetime64[M]"), AS_OF.astype("datetime64[M]") + 1)


def _repeat_ranges(counts: np.ndarray) -> np.ndarray:
    """0..n-1 for each n in counts, concatenated (position of each row inside its group)."""
    total = int(counts.sum())
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(total) - starts


# --- planted marginal quantities -------------------------------------------------------------


def marginal_stage_rates(channel: str) -> dict[str, float]:
    """Planted stage-to-stage conversion rates of ``channel``, averaged over lead quality.

    ``rate[stage]`` is P(reach stage | reached the previous stage) for the population of
    leads, i.e. E[prod of pass probabilities up to the stage] / E[... up to the previous one]
    with quality ``q ~ N(0, 1)``, computed by 60-point Gauss-Hermite quadrature (exact to 1e-12).
    """
    nodes, weights = np.polynomial.hermite_e.hermegauss(60)
    weights = weights / weights.sum()
    base = _logit(np.asarray(STAGE_P[channel]))
    reach = np.cumprod(_logistic(base[:, None] + QUALITY_EFFECT * nodes[None, :]), axis=0)
    mean_reach = reach @ weights
    previous = np.concatenate([[1.0], mean_reach[:-1]])
    stages = ("intent", "proposal", "negotiation", "won")
    out = {s: float(r) for s, r in zip(stages, mean_reach / previous, strict=True)}
    out["lead_to_won"] = float(mean_reach[-1])
    return out


def _lead_intensity(n_accounts: int) -> dict[str, float]:
    """Mean leads per month per channel so that about ``n_accounts`` leads are won."""
    win = sum(LEAD_SHARE[c] * marginal_stage_rates(c)["lead_to_won"] for c in CHANNELS)
    total_leads = n_accounts / win
    # Leads created in the last months are often still open: inflate a little.
    total_leads *= 1.04
    months = len(_months())
    return {c: total_leads * LEAD_SHARE[c] / months for c in CHANNELS}


# --- the generator ---------------------------------------------------------------------------


def generate(
    n_accounts: int = DEFAULT_ACCOUNTS,
    seed: int = DEFAULT_SEED,
    tables: Iterable[str] = ("accounts", "orders", "leads", "touchpoints", "channel_spend"),
) -> tuple[dict[str, pa.Table], dict[str, Any], pa.Table]:
    """Simulate the company: (Arrow tables by name, truth dictionary, per-account truth table).

    ``n_accounts`` is approximate (it sets the lead volume; the won leads become accounts).
    """
    tables = set(tables)
    rng = np.random.default_rng(seed)
    window = _window_days()
    months = _months()
    intensity = _lead_intensity(n_accounts)

    # ---- spend and lead volume per channel and month -----------------------------------------
    spend_rows = []
    lead_channel: list[np.ndarray] = []
    lead_created: list[np.ndarray] = []
    for ci, channel in enumerate(CHANNELS):
        lam = np.full(len(months), intensity[channel])
        if channel in CPL:
            mean_spend = intensity[channel] * CPL[channel]
            z = rng.standard_normal(len(months))
            spend = mean_spend * np.exp(SPEND_SIGMA * z - SPEND_SIGMA**2 / 2)
            spend = np.round(spend, 2)
            lam = intensity[channel] * (spend / mean_spend) ** ELASTICITY[channel]
            clicks = rng.poisson(spend / 2.5)
            impressions = rng.poisson(clicks * 40.0)
            spend_rows.append((channel, months, spend, impressions, clicks))
        counts = rng.poisson(lam)
        month_start = (months.astype("datetime64[D]") - START).astype(int)
        month_len = ((months + 1).astype("datetime64[D]") - months.astype("datetime64[D]")).astype(
            int
        )
        offsets = np.repeat(month_start, counts) + rng.random(counts.sum()) * np.repeat(
            month_len, counts
        )
        lead_created.append(np.floor(offsets))
        lead_channel.append(np.full(counts.sum(), ci))
    created = np.concatenate(lead_created)
    channel_idx = np.concatenate(lead_channel)
    order = np.lexsort((channel_idx, created))
    created, channel_idx = created[order], channel_idx[order]
    n_leads = len(created)

    # ---- funnel ----------------------------------------------------------------------------------
    quality = rng.standard_normal(n_leads)
    base_p = np.array([STAGE_P[c] for c in CHANNELS])[channel_idx]  # (n, 4)
    pass_p = _logistic(_logit(base_p) + QUALITY_EFFECT * quality[:, None])
    passed = rng.random((n_leads, 4)) < pass_p
    reached = np.cumprod(passed, axis=1).astype(bool)  # reached[:, k]: stage k reached
    means = np.array([STAGE_DAYS[c] for c in CHANNELS])[channel_idx]
    steps = rng.gamma(STAGE_SHAPE, means / STAGE_SHAPE)
    stage_time = created[:, None] + np.cumsum(np.ceil(steps), axis=1)  # day offsets
    # The lead is decided at the first stage it fails (lost) or at 'won' (stage 3).
    n_passed = reached.sum(axis=1)
    decided_at = np.minimum(n_passed, 3)
    decision_time = stage_time[np.arange(n_leads), decided_at]
    won = n_passed == 4
    observed_stage = reached & (stage_time <= window)
    won_obs = won & (decision_time <= window)
    lost_obs = ~won & (decision_time <= window)

    # ---- lead attributes (prospect side) ----------------------------------------------------------
    mix = np.array([ARCHETYPE_MIX[c] for c in CHANNELS])[channel_idx]
    archetype = _choice(rng, mix)
    size_p = np.array([SIZE_BANDS_BY_ARCHETYPE[a] for a in ARCHETYPES])[archetype]
    size = _choice(rng, size_p)
    industry = rng.integers(0, len(INDUSTRIES), n_leads)
    region = rng.integers(0, len(REGIONS), n_leads)
    business_line = rng.integers(0, len(BUSINESS_LINES), n_leads)
    completeness = np.round(
        np.clip(_logistic(0.3 + 0.9 * quality + 0.5 * rng.standard_normal(n_leads)), 0, 1), 2
    )

    # ---- accounts = won leads --------------------------------------------------------------------
    acc_lead = np.flatnonzero(won_obs)
    n_acc = len(acc_lead)
    acq = decision_time[acc_lead]
    acc_channel = channel_idx[acc_lead]
    acc_arch = archetype[acc_lead]
    acc_size = size[acc_lead]
    acc_industry = industry[acc_lead]
    acc_region = region[acc_lead]
    acc_line = business_line[acc_lead]
    acc_owner = rng.choice(len(OWNERSHIP), n_acc, p=OWNERSHIP_P)
    acc_business = rng.choice(len(BUSINESS), n_acc, p=BUSINESS_P)
    growing = rng.random(n_acc) < GROWING_SHARE
    insensitive = rng.random(n_acc) < PRICE_INSENSITIVE_SHARE

    log_hazard = (
        np.array([LOG_HR["ownership_type"][v] for v in OWNERSHIP])[acc_owner]
        + np.array([LOG_HR["size_band"][v] for v in SIZE_BANDS])[acc_size]
        + np.array([LOG_HR["acquisition_channel"][v] for v in CHANNELS])[acc_channel]
        + np.array([LOG_HR["industry"][v] for v in INDUSTRIES])[acc_industry]
        + np.array([LOG_HR["business_type"][v] for v in BUSINESS])[acc_business]
    )
    # Weibull PH by inversion: S(T) = U  =>  T = scale * (-log U / exp(lp)) ** (1 / shape)
    u = rng.random(n_acc)
    lifetime = WEIBULL_SCALE_DAYS * (-np.log(u) / np.exp(log_hazard)) ** (1 / WEIBULL_SHAPE)
    lifetime = np.maximum(np.ceil(lifetime), 1.0)

    account_numbers = np.arange(1, n_acc + 1)
    id_width = max(6, len(str(n_acc)))
    truth_accounts = pa.table(
        {
            "account_id": _ids("A", account_numbers, id_width),
            "lead_id": _ids("L", acc_lead + 1, max(7, len(str(n_leads)))),
            "archetype": pa.array(np.array(ARCHETYPES)[acc_arch]),
            "lead_quality": pa.array(quality[acc_lead]),
            "log_hazard": pa.array(log_hazard),
            "lifetime_days": pa.array(lifetime.astype(np.int64)),
            "churned_by_as_of": pa.array(acq + lifetime <= window),
            "growing": pa.array(growing),
            "price_insensitive": pa.array(insensitive),
        }
    )

    out: dict[str, pa.Table] = {}
    if "accounts" in tables or "orders" in tables:
        orders, realised = _orders(
            rng, acq, lifetime, acc_arch, growing, insensitive, window, id_width
        )
        if "orders" in tables:
            out["orders"] = orders
    if "accounts" in tables:
        names = pc.binary_join_element_wise(
            "Company ", pc.cast(pa.array(account_numbers), pa.string()), ""
        ).to_numpy(zero_copy_only=False)
        names = names.astype(object)
        for i, special in enumerate(SPECIAL_NAMES[: min(len(SPECIAL_NAMES), n_acc)]):
            names[i * 7] = special
        country_pick = rng.integers(0, 2, n_acc)
        countries = np.array([COUNTRIES[r] for r in REGIONS])[acc_region, country_pick]
        rep_number = acc_region * REPS_PER_REGION + rng.integers(0, REPS_PER_REGION, n_acc) + 1
        out["accounts"] = pa.table(
            {
                "account_id": truth_accounts["account_id"],
                "account_name": pa.array(names, type=pa.string()),
                "industry": pa.array(np.array(INDUSTRIES)[acc_industry]),
                "size_band": pa.array(np.array(SIZE_BANDS)[acc_size]),
                "region": pa.array(np.array(REGIONS)[acc_region]),
                "country": pa.array(countries),
                "business_line": pa.array(np.array(BUSINESS_LINES)[acc_line]),
                "ownership_type": pa.array(np.array(OWNERSHIP)[acc_owner]),
                "business_type": pa.array(np.array(BUSINESS)[acc_business]),
                "acquisition_channel": pa.array(np.array(CHANNELS)[acc_channel]),
                "acquired_date": pa.array(_days(acq)),
                "sales_rep": _ids("rep_", rep_number, 2),
            }
        )

    if "leads" in tables:
        account_of_lead = np.full(n_leads, None, dtype=object)
        account_of_lead[acc_lead] = truth_accounts["account_id"].to_numpy(zero_copy_only=False)

        def stage_date(k: int) -> pa.Array:
            return pa.array(_days(stage_time[:, k]), mask=~observed_stage[:, k])

        out["leads"] = pa.table(
            {
                "lead_id": _ids("L", np.arange(1, n_leads + 1), max(7, len(str(n_leads)))),
                "account_id": pa.array(account_of_lead, type=pa.string()),
                "source_channel": pa.array(np.array(CHANNELS)[channel_idx]),
                "created_date": pa.array(_days(created)),
                "intent_date": stage_date(0),
                "proposal_date": stage_date(1),
                "negotiation_date": stage_date(2),
                "won_date": pa.array(_days(decision_time), mask=~won_obs),
                "lost_date": pa.array(_days(decision_time), mask=~lost_obs),
                "data_completeness": pa.array(completeness),
                "region": pa.array(np.array(REGIONS)[region]),
                "business_line": pa.array(np.array(BUSINESS_LINES)[business_line]),
                "size_band": pa.array(np.array(SIZE_BANDS)[size]),
                "industry": pa.array(np.array(INDUSTRIES)[industry]),
            }
        )
    if "touchpoints" in tables:
        out["touchpoints"] = _touchpoints(
            rng,
            created,
            channel_idx,
            quality,
            stage_time,
            observed_stage,
            decision_time,
            acc_lead,
            acq,
            truth_accounts["account_id"],
            window,
            n_leads,
        )
    missing = None
    if "channel_spend" in tables:
        out["channel_spend"], missing = _spend_table(spend_rows)

    truth = _truth(
        n_accounts,
        seed,
        intensity,
        out,
        truth_accounts,
        lead_info={
            "created": created,
            "channel_idx": channel_idx,
            "months": months,
        },
    )
    if "orders" in tables or "accounts" in tables:
        truth["purchasing"].update(realised)
    return out, truth, truth_accounts


def _orders(
    rng: np.random.Generator,
    acq: np.ndarray,
    lifetime: np.ndarray,
    arch: np.ndarray,
    growing: np.ndarray,
    insensitive: np.ndarray,
    window: int,
    id_width: int,
) -> tuple[pa.Table, dict[str, Any]]:
    """Order lines of every account: renewal orders until its lifetime ends or the window does."""
    n_acc = len(acq)
    params = [ARCHETYPE_PARAMS[a] for a in ARCHETYPES]
    gap = np.array([p["gap"] for p in params])[arch]
    value = np.array([p["value"] for p in params])[arch]
    sigma = np.array([p["sigma"] for p in params])[arch]
    margin = np.array([p["margin"] for p in params])[arch] + PRICE_INSENSITIVE_MARGIN * insensitive
    breadth = np.array([p["breadth"] for p in params])[arch]
    level = np.exp(np.array([p["level"] for p in params])[arch] * rng.standard_normal(n_acc))
    # Each account buys from its own few categories.
    n_cat = np.clip(1 + rng.poisson(breadth - 1), 1, len(CATEGORIES))
    cat_pref = rng.random((n_acc, len(CATEGORIES)))
    cat_rank = np.argsort(cat_pref, axis=1)  # the first n_cat columns are the account's categories

    end = np.minimum(acq + lifetime, window)  # last possible day of an order in the export
    span = end - acq
    # Renewal orders strictly between acquisition and the final order (or the window's end).
    n_draw = np.ceil(span / gap * 1.4 + 6).astype(np.int64)
    owner = np.repeat(np.arange(n_acc), n_draw)
    gaps = rng.gamma(ORDER_GAP_SHAPE, gap[owner] / ORDER_GAP_SHAPE)
    csum = np.cumsum(gaps)
    group_start = np.repeat(np.cumsum(n_draw) - n_draw, n_draw)
    before = np.concatenate([[0.0], csum])[group_start]
    t = np.ceil(csum - before)
    keep = t < span[owner]
    order_acc = np.concatenate([np.arange(n_acc), owner[keep]])
    order_t = np.concatenate([np.zeros(n_acc), t[keep]])
    final = acq + lifetime <= window
    order_acc = np.concatenate([order_acc, np.flatnonzero(final)])
    order_t = np.concatenate([order_t, lifetime[final]])
    sort = np.lexsort((order_t, order_acc))
    order_acc, order_t = order_acc[sort], order_t[sort]
    n_orders = len(order_acc)
    order_day = acq[order_acc] + order_t

    years = order_t / 365.25
    growth = np.where(growing[order_acc], (1 + GROWTH_PER_YEAR) ** years, 1.0)
    amount = (
        value[order_acc]
        * level[order_acc]
        * growth
        * np.exp(sigma[order_acc] * rng.standard_normal(n_orders))
    )
    cancelled = rng.random(n_orders) < CANCEL_SHARE
    # The first and the final order are never cancelled: they define the observed lifetime.
    first = np.r_[True, order_acc[1:] != order_acc[:-1]]
    last = np.r_[order_acc[1:] != order_acc[:-1], True]
    cancelled &= ~first & ~(last & final[order_acc])

    # Lines: 1..n_cat lines per order, each in one of the account's categories.
    n_lines = np.minimum(1 + rng.poisson(0.8, n_orders), n_cat[order_acc])
    line_order = np.repeat(np.arange(n_orders), n_lines)
    line_no = _repeat_ranges(n_lines)
    line_acc = order_acc[line_order]
    pick = (line_no + rng.integers(0, 8, n_orders)[line_order]) % n_cat[line_acc]
    category = cat_rank[line_acc, pick]
    share = rng.gamma(2.0, 1.0, len(line_order))
    share /= np.bincount(line_order, weights=share)[line_order]
    line_amount = np.round(amount[line_order] * share, 2)
    line_margin_rate = np.clip(
        margin[line_acc] + 0.03 * rng.standard_normal(len(line_order)), 0, 0.9
    )
    unit_price = np.array(CATEGORY_PRICE)[category] * np.exp(
        0.2 * rng.standard_normal(len(line_order))
    )
    quantity = np.maximum(np.round(line_amount / unit_price), 1.0)
    line_margin = np.round(line_amount * line_margin_rate, 2)
    status = np.where(cancelled[line_order], "cancelled", "completed")
    line_day = order_day[line_order]
    order_number = line_order + 1

    # Returns: some completed lines come back 7-40 days later as a separate negative line.
    ret = (status == "completed") & (rng.random(len(line_order)) < RETURN_SHARE)
    ret_day = line_day[ret] + rng.integers(7, 41, ret.sum())
    ok = ret_day <= window
    ret_idx = np.flatnonzero(ret)[ok]
    ret_frac = rng.uniform(0.3, 1.0, len(ret_idx))
    width = max(8, len(str(n_orders)))

    def block(prefix: str, numbers, lines, acc, day, amt, mrg, qty, cat, stat) -> pa.Table:
        return pa.table(
            {
                "order_id": _ids(prefix, numbers, width),
                "line_number": pa.array(lines + 1, type=pa.int64()),
                "account_id": _ids("A", acc + 1, id_width),
                "order_date": pa.array(_days(day)),
                "net_amount": pa.array(amt),
                "gross_margin": pa.array(mrg),
                "quantity": pa.array(qty),
                "product_category": pa.array(np.array(CATEGORIES)[cat]),
                "status": pa.array(stat),
            }
        )

    main = block(
        "O",
        order_number,
        line_no,
        line_acc,
        line_day,
        line_amount,
        line_margin,
        quantity,
        category,
        status,
    )
    returns = block(
        "R",
        order_number[ret_idx],
        line_no[ret_idx],
        line_acc[ret_idx],
        ret_day[ok],
        -np.round(line_amount[ret_idx] * ret_frac, 2),
        -np.round(line_margin[ret_idx] * ret_frac, 2),
        np.maximum(np.round(quantity[ret_idx] * ret_frac), 1.0),
        category[ret_idx],
        np.full(len(ret_idx), "returned"),
    )
    table = pa.concat_tables([main, returns])
    # Sort by date, then move one month's lines to the end (they arrived late).
    days_all = np.concatenate([line_day, ret_day[ok]])
    month_all = _days(days_all).astype("datetime64[M]")
    late = month_all == np.datetime64(LATE_MONTH)
    position = np.lexsort((np.arange(len(days_all)), days_all, late))
    table = table.take(pa.array(position))

    revenue = np.bincount(
        line_acc[status == "completed"], weights=line_amount[status == "completed"], minlength=n_acc
    )
    revenue -= np.bincount(
        line_acc[ret_idx], weights=line_amount[ret_idx] * ret_frac, minlength=n_acc
    )
    ranked = np.sort(revenue)[::-1]
    top = int(np.ceil(0.2 * n_acc))
    realised = {
        "top20_revenue_share": round(float(ranked[:top].sum() / ranked.sum()), 4),
        "revenue_definition": "net_amount of completed and returned lines (cancelled excluded), "
        "per account, over the whole export; top 20% = ceil(0.2 * accounts) largest",
        "n_order_lines": int(table.num_rows),
        "n_returned_lines": int(len(ret_idx)),
        "n_cancelled_lines": int((status == "cancelled").sum()),
        "late_month_rows": int(late.sum()),
    }
    return table, realised


def _touchpoints(
    rng,
    created,
    channel_idx,
    quality,
    stage_time,
    observed_stage,
    decision_time,
    acc_lead,
    acq,
    account_ids,
    window,
    n_leads,
) -> pa.Table:
    """Interactions: touches before the lead, its inquiry, demos and meetings, customer care."""
    n_ch = len(CHANNELS)
    share = np.array([LEAD_SHARE[c] for c in CHANNELS])
    qpos = np.maximum(quality, 0)
    parts = []

    # 1. Touches before creation: earlier ones on any channel, the last on the source channel.
    n_pre = 1 + rng.poisson(1.0 + qpos)
    lead = np.repeat(np.arange(n_leads), n_pre)
    pos = _repeat_ranges(n_pre)
    is_last = pos == n_pre[lead] - 1
    chan = np.where(is_last, channel_idx[lead], rng.choice(n_ch, len(lead), p=share))
    paid = chan < len(PAID_CHANNELS)
    kind_last = np.where(chan == 0, "trade_show_visit", np.where(paid, "ad_click", "site_visit"))
    kind_early = rng.choice(
        np.array(["site_visit", "content_download", "ad_click"]), len(lead), p=[0.6, 0.25, 0.15]
    )
    kind_early = np.where((kind_early == "ad_click") & ~paid, "site_visit", kind_early)
    kind = np.where(is_last, kind_last, kind_early)
    back = np.where(is_last, 0.0, (n_pre[lead] - pos) * rng.uniform(2, 12, len(lead)))
    day = created[lead] - np.floor(back)
    parts.append((lead, None, chan, day, kind))

    # 2. The inquiry, on the source channel, when intent is reached.
    inq = np.flatnonzero(observed_stage[:, 0])
    parts.append((inq, None, channel_idx[inq], stage_time[inq, 0], np.full(len(inq), "inquiry")))

    # 3. Repeat visits after creation (more for good leads), before the decision or the cut-off.
    n_visit = rng.poisson(0.8 + 1.2 * qpos)
    lead_v = np.repeat(np.arange(n_leads), n_visit)
    horizon = np.minimum(decision_time, window) - created
    day_v = created[lead_v] + np.floor(rng.random(len(lead_v)) * np.maximum(horizon[lead_v], 1))
    parts.append(
        (
            lead_v,
            None,
            np.full(len(lead_v), CHANNELS.index("organic_web")),
            day_v,
            np.full(len(lead_v), "site_visit"),
        )
    )

    # 4. Demos between intent and proposal (likelier for good leads), meetings in negotiation.
    demo = observed_stage[:, 0] & (rng.random(n_leads) < _logistic(-0.5 + 1.0 * quality))
    d_idx = np.flatnonzero(demo)
    d_day = stage_time[d_idx, 0] + np.floor(rng.random(len(d_idx)) * 7)
    parts.append((d_idx, None, channel_idx[d_idx], d_day, np.full(len(d_idx), "demo")))
    meet = np.flatnonzero(observed_stage[:, 2])
    parts.append(
        (meet, None, channel_idx[meet], stage_time[meet, 2], np.full(len(meet), "meeting"))
    )
    # 5. Nurture e-mails to some leads (channel 'email', not a lead source, no spend).
    n_mail = rng.poisson(0.7, n_leads)
    lead_m = np.repeat(np.arange(n_leads), n_mail)
    day_m = created[lead_m] + rng.integers(1, 60, len(lead_m))
    parts.append((lead_m, None, np.full(len(lead_m), -1), day_m, np.full(len(lead_m), "email")))

    lead_all = np.concatenate([p[0] for p in parts])
    chan_all = np.concatenate([p[2] for p in parts])
    day_all = np.concatenate([p[3] for p in parts])
    kind_all = np.concatenate([p[4] for p in parts])
    keep = day_all <= window
    lead_all, chan_all, day_all, kind_all = (
        a[keep] for a in (lead_all, chan_all, day_all, kind_all)
    )
    # 6. Account care after conversion: a meeting per customer, on the account only.
    care_day = acq + rng.integers(30, 200, len(acq))
    ok = care_day <= window
    seconds = rng.integers(8 * 3600, 18 * 3600, len(day_all) + int(ok.sum()))
    ch_names = np.array((*CHANNELS, "email"))
    lead_ids = _ids("L", lead_all + 1, max(7, len(str(n_leads))))
    stamps = _days(np.concatenate([day_all, care_day[ok]])).astype(
        "datetime64[s]"
    ) + seconds.astype("timedelta64[s]")
    n_lead_rows = len(day_all)
    table = pa.table(
        {
            "lead_id": pa.concat_arrays([lead_ids, pa.nulls(int(ok.sum()), pa.string())]),
            "account_id": pa.concat_arrays(
                [
                    pa.nulls(n_lead_rows, pa.string()),
                    account_ids.combine_chunks().filter(pa.array(ok)),
                ]
            ),
            "channel": pa.array(
                np.concatenate([ch_names[chan_all], np.full(int(ok.sum()), "email")])
            ),
            "touched_at": pa.array(stamps),
            "kind": pa.array(np.concatenate([kind_all, np.full(int(ok.sum()), "meeting")])),
        }
    )
    order = np.lexsort((np.arange(table.num_rows), stamps))
    table = table.take(pa.array(order))
    width = max(8, len(str(table.num_rows)))
    ids = _ids("T", np.arange(1, table.num_rows + 1), width)
    return table.add_column(0, "touchpoint_id", ids)


def _spend_table(rows) -> tuple[pa.Table, tuple[str, str]]:
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
    table = table.set_column(1, "month", pc.cast(table["month"], pa.date32()))
    return table, MISSING_SPEND


def _truth(n_accounts, seed, intensity, out, truth_accounts, lead_info) -> dict[str, Any]:
    """Everything planted, plus realised figures that tests compare against exactly."""
    truth: dict[str, Any] = {
        "seed": seed,
        "n_accounts_requested": n_accounts,
        "n_accounts": int(truth_accounts.num_rows),
        "start": str(START),
        "as_of": str(AS_OF),
        "churn": {
            "model": "Weibull proportional hazards on T = days from first to final order",
            "weibull_shape": WEIBULL_SHAPE,
            "weibull_scale_days": WEIBULL_SCALE_DAYS,
            "log_hazard_ratios": LOG_HR,
            "reference_levels": REFERENCE_LEVELS,
            "churn_threshold_days": CHURN_THRESHOLD_DAYS,
            "marginal_median_days": _marginal_median(truth_accounts),
            "note": "log-hazard ratios are relative to the reference levels; planted per-account "
            "log-hazard and lifetime are in truth_accounts.parquet",
        },
        "purchasing": {
            "archetypes": list(ARCHETYPES),
            "archetype_params": ARCHETYPE_PARAMS,
            "archetype_mix_by_channel": ARCHETYPE_MIX,
            "order_gap_shape": ORDER_GAP_SHAPE,
            "growing_share": GROWING_SHARE,
            "growth_per_year": GROWTH_PER_YEAR,
            "price_insensitive_share": PRICE_INSENSITIVE_SHARE,
            "price_insensitive_margin_points": PRICE_INSENSITIVE_MARGIN,
        },
        "channels": _channel_truth(intensity, out, lead_info),
        "warts": {
            "late_arriving_month": LATE_MONTH,
            "missing_spend": {"channel": MISSING_SPEND[0], "month": MISSING_SPEND[1]},
            "cancel_share": CANCEL_SHARE,
            "return_share": RETURN_SHARE,
            "special_account_names": list(SPECIAL_NAMES),
        },
    }
    truth["ltv_cac"] = planted_ltv_cac(seed)
    return truth


def _channel_truth(intensity, out, lead_info) -> dict[str, Any]:
    per: dict[str, Any] = {}
    created_month = _days(lead_info["created"]).astype("datetime64[M]")
    spend = out.get("channel_spend")
    spend_df = spend.to_pandas() if spend is not None else None
    for ci, channel in enumerate(CHANNELS):
        rates = marginal_stage_rates(channel)
        entry: dict[str, Any] = {
            "paid": channel in CPL,
            "lead_share": LEAD_SHARE[channel],
            "mean_leads_per_month": intensity[channel],
            "stage_pass_probability_at_quality_0": dict(
                zip(("intent", "proposal", "negotiation", "won"), STAGE_P[channel], strict=True)
            ),
            "marginal_stage_rates": rates,
            "stage_mean_days": dict(
                zip(
                    ("intent", "proposal", "negotiation", "decision"),
                    STAGE_DAYS[channel],
                    strict=True,
                )
            ),
            "stage_days_gamma_shape": STAGE_SHAPE,
        }
        if channel in CPL:
            entry["planted_cpl_at_mean_spend"] = CPL[channel]
            entry["elasticity"] = ELASTICITY[channel]
            entry["mean_monthly_spend"] = intensity[channel] * CPL[channel]
            if spend_df is not None:
                rows = spend_df[spend_df["channel"] == channel]
                spent_months = set(pd.to_datetime(rows["month"]).dt.strftime("%Y-%m"))
                mine = lead_info["channel_idx"] == ci
                months_of_leads = pd.Series(created_month[mine].astype(str))
                n_leads = int(months_of_leads.isin(spent_months).sum())
                total = round(float(rows["spend"].sum()), 2)
                entry["realised"] = {
                    "spend": total,
                    "leads_in_months_with_spend": n_leads,
                    "cost_per_lead": round(total / n_leads, 2),
                    "definition": "total recorded spend / leads created in months that have a "
                    "spend record (a month missing from the spend export is left out of both)",
                }
        per[channel] = entry
    return per


def _marginal_median(truth_accounts: pa.Table) -> float:
    """Median of T for the realised accounts' covariate mix: mean_i S_i(t) = 1/2, in days."""
    lp = truth_accounts["log_hazard"].to_numpy()
    lo, hi = 1.0, 20000.0
    for _ in range(80):
        mid = (lo + hi) / 2
        s = np.exp(-((mid / WEIBULL_SCALE_DAYS) ** WEIBULL_SHAPE) * np.exp(lp)).mean()
        lo, hi = (mid, hi) if s > 0.5 else (lo, mid)
    return round((lo + hi) / 2, 1)


def planted_ltv_cac(seed: int = DEFAULT_SEED, n: int = 200_000) -> dict[str, Any]:
    """Planted LTV:CAC per paid channel from the generative model (Monte Carlo, own stream).

    LTV = expected gross margin over the first ``LTV_HORIZON_DAYS`` of a customer's life,
    discounted at ``LTV_DISCOUNT`` a year (continuous time), averaging over the channel's
    archetype mix, covariates and Weibull lifetimes. CAC = planted cost per lead / marginal
    lead-to-won rate. Only the ranking is meant to be recovered by the analysis (its own LTV uses
    a survival model and the observed margins, so levels differ).
    """
    rng = np.random.default_rng([seed, 7])
    result: dict[str, Any] = {"horizon_days": LTV_HORIZON_DAYS, "discount_per_year": LTV_DISCOUNT}
    ratios = {}
    for channel in PAID_CHANNELS:
        arch = rng.choice(len(ARCHETYPES), n, p=ARCHETYPE_MIX[channel])
        size = _choice(rng, np.array([SIZE_BANDS_BY_ARCHETYPE[a] for a in ARCHETYPES])[arch])
        lp = (
            np.array([LOG_HR["size_band"][v] for v in SIZE_BANDS])[size]
            + LOG_HR["acquisition_channel"][channel]
            + rng.choice(
                np.array([LOG_HR["ownership_type"][v] for v in OWNERSHIP]), n, p=OWNERSHIP_P
            )
            + rng.choice(np.array([LOG_HR["industry"][v] for v in INDUSTRIES]), n)
            + rng.choice(np.array([LOG_HR["business_type"][v] for v in BUSINESS]), n, p=BUSINESS_P)
        )
        life = WEIBULL_SCALE_DAYS * (-np.log(rng.random(n)) / np.exp(lp)) ** (1 / WEIBULL_SHAPE)
        params = [ARCHETYPE_PARAMS[a] for a in ARCHETYPES]
        gap = np.array([p["gap"] for p in params])[arch]
        # Expected order value: lognormal means of order noise and account level.
        value = (
            np.array([p["value"] for p in params])[arch]
            * np.exp(np.array([p["sigma"] for p in params])[arch] ** 2 / 2)
            * np.exp(np.array([p["level"] for p in params])[arch] ** 2 / 2)
        )
        margin = (
            np.array([p["margin"] for p in params])[arch]
            + PRICE_INSENSITIVE_SHARE * PRICE_INSENSITIVE_MARGIN
        )
        growth = GROWING_SHARE * GROWTH_PER_YEAR  # first-order mean growth per year
        t = np.minimum(life, LTV_HORIZON_DAYS) / 365.25
        r = np.log1p(LTV_DISCOUNT)
        # integral_0^t exp(-r s) (1 + g s) ds, times the margin earned per year.
        discounted = (1 - np.exp(-r * t)) / r
        discounted += growth * ((1 - np.exp(-r * t) * (1 + r * t)) / r**2)
        per_year = 365.25 / gap * value * margin
        ltv = float((per_year * discounted).mean())
        cac = CPL[channel] / marginal_stage_rates(channel)["lead_to_won"]
        ratios[channel] = ltv / cac
        result[channel] = {"ltv": round(ltv, 2), "cac": round(cac, 2), "ratio": round(ltv / cac, 3)}
    result["order_best_to_worst"] = sorted(ratios, key=ratios.get, reverse=True)
    return result


# --- writing ---------------------------------------------------------------------------------


def write(
    out_dir: Path,
    n_accounts: int = DEFAULT_ACCOUNTS,
    seed: int = DEFAULT_SEED,
    tables: Iterable[str] = ("accounts", "orders", "leads", "touchpoints", "channel_spend"),
) -> dict[str, Any]:
    """Generate and write the data set atomically (each file via a temporary name + rename).

    ``truth.json`` is written last, so a directory with a ``truth.json`` is complete.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data, truth, truth_accounts = generate(n_accounts=n_accounts, seed=seed, tables=tables)
    (out_dir / "truth.json").unlink(missing_ok=True)
    for name, table in {**data, "truth_accounts": truth_accounts}.items():
        _atomic(
            out_dir / f"{name}.parquet",
            lambda p, t=table: pq.write_table(t, p, compression="zstd", row_group_size=1 << 20),
        )
    text = json.dumps(truth, indent=2, sort_keys=False) + "\n"
    _atomic(out_dir / "truth.json", lambda p: Path(p).write_text(text, encoding="utf-8"))
    return truth


def _atomic(path: Path, writer) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        writer(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; data files are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m helpers.demo --out data/demo [--accounts N] [--seed S]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEMO_DIR, help="output directory")
    parser.add_argument(
        "--accounts", type=int, default=DEFAULT_ACCOUNTS, help="approximate number of accounts"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--tables",
        default="accounts,orders,leads,touchpoints,channel_spend",
        help="comma-separated tables to write",
    )
    args = parser.parse_args(argv)
    truth = write(args.out, args.accounts, args.seed, args.tables.split(","))
    (args.out / ".complete").touch()
    print(f"wrote {truth['n_accounts']} accounts to {args.out}")


if __name__ == "__main__":
    main()
