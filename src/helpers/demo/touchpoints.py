"""Interactions: touches before each lead, its inquiry, visits, demos, meetings, e-mails, care.

Each kind of touch is one step returning ``Touches`` (arrays over touches: lead index,
channel index into ``CHANNELS`` or -1 for e-mail, day offset, kind). Touches after ``AS_OF``
are not in the export. Times of day are uniform in office hours (08:00-18:00).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pyarrow as pa

from helpers.demo.accounts import Accounts
from helpers.demo.arrays import Numbering, logistic, positions_in_groups, to_dates
from helpers.demo.funnel import Funnel, LeadFlow
from helpers.demo.parameters import CHANNELS, LEAD_SHARE, PAID_CHANNELS

#: Channel index of nurture e-mails ('email' is not a lead source and has no spend).
EMAIL = -1


class Touches(NamedTuple):
    """Touches of leads: lead index, channel index (``EMAIL`` for e-mail), day offset, kind."""

    lead: np.ndarray
    channel: np.ndarray
    day: np.ndarray
    kind: np.ndarray


def _before_creation(rng: np.random.Generator, flow: LeadFlow, qpos: np.ndarray) -> Touches:
    """1 + Poisson(1 + q+) touches before creation: earlier ones on any channel (by lead share),
    the last on the source channel on the creation day; earlier ones 2-12 days apart.
    """
    n_ch = len(CHANNELS)
    share = np.array([LEAD_SHARE[c] for c in CHANNELS])
    n_pre = 1 + rng.poisson(1.0 + qpos)
    lead = np.repeat(np.arange(flow.n_leads), n_pre)
    pos = positions_in_groups(n_pre)
    is_last = pos == n_pre[lead] - 1
    chan = np.where(is_last, flow.channel_idx[lead], rng.choice(n_ch, len(lead), p=share))
    paid = chan < len(PAID_CHANNELS)
    kind_last = np.where(chan == 0, "trade_show_visit", np.where(paid, "ad_click", "site_visit"))
    kind_early = rng.choice(
        np.array(["site_visit", "content_download", "ad_click"]), len(lead), p=[0.6, 0.25, 0.15]
    )
    kind_early = np.where((kind_early == "ad_click") & ~paid, "site_visit", kind_early)
    kind = np.where(is_last, kind_last, kind_early)
    back = np.where(is_last, 0.0, (n_pre[lead] - pos) * rng.uniform(2, 12, len(lead)))
    day = flow.created[lead] - np.floor(back)
    return Touches(lead, chan, day, kind)


def _inquiries(flow: LeadFlow, funnel: Funnel) -> Touches:
    """The inquiry, on the source channel, on the day intent is reached (if by ``AS_OF``)."""
    inq = np.flatnonzero(funnel.observed_stage[:, 0])
    return Touches(
        inq, flow.channel_idx[inq], funnel.stage_time[inq, 0], np.full(len(inq), "inquiry")
    )


def _repeat_visits(
    rng: np.random.Generator, flow: LeadFlow, funnel: Funnel, qpos: np.ndarray, window: int
) -> Touches:
    """Poisson(0.8 + 1.2 q+) organic site visits after creation, before the decision/cut-off."""
    n_visit = rng.poisson(0.8 + 1.2 * qpos)
    lead_v = np.repeat(np.arange(flow.n_leads), n_visit)
    horizon = np.minimum(funnel.decision_time, window) - flow.created
    day_v = flow.created[lead_v] + np.floor(
        rng.random(len(lead_v)) * np.maximum(horizon[lead_v], 1)
    )
    return Touches(
        lead_v,
        np.full(len(lead_v), CHANNELS.index("organic_web")),
        day_v,
        np.full(len(lead_v), "site_visit"),
    )


def _demos(rng: np.random.Generator, flow: LeadFlow, funnel: Funnel) -> Touches:
    """A demo within a week of intent, with probability ``logistic(-0.5 + q)``."""
    demo = funnel.observed_stage[:, 0] & (
        rng.random(flow.n_leads) < logistic(-0.5 + 1.0 * funnel.quality)
    )
    d_idx = np.flatnonzero(demo)
    d_day = funnel.stage_time[d_idx, 0] + np.floor(rng.random(len(d_idx)) * 7)
    return Touches(d_idx, flow.channel_idx[d_idx], d_day, np.full(len(d_idx), "demo"))


def _meetings(flow: LeadFlow, funnel: Funnel) -> Touches:
    """A meeting on the day negotiation is reached (if by ``AS_OF``)."""
    meet = np.flatnonzero(funnel.observed_stage[:, 2])
    return Touches(
        meet, flow.channel_idx[meet], funnel.stage_time[meet, 2], np.full(len(meet), "meeting")
    )


def _emails(rng: np.random.Generator, flow: LeadFlow) -> Touches:
    """Poisson(0.7) nurture e-mails per lead, 1-59 days after creation."""
    n_mail = rng.poisson(0.7, flow.n_leads)
    lead_m = np.repeat(np.arange(flow.n_leads), n_mail)
    day_m = flow.created[lead_m] + rng.integers(1, 60, len(lead_m))
    return Touches(lead_m, np.full(len(lead_m), EMAIL), day_m, np.full(len(lead_m), "email"))


def _lead_touches(rng: np.random.Generator, flow: LeadFlow, funnel: Funnel, window: int) -> Touches:
    """Every touch of a lead, in the order of the steps, those after ``AS_OF`` dropped."""
    qpos = np.maximum(funnel.quality, 0)
    parts = [
        _before_creation(rng, flow, qpos),
        _inquiries(flow, funnel),
        _repeat_visits(rng, flow, funnel, qpos, window),
        _demos(rng, flow, funnel),
        _meetings(flow, funnel),
        _emails(rng, flow),
    ]
    lead, chan, day, kind = (np.concatenate(column) for column in zip(*parts, strict=True))
    keep = day <= window
    return Touches(lead[keep], chan[keep], day[keep], kind[keep])


def touchpoints_table(
    rng: np.random.Generator,
    flow: LeadFlow,
    funnel: Funnel,
    accounts: Accounts,
    account_ids: pa.ChunkedArray,
    window: int,
    numbering: Numbering,
) -> pa.Table:
    """The ``touchpoints`` contract table: lead touches, then account care, in time order.

    Account care is one e-mail-channel meeting per account 30-199 days after acquisition, on
    the account only (no lead). Rows are sorted by timestamp (ties keep step order) and numbered
    ``T`` + at least 8 digits (lead and touchpoint numbers by ``numbering``).
    """
    touches = _lead_touches(rng, flow, funnel, window)
    # Account care after conversion: a meeting per customer, on the account only.
    care_day = accounts.acquired + rng.integers(30, 200, accounts.n)
    ok = care_day <= window
    n_care, n_lead_rows = int(ok.sum()), len(touches.day)
    seconds = rng.integers(8 * 3600, 18 * 3600, n_lead_rows + n_care)
    ch_names = np.array((*CHANNELS, "email"))
    lead_ids = numbering.ids("lead", "L", touches.lead, flow.n_leads)
    stamps = to_dates(np.concatenate([touches.day, care_day[ok]])).astype(
        "datetime64[s]"
    ) + seconds.astype("timedelta64[s]")
    table = pa.table(
        {
            "lead_id": pa.concat_arrays([lead_ids, pa.nulls(n_care, pa.string())]),
            "account_id": pa.concat_arrays(
                [
                    pa.nulls(n_lead_rows, pa.string()),
                    account_ids.combine_chunks().filter(pa.array(ok)),
                ]
            ),
            "channel": pa.array(
                np.concatenate([ch_names[touches.channel], np.full(n_care, "email")])
            ),
            "touched_at": pa.array(stamps),
            "kind": pa.array(np.concatenate([touches.kind, np.full(n_care, "meeting")])),
        }
    )
    order = np.lexsort((np.arange(table.num_rows), stamps))
    table = table.take(pa.array(order))
    ids = numbering.ids("touchpoint", "T", np.arange(table.num_rows), table.num_rows)
    return table.add_column(0, "touchpoint_id", ids)
