"""``truth.json``: everything the generator planted, plus realised figures tests compare against.

The planted values are copied from ``parameters``; the derived ones are computed here: the
marginal median lifetime of the realised accounts, each channel's realised cost per lead, and
the planted LTV:CAC per paid channel (Monte Carlo on its own random stream, so it does not
move the data's stream).
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from helpers.demo.arrays import calendar_months, categorical
from helpers.demo.funnel import marginal_stage_rates
from helpers.demo.parameters import (
    ARCHETYPE_MIX,
    ARCHETYPE_PARAMS,
    ARCHETYPES,
    AS_OF,
    BUSINESS,
    BUSINESS_P,
    CANCEL_SHARE,
    CHANNELS,
    CHURN_THRESHOLD_DAYS,
    CPL,
    DEFAULT_SEED,
    ELASTICITY,
    GROWING_SHARE,
    GROWTH_PER_YEAR,
    INDUSTRIES,
    LATE_MONTH,
    LEAD_SHARE,
    LOG_HR,
    LTV_DISCOUNT,
    LTV_HORIZON_DAYS,
    MISSING_SPEND,
    ORDER_GAP_SHAPE,
    OWNERSHIP,
    OWNERSHIP_P,
    PAID_CHANNELS,
    PRICE_INSENSITIVE_MARGIN,
    PRICE_INSENSITIVE_SHARE,
    REFERENCE_LEVELS,
    RETURN_SHARE,
    SIZE_BANDS,
    SIZE_BANDS_BY_ARCHETYPE,
    SPECIAL_NAMES,
    STAGE_DAYS,
    STAGE_P,
    STAGE_SHAPE,
    STAGE_STEPS,
    STAGES,
    START,
    WEIBULL_SCALE_DAYS,
    WEIBULL_SHAPE,
)


def truth_json(
    n_accounts: int,
    seed: int,
    intensity: dict[str, float],
    spend: pa.Table | None,
    log_hazard: np.ndarray,
    lead_counts: np.ndarray,
) -> dict[str, Any]:
    """Everything planted, plus realised figures that tests compare against exactly.

    ``spend`` is the ``channel_spend`` table when it was made (the realised cost per lead needs
    it), ``log_hazard`` every account's planted log-hazard (in account order) and
    ``lead_counts`` the leads per channel and calendar month (``funnel.lead_counts``); the
    realised purchasing figures are added by the caller when orders were simulated.
    """
    truth: dict[str, Any] = {
        "seed": seed,
        "n_accounts_requested": n_accounts,
        "n_accounts": len(log_hazard),
        "start": str(START),
        "as_of": str(AS_OF),
        "churn": {
            "model": "Weibull proportional hazards on T = days from first to final order",
            "weibull_shape": WEIBULL_SHAPE,
            "weibull_scale_days": WEIBULL_SCALE_DAYS,
            "log_hazard_ratios": LOG_HR,
            "reference_levels": REFERENCE_LEVELS,
            "churn_threshold_days": CHURN_THRESHOLD_DAYS,
            "marginal_median_days": _marginal_median(log_hazard),
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
        "channels": _channel_truth(intensity, spend, lead_counts),
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


def _realised_cpl(channel_idx: int, spend: pd.DataFrame, lead_counts: np.ndarray) -> dict[str, Any]:
    """Realised cost per lead (currency) over the months that have a spend record."""
    channel = CHANNELS[channel_idx]
    rows = spend[spend["channel"] == channel]
    spent_months = set(pd.to_datetime(rows["month"]).dt.strftime("%Y-%m"))
    with_spend = np.isin(calendar_months().astype(str), sorted(spent_months))
    n_leads = int(lead_counts[channel_idx, with_spend].sum())
    total = round(float(rows["spend"].sum()), 2)
    return {
        "spend": total,
        "leads_in_months_with_spend": n_leads,
        "cost_per_lead": round(total / n_leads, 2),
        "definition": "total recorded spend / leads created in months that have a "
        "spend record (a month missing from the spend export is left out of both)",
    }


def _channel_truth(
    intensity: dict[str, float], spend: pa.Table | None, lead_counts: np.ndarray
) -> dict[str, Any]:
    """Per channel: planted funnel and spend parameters, and the realised cost per lead.

    The realised figures are only there when ``spend`` (the ``channel_spend`` table) was made.
    """
    per: dict[str, Any] = {}
    spend_df = spend.to_pandas() if spend is not None else None
    for ci, channel in enumerate(CHANNELS):
        entry: dict[str, Any] = {
            "paid": channel in CPL,
            "lead_share": LEAD_SHARE[channel],
            "mean_leads_per_month": intensity[channel],
            "stage_pass_probability_at_quality_0": dict(zip(STAGES, STAGE_P[channel], strict=True)),
            "marginal_stage_rates": marginal_stage_rates(channel),
            "stage_mean_days": dict(zip(STAGE_STEPS, STAGE_DAYS[channel], strict=True)),
            "stage_days_gamma_shape": STAGE_SHAPE,
        }
        if channel in CPL:
            entry["planted_cpl_at_mean_spend"] = CPL[channel]
            entry["elasticity"] = ELASTICITY[channel]
            entry["mean_monthly_spend"] = intensity[channel] * CPL[channel]
            if spend_df is not None:
                entry["realised"] = _realised_cpl(ci, spend_df, lead_counts)
        per[channel] = entry
    return per


def _marginal_median(lp: np.ndarray) -> float:
    """Median of T for the realised accounts' covariate mix: mean_i S_i(t) = 1/2, in days.

    ``lp`` is every account's planted log-hazard.
    """
    lo, hi = 1.0, 20000.0
    for _ in range(80):
        mid = (lo + hi) / 2
        s = np.exp(-((mid / WEIBULL_SCALE_DAYS) ** WEIBULL_SHAPE) * np.exp(lp)).mean()
        lo, hi = (mid, hi) if s > 0.5 else (lo, mid)
    return round((lo + hi) / 2, 1)


# --- planted LTV:CAC ---------------------------------------------------------------------------


def _sampled_customers(
    rng: np.random.Generator, channel: str, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` customers of ``channel`` from the model: (archetype index, lifetime in days)."""
    arch = rng.choice(len(ARCHETYPES), n, p=ARCHETYPE_MIX[channel])
    size = categorical(rng, np.array([SIZE_BANDS_BY_ARCHETYPE[a] for a in ARCHETYPES])[arch])
    lp = (
        np.array([LOG_HR["size_band"][v] for v in SIZE_BANDS])[size]
        + LOG_HR["acquisition_channel"][channel]
        + rng.choice(np.array([LOG_HR["ownership_type"][v] for v in OWNERSHIP]), n, p=OWNERSHIP_P)
        + rng.choice(np.array([LOG_HR["industry"][v] for v in INDUSTRIES]), n)
        + rng.choice(np.array([LOG_HR["business_type"][v] for v in BUSINESS]), n, p=BUSINESS_P)
    )
    life = WEIBULL_SCALE_DAYS * (-np.log(rng.random(n)) / np.exp(lp)) ** (1 / WEIBULL_SHAPE)
    return arch, life


def _mean_ltv(arch: np.ndarray, life: np.ndarray) -> float:
    """Mean discounted gross margin (currency) over the first ``LTV_HORIZON_DAYS`` of life.

    Margin per year = orders per year x expected order value x margin rate (with the mean
    price-insensitive uplift); growth is the first-order mean growth; discounting is
    continuous at ``log(1 + LTV_DISCOUNT)`` a year.
    """
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
    return float((per_year * discounted).mean())


def planted_ltv_cac(seed: int = DEFAULT_SEED, n: int = 200_000) -> dict[str, Any]:
    """Planted LTV:CAC per paid channel from the generative model (Monte Carlo, own stream).

    LTV = expected gross margin over the first ``LTV_HORIZON_DAYS`` of a customer's life,
    discounted at ``LTV_DISCOUNT`` a year (continuous time), averaging over the channel's
    archetype mix, covariates and Weibull lifetimes. CAC = planted cost per lead / marginal
    lead-to-won rate. Only the ranking is meant to be recovered by the analysis (its own LTV uses
    a survival model and the observed margins, so levels differ). The ``n`` draws per channel
    take about 0.7 s; the result depends on ``seed`` and ``n`` only, so it is computed once per
    process (a copy is returned).
    """
    return copy.deepcopy(_planted_ltv_cac(seed, n))


@functools.lru_cache(maxsize=8)
def _planted_ltv_cac(seed: int, n: int) -> dict[str, Any]:
    """``planted_ltv_cac`` itself (cached: callers get a deep copy)."""
    rng = np.random.default_rng([seed, 7])
    result: dict[str, Any] = {"horizon_days": LTV_HORIZON_DAYS, "discount_per_year": LTV_DISCOUNT}
    ratios = {}
    for channel in PAID_CHANNELS:
        ltv = _mean_ltv(*_sampled_customers(rng, channel, n))
        cac = CPL[channel] / marginal_stage_rates(channel)["lead_to_won"]
        ratios[channel] = ltv / cac
        result[channel] = {"ltv": round(ltv, 2), "cac": round(cac, 2), "ratio": round(ltv / cac, 3)}
    result["order_best_to_worst"] = sorted(ratios, key=ratios.get, reverse=True)
    return result
