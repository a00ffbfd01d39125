"""The leadership summary: one page built only from the ``metrics.json`` files the studies wrote.

Every number on that page is read from a study's metrics (none is typed in or recomputed), so
the summary always agrees with the study reports it points to. Each study's file is read through
its declared schema (:mod:`helpers.schemas`): a file written by another version of the schema,
or holding a key the schema does not declare, is not read (the page names it and says to rerun
the study). A study whose metrics are absent is named, and the rest of the page still stands.

A number a study could not compute on its data is ``null`` in its file with the reason in its
``skipped`` field; wherever that number would appear (findings, moves, headline figures) the
page says "not available: <reason>", never a bare "n/a", 0 or NaN. A number that is missing
without a recorded reason reads "not available: not recorded in the <study> metrics".

Which run of a study is summarised: in a batch folder, the runs that ``runs.json`` records as
the study's notebook and ``ok`` (whatever their names); elsewhere (``reports/interactive``) the
folders named after the notebook. Of those, the ones whose metrics have the requested
``filters`` and data source; of several (the churn study once per threshold, say) the run with
the fewest parameters set (ties: by name), and a note names any parameter it sets beyond the
data source and the filters.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.reporting import money, pct
from helpers.schemas import (
    METRICS_FILE,
    ChannelMetrics,
    ChurnMetrics,
    MetricsSchemaError,
    SegmentationMetrics,
    StudyMetrics,
    SummaryMetrics,
    read,
)
from helpers.steps import Skipped

#: The studies the summary reads, by the notebook that writes their metrics.
STUDIES: dict[str, str] = {
    "segmentation": "01-customer-segmentation",
    "churn": "02-churn-survival",
    "channels": "03-channel-economics",
}

#: The declared schema each study's ``metrics.json`` is read through.
STUDY_SCHEMAS: dict[str, type[StudyMetrics]] = {
    "segmentation": SegmentationMetrics,
    "churn": ChurnMetrics,
    "channels": ChannelMetrics,
}


@dataclass(frozen=True)
class StudyRun:
    """One study's run as the summary found it.

    ``metrics`` is the study's schema object (None when no readable run of the selection was
    found); ``variant`` the parameters the chosen run sets beyond the slice; ``refused`` one
    sentence per metrics file of the study that was not read because it does not match the
    declared schema.
    """

    study: str
    folder: Path | None
    metrics: StudyMetrics | None
    variant: dict[str, Any] = field(default_factory=dict)  # parameters beyond the slice
    refused: tuple[str, ...] = ()


def runs_folder(configured: str, output: str | Path) -> Path:
    """The folder holding the studies' run folders: ``configured`` (the notebook's
    ``METRICS_DIR``), or when empty the folder beside the summary's own output folder."""
    return Path(configured) if configured else Path(output).parent


def _same_source(a: str, b: str) -> bool:
    return a == b or (a != "demo" and b != "demo" and Path(a).resolve() == Path(b).resolve())


#: Parameters every run of a slice sets; others make a run a variant (noted when chosen).
_SLICE_PARAMETERS = {"DATA_SOURCE", "FILTERS", "OUTPUT_DIR"}


def _candidates(folder: Path, notebook: str) -> list[tuple[Path, dict[str, Any]]]:
    """(run folder, parameters) of the study's runs in ``folder``."""
    runs_file = folder / "runs.json"
    if runs_file.exists():
        try:
            runs = json.loads(runs_file.read_text(encoding="utf-8"))["runs"]
        except (ValueError, KeyError):
            runs = []
        if runs:
            # parameters every run of the batch shares are its defaults, not a variant
            params = [dict(r.get("parameters") or {}) for r in runs]
            shared = {k for k, v in params[0].items() if all(p.get(k) == v for p in params)}
            return [
                (folder / r["name"], {k: v for k, v in p.items() if k not in shared})
                for r, p in zip(runs, params, strict=True)
                if r.get("notebook") == notebook and r.get("status") == "ok"
            ]
    return [(p.parent, {}) for p in sorted(folder.glob(f"{notebook}*/{METRICS_FILE}"))]


def _refusal(study: str, path: Path, error: MetricsSchemaError) -> str:
    """The note for a metrics file that does not match the study's declared schema."""
    detail = str(error).removeprefix(f"{path}: ").rstrip(".")
    detail = detail.removesuffix("; rerun the study with this code")
    return (
        f"The {study} metrics in {path} were not read: {detail}. Rerun notebook "
        f"{STUDIES[study]} with this code to include them."
    )


def find_metrics(
    folder: str | Path, filters: Mapping[str, Any], source: str
) -> dict[str, StudyRun]:
    """The run of each study in :data:`STUDIES` found in ``folder`` (see module docstring),
    its metrics read through the study's declared schema (:data:`STUDY_SCHEMAS`)."""
    folder = Path(folder)
    out = {}
    for study, notebook in STUDIES.items():
        matches, refused = [], []
        for run_dir, parameters in _candidates(folder, notebook):
            try:
                metrics = read(run_dir, STUDY_SCHEMAS[study])
            except MetricsSchemaError as error:
                refused.append(_refusal(study, run_dir / METRICS_FILE, error))
                continue
            except (OSError, ValueError, AttributeError):
                continue  # absent or damaged: not evidence; the run is treated as absent
            if metrics.filters == dict(filters) and _same_source(metrics.source, source):
                matches.append((len(parameters), run_dir.name, run_dir, metrics, parameters))
        # fewest parameters, then the shortest name (in a folder without runs.json the name is
        # all we know: the notebook's name plus the parameters that differ from the defaults)
        best = min(matches, default=None, key=lambda m: (m[0], len(m[1]), m[1]))
        out[study] = StudyRun(
            study,
            best[2] if best else None,
            best[3] if best else None,
            {k: v for k, v in best[4].items() if k not in _SLICE_PARAMETERS} if best else {},
            tuple(refused),
        )
    return out


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
            listing = ", ".join(f"{s.study}: {getattr(s.metrics, key)}" for s in present)
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


@dataclass(frozen=True)
class _Figure:
    """One number for the page: its value, or None and why it is not available."""

    value: Any
    reason: str = ""

    def show(self, fmt: Callable[[Any], str]) -> str:
        return fmt(self.value) if self.value is not None else f"not available: {self.reason}"


def _figure(run: StudyRun, name: str, key: str | None = None) -> _Figure:
    """Field ``name`` of the run's metrics (``[key]`` of it when given) as a :class:`_Figure`:
    a null field takes its reason from ``skipped``; a non-finite number counts as null."""
    metrics = run.metrics
    value = getattr(metrics, name)
    if value is None:
        return _Figure(None, metrics.skipped.get(name, f"not recorded in the {run.study} metrics"))
    if key is not None:
        value = value.get(key)
    return _checked(value, f"not recorded in the {run.study} metrics")


def _checked(value: Any, reason: str) -> _Figure:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return _Figure(None, reason)
    return _Figure(value)


def _clause(text: Callable[..., str], gap: str, *figures: _Figure) -> str:
    """``text(*values)`` when every figure is available, else ``"<gap> not available: <reason>"``
    with the first missing figure's reason."""
    missing = next((f for f in figures if f.value is None), None)
    if missing is None:
        return text(*(f.value for f in figures))
    return f"{gap} not available: {missing.reason}"


def _count(value: Any) -> str:
    return f"{int(value):,}"


def channel_table(channels: ChannelMetrics | None) -> pd.DataFrame:
    """The summary's channel table from the channel metrics: paid channels with CAC, LTV:CAC
    with its interval and flag, and the cost-quadrant strategy; best LTV:CAC first (without
    any LTV:CAC, cheapest CAC first). Columns of numbers a study could not compute are NaN."""
    costs = pd.DataFrame(channels.costs if channels and channels.costs else {}).T
    if costs.empty:
        return pd.DataFrame(columns=["cac", "ltv_cac", "low", "high", "flag", "strategy"])
    paid = costs[costs["paid"].astype(bool)]
    ratio = pd.DataFrame(channels.ltv_cac or {}).T
    table = pd.DataFrame({"cac": paid["cac"].astype(float)})
    for col, src in (("ltv_cac", "ratio"), ("low", "low"), ("high", "high"), ("flag", "flag")):
        table[col] = ratio[src].reindex(table.index) if src in ratio else None
    table["strategy"] = pd.Series(channels.quadrant or {}, dtype=object).reindex(table.index)
    for col in ("ltv_cac", "low", "high"):
        table[col] = table[col].astype(float)
    return table.sort_values(["ltv_cac", "cac"], ascending=[False, True], na_position="last")


#: Reader-facing names of the channel table's columns.
CHANNEL_COLUMNS = {
    "cac": "cost per new customer",
    "ltv_cac": "LTV:CAC",
    "low": "LTV:CAC low",
    "high": "LTV:CAC high",
    "flag": "warning",
    "strategy": "cost quadrant",
}

#: Number formats of the reader-facing channel table (for :func:`helpers.reporting.styled`).
CHANNEL_FORMATS = {
    "cost per new customer": "{:,.0f}",
    "LTV:CAC": "{:.1f}",
    "LTV:CAC low": "{:.1f}",
    "LTV:CAC high": "{:.1f}",
}


def _strategic_share(run: StudyRun) -> _Figure:
    return _figure(run, "tier_revenue_share", "strategic")


def _segmentation_finding(seg: StudyRun) -> str:
    top20, gini = _figure(seg, "top_20pct_share"), _figure(seg, "gini")
    share = _strategic_share(seg)
    strategic = _clause(
        lambda n: (
            f"{_count(n)} strategic accounts"
            + _clause(lambda s: f" carry {pct(s)} of it", ", whose share of revenue is", share)
        ),
        "the number of strategic accounts is",
        _figure(seg, "strategic_accounts"),
    )
    return (
        _clause(
            lambda s: f"The top 20% of accounts bring {pct(s)} of revenue",
            "The revenue share of the top 20% of accounts is",
            top20,
        )
        + f" (Gini {gini.show(lambda g: f'{g:.2f}')}); {strategic}."
    )


def _churn_findings(churn: StudyRun) -> list[str]:
    m: ChurnMetrics = churn.metrics  # type: ignore[assignment]
    median = _clause(
        lambda d: f"; half stop buying within {d / 30.44:.0f} months of their first order",
        "; the median customer lifetime is",
        _figure(churn, "km_median_days"),
    )
    at_risk = _clause(
        lambda n: (
            f"{_count(n)} active accounts are at risk now"
            + _clause(
                lambda r: (
                    f", with {money(r)} of expected revenue at stake in the next "
                    f"{m.horizon_days} days"
                ),
                ", with the revenue at stake",
                _figure(churn, "revenue_at_risk"),
            )
        ),
        "The pre-churn list (active accounts at risk now) is",
        _figure(churn, "prechurn_accounts"),
    )
    return [
        f"{pct(m.churn_rate)} of the {_count(m.accounts)} buying accounts have gone silent for "
        f"{_count(m.churn_threshold_days)}+ days{median}.",
        at_risk + ".",
    ]


def _channel_findings(chan: StudyRun) -> list[str]:
    costs = _figure(chan, "costs")
    if costs.value is None:
        return [f"What a new customer costs per channel is not available: {costs.reason}."]
    out = []
    paid = channel_table(chan.metrics)  # type: ignore[arg-type]
    cac = paid["cac"].dropna().sort_values()
    if len(cac) >= 2:
        out.append(
            f"A new customer costs from {money(cac.iloc[0])} ({cac.index[0]}) to "
            f"{money(cac.iloc[-1])} ({cac.index[-1]}) depending on the channel."
        )
    ratios = _figure(chan, "ltv_cac")
    if ratios.value is None:
        return [
            *out,
            f"What a new customer is worth per unit of acquisition cost (LTV:CAC) is "
            f"not available: {ratios.reason}.",
        ]
    table = paid.dropna(subset=["ltv_cac"])
    sound = table[~table["flag"].fillna("").astype(bool)]
    if len(sound):
        best = sound.index[0]
        out.append(
            f"{best} pays best: a new customer is worth {sound.loc[best, 'ltv_cac']:.1f}× "
            "what it cost to win."
        )
    elif len(table):
        out.append(
            f"No paid channel clearly pays back: the best, {table.index[0]}, returns "
            f"{table['ltv_cac'].iloc[0]:.1f}× its acquisition cost ({table['flag'].iloc[0]})."
        )
    return out


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
    """Recommended moves, each tied to the number that motivates it (from the metrics). A move
    whose motivating number is not available is left out (the findings say why)."""
    seg, churn, chan = (found[s] for s in STUDIES)
    out: list[str] = []
    prechurn = _figure(churn, "prechurn_accounts") if churn.metrics else _Figure(None)
    if prechurn.value:
        risk = _clause(
            lambda r: f"{money(r)} of revenue at risk",
            "revenue at risk",
            _figure(churn, "revenue_at_risk"),
        )
        out.append(
            f"**Call the pre-churn list this month**: {_count(prechurn.value)} accounts, {risk} "
            "(list: `prechurn.csv` of the churn study)."
        )
    strategic = _figure(seg, "strategic_accounts") if seg.metrics else _Figure(None)
    if strategic.value:
        share = _clause(
            lambda s: f"they bring {pct(s)} of revenue",
            "their share of revenue is",
            _strategic_share(seg),
        )
        out.append(
            f"**Give the {_count(strategic.value)} strategic accounts named owners**: {share}."
        )
    if chan.metrics:
        table = channel_table(chan.metrics).dropna(subset=["ltv_cac"])  # type: ignore[arg-type]
        quadrant = _figure(chan, "quadrant")
        for name, row in table.iterrows():
            out.append(
                _channel_move(name, row, quadrant.reason or "not recorded in the channels metrics")
            )
    if out:
        return out
    if not any(s.metrics for s in found.values()):
        return ["No recommended move: the study metrics are missing."]
    return [
        "No recommended move: the numbers behind the moves are not available "
        "(see the key findings)."
    ]


#: What each cost-quadrant strategy asks for when the channel's customers repay their cost.
_STRATEGY_MOVES = {
    "invest more": "**Invest more in {name}**: cheap to reach and to convert",
    "improve conversion": "**Keep {name}, improve its conversion**: cheap leads, dear customers",
    "wind down": "**Keep {name}, but cut its cost**: dear leads and dear customers, yet they repay",
    "precise but dear: try referral / fission marketing": (
        "**Keep {name}, try referral / fission marketing**: precise but dear"
    ),
}


def _channel_move(name: str, row: pd.Series, no_quadrant: str) -> str:
    """One channel's move. The cost quadrant alone would wind down a dear channel whose
    customers are worth many times their cost, so value comes first: a flagged LTV:CAC (under 3,
    or an interval reaching 1) means fix or cut; otherwise the quadrant says how to improve.
    ``no_quadrant`` is why the channel has no quadrant, if it has none."""
    unrecorded = "not recorded in the channels metrics"
    interval = _clause(
        lambda lo, hi: f"95% interval {lo:.1f}–{hi:.1f}",
        "95% interval",
        _checked(row["low"], unrecorded),
        _checked(row["high"], unrecorded),
    )
    ratio = f"LTV:CAC {row['ltv_cac']:.1f} ({interval})"
    strategy = row["strategy"] if isinstance(row["strategy"], str) else None
    if row["flag"]:
        if strategy == "invest more":
            return (
                f"**Fix {name} before growing it**: cheap to win, but its customers are worth "
                f"too little: {ratio}, {row['flag']}."
            )
        quadrant = f": {strategy}" if strategy else f" not available: {no_quadrant}"
        return f"**Fix or cut {name}**: {ratio}, {row['flag']}; cost quadrant{quadrant}."
    template = _STRATEGY_MOVES.get(
        strategy or "", "**Keep {name}**: its customers repay their cost"
    )
    return f"{template.format(name=name)}; {ratio}."


def numbered(items: Sequence[str]) -> str:
    """``items`` as a Markdown numbered list (one item per line: ``1. ...``)."""
    return "\n".join(f"{i}. {item}" for i, item in enumerate(items, 1))


def kpis(found: Mapping[str, StudyRun]) -> pd.DataFrame:
    """A short table of headline figures (measure, value, study) read from the metrics; a
    figure a study could not compute reads "not available: <reason>"."""
    seg, churn, chan = (found[s] for s in STUDIES)
    rows: list[tuple[str, str, str]] = []
    if seg.metrics:
        rows += [
            (
                "Revenue share of the top 20% of accounts",
                _figure(seg, "top_20pct_share").show(pct),
                "segmentation",
            ),
            (
                "Gini coefficient of revenue",
                _figure(seg, "gini").show(lambda g: f"{g:.2f}"),
                "segmentation",
            ),
            ("Strategic accounts", _figure(seg, "strategic_accounts").show(_count), "segmentation"),
        ]
    if churn.metrics:
        rows += [
            (
                "Churn threshold (silent days)",
                _figure(churn, "churn_threshold_days").show(_count),
                "churn",
            ),
            ("Share of accounts churned", _figure(churn, "churn_rate").show(pct), "churn"),
            (
                "Accounts on the pre-churn list",
                _figure(churn, "prechurn_accounts").show(_count),
                "churn",
            ),
            ("Revenue at risk", _figure(churn, "revenue_at_risk").show(money), "churn"),
        ]
    costs = _figure(chan, "costs") if chan.metrics else _Figure({})
    if costs.value is None:  # the study could not compute its cost table: say why, twice
        spend = won = costs
    else:
        frame = pd.DataFrame(costs.value).T
        spend, won = _total(frame, "spend"), _total(frame, "customers")
    if costs.value is None or costs.value:
        rows += [
            ("Marketing spend in the period", spend.show(money), "channels"),
            ("New customers won", won.show(_count), "channels"),
        ]
    return pd.DataFrame(rows, columns=["measure", "value", "study"]).set_index("measure")


def _total(costs: pd.DataFrame, column: str) -> _Figure:
    """Sum of a cost-table column (not available when a channel's value is missing)."""
    values = costs[column].astype(float) if column in costs else pd.Series([math.nan])
    if values.isna().any():
        return _Figure(None, f"a channel's {column} is not recorded in the channels metrics")
    return _Figure(float(values.sum()))


def sources(found: Mapping[str, StudyRun]) -> pd.DataFrame:
    """Which run each part of the page comes from (folder, analysis date, data fingerprint)."""
    return pd.DataFrame(
        [
            {
                "study": s.study,
                "run": s.folder.name if s.folder else "not found",
                "analysis date": s.metrics.analysis_date if s.metrics else "",
                "data fingerprint": s.metrics.data_fingerprint if s.metrics else "",
            }
            for s in found.values()
        ]
    ).set_index("study")


#: Value tiers from the bottom up (the segmentation study's tier names).
TIER_ORDER: tuple[str, ...] = ("long tail", "standard", "key", "strategic")


def tier_shares(segmentation: SegmentationMetrics) -> pd.Series:
    """Revenue share (0-1) per value tier, long tail first and strategic last (empty when the
    study recorded none)."""
    share = pd.Series(segmentation.tier_revenue_share or {}, dtype=float)
    order = [t for t in TIER_ORDER if t in share.index] + sorted(set(share.index) - set(TIER_ORDER))
    return share.reindex(order).rename("revenue share")


@dataclass(frozen=True, eq=False)
class TierSection:
    """The page's "where revenue comes from" section: revenue share (0-1) per value tier,
    bottom tier first, for :func:`helpers.plots.share_bars` (a :class:`Skipped` saying why when
    there are none), and the sentence under the chart (empty when there is no chart)."""

    shares: pd.Series | Skipped
    sentence: str


def tier_section(found: Mapping[str, StudyRun]) -> TierSection:
    """The revenue share per value tier from the segmentation metrics, and a sentence naming
    the top tier's share (the highest tier of :data:`TIER_ORDER` present)."""
    seg = found["segmentation"]
    label = "The revenue share by value tier"
    if seg.metrics is None:
        return TierSection(_missing("segmentation", label), "")
    shares = tier_shares(seg.metrics).dropna()  # type: ignore[arg-type]
    if shares.empty:
        why = _figure(seg, "tier_revenue_share").reason or "no value tier has a revenue share"
        return TierSection(Skipped(why, step=label), "")
    top = next((t for t in reversed(TIER_ORDER) if t in shares.index), shares.index[-1])
    return TierSection(shares, f"{top.capitalize()} accounts bring {pct(shares[top])} of revenue.")


def _missing(study: str, label: str) -> Skipped:
    return Skipped(
        f"no {study} metrics were found for this selection",
        f"run {STUDIES[study]} on it",
        label,
    )


@dataclass(frozen=True, eq=False)
class ChannelSection:
    """The page's "which channels pay" section.

    ``ratios``: paid channels with an LTV:CAC (``ltv_cac``, its 95% interval ``low``-``high``
    and ``flag``, a warning text or empty), lowest first, for
    :func:`helpers.plots.interval_bars`; ``table``: the reader-facing channel table (columns
    named by :data:`CHANNEL_COLUMNS`, formats :data:`CHANNEL_FORMATS`); ``sentence``: what the
    chart shows. Either table is a :class:`Skipped` saying why when it cannot be shown, and the
    sentence is empty when there is nothing to add.
    """

    ratios: pd.DataFrame | Skipped
    table: pd.DataFrame | Skipped
    sentence: str


def channel_section(found: Mapping[str, StudyRun]) -> ChannelSection:
    """The channel section from the channel metrics: LTV:CAC per paid channel with its interval
    (ratios, unitless), the channel table and a sentence on the best and worst ratio. Without
    LTV:CAC (the study could not compute it) the table keeps cost per new customer (currency)
    and cost quadrant, and the chart says why."""
    chan = found["channels"]
    if chan.metrics is None:
        return ChannelSection(
            _missing("channels", "The LTV:CAC chart"),
            _missing("channels", "The channel table"),
            "",
        )
    costs = _figure(chan, "costs")
    if costs.value is None:
        return ChannelSection(
            Skipped(costs.reason, step="The LTV:CAC chart"),
            Skipped(costs.reason, step="The channel table"),
            "",
        )
    table = channel_table(chan.metrics)  # type: ignore[arg-type]
    ratios = table.dropna(subset=["ltv_cac"])
    if ratios.empty:
        why = _figure(chan, "ltv_cac").reason or "no paid channel has a lifetime value"
        shown = table[["cac", "strategy"]].dropna(axis=1, how="all")
        shown = shown.rename(columns=CHANNEL_COLUMNS)
        return ChannelSection(
            Skipped(why, step="The LTV:CAC chart"),
            shown,
            "The table shows what a new customer costs per paid channel, cheapest first.",
        )
    return ChannelSection(
        ratios.sort_values("ltv_cac"),
        table.rename(columns=CHANNEL_COLUMNS),
        f"{ratios.index[0]} returns {ratios['ltv_cac'].iloc[0]:.1f}× its acquisition cost; "
        f"{ratios.index[-1]} {ratios['ltv_cac'].iloc[-1]:.1f}×.",
    )


def metrics(
    found: Mapping[str, StudyRun], filters: Mapping[str, Any], source: str
) -> SummaryMetrics:
    """The summary's own metrics (:class:`helpers.schemas.SummaryMetrics`): what it said and
    which runs it read; the data fingerprint is the first study's found (None without any)."""
    present = [s.metrics for s in found.values() if s.metrics]
    return SummaryMetrics(
        data_fingerprint=present[0].data_fingerprint if present else None,
        filters=dict(filters),
        source=source,
        findings=findings(found),
        moves=moves(found),
        notes=notes(found),
        sources=sources(found).to_dict(orient="index"),
    )
