"""``generate``: the whole company simulated in a fixed order of steps on one random stream.

The order of the steps below is the order of draws from the seeded stream; changing it (or
drawing more or fewer numbers in a step) changes every table built after it. The funnel and
the accounts are always simulated; a table that is not asked for is not built and its draws
are skipped, so the bytes of a table depend on the set of tables asked for (``data/demo``
holds the default set, ``ALL_TABLES``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa

from helpers.demo.accounts import (
    accounts_table,
    draw_accounts,
    truth_accounts_table,
)
from helpers.demo.arrays import calendar_months, window_days
from helpers.demo.funnel import (
    draw_prospects,
    lead_intensity,
    leads_table,
    simulate_funnel,
    simulate_lead_flow,
    spend_table,
)
from helpers.demo.orders import orders_table
from helpers.demo.parameters import ALL_TABLES, DEFAULT_ACCOUNTS, DEFAULT_SEED
from helpers.demo.touchpoints import touchpoints_table
from helpers.demo.truth import truth_json


def generate(
    n_accounts: int = DEFAULT_ACCOUNTS,
    seed: int = DEFAULT_SEED,
    tables: Iterable[str] = ALL_TABLES,
) -> tuple[dict[str, pa.Table], dict[str, Any], pa.Table]:
    """Simulate the company: (Arrow tables by name, truth dictionary, per-account truth table).

    ``n_accounts`` is approximate (it sets the lead volume; the won leads become accounts).
    ``tables`` names the contract tables to build (any of ``ALL_TABLES``); the funnel and the
    accounts are always simulated, and ``truth.json``'s realised purchasing figures are only
    there when ``accounts`` or ``orders`` is asked for.
    """
    tables = set(tables)
    rng = np.random.default_rng(seed)
    window = window_days()
    intensity = lead_intensity(n_accounts)
    flow = simulate_lead_flow(rng, intensity, calendar_months())
    funnel = simulate_funnel(rng, flow, window)
    prospects = draw_prospects(rng, flow, funnel)
    accounts = draw_accounts(rng, flow, funnel, prospects)
    truth_accounts = truth_accounts_table(accounts, funnel, flow.n_leads, window)
    account_ids = truth_accounts["account_id"]

    out: dict[str, pa.Table] = {}
    realised: dict[str, Any] | None = None
    if "accounts" in tables or "orders" in tables:
        orders, realised = orders_table(rng, accounts, window)
        if "orders" in tables:
            out["orders"] = orders
    if "accounts" in tables:
        out["accounts"] = accounts_table(rng, accounts, account_ids)
    if "leads" in tables:
        out["leads"] = leads_table(flow, funnel, prospects, accounts.lead, account_ids)
    if "touchpoints" in tables:
        out["touchpoints"] = touchpoints_table(rng, flow, funnel, accounts, account_ids, window)
    if "channel_spend" in tables:
        out["channel_spend"] = spend_table(flow.spend)

    truth = truth_json(n_accounts, seed, intensity, out, truth_accounts, flow)
    if realised is not None:
        truth["purchasing"].update(realised)
    return out, truth, truth_accounts
