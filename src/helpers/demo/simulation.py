"""``generate``: the whole company simulated in a fixed order of steps on one random stream.

The order of the steps below is the order of draws from the seeded stream; changing it (or
drawing more or fewer numbers in a step) changes every table built after it. The funnel and
the accounts are always simulated; a table that is not asked for is not built and its draws
are skipped, so the bytes of a table depend on the set of tables asked for (``data/demo``
holds the default set, ``ALL_TABLES``). ``simulate_piece`` is everything after the lead flow;
``chunks`` runs it once per chunk of a large company.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from helpers.demo.accounts import (
    accounts_table,
    draw_accounts,
    truth_accounts_table,
)
from helpers.demo.arrays import Numbering, calendar_months, window_days
from helpers.demo.funnel import (
    LeadFlow,
    draw_prospects,
    lead_counts,
    lead_intensity,
    leads_table,
    simulate_funnel,
    simulate_lead_flow,
    spend_table,
)
from helpers.demo.orders import Purchases, orders_table, realised_purchasing
from helpers.demo.parameters import ALL_TABLES, DEFAULT_ACCOUNTS, DEFAULT_SEED
from helpers.demo.touchpoints import touchpoints_table
from helpers.demo.truth import truth_json


@dataclass(frozen=True)
class Piece:
    """The company's tables from one lead flow (the whole company, or one chunk of it).

    ``tables`` holds the contract tables asked for (not ``channel_spend``, which is made once
    for the company); ``truth_accounts`` the per-account truth; ``log_hazard`` each account's
    planted log-hazard and ``purchases`` the purchasing counts (None when neither accounts nor
    orders were asked for), both for ``truth.json``; ``counts`` the rows of each kind of id
    (``arrays.MIN_ID_DIGITS``) the piece numbered, so the next chunk numbers after them.
    """

    tables: dict[str, pa.Table]
    truth_accounts: pa.Table
    log_hazard: np.ndarray
    purchases: Purchases | None
    counts: dict[str, int]


def simulate_piece(
    rng: np.random.Generator,
    flow: LeadFlow,
    window: int,
    tables: set[str],
    numbering: Numbering,
) -> Piece:
    """Funnel, accounts, orders, leads and touchpoints of the leads in ``flow``, in stream order.

    ``window`` is the ``AS_OF`` day offset; ids are numbered by ``numbering``.
    """
    funnel = simulate_funnel(rng, flow, window)
    prospects = draw_prospects(rng, flow, funnel)
    accounts = draw_accounts(rng, flow, funnel, prospects)
    truth_accounts = truth_accounts_table(accounts, funnel, flow.n_leads, window, numbering)
    account_ids = truth_accounts["account_id"]

    out: dict[str, pa.Table] = {}
    purchases: Purchases | None = None
    if "accounts" in tables or "orders" in tables:
        orders, purchases = orders_table(rng, accounts, window, numbering)
        if "orders" in tables:
            out["orders"] = orders
    if "accounts" in tables:
        out["accounts"] = accounts_table(rng, accounts, account_ids, numbering)
    if "leads" in tables:
        out["leads"] = leads_table(flow, funnel, prospects, accounts.lead, account_ids, numbering)
    if "touchpoints" in tables:
        out["touchpoints"] = touchpoints_table(
            rng, flow, funnel, accounts, account_ids, window, numbering
        )
    counts = {
        "lead": flow.n_leads,
        "account": accounts.n,
        "order": purchases.n_orders if purchases is not None else 0,
        "touchpoint": out["touchpoints"].num_rows if "touchpoints" in out else 0,
    }
    return Piece(out, truth_accounts, accounts.log_hazard, purchases, counts)


def generate(
    n_accounts: int = DEFAULT_ACCOUNTS,
    seed: int = DEFAULT_SEED,
    tables: Iterable[str] = ALL_TABLES,
) -> tuple[dict[str, pa.Table], dict[str, Any], pa.Table]:
    """Simulate the company in one piece: (Arrow tables by name, truth, per-account truth).

    ``n_accounts`` is approximate (it sets the lead volume; the won leads become accounts).
    ``tables`` names the contract tables to build (any of ``ALL_TABLES``); the funnel and the
    accounts are always simulated, and ``truth.json``'s realised purchasing figures are only
    there when ``accounts`` or ``orders`` is asked for. Everything is held in memory (about
    1.5 GB at 100,000 accounts); ``writing.write`` writes larger companies in chunks.
    """
    tables = set(tables)
    rng = np.random.default_rng(seed)
    window = window_days()
    months = calendar_months()
    intensity = lead_intensity(n_accounts)
    flow = simulate_lead_flow(rng, intensity, months)
    piece = simulate_piece(rng, flow, window, tables, Numbering())
    out = dict(piece.tables)
    if "channel_spend" in tables:
        out["channel_spend"] = spend_table(flow.spend)
    truth = truth_json(
        n_accounts,
        seed,
        intensity,
        out.get("channel_spend"),
        piece.log_hazard,
        lead_counts(flow, months),
    )
    if piece.purchases is not None:
        truth["purchasing"].update(realised_purchasing([piece.purchases]))
    return out, truth, piece.truth_accounts
