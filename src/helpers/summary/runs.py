"""Which run of each study the leadership summary reads, and its metrics read through the
study's declared schema (:mod:`helpers.schemas`).

Which run of a study is summarised: in a batch folder, the runs that ``runs.json`` records as
the study's notebook and ``ok`` (whatever their names); elsewhere (``reports/interactive``) the
folders named after the notebook. Of those, the ones whose metrics have the requested
``filters`` and data source; of several (the churn study once per threshold, say) the run with
the fewest parameters set (ties: by name), and a note names any parameter it sets beyond the
data source and the filters.

A metrics file written by another version of the schema, or holding a key the schema does not
declare, is not read: :class:`StudyRun` keeps one sentence on it (``refused``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.schemas import (
    METRICS_FILE,
    ChannelMetrics,
    ChurnMetrics,
    MetricsSchemaError,
    OverviewMetrics,
    SegmentationMetrics,
    StudyMetrics,
    read,
)

#: The studies the summary reads, by the notebook that writes their metrics.
STUDIES: dict[str, str] = {
    "segmentation": "01-customer-segmentation",
    "churn": "02-churn-survival",
    "channels": "03-channel-economics",
}

#: The studies the KPI strip reads (:mod:`helpers.summary.kpi`): the data overview's revenue,
#: retention and new accounts beside the three studies of the findings.
KPI_STUDIES: dict[str, str] = {"overview": "00-data-overview", **STUDIES}

#: The declared schema each study's ``metrics.json`` is read through.
STUDY_SCHEMAS: dict[str, type[StudyMetrics]] = {
    "overview": OverviewMetrics,
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


def _refusal(study: str, notebook: str, path: Path, error: MetricsSchemaError) -> str:
    """The note for a metrics file that does not match the study's declared schema."""
    detail = str(error).removeprefix(f"{path}: ").rstrip(".")
    detail = detail.removesuffix("; rerun the study with this code")
    return (
        f"The {study} metrics in {path} were not read: {detail}. Rerun notebook "
        f"{notebook} with this code to include them."
    )


def find_metrics(
    folder: str | Path,
    filters: Mapping[str, Any],
    source: str,
    studies: Mapping[str, str] = STUDIES,
) -> dict[str, StudyRun]:
    """The run of each study of ``studies`` (name -> notebook; :data:`STUDIES`, or
    :data:`KPI_STUDIES` for the KPI strip) found in ``folder`` (see module docstring), its
    metrics read through the study's declared schema (:data:`STUDY_SCHEMAS`)."""
    folder = Path(folder)
    out = {}
    for study, notebook in studies.items():
        matches, refused = [], []
        for run_dir, parameters in _candidates(folder, notebook):
            try:
                metrics = read(run_dir, STUDY_SCHEMAS[study])
            except MetricsSchemaError as error:
                refused.append(_refusal(study, notebook, run_dir / METRICS_FILE, error))
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
