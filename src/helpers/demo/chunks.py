"""A large company simulated in chunks of accounts, so memory follows the chunk, not the company.

A company asking for more than ``chunk_accounts`` accounts is split into
``ceil(n_accounts / chunk_accounts)`` chunks of about equal size. What belongs to the whole
company is drawn first, on its own stream: each paid channel's monthly spend and the number of
leads per channel and month (the same model as the one-piece company), and then a multinomial
split of each channel-month's leads over the chunks (equal shares). Each chunk then draws its
leads' creation days, funnel, accounts, orders, leads and touchpoints on its own stream, and
numbers its ids after the chunks before it. The streams are children of the seed
(``numpy.random.SeedSequence(seed).spawn``): the company's first, then one per chunk, so the
same seed, size and chunk size give the same bytes.

What differs from a company in one piece (which ``generate`` still makes whenever it fits in one
chunk, byte for byte as before):

* Rows are in date order *within* each chunk (the orders' late-arriving month still sits at the
  very end of the file, gathered from every chunk); the leads file is in creation order per
  chunk.
* Id widths are fixed before the first chunk, from bounds the company-level draws give:
  ``L`` and ``A`` + the digits of the number of leads (at least 7 and 6), ``O``/``R`` and ``T``
  + two digits more (at least 8), so ``A0000001`` may have more digits than the accounts need.
* ``truth.json`` has a ``chunks`` entry (count and accounts per chunk); its realised figures
  (accounts, marginal median lifetime, top-20% revenue share, row counts, cost per lead) are
  computed over every chunk, as for the one-piece company.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from helpers.demo.arrays import MIN_ID_DIGITS, Numbering, calendar_months, window_days
from helpers.demo.funnel import (
    SpendSeries,
    lead_flow_from_counts,
    lead_intensity,
    simulate_spend_and_counts,
    spend_table,
)
from helpers.demo.orders import Purchases, realised_purchasing
from helpers.demo.parameters import ALL_TABLES, CHUNK_ACCOUNTS, DEFAULT_SEED
from helpers.demo.simulation import Piece, simulate_piece
from helpers.demo.truth import truth_json


def chunk_count(n_accounts: int, chunk_accounts: int = CHUNK_ACCOUNTS) -> int:
    """Number of chunks a company of about ``n_accounts`` is simulated in (1: in one piece)."""
    if chunk_accounts < 1:
        raise ValueError(f"chunk_accounts must be at least 1, not {chunk_accounts}.")
    return max(1, math.ceil(n_accounts / chunk_accounts))


@dataclass(frozen=True)
class CompanyPlan:
    """The company-level draws of a chunked company and what each chunk starts from.

    ``lead_counts[k, c, m]`` is the number of leads of chunk ``k`` from channel ``c``
    (``CHANNELS`` order) created in calendar month ``m``; ``chunk_seeds[k]`` seeds chunk
    ``k``'s stream; ``widths`` are the digits of each kind of id (``arrays.Numbering``).
    """

    n_accounts: int
    seed: int
    chunk_accounts: int
    intensity: dict[str, float]
    spend: list[SpendSeries]
    lead_counts: np.ndarray
    chunk_seeds: list[np.random.SeedSequence]
    widths: dict[str, int]

    @property
    def n_chunks(self) -> int:
        """Number of chunks."""
        return len(self.chunk_seeds)


def plan_company(
    n_accounts: int, seed: int = DEFAULT_SEED, chunk_accounts: int = CHUNK_ACCOUNTS
) -> CompanyPlan:
    """Draw the company-level spend and lead counts and split the leads over the chunks."""
    n_chunks = chunk_count(n_accounts, chunk_accounts)
    company_seed, *chunk_seeds = np.random.SeedSequence(seed).spawn(n_chunks + 1)
    rng = np.random.default_rng(company_seed)
    intensity = lead_intensity(n_accounts)
    spend, counts = simulate_spend_and_counts(rng, intensity, calendar_months())
    shares = rng.multinomial(counts.ravel(), np.full(n_chunks, 1.0 / n_chunks))
    lead_counts = shares.T.reshape(n_chunks, *counts.shape)
    digits = len(str(int(counts.sum())))
    widths = {
        "lead": max(MIN_ID_DIGITS["lead"], digits),
        "account": max(MIN_ID_DIGITS["account"], digits),
        "order": max(MIN_ID_DIGITS["order"], digits + 2),
        "touchpoint": max(MIN_ID_DIGITS["touchpoint"], digits + 2),
    }
    return CompanyPlan(
        n_accounts, seed, chunk_accounts, intensity, spend, lead_counts, chunk_seeds, widths
    )


class ChunkedCompany:
    """A company simulated chunk by chunk: iterate ``pieces()``, then read ``truth()``.

    Only one chunk's tables are alive at a time (plus, per account, its planted log-hazard and
    revenue, 16 bytes, for ``truth.json``).
    """

    def __init__(
        self,
        n_accounts: int,
        seed: int = DEFAULT_SEED,
        tables: Iterable[str] = ALL_TABLES,
        chunk_accounts: int = CHUNK_ACCOUNTS,
    ) -> None:
        self.plan = plan_company(n_accounts, seed, chunk_accounts)
        self.tables = set(tables)
        self._log_hazards: list[np.ndarray] = []
        self._purchases: list[Purchases] = []
        self._done = 0

    def pieces(self) -> Iterator[Piece]:
        """Each chunk's tables, in chunk order (ids numbered after the chunks before)."""
        window, months = window_days(), calendar_months()
        offsets = dict.fromkeys(MIN_ID_DIGITS, 0)
        for k, seed in enumerate(self.plan.chunk_seeds):
            rng = np.random.default_rng(seed)
            flow = lead_flow_from_counts(rng, self.plan.lead_counts[k], months)
            numbering = Numbering(dict(offsets), self.plan.widths)
            piece = simulate_piece(rng, flow, window, self.tables, numbering)
            self._log_hazards.append(piece.log_hazard)
            if piece.purchases is not None:
                self._purchases.append(piece.purchases)
            for kind, count in piece.counts.items():
                offsets[kind] += count
            self._done = k + 1
            yield piece
            del piece, flow  # only one chunk alive: the next one is simulated without this one

    def spend_table(self) -> pa.Table | None:
        """The company's ``channel_spend`` table (None when it was not asked for)."""
        return spend_table(self.plan.spend) if "channel_spend" in self.tables else None

    def truth(self) -> dict[str, Any]:
        """``truth.json`` over every chunk; call it after ``pieces()`` ran to the end."""
        plan = self.plan
        if self._done != plan.n_chunks:
            raise RuntimeError(f"only {self._done} of {plan.n_chunks} chunks were simulated.")
        truth = truth_json(
            plan.n_accounts,
            plan.seed,
            plan.intensity,
            self.spend_table(),
            np.concatenate(self._log_hazards),
            plan.lead_counts.sum(axis=0),
        )
        truth["chunks"] = {
            "count": plan.n_chunks,
            "accounts_per_chunk_requested": plan.chunk_accounts,
            "note": "simulated in chunks (helpers.demo.chunks): rows are in date order within "
            "each chunk; the late-arriving month is at the end of the orders file",
        }
        if self._purchases:
            truth["purchasing"].update(realised_purchasing(self._purchases))
        return truth
