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

Vectorised with NumPy and PyArrow (no per-row Python). A company of more than
``CHUNK_ACCOUNTS`` (100,000) accounts is simulated and written in chunks of about that many
accounts (``chunks``: company-level spend and lead counts first, then each chunk on its own
child stream, appended to the Parquet files as row groups), so ``--accounts 1000000`` needs the
memory of one chunk, not of the company (peak 1.6 GB, against 1.5 GB at 100,000 accounts in one
piece); a company that fits in one chunk is generated in one piece, byte for byte as before. ``tables=("accounts", "orders")`` skips leads,
touchpoints and spend output for benchmarks (the funnel is still simulated to make accounts).

The package, by concept: ``parameters`` (every planted number), ``funnel`` (spend, leads,
stages, the ``leads`` and ``channel_spend`` tables), ``accounts`` (won leads, covariates,
lifetimes), ``orders`` (renewal orders, lines, warts), ``touchpoints`` (interactions),
``truth`` (``truth.json``), ``simulation`` (``generate``: the steps in stream order),
``chunks`` (a large company chunk by chunk), ``writing`` (``write``) and ``__main__`` (the
command line).
"""

from __future__ import annotations

from helpers.demo.funnel import marginal_stage_rates
from helpers.demo.parameters import (
    ALL_TABLES,
    ARCHETYPES,
    AS_OF,
    CHANNELS,
    CHUNK_ACCOUNTS,
    CHURN_THRESHOLD_DAYS,
    CPL,
    DEFAULT_ACCOUNTS,
    DEFAULT_SEED,
    LOG_HR,
    PAID_CHANNELS,
    QUALITY_EFFECT,
    REFERENCE_LEVELS,
    STAGE_P,
    STAGES,
    START,
)
from helpers.demo.simulation import generate
from helpers.demo.truth import planted_ltv_cac
from helpers.demo.writing import write

__all__ = [
    "ALL_TABLES",
    "ARCHETYPES",
    "AS_OF",
    "CHANNELS",
    "CHUNK_ACCOUNTS",
    "CHURN_THRESHOLD_DAYS",
    "CPL",
    "DEFAULT_ACCOUNTS",
    "DEFAULT_SEED",
    "LOG_HR",
    "PAID_CHANNELS",
    "QUALITY_EFFECT",
    "REFERENCE_LEVELS",
    "STAGES",
    "STAGE_P",
    "START",
    "generate",
    "marginal_stage_rates",
    "planted_ltv_cac",
    "write",
]
