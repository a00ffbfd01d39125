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

Modules, in the page's order of need: :mod:`.runs` (which run of each study is read:
``runs.json``, the slice, variants, refused files), :mod:`.figures` (one number or the channel
table read from a study's metrics, or why not), :mod:`.words` (findings, moves, notes, gaps),
:mod:`.sections` (headline figures, value tiers, channels, sources), :mod:`.kpi` (the KPI
strip), :mod:`.targets` (the KPIs and the targets file), :mod:`.trends` (the quarterly trends), :mod:`.links` (relative links to
the study reports and their CSV lists) and :mod:`.record` (the summary's own metrics).
"""

from helpers.summary.figures import channel_table
from helpers.summary.kpi import (
    Kpi,
    KpiStrip,
    Targets,
    TargetsError,
    kpi_strip,
    read_targets,
    strip_html,
)
from helpers.summary.links import links
from helpers.summary.record import metrics
from helpers.summary.runs import (
    KPI_STUDIES,
    STUDIES,
    STUDY_SCHEMAS,
    StudyRun,
    find_metrics,
    runs_folder,
)
from helpers.summary.sections import (
    CHANNEL_COLUMNS,
    CHANNEL_FORMATS,
    TIER_ORDER,
    ChannelSection,
    TierSection,
    channel_section,
    kpis,
    sources,
    tier_section,
    tier_shares,
)
from helpers.summary.trends import Trends, quarterly_trends, trends_chart
from helpers.summary.words import (
    FIELD_LABELS,
    channel_verdicts,
    consistency_notes,
    findings,
    gaps,
    moves,
    notes,
    numbered,
)

__all__ = [
    "CHANNEL_COLUMNS",
    "CHANNEL_FORMATS",
    "FIELD_LABELS",
    "KPI_STUDIES",
    "STUDIES",
    "STUDY_SCHEMAS",
    "TIER_ORDER",
    "ChannelSection",
    "Kpi",
    "KpiStrip",
    "StudyRun",
    "Targets",
    "TargetsError",
    "TierSection",
    "Trends",
    "channel_section",
    "channel_table",
    "channel_verdicts",
    "consistency_notes",
    "find_metrics",
    "findings",
    "gaps",
    "kpi_strip",
    "kpis",
    "links",
    "metrics",
    "moves",
    "notes",
    "numbered",
    "quarterly_trends",
    "read_targets",
    "runs_folder",
    "sources",
    "strip_html",
    "tier_section",
    "tier_shares",
    "trends_chart",
]
