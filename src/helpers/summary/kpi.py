"""The KPI strip at the top of the leadership summary: five numbers leadership acts on, each
with its currency, its period and a status colour, read from the studies' metrics.

The KPIs (``key``: what, from which study's metrics):

- ``revenue``: revenue of the data overview's last complete period (its ``PERIOD``), with the
  change vs the period before and vs the same period a year earlier (overview).
- ``retention``: the share of the previous period's buying accounts that bought again in the
  period, as the overview's decomposition defines it (overview).
- ``new_accounts``: accounts whose first completed order is in the period (overview).
- ``revenue_at_risk``: the revenue the churn study expects to lose over its horizon (the next
  ``horizon_days`` days) with its 95% interval, and as a share of the period's revenue scaled
  to the same number of days (``revenue x horizon_days / days in the period``) (churn).
- ``cac``: paid channels' spend per new customer over the channel study's window (channels).

Status: ``"good"``/``"bad"`` against the value in a targets file when it names the KPI (at
least the target for revenue, retention and new accounts; at most for revenue at risk and
CAC), else against the previous period (up is good for revenue, retention and new accounts);
``"neutral"`` when there is nothing to compare with (revenue at risk and CAC without a target,
or a value that is not available). A KPI that a study could not compute has ``value`` None,
its ``reason``, and reads "not available: <reason>".

Targets (``TARGETS`` of notebook 90): a YAML mapping ``{kpi: value}`` of the keys above, in the
KPI's unit (money in the metrics' currency, retention as a share 0-1); ``cac`` may instead map
paid channels to their own target (``{linkedin_ads: 2500, google_ads: 1800}``), the status
then being bad when any of them is above its target. :func:`read_targets` (in
:mod:`helpers.summary.targets`) checks the file at the boundary and names the file and the key
of any problem.
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from IPython.display import HTML

from helpers import formats
from helpers.summary.figures import Figure, figure
from helpers.summary.runs import KPI_STUDIES, StudyRun

# the KPI list and the targets file live in helpers.summary.targets
from helpers.summary.targets import LABELS as LABELS
from helpers.summary.targets import LOWER_IS_BETTER as LOWER_IS_BETTER
from helpers.summary.targets import Targets as Targets
from helpers.summary.targets import TargetsError as TargetsError
from helpers.summary.targets import read_targets as read_targets

STATUSES = ("good", "bad", "neutral")


@dataclass(frozen=True)
class Kpi:
    """One KPI of the strip (see module docstring); :meth:`as_dict` is the entry recorded in
    the summary's metrics (``kpis``)."""

    key: str
    label: str
    value: float | None
    text: str  # the value with its unit or currency, or "not available: <reason>"
    period: str  # in the reader's words: "2025 Q4", "next 90 days", "1 Jan 2022 – 31 Dec 2025"
    comparison: str  # "+4% vs 2025 Q3, -2% vs 2024 Q4", or ""
    status: str  # "good", "bad" or "neutral"
    reason: str  # why value is None, else ""
    #: for the card only (not recorded): ``text`` split into a big value and a small line
    #: under it ("1.8M EUR" and "95% interval 1.6M EUR–2.0M EUR"); empty: ``text`` is shown
    headline: str = ""
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The recorded entry: exactly the keys key, label, value, text, period, comparison,
        status and reason."""
        return {k: v for k, v in asdict(self).items() if k not in ("headline", "detail")}


@dataclass(frozen=True)
class KpiStrip:
    """The strip: its KPIs in :data:`LABELS` order and one sentence on what the status colours
    compare with (``basis``)."""

    kpis: tuple[Kpi, ...]
    basis: str

    def records(self) -> list[dict[str, Any]]:
        """The KPIs as the summary's metrics record them (``SummaryMetrics.kpis``)."""
        return [k.as_dict() for k in self.kpis]

    def __getitem__(self, key: str) -> Kpi:
        return next(k for k in self.kpis if k.key == key)


def _missing(found: Mapping[str, StudyRun], study: str) -> Figure | None:
    """Why no number of ``study`` can be read (None when its metrics were found)."""
    run = found.get(study)
    if run is not None and run.metrics is not None:
        return None
    refused = " (a metrics file of it was refused)" if run is not None and run.refused else ""
    return Figure(
        None,
        f"no {study} metrics were found for this selection{refused}; "
        f"run {KPI_STUDIES[study]} on it",
    )


def _read(found: Mapping[str, StudyRun], study: str, name: str) -> Figure:
    """Field ``name`` of ``study``'s metrics as a :class:`Figure` (or why it is missing)."""
    return _missing(found, study) or figure(found[study], name)


def _sign_status(delta: float | None) -> str:
    """Against the previous period (up is better for the KPIs compared this way). A change
    the card shows as "+0%" or "-0 pts" (under half a percent or point: changes and shares
    are written to whole percents) is neutral, so the colour never contradicts the text."""
    if delta is None or not math.isfinite(delta) or abs(delta) < 0.005:
        return "neutral"
    return "good" if delta > 0 else "bad"


def _target_status(key: str, value: float, target: float) -> str:
    if key in LOWER_IS_BETTER:
        return "good" if value <= target else "bad"
    return "good" if value >= target else "bad"


def _relative(now: float, before: float | None) -> float | None:
    if before is None or not formats.finite(before) or before == 0:
        return None
    return now / before - 1


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _unavailable(key: str, period: str, reason: str) -> Kpi:
    return Kpi(key, LABELS[key], None, f"not available: {reason}", period, "", "neutral", reason)


def _period_words(found: Mapping[str, StudyRun]) -> str:
    period = _read(found, "overview", "period")
    return formats.period(period.value) if period.value is not None else ""


def _currency(found: Mapping[str, StudyRun], study: str) -> str | None:
    run = found.get(study)
    return run.metrics.currency if run is not None and run.metrics is not None else None


def _with_target(kpi: Kpi, targets: Targets | None, fmt) -> Kpi:
    """``kpi`` with its status from the target of ``targets`` (when it names one)."""
    if targets is None or kpi.key not in targets.values or kpi.value is None:
        return kpi
    target = targets.values[kpi.key]
    bound = "at most" if kpi.key in LOWER_IS_BETTER else "at least"
    return dataclasses.replace(
        kpi,
        comparison=_join(kpi.comparison, f"target {bound} {fmt(target)}"),
        status=_target_status(kpi.key, kpi.value, target),
    )


def revenue_kpi(found: Mapping[str, StudyRun], targets: Targets | None = None) -> Kpi:
    """Revenue of the overview's last complete period (currency) with its change vs the
    period before and vs the same period a year earlier (relative, e.g. "+4% vs 2025 Q3")."""
    period = _period_words(found)
    revenue = _read(found, "overview", "revenue")
    if revenue.value is None:
        return _unavailable("revenue", period, revenue.reason)
    currency = _currency(found, "overview")
    before = _read(found, "overview", "revenue_before")
    compared = _read(found, "overview", "compared_with")
    year = _read(found, "overview", "revenue_year_before")
    run = found["overview"]
    earlier = ""
    if run.metrics.period:  # type: ignore[union-attr]
        p = pd.Period(run.metrics.period)  # type: ignore[union-attr]
        earlier = formats.period(str(pd.Period(p.start_time - pd.DateOffset(years=1), freq=p.freq)))
    value = float(revenue.value)
    to_before = _relative(value, before.value)
    to_year = _relative(value, year.value)
    parts = [
        f"{formats.change(to_before)} vs {formats.period(compared.value)}"
        if to_before is not None
        else "",
        f"{formats.change(to_year)} vs {earlier}" if to_year is not None else "",
        f"vs a year earlier not available: {year.reason}" if year.value is None else "",
    ]
    kpi = Kpi(
        "revenue",
        LABELS["revenue"],
        value,
        formats.money(value, currency),
        period,
        ", ".join(p for p in parts if p),
        _sign_status(to_before),
        "",
    )
    return _with_target(kpi, targets, lambda t: formats.money(t, currency))


def retention_kpi(found: Mapping[str, StudyRun], targets: Targets | None = None) -> Kpi:
    """The share (0-1) of the previous period's buying accounts that bought again in the
    overview's period, with its change in percentage points vs the period before."""
    period = _period_words(found)
    retention = _read(found, "overview", "retention")
    if retention.value is None:
        return _unavailable("retention", period, retention.reason)
    before = _read(found, "overview", "retention_before")
    compared = _read(found, "overview", "compared_with")
    value = float(retention.value)
    delta = value - before.value if before.value is not None else None
    kpi = Kpi(
        "retention",
        LABELS["retention"],
        value,
        formats.share(value),
        period,
        f"{formats.points(delta)} vs {formats.period(compared.value)}" if delta is not None else "",
        _sign_status(delta),
        "",
    )
    return _with_target(kpi, targets, formats.share)


def new_accounts_kpi(found: Mapping[str, StudyRun], targets: Targets | None = None) -> Kpi:
    """Accounts with their first completed order in the overview's period (a count), with the
    relative change vs the period before."""
    period = _period_words(found)
    new = _read(found, "overview", "new_accounts")
    if new.value is None:
        return _unavailable("new_accounts", period, new.reason)
    before = _read(found, "overview", "new_accounts_before")
    compared = _read(found, "overview", "compared_with")
    value = float(new.value)
    delta = _relative(value, before.value)
    kpi = Kpi(
        "new_accounts",
        LABELS["new_accounts"],
        value,
        formats.count(value),
        period,
        f"{formats.change(delta)} vs {formats.period(compared.value)}" if delta is not None else "",
        _sign_status(delta),
        "",
    )
    return _with_target(kpi, targets, formats.count)


def period_days(found: Mapping[str, StudyRun]) -> Figure:
    """The number of days of the overview's period (from its first and last day)."""
    start = _read(found, "overview", "period_start")
    end = _read(found, "overview", "period_end")
    missing = next((f for f in (start, end) if f.value is None), None)
    if missing is not None:
        return missing
    return Figure((pd.Timestamp(end.value) - pd.Timestamp(start.value)).days + 1)


def risk_share(found: Mapping[str, StudyRun]) -> Figure:
    """Revenue at risk over the churn horizon as a share (0-1) of the overview period's
    revenue scaled to the same number of days: ``at_risk / (revenue x horizon / days)``."""
    at_risk = _read(found, "churn", "revenue_at_risk")
    revenue = _read(found, "overview", "revenue")
    days = period_days(found)
    missing = next((f for f in (at_risk, revenue, days) if f.value is None), None)
    if missing is not None:
        return missing
    horizon = found["churn"].metrics.horizon_days  # type: ignore[union-attr]
    scaled = float(revenue.value) * horizon / float(days.value)
    if scaled <= 0:
        return Figure(None, "the period's revenue is not positive")
    return Figure(float(at_risk.value) / scaled)


def revenue_at_risk_kpi(found: Mapping[str, StudyRun], targets: Targets | None = None) -> Kpi:
    """Revenue at risk over the churn study's horizon (currency) with its 95% interval, and as
    a share of the period's revenue scaled to the horizon's days (:func:`risk_share`)."""
    missing = _missing(found, "churn")
    if missing is not None:
        return _unavailable("revenue_at_risk", "", missing.reason)
    horizon = found["churn"].metrics.horizon_days  # type: ignore[union-attr]
    days = f"{formats.count(horizon)} days"
    period = f"next {days}"
    risk = _read(found, "churn", "revenue_at_risk")
    if risk.value is None:
        return _unavailable("revenue_at_risk", period, risk.reason)
    currency = _currency(found, "churn")
    interval = _read(found, "churn", "revenue_at_risk_interval").value or [None, None]
    band = formats.interval(*interval, fmt=lambda v: formats.money(v, currency))
    share = risk_share(found)
    overview = _period_words(found)
    scale = (
        f"{formats.share(share.value)} of revenue over {days} at the {overview} rate"
        if share.value is not None
        else f"share of revenue not available: {share.reason}"
    )
    value = float(risk.value)
    headline = formats.money(value, currency)
    text = headline + (f" ({band})" if band else "")
    kpi = Kpi(
        "revenue_at_risk",
        LABELS["revenue_at_risk"],
        value,
        text,
        period,
        scale,
        "neutral",
        "",
        headline,
        band,
    )
    return _with_target(kpi, targets, lambda t: formats.money(t, currency))


def _window(found: Mapping[str, StudyRun]) -> str:
    start = _read(found, "channels", "window_start")
    end = _read(found, "channels", "window_end")
    if start.value is None or end.value is None:
        return ""
    return f"{formats.date(start.value)} – {formats.date(end.value)}"


def _channel_cac(found: Mapping[str, StudyRun]) -> dict[str, float]:
    """Each paid channel's spend per new customer over the window (the definition of
    ``cac_all``), from the channel metrics' cost table."""
    costs = _read(found, "channels", "costs").value or {}
    out = {}
    for channel, row in costs.items():
        spend, won = row.get("spend"), row.get("customers")
        if row.get("paid") and formats.finite(spend) and formats.finite(won) and won > 0:
            out[channel] = float(spend) / float(won)
    return out


def cac_kpi(found: Mapping[str, StudyRun], targets: Targets | None = None) -> Kpi:
    """Paid channels' spend per new customer over the channel study's window (currency). With
    per-channel targets the status is bad when any paid channel's own cost per new customer
    (same definition) is above its target, good when none is."""
    missing = _missing(found, "channels")
    if missing is not None:
        return _unavailable("cac", "", missing.reason)
    period = _window(found)
    cac = _read(found, "channels", "cac_all")
    if cac.value is None:
        return _unavailable("cac", period, cac.reason)
    currency = _currency(found, "channels")
    value = float(cac.value)
    kpi = Kpi(
        "cac", LABELS["cac"], value, formats.money(value, currency), period, "", "neutral", ""
    )
    if targets is None or not targets.cac_by_channel:
        return _with_target(kpi, targets, lambda t: formats.money(t, currency))
    actual = _channel_cac(found)
    over, absent = [], []
    for channel, target in targets.cac_by_channel.items():
        name = formats.display_name(channel)
        if channel not in actual:
            absent.append(name)
        elif actual[channel] > target:
            over.append(
                f"{name} {formats.money(actual[channel], currency)} above its target "
                f"{formats.money(target, currency)}"
            )
    checked = len(targets.cac_by_channel) - len(absent)
    at_or_below = "every channel at or below its target" if checked else ""
    words = [
        ", ".join(over) or at_or_below,
        f"no cost per new customer for {', '.join(absent)}" if absent else "",
    ]
    status = "bad" if over else ("good" if checked else "neutral")
    return dataclasses.replace(kpi, comparison=_join(*words), status=status)


def _listing(names: list[str]) -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"``."""
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


def kpi_strip(found: Mapping[str, StudyRun], targets: Targets | None = None) -> KpiStrip:
    """The KPI strip from the studies' metrics (``found`` from
    ``summary.find_metrics(..., studies=summary.KPI_STUDIES)``) and optional ``targets``
    (:func:`read_targets`); see the module docstring for each KPI, its unit and status."""
    kpis = (
        revenue_kpi(found, targets),
        retention_kpi(found, targets),
        new_accounts_kpi(found, targets),
        revenue_at_risk_kpi(found, targets),
        cac_kpi(found, targets),
    )
    named = [LABELS[k].lower() for k in LABELS if targets is not None and targets.names(k)]
    if targets is None:
        basis = (
            "Colours compare each figure with the previous period (green better, red worse, "
            "grey: nothing to compare with)."
        )
    else:
        basis = (
            f"Colours compare {_listing(named) or 'no figure'} with the targets in "
            f"{Path(targets.path).name}, and the rest with the previous period (grey: nothing "
            "to compare with)."
        )
    return KpiStrip(kpis, basis)


#: The strip's style: fixed text, no data in it.
_STYLE = """<style>
.kpi-strip{display:flex;flex-wrap:wrap;gap:.6rem;margin:.5rem 0}
.kpi-card{flex:1 1 10rem;border:1px solid #ddd;border-top:.35rem solid #8c8c8c;
border-radius:.3rem;padding:.5rem .7rem;background:#fff}
.kpi-card.kpi-good{border-top-color:#029e73}
.kpi-card.kpi-bad{border-top-color:#d55e00}
.kpi-label{font-size:.85rem;color:#444}
.kpi-value{font-size:1.5rem;font-weight:bold;margin:.15rem 0}
.kpi-card.kpi-missing .kpi-value{font-size:.9rem;font-weight:normal}
.kpi-period,.kpi-comparison,.kpi-detail{font-size:.8rem;color:#555}
.kpi-basis{font-size:.8rem;color:#555}
</style>"""


#: The word under a card for each status (colour is not the only signal).
_STATUS_WORDS = {"good": "on track", "bad": "needs attention", "neutral": ""}


def _card(kpi: Kpi) -> str:
    e = html.escape
    status = kpi.status if kpi.status in STATUSES else "neutral"
    missing = " kpi-missing" if kpi.value is None else ""
    return (
        f'<div class="kpi kpi-card kpi-{status}{missing}">'
        f'<div class="kpi-label">{e(kpi.label)}</div>'
        f'<div class="kpi-value">{e(kpi.headline or kpi.text)}</div>'
        f'<div class="kpi-detail">{e(kpi.detail)}</div>'
        f'<div class="kpi-period">{e(kpi.period)}</div>'
        f'<div class="kpi-comparison">{e(kpi.comparison)}</div>'
        f'<div class="kpi-status">{e(_STATUS_WORDS[status])}</div>'
        "</div>"
    )


def strip_html(strip: KpiStrip) -> HTML:
    """The strip as HTML: one card per KPI (label, value, period, comparison and its status as
    a CSS class ``kpi-good``/``kpi-bad``/``kpi-neutral`` and a word) and the sentence on what
    the colours compare with. Every piece of text is escaped; the markup is fixed."""
    cards = "".join(_card(k) for k in strip.kpis)
    return HTML(
        f'{_STYLE}<div class="kpi-strip">{cards}</div>'
        f'<p class="kpi-basis">{html.escape(strip.basis)}</p>'
    )
