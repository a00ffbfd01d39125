"""The planted parameters of the demo company: calendar, channels, funnel, archetypes, churn.

Every number the generator plants lives here (``truth.json`` copies them); the simulation
modules only read them. Units are in the names or the comments: days, currency (the demo's
one currency), shares and probabilities 0-1, log-hazard ratios (natural log).
"""

from __future__ import annotations

import numpy as np

START = np.datetime64("2022-01-01")
AS_OF = np.datetime64("2025-12-31")
DEFAULT_SEED = 20251231
DEFAULT_ACCOUNTS = 3000
#: Accounts per chunk when a company is written in pieces (``chunks``): a company asking for
#: at most this many is simulated in one piece, as it always was (about 1.5 GB at 100,000).
CHUNK_ACCOUNTS = 100_000

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

#: The stages a lead passes, in order (the last is the won decision).
STAGES: tuple[str, ...] = ("intent", "proposal", "negotiation", "won")
#: The steps whose mean durations ``STAGE_DAYS`` gives (the last one ends at the decision).
STAGE_STEPS: tuple[str, ...] = ("intent", "proposal", "negotiation", "decision")
#: Every table the generator can write (the contract tables).
ALL_TABLES: tuple[str, ...] = ("accounts", "orders", "leads", "touchpoints", "channel_spend")
