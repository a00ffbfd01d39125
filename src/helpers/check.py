"""A data check before any study: which sections of which notebooks this data can feed.

``python -m helpers.check SOURCE.yaml`` (or ``make check SOURCE=...``) loads and validates the
source (``demo`` works too) and prints, in one screen, each notebook's sections with what each
missing one needs. A broken export prints the validation message instead (exit code 1); no
traceback.

The table of what each section needs (:data:`SECTIONS`) is kept here, in one place. It is
static: a section is "ready" when the tables it needs are provided and the columns it needs
have at least one value; "better with" names what would make it richer but is not required.

Example
-------
>>> print(report("demo"))  # doctest: +SKIP
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from helpers.loading import TABLE_WORDS, Dataset, load_dataset
from helpers.validation import DataValidationError


@dataclass(frozen=True)
class Section:
    """One notebook section and what it needs: ``"table"`` or ``"table.column"`` entries.

    ``needs`` must all be there for the section to run; ``better`` are nice to have.
    ``any_of`` (if given) lists alternatives of which one is enough (e.g. any table at all).
    """

    notebook: str
    title: str
    needs: tuple[str, ...] = ()
    better: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()


_TABLES = ("orders", "accounts", "leads", "touchpoints", "channel_spend")

#: What each notebook section needs (kept in step with the notebooks by hand).
SECTIONS: tuple[Section, ...] = (
    Section("00-data-overview", "1. Data health", any_of=_TABLES),
    Section("00-data-overview", "2. Revenue by period", ("orders",), ("accounts",)),
    Section("00-data-overview", "3. The revenue identity", ("orders",)),
    Section("00-data-overview", "4. What drove the change", ("orders",), ("accounts",)),
    Section("01-customer-segmentation", "1. Concentration: the 80/20 rule", ("orders",)),
    Section("01-customer-segmentation", "2. RFM", ("orders",)),
    Section("01-customer-segmentation", "3. Value tiers", ("orders",), ("orders.gross_margin",)),
    Section("01-customer-segmentation", "4. Customer types", ("orders",), ("orders.gross_margin",)),
    Section(
        "01-customer-segmentation",
        "5. Behavioural clusters",
        ("orders",),
        ("orders.gross_margin", "accounts"),
    ),
    Section("01-customer-segmentation", "6. Lead grading", ("orders", "leads"), ("touchpoints",)),
    Section("01-customer-segmentation", "7. Look-alikes", ("orders", "leads"), ("touchpoints",)),
    Section("02-churn-survival", "1. Defining churn", ("orders",)),
    Section(
        "02-churn-survival", "2. Kaplan-Meier: how long accounts stay", ("orders",), ("accounts",)
    ),
    Section(
        "02-churn-survival",
        "3. Cox model: what makes accounts leave sooner",
        ("orders", "accounts"),
    ),
    Section(
        "02-churn-survival", "4. Back-test: would the scores have worked?", ("orders", "accounts")
    ),
    Section("02-churn-survival", "5. Recalibration for the silence", ("orders", "accounts")),
    Section("02-churn-survival", "6. Pre-churn list: who to call now", ("orders", "accounts")),
    Section(
        "02-churn-survival",
        "7. Survival-based lifetime value",
        ("orders", "accounts", "accounts.acquisition_channel"),
        ("orders.gross_margin",),
    ),
    Section(
        "03-channel-economics", "1. Spend and volume by channel", ("leads",), ("channel_spend",)
    ),
    Section(
        "03-channel-economics",
        "2. Funnel by channel",
        ("leads", "leads.won_date"),
        ("leads.intent_date", "leads.proposal_date", "leads.negotiation_date", "leads.lost_date"),
    ),
    Section("03-channel-economics", "3. Attribution", ("leads", "touchpoints"), ("orders",)),
    Section("03-channel-economics", "4. Channel quadrant", ("leads", "channel_spend")),
    Section(
        "03-channel-economics",
        "5. LTV:CAC and payback",
        ("orders", "accounts", "leads", "channel_spend"),
        ("orders.gross_margin",),
    ),
    Section("03-channel-economics", "6. Spend response", ("leads", "channel_spend")),
    Section("90-leadership-summary", "Where revenue comes from", ("orders",)),
    Section(
        "90-leadership-summary",
        "Which channels pay",
        ("orders", "accounts", "leads", "channel_spend"),
    ),
)


@dataclass(frozen=True)
class SectionStatus:
    """Whether ``section`` can run on the data; ``missing`` and ``lacking`` say what is not there.

    ``missing`` lists needed tables or columns that are absent or empty; ``lacking`` the
    nice-to-haves that are absent (the section runs without them).
    """

    section: Section
    missing: tuple[str, ...]
    lacking: tuple[str, ...]

    @property
    def ready(self) -> bool:
        """True when nothing the section needs is missing."""
        return not self.missing


def _there(ds: Dataset, item: str) -> bool:
    table, _, column = item.partition(".")
    if table not in ds.tables:
        return False
    if not column:
        return True
    frame = ds.tables[table]
    return column in frame.columns and bool(frame[column].notna().any())


def sections(ds: Dataset) -> list[SectionStatus]:
    """The status of every section in :data:`SECTIONS` on a loaded data set."""
    out = []
    for section in SECTIONS:
        missing = [n for n in section.needs if not _there(ds, n)]
        if section.any_of and not any(_there(ds, n) for n in section.any_of):
            missing.append(" or ".join(section.any_of))
        lacking = [n for n in section.better if not _there(ds, n)]
        out.append(SectionStatus(section, tuple(missing), tuple(lacking)))
    return out


def _words(item: str) -> str:
    table, _, column = item.partition(".")
    if column:
        return f"values in {table}.{column}"
    return f"the {table} table"


def render(ds: Dataset) -> str:
    """The one-screen text: the data, then per notebook its ready count and what the rest need."""
    lines = [
        f"Data source {ds.source}: analysis date {ds.analysis_date:%Y-%m-%d}, "
        f"fingerprint {ds.fingerprint}" + (f", currency {ds.currency}" if ds.currency else "")
    ]
    for name in _TABLES:
        if name in ds.tables:
            absent = ds.absent_columns(name)
            note = f" (not in the export: {', '.join(absent)})" if absent else ""
            lines.append(f"  {name:<14}{len(ds.tables[name]):>10,} rows{note}")
        else:
            lines.append(f"  {name:<14}{'-':>10}      not provided: {TABLE_WORDS[name]}")
    if ds.attributes:
        kinds = ", ".join(f"{k} ({v})" for k, v in ds.attributes.items())
        lines.append(f"  account attributes: {kinds}")
    if ds.warnings:
        lines.append(f"  {len(ds.warnings)} warning(s), the first: {ds.warnings[0]}")
    by_notebook: dict[str, list[SectionStatus]] = {}
    for status in sections(ds):
        by_notebook.setdefault(status.section.notebook, []).append(status)
    lines.append("")
    for notebook, statuses in by_notebook.items():
        ready = sum(s.ready for s in statuses)
        lines.append(f"{notebook:<26} {ready} of {len(statuses)} sections can run")
        for status in statuses:
            if status.ready:
                continue
            absent_tables = {m for m in status.missing if "." not in m}
            needs = [
                m
                for m in status.missing
                if m.partition(".")[0] not in absent_tables or "." not in m
            ]
            lines.append(
                f"    {status.section.title}: needs " + " and ".join(_words(m) for m in needs)
            )
    return "\n".join(lines)


def report(source: str | Path) -> str:
    """Load and validate ``source`` and render the check (see :func:`render`)."""
    return render(load_dataset(source))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m helpers.check SOURCE``: print the check; 1 (and the message) on bad data."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m helpers.check SOURCE.yaml   (or: demo)", file=sys.stderr)
        return 2
    try:
        print(report(args[0]))
    except (DataValidationError, ValueError, FileNotFoundError) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
