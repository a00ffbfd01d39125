"""The leadership page's sentences: key findings, recommended moves, and the notes on missing,
refused or mixed runs and on what the studies could not compute.

Numbers are written by :mod:`helpers.formats` (money in the currency the study's metrics
record). Channels are named by :func:`helpers.formats.display_name` without a data source's
overrides: the page reads only metrics, which do not record the overrides a study used (the
built-in names, e.g. "LinkedIn ads", apply). Each paid channel's move is the verdict the
channel study recorded (:func:`helpers.payback.verdict_of`), worded as the study words it; the
cost quadrant is never a move."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from helpers import formats, payback
from helpers.schemas import ChurnMetrics
from helpers.summary.figures import Figure, channel_table, clause, count, figure
from helpers.summary.runs import STUDIES, StudyRun


def consistency_notes(found: Mapping[str, StudyRun]) -> list[str]:
    """Sentences for studies that are missing or that ran on different data or dates, and for
    metrics files that were not read because they do not match their schema (named when the
    study is missing from the page or comes from a variant run, i.e. when they might have been
    the run to show)."""
    notes = [
        f"No {s.study} metrics found (notebook {STUDIES[s.study]} has not run on this "
        "selection): its part of the summary is left out."
        if not s.refused
        else f"No readable {s.study} metrics found: its part of the summary is left out."
        for s in found.values()
        if s.metrics is None
    ]
    notes += [
        f"The {s.study} figures come from the run {s.folder.name} ("
        + ", ".join(f"{k} = {v}" for k, v in s.variant.items())
        + "): no run of this selection without those parameters was found."
        for s in found.values()
        if s.metrics is not None and s.variant
    ]
    notes += [note for s in found.values() if s.metrics is None or s.variant for note in s.refused]
    present = [s for s in found.values() if s.metrics is not None]
    for key, label in (("data_fingerprint", "data"), ("analysis_date", "analysis dates")):
        values = {getattr(s.metrics, key) for s in present}
        if len(values) > 1:
            shown = formats.date if key == "analysis_date" else str
            listing = ", ".join(f"{s.study}: {shown(getattr(s.metrics, key))}" for s in present)
            notes.append(
                f"The studies were run on different {label} ({listing}): compare with care."
            )
    return notes


#: Reader-facing names of metrics fields in the sentences on what a study could not compute.
FIELD_LABELS: dict[str, str] = {
    "top_1pct_share": "revenue share of the top 1% of accounts",
    "top_5pct_share": "revenue share of the top 5% of accounts",
    "top_10pct_share": "revenue share of the top 10% of accounts",
    "top_20pct_share": "revenue share of the top 20% of accounts",
    "gini": "Gini coefficient",
    "tier_revenue_share": "revenue share by value tier",
    "lead_score_auc": "lead score AUC",
    "km_median_days": "median customer lifetime",
    "cox_concordance": "Cox model concordance",
    "log_hazard_ratios": "hazard ratios",
    "prechurn_accounts": "pre-churn list",
    "ltv_by_tier": "lifetime value by tier",
    "ltv_by_channel": "lifetime value by channel",
    "ltv_cac": "LTV:CAC",
    "quadrant": "cost quadrant",
    "attribution": "attributed conversions",
    # fields of the KPI strip and trends (helpers.summary.kpi, .trends)
    "cac_all": "cost per new customer of paid channels",
    "window_start": "start of the reporting window",
    "window_end": "end of the reporting window",
    "quarterly_cac": "cost per new customer by quarter",
    "quarterly_churn": "churn by quarter",
    "quarterly_top20_share": "revenue concentration by quarter",
}


def gaps(found: Mapping[str, StudyRun]) -> list[str]:
    """One sentence per study and reason for the fields a study could not compute on its data
    (its ``skipped``, in the order the schema declares them), e.g. "From the churn study, Cox
    model concordance and hazard ratios are not available: only 5 churn events (a Cox model
    needs at least 20)."."""
    out = []
    for s in found.values():
        skipped = s.metrics.skipped if s.metrics else {}
        declared = [f.name for f in dataclasses.fields(s.metrics)] if s.metrics else []
        by_reason: dict[str, list[str]] = {}
        for name in [*(n for n in declared if n in skipped), *sorted(set(skipped) - {*declared})]:
            label = FIELD_LABELS.get(name, name.replace("_", " "))
            by_reason.setdefault(skipped[name], []).append(label)
        for reason, labels in by_reason.items():
            listed = ", ".join(labels[:-1]) + " and " + labels[-1] if len(labels) > 1 else labels[0]
            verb = "are" if len(labels) > 1 else "is"
            out.append(f"From the {s.study} study, {listed} {verb} not available: {reason}.")
    return out


def notes(found: Mapping[str, StudyRun]) -> list[str]:
    """Everything the page notes under its key findings: :func:`consistency_notes` (missing,
    refused or mixed runs), then :func:`gaps` (what the studies could not compute)."""
    return consistency_notes(found) + gaps(found)


def _strategic_share(run: StudyRun) -> Figure:
    return figure(run, "tier_revenue_share", "strategic")


def _segmentation_finding(seg: StudyRun) -> str:
    top20, gini = figure(seg, "top_20pct_share"), figure(seg, "gini")
    share = _strategic_share(seg)
    strategic = clause(
        lambda n: (
            f"{count(n)} strategic accounts"
            + clause(
                lambda s: f" carry {formats.share(s)} of it", ", whose share of revenue is", share
            )
        ),
        "the number of strategic accounts is",
        figure(seg, "strategic_accounts"),
    )
    return (
        clause(
            lambda s: f"The top 20% of accounts bring {formats.share(s)} of revenue",
            "The revenue share of the top 20% of accounts is",
            top20,
        )
        + f" (Gini {gini.show(lambda g: f'{g:.2f}')}); {strategic}."
    )


def _churn_findings(churn: StudyRun) -> list[str]:
    m: ChurnMetrics = churn.metrics  # type: ignore[assignment]
    median = clause(
        lambda d: f"; half stop buying within {formats.days(d)} of their first order",
        "; the median customer lifetime is",
        figure(churn, "km_median_days"),
    )
    at_risk = clause(
        lambda n: (
            f"{count(n)} active accounts are at risk now"
            + clause(
                lambda r: (
                    f", with {formats.money(r, m.currency)} of expected revenue at stake in "
                    f"the next {count(m.horizon_days)} days"
                ),
                ", with the revenue at stake",
                figure(churn, "revenue_at_risk"),
            )
        ),
        "The pre-churn list (active accounts at risk now) is",
        figure(churn, "prechurn_accounts"),
    )
    return [
        f"{formats.share(m.churn_rate)} of the {count(m.accounts)} buying accounts have gone "
        f"silent for {count(m.churn_threshold_days)}+ days{median}.",
        at_risk + ".",
    ]


def _channel_findings(chan: StudyRun) -> list[str]:
    costs = figure(chan, "costs")
    if costs.value is None:
        return [f"What a new customer costs per channel is not available: {costs.reason}."]
    out = []
    currency = chan.metrics.currency  # type: ignore[union-attr]
    paid = channel_table(chan.metrics)  # type: ignore[arg-type]
    cac = paid["cac"].dropna().sort_values()
    if len(cac) >= 2:
        out.append(
            f"A new customer costs from {formats.money(cac.iloc[0], currency)} "
            f"({formats.display_name(cac.index[0])}) to "
            f"{formats.money(cac.iloc[-1], currency)} ({formats.display_name(cac.index[-1])}) "
            "depending on the channel."
        )
    ratios = figure(chan, "ltv_cac")
    if ratios.value is None:
        return [
            *out,
            f"What a new customer is worth per unit of acquisition cost (LTV:CAC) is "
            f"not available: {ratios.reason}.",
        ]
    table = paid.dropna(subset=["ltv_cac"])
    if len(table):
        best = table.index[0]
        within = formats.interval(table.loc[best, "low"], table.loc[best, "high"], _one)
        out.append(
            f"A new customer from {formats.display_name(best)} is worth the most per unit of "
            f"acquisition cost: {formats.ratio(table.loc[best, 'ltv_cac'])} what it cost to win"
            + (f" ({within})." if within else ".")
        )
    return out


def _one(value: float) -> str:
    return f"{float(value):,.1f}"


def findings(found: Mapping[str, StudyRun]) -> list[str]:
    """The page's key findings: plain sentences, every number from the studies' metrics (a
    number a study could not compute reads "not available: <reason>"; the sentences of a study
    that was not found are left out, :func:`consistency_notes` names it)."""
    seg, churn, chan = (found[s] for s in STUDIES)
    out: list[str] = []
    if seg.metrics:
        out.append(_segmentation_finding(seg))
    if churn.metrics:
        out += _churn_findings(churn)
    if chan.metrics:
        out += _channel_findings(chan)
    return out


def moves(found: Mapping[str, StudyRun]) -> list[str]:
    """Recommended moves, each tied to the number that motivates it (from the metrics): the
    pre-churn list, the strategic accounts, then one move per paid channel with an LTV:CAC,
    best first, naming the verdict the channel study recorded (:func:`channel_verdicts`). A
    move whose motivating number is not available is left out (the findings say why)."""
    seg, churn, chan = (found[s] for s in STUDIES)
    out: list[str] = []
    prechurn = figure(churn, "prechurn_accounts") if churn.metrics else Figure(None)
    if prechurn.value:
        risk = clause(
            lambda r: f"{formats.money(r, churn.metrics.currency)} of revenue at risk",
            "revenue at risk",
            figure(churn, "revenue_at_risk"),
        )
        out.append(
            f"**Call the pre-churn list this month**: {count(prechurn.value)} accounts, {risk} "
            "(list: `prechurn.csv` of the churn study)."
        )
    strategic = figure(seg, "strategic_accounts") if seg.metrics else Figure(None)
    if strategic.value:
        share = clause(
            lambda s: f"they bring {formats.share(s)} of revenue",
            "their share of revenue is",
            _strategic_share(seg),
        )
        out.append(
            f"**Give the {count(strategic.value)} strategic accounts named owners**: {share}."
        )
    if chan.metrics:
        out += [v.move() for v in channel_verdicts(chan).values()]
    if out:
        return out
    if not any(s.metrics for s in found.values()):
        return ["No recommended move: the study metrics are missing."]
    return [
        "No recommended move: the numbers behind the moves are not available "
        "(see the key findings)."
    ]


def channel_verdicts(chan: StudyRun) -> dict[str, payback.Verdict]:
    """The verdict of each paid channel with an LTV:CAC, by channel code, best LTV:CAC first:
    the verdict the channel study recorded in its metrics (``ltv_cac[channel]["verdict"]``),
    worded by :func:`helpers.payback.verdict_of` as the study words it. Empty without channel
    metrics or LTV:CAC."""
    if chan.metrics is None or not chan.metrics.ltv_cac:  # type: ignore[attr-defined]
        return {}
    recorded = chan.metrics.ltv_cac  # type: ignore[attr-defined]
    table = channel_table(chan.metrics).dropna(subset=["ltv_cac"])  # type: ignore[arg-type]
    return {code: payback.verdict_of(recorded[code], code) for code in table.index}


def numbered(items: Sequence[str]) -> str:
    """``items`` as a Markdown numbered list (one item per line: ``1. ...``)."""
    return "\n".join(f"{i}. {item}" for i, item in enumerate(items, 1))
