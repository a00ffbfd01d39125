"""Links from the leadership summary to the study reports and lists it was built from.

A batch writes each run into ``reports/<batch>/<run>/``: the HTML report is ``report.html`` in
the run's folder (:data:`helpers.runner.execute.REPORT_FILE`), beside the CSV lists the study
wrote (the churn study's ``prechurn.csv``, say). The summary's own folder is a sibling, so a
link reads ``../02-churn-survival/report.html``: relative, so a copied or zipped reports folder
keeps working on another machine. Only files that exist when the summary runs are linked (a
study run interactively has no HTML report: its lists are still linked).
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Mapping
from pathlib import Path

from helpers.reporting import Link
from helpers.steps import Skipped, step
from helpers.summary.runs import StudyRun

#: The HTML report in a run's folder (as the batch writes it).
REPORT_FILE = "report.html"

#: What each study's name reads as in a link's note.
_STUDY_NAMES = {
    "overview": "data overview",
    "segmentation": "customer segmentation study",
    "churn": "churn study",
    "channels": "channel economics study",
}


def _title(report: Path) -> str:
    """The report's ``<title>`` (its notebook's H1; read from the head only), "" if none."""
    with report.open(encoding="utf-8", errors="replace") as fh:
        head = fh.read(4096)
    found = re.search(r"<title>(.*?)</title>", head, re.IGNORECASE | re.DOTALL)
    return html.unescape(found.group(1)).strip() if found else ""


def _href(target: Path, out: Path) -> str:
    return Path(os.path.relpath(target.resolve(), out.resolve())).as_posix()


@step("Links to the study reports")
def links(found: Mapping[str, StudyRun], out: str | os.PathLike[str]) -> tuple[Link, ...] | Skipped:
    """Links from the summary's folder ``out`` to each found study's HTML report (its title as
    the text) and to every CSV list in the study's run folder, in the order of ``found``.

    ``found``: :func:`helpers.summary.find_metrics` (studies without a run are left out: the
    page's notes already name them). Hrefs are relative paths from ``out``; text is plain (shown
    escaped by :func:`helpers.reporting.show_links`)."""
    out = Path(out)
    result: list[Link] = []
    for study, run in found.items():
        if run.folder is None or run.metrics is None:
            continue
        name = _STUDY_NAMES.get(study, f"{study} study")
        report = run.folder / REPORT_FILE
        if report.exists():
            title = _title(report) or f"The {name}"
            result.append(Link(title, _href(report, out), f"report of the {name}"))
        else:
            result.append(
                Link(f"The {name}", None, f"no HTML report beside {run.folder.name}: run the batch")
            )
        result += [
            Link(csv.name, _href(csv, out), f"list written by the {name}")
            for csv in sorted(run.folder.glob("*.csv"))
        ]
    if not result:
        return Skipped("no study run was found", "run the studies before the summary")
    return tuple(result)
