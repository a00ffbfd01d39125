"""The leadership summary's own metrics: what the page said and which runs it read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from helpers.schemas import SummaryMetrics
from helpers.summary.kpi import KpiStrip
from helpers.summary.runs import StudyRun
from helpers.summary.sections import sources
from helpers.summary.words import findings, moves, notes


def metrics(
    found: Mapping[str, StudyRun],
    filters: Mapping[str, Any],
    source: str,
    strip: KpiStrip | None = None,
) -> SummaryMetrics:
    """The summary's own metrics (:class:`helpers.schemas.SummaryMetrics`): what it said, the
    KPI strip (``kpis``: :meth:`KpiStrip.records`, empty without a strip) and which runs it
    read; the data fingerprint is the first study's found (None without any)."""
    present = [s.metrics for s in found.values() if s.metrics]
    return SummaryMetrics(
        data_fingerprint=present[0].data_fingerprint if present else None,
        filters=dict(filters),
        source=source,
        findings=findings(found),
        moves=moves(found),
        notes=notes(found),
        sources=sources(found).to_dict(orient="index"),
        kpis=strip.records() if strip is not None else [],
    )
