"""The leadership summary: one page built only from the ``metrics.json`` files the studies wrote.

Every number on that page is read from a study's metrics (none is typed in or recomputed), so
the summary always agrees with the study reports it points to. A study whose metrics are absent
is named, and the rest of the page still stands.

Which run of a study is summarised: in a batch folder, the runs that ``runs.json`` records as
the study's notebook and ``ok`` (whatever their names); elsewhere (``reports/interactive``) the
folders named after the notebook. Of those, the ones whose metrics have the requested
``filters`` and data source; of several (the churn study once per threshold, say) the run with
the fewest parameters set (ties: by name), and a note names any parameter it sets beyond the
data source and the filters.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.reporting import METRICS_FILE, money, pct

#: The studies the summary reads, by the notebook that writes their metrics.
STUDIES: dict[str, str] = {
    "segmentation": "01-customer-segmentation",
    "churn": "02-churn-survival",
    "channels": "03-channel-economics",
}


@dataclass
class StudyMetrics:
    """One study's metrics (``None`` when no matching run was found) and where they came from."""

    study: str
    folder: Path | None
    metrics: dict[str, Any] | None
    variant: dict[str, Any] = field(default_factory=dict)  # parameters beyond the slice


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


def find_metrics(
    folder: str | Path, filters: Mapping[str, Any], source: str
) -> dict[str, StudyMetrics]:
    """The metrics of each study in :data:`STUDIES` found in ``folder`` (see module docstring)."""
    folder = Path(folder)
    out = {}
    for study, notebook in STUDIES.items():
        matches = []
        for run_dir, parameters in _candidates(folder, notebook):
            try:
                metrics = json.loads((run_dir / METRICS_FILE).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # absent or damaged: not evidence; the run is treated as absent
            if metrics.get("filters", {}) == dict(filters) and _same_source(
                str(metrics.get("source", "")), source
            ):
                matches.append((len(parameters), run_dir.name, run_dir, metrics, parameters))
        # fewest parameters, then the shortest name (in a folder without runs.json the name is
        # all we know: the notebook's name plus the parameters that differ from the defaults)
        best = min(matches, default=None, key=lambda m: (m[0], len(m[1]), m[1]))
        out[study] = StudyMetrics(
            study,
            best[2] if best else None,
            best[3] if best else None,
            {k: v for k, v in best[4].items() if k not in _SLICE_PARAMETERS} if best else {},
        )
    return out


def consistency_notes(found: Mapping[str, StudyMetrics]) -> list[str]:
    """Sentences for studies that are missing or that ran on different data or dates."""
    notes = [
        f"No {s.study} metrics found (notebook {STUDIES[s.study]} has not run on this "
        "selection): its part of the summary is left out."
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
    present = [s for s in found.values() if s.metrics is not None]
    for key, label in (("data_fingerprint", "data"), ("analysis_date", "analysis dates")):
        values = {s.metrics.get(key) for s in present}
        if len(values) > 1:
            listing = ", ".join(f"{s.study}: {s.metrics.get(key)}" for s in present)
            notes.append(
                f"The studies were run on different {label} ({listing}): compare with care."
            )
    return notes


def channel_table(channels: Mapping[str, Any] | None) -> pd.DataFrame:
    """The summary's channel table from the channel metrics: paid channels with CAC, LTV:CAC
    with its interval and flag, and the cost-quadrant strategy; best LTV:CAC first."""
    costs = pd.DataFrame((channels or {}).get("costs", {})).T
    if costs.empty:
        return pd.DataFrame(columns=["cac", "ltv_cac", "low", "high", "flag", "strategy"])
    paid = costs[costs["paid"].astype(bool)]
    ratio = pd.DataFrame((channels or {}).get("ltv_cac", {})).T
    table = pd.DataFrame({"cac": paid["cac"].astype(float)})
    for col, src in (("ltv_cac", "ratio"), ("low", "low"), ("high", "high"), ("flag", "flag")):
        table[col] = ratio[src].reindex(table.index) if src in ratio else None
    table["strategy"] = pd.Series((channels or {}).get("quadrant", {})).reindex(table.index)
    table["ltv_cac"] = table["ltv_cac"].astype(float)
    return table.sort_values("ltv_cac", ascending=False, na_position="last")


#: Reader-facing names of the channel table's columns.
CHANNEL_COLUMNS = {
    "cac": "cost per new customer",
    "ltv_cac": "LTV:CAC",
    "low": "LTV:CAC low",
    "high": "LTV:CAC high",
    "flag": "warning",
    "strategy": "cost quadrant",
}


def _value(metrics: Mapping[str, Any] | None, key: str) -> Any:
    """``metrics[key]``, or None when absent or not a finite number where a number is due."""
    value = (metrics or {}).get(key)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fixed(value: Any, digits: int = 2) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{value:.{digits}f}"


def _count(value: Any) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{int(value):,}"


def _strategic_share(seg: Mapping[str, Any]) -> float | None:
    return (seg.get("tier_revenue_share") or {}).get("strategic")


def findings(found: Mapping[str, StudyMetrics]) -> list[str]:
    """The page's key findings: plain sentences, every number from the studies' metrics (a
    missing number reads "n/a"; a sentence whose subject is missing is left out)."""
    seg, churn, chan = (found[s].metrics for s in STUDIES)
    out: list[str] = []
    if seg:
        out.append(
            f"The top 20% of accounts bring {pct(_value(seg, 'top_20pct_share'))} of revenue "
            f"(Gini {_fixed(_value(seg, 'gini'))}); {_count(_value(seg, 'strategic_accounts'))} "
            f"strategic accounts carry {pct(_strategic_share(seg))} of it."
        )
    if churn:
        sentence = (
            f"{pct(_value(churn, 'churn_rate'))} of the {_count(_value(churn, 'accounts'))} "
            f"buying accounts have gone silent for {_count(_value(churn, 'churn_threshold_days'))}+ "
            "days"
        )
        median = _value(churn, "km_median_days")
        if median is not None:
            sentence += (
                f"; half stop buying within {median / 30.44:.0f} months of their first order"
            )
        out.append(sentence + ".")
        if _value(churn, "prechurn_accounts") is not None:
            horizon = _value(churn, "horizon_days")
            out.append(
                f"{_count(churn['prechurn_accounts'])} active accounts are at risk now, with "
                f"{money(_value(churn, 'revenue_at_risk'))} of expected revenue at stake"
                + (f" in the next {horizon} days." if horizon else ".")
            )
    if chan:
        paid = channel_table(chan)
        cac = paid["cac"].dropna().sort_values()
        if len(cac) >= 2:
            out.append(
                f"A new customer costs from {money(cac.iloc[0])} ({cac.index[0]}) to "
                f"{money(cac.iloc[-1])} ({cac.index[-1]}) depending on the channel."
            )
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


def moves(found: Mapping[str, StudyMetrics]) -> list[str]:
    """Recommended moves, each tied to the number that motivates it (from the metrics)."""
    seg, churn, chan = (found[s].metrics for s in STUDIES)
    out: list[str] = []
    if churn and _value(churn, "prechurn_accounts"):
        out.append(
            f"**Call the pre-churn list this month**: {_count(churn['prechurn_accounts'])} "
            f"accounts, {money(_value(churn, 'revenue_at_risk'))} of revenue at risk (list: "
            "`prechurn.csv` of the churn study)."
        )
    if seg and _value(seg, "strategic_accounts"):
        out.append(
            f"**Give the {_count(seg['strategic_accounts'])} strategic accounts named owners**: "
            f"they bring {pct(_strategic_share(seg))} of revenue."
        )
    if chan:
        table = channel_table(chan).dropna(subset=["ltv_cac"])
        for name, row in table.iterrows():
            out.append(_channel_move(name, row))
    return out or ["No recommended move: the study metrics are missing."]


#: What each cost-quadrant strategy asks for when the channel's customers repay their cost.
_STRATEGY_MOVES = {
    "invest more": "**Invest more in {name}**: cheap to reach and to convert",
    "improve conversion": "**Keep {name}, improve its conversion**: cheap leads, dear customers",
    "wind down": "**Keep {name}, but cut its cost**: dear leads and dear customers, yet they repay",
    "precise but dear: try referral / fission marketing": (
        "**Keep {name}, try referral / fission marketing**: precise but dear"
    ),
}


def _channel_move(name: str, row: pd.Series) -> str:
    """One channel's move. The cost quadrant alone would wind down a dear channel whose
    customers are worth many times their cost, so value comes first: a flagged LTV:CAC (under 3,
    or an interval reaching 1) means fix or cut; otherwise the quadrant says how to improve."""
    ratio = (
        f"LTV:CAC {_fixed(row['ltv_cac'], 1)} (95% interval {_fixed(row['low'], 1)}–"
        f"{_fixed(row['high'], 1)})"
    )
    strategy = row["strategy"] if isinstance(row["strategy"], str) else None
    if row["flag"]:
        if strategy == "invest more":
            return (
                f"**Fix {name} before growing it**: cheap to win, but its customers are worth "
                f"too little: {ratio}, {row['flag']}."
            )
        return f"**Fix or cut {name}**: {ratio}, {row['flag']}; cost quadrant: {strategy or 'n/a'}."
    template = _STRATEGY_MOVES.get(
        strategy or "", "**Keep {name}**: its customers repay their cost"
    )
    return f"{template.format(name=name)}; {ratio}."


def kpis(found: Mapping[str, StudyMetrics]) -> pd.DataFrame:
    """A short table of headline figures (measure, value, study) read from the metrics."""
    seg, churn, chan = (found[s].metrics for s in STUDIES)
    rows: list[tuple[str, str, str]] = []
    if seg:
        rows += [
            (
                "Revenue share of the top 20% of accounts",
                pct(_value(seg, "top_20pct_share")),
                "segmentation",
            ),
            ("Gini coefficient of revenue", _fixed(_value(seg, "gini")), "segmentation"),
            ("Strategic accounts", _count(_value(seg, "strategic_accounts")), "segmentation"),
        ]
    if churn:
        rows += [
            (
                "Churn threshold (silent days)",
                _count(_value(churn, "churn_threshold_days")),
                "churn",
            ),
            ("Share of accounts churned", pct(_value(churn, "churn_rate")), "churn"),
        ]
        if _value(churn, "prechurn_accounts") is not None:
            rows += [
                ("Accounts on the pre-churn list", _count(churn["prechurn_accounts"]), "churn"),
                ("Revenue at risk", money(_value(churn, "revenue_at_risk")), "churn"),
            ]
    if chan:
        costs = pd.DataFrame(chan.get("costs", {})).T
        if len(costs):
            rows += [
                (
                    "Marketing spend in the period",
                    money(costs["spend"].astype(float).sum()),
                    "channels",
                ),
                (
                    "New customers won",
                    f"{int(costs['customers'].astype(float).sum()):,}",
                    "channels",
                ),
            ]
    return pd.DataFrame(rows, columns=["measure", "value", "study"]).set_index("measure")


def sources(found: Mapping[str, StudyMetrics]) -> pd.DataFrame:
    """Which run each part of the page comes from (folder, analysis date, data fingerprint)."""
    return pd.DataFrame(
        [
            {
                "study": s.study,
                "run": s.folder.name if s.folder else "not found",
                "analysis date": (s.metrics or {}).get("analysis_date", ""),
                "data fingerprint": (s.metrics or {}).get("data_fingerprint", ""),
            }
            for s in found.values()
        ]
    ).set_index("study")


#: Value tiers from the bottom up (the segmentation study's tier names).
TIER_ORDER: tuple[str, ...] = ("long tail", "standard", "key", "strategic")


def tier_shares(segmentation: Mapping[str, Any]) -> pd.Series:
    """Revenue share (0-1) per value tier, long tail first and strategic last."""
    share = pd.Series(segmentation.get("tier_revenue_share", {}), dtype=float)
    order = [t for t in TIER_ORDER if t in share.index] + sorted(set(share.index) - set(TIER_ORDER))
    return share.reindex(order).rename("revenue share")


def metrics(
    found: Mapping[str, StudyMetrics], filters: Mapping[str, Any], source: str
) -> dict[str, Any]:
    """The summary's own ``metrics.json``: what it said and which runs it read."""
    present = [s.metrics for s in found.values() if s.metrics]
    return {
        "sources": sources(found).to_dict(orient="index"),
        "findings": findings(found),
        "moves": moves(found),
        "notes": consistency_notes(found),
        "filters": dict(filters),
        "source": source,
        "data_fingerprint": present[0].get("data_fingerprint", "") if present else "",
    }
