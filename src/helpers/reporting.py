"""What a notebook hands to its readers: key findings, output folder, headline metrics.

Every notebook has an ``OUTPUT_DIR`` parameter. The batch (``helpers.runner.batch``) sets it to
the run's folder under ``reports/``; run interactively it is empty and outputs go to
``reports/interactive/<notebook>/``. Metrics are written atomically (temporary file + rename),
as sorted JSON with rounded floats, so that a rerun on the same data gives the same bytes.
"""

from __future__ import annotations

import html
import itertools
import json
import math
import os
import tempfile
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers import formats
from helpers.config import REPORTS_DIR
from helpers.schemas import METRICS_FILE
from helpers.steps import Skipped


def output_dir(configured: str | os.PathLike[str] | None, notebook: str) -> Path:
    """The folder a notebook writes its metrics and CSVs to (created if missing).

    ``configured`` is the notebook's ``OUTPUT_DIR`` parameter; empty means
    ``reports/interactive/<notebook>``.
    """
    path = Path(configured) if configured else REPORTS_DIR / "interactive" / notebook
    path.mkdir(parents=True, exist_ok=True)
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_csv(
    frame: pd.DataFrame | Skipped, path: str | os.PathLike[str], **kwargs: Any
) -> Path | None:
    """``frame.to_csv`` written atomically (UTF-8, no index unless asked); nothing is written
    for a :class:`~helpers.steps.Skipped` result (None is returned)."""
    if isinstance(frame, Skipped):
        return None
    kwargs.setdefault("index", False)
    return atomic_write_text(path, frame.to_csv(**kwargs))


def json_safe(value: Any, digits: int) -> Any:
    """JSON-safe copy of ``value``: numpy scalars unwrapped, floats rounded, NaN -> None."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, pd.Index, np.ndarray)):
        return [json_safe(v, digits) for v in value]
    if isinstance(value, pd.Series):
        return {str(k): json_safe(v, digits) for k, v in value.items()}
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return None if not math.isfinite(value) else round(value, digits)
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    return value


def write_metrics(folder: str | os.PathLike[str], metrics: Any, digits: int = 6) -> Path:
    """Write a notebook's headline numbers to ``<folder>/metrics.json`` (atomic, sorted keys).

    ``metrics`` is a declared schema object (:mod:`helpers.schemas`, written with its schema
    name and version) or, for tests and fixtures, a plain mapping."""
    data = metrics.to_json() if hasattr(metrics, "to_json") else metrics
    text = json.dumps(json_safe(data, digits), indent=2, sort_keys=True, ensure_ascii=False)
    return atomic_write_text(Path(folder) / METRICS_FILE, text + "\n")


def read_metrics(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The metrics a notebook run wrote to ``folder``."""
    return json.loads((Path(folder) / METRICS_FILE).read_text(encoding="utf-8"))


def safe_markdown(text: str) -> str:
    """``text`` made safe to render as Markdown in a report: ``<``, ``>`` and ``&`` escaped
    (no HTML from the data) and ``[``, ``]`` backslash-escaped, so that no link or image can
    form (a name like ``[x](javascript:...)`` stays text). Our sentences use emphasis and code
    spans, never links; those still work."""
    parts = html.escape(text, quote=False).split("`")
    for i in range(0, len(parts), 2):  # outside code spans (inside, no link can form)
        parts[i] = parts[i].replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
    return "`".join(parts)


def findings_markdown(sentences: Iterable[str]) -> str:
    """Key findings as a Markdown bullet list of :func:`safe_markdown` sentences."""
    items = [f"- {safe_markdown(s)}" for s in sentences if s]
    return "\n".join(items) if items else "- No findings: the selection has no data."


def show_findings(sentences: Iterable[str]) -> None:
    """Display key findings as Markdown in the notebook (and the HTML report)."""
    from IPython.display import Markdown, display

    display(Markdown(findings_markdown(sentences)))


def say(text: str | Skipped):
    """A sentence for the report as :func:`safe_markdown`: sentences carry account and
    channel names from the data, which must never become HTML, links or images. A
    :class:`~helpers.steps.Skipped` result is said as its one sentence."""
    from IPython.display import Markdown

    if isinstance(text, Skipped):
        text = text.sentence()
    return Markdown(safe_markdown(text))


#: Table ids of :func:`styled` tables: numbered in the order they are made, so a rerun of a
#: notebook gives the same HTML (pandas would draw a random id for each table).
_TABLE_NUMBERS = itertools.count(1)


def styled(
    frame: pd.DataFrame | pd.Series | Skipped,
    formatter: Any = None,
    *,
    hide_index: bool = False,
    **kwargs: Any,
):
    """``frame.style.format(formatter, **kwargs)`` with cells, index and column labels
    HTML-escaped (a pandas Styler does not escape unless asked); ``hide_index`` hides the row
    labels; missing and infinite numbers show as ``na_rep`` ("–" unless given). Chain further
    Styler calls (``background_gradient``) on the result; do not call ``.format`` again. A
    :class:`~helpers.steps.Skipped` result is shown as its sentence (:func:`say`); a Series as
    a one-column table. Table ids are numbered, not random (the same report on a rerun)."""
    if isinstance(frame, Skipped):
        return say(frame)
    if isinstance(frame, pd.Series):
        frame = frame.to_frame()
    # a missing or infinite number is never shown as nan/inf: "–" unless the caller says what
    # it means (e.g. na_rep="not reached" for a median lifetime the curve never reaches)
    numeric = frame.select_dtypes("number").columns
    if len(numeric):
        frame = frame.copy()
        frame[numeric] = frame[numeric].replace([np.inf, -np.inf], np.nan)
    kwargs.setdefault("na_rep", "–")
    # every cell first gets the house format (no 6-decimal floats, no 00:00:00 times, yes/no);
    # ``formatter`` then overrides it where the caller declares a format
    style = (
        frame.style.set_uuid(f"b2b{next(_TABLE_NUMBERS)}")
        .format(formats.default_format, escape="html", na_rep=kwargs["na_rep"])
        .format_index(formats.default_format, escape="html", axis=0)
        .format_index(formats.default_format, escape="html", axis=1)
    )
    if formatter is not None or len(kwargs) > 1:
        # a dict formats only its own columns (pandas would reset every other column to its
        # default when no subset is given)
        if isinstance(formatter, dict) and "subset" not in kwargs:
            kwargs["subset"] = [c for c in formatter if c in frame.columns]
        style = style.format(formatter or formats.default_format, escape="html", **kwargs)
    return style.hide(axis="index") if hide_index else style


@dataclass(frozen=True)
class Link:
    """A link the report shows: ``text`` (plain text, escaped when shown), ``href`` (a
    relative path from the report's folder; None: shown as text only), ``note`` (plain text
    after the link)."""

    text: str
    href: str | None
    note: str = ""


def link_markdown(link: Link) -> str:
    """One :class:`Link` as safe Markdown: the text and note are :func:`safe_markdown`; the
    path is percent-encoded (``urllib.parse.quote``: no space, bracket, parenthesis or colon
    is left, so it cannot end the link early nor become a ``javascript:`` URL) and must be
    relative (an absolute path or URL is refused: reports link only inside the reports
    folder, so that a zipped copy keeps working)."""
    text = safe_markdown(link.text)
    if link.href is None:
        shown = text
    else:
        if link.href.startswith("/") or urllib.parse.urlsplit(link.href).scheme:
            raise ValueError(f"not a relative link: {link.href!r}")
        shown = f"[{text}]({urllib.parse.quote(link.href, safe='/#')})"
    return f"{shown}: {safe_markdown(link.note)}" if link.note else shown


def links_markdown(links: Iterable[Link]) -> str:
    """Links as a Markdown bullet list (:func:`link_markdown`); one line saying so when
    there is none."""
    items = [f"- {link_markdown(link)}" for link in links]
    return "\n".join(items) if items else "No reports or lists to link."


def show_links(links: Iterable[Link] | Skipped):
    """Our own links for the report (:func:`links_markdown`), which :func:`say` would show as
    text on purpose; a :class:`~helpers.steps.Skipped` result is said as its sentence."""
    from IPython.display import Markdown

    if isinstance(links, Skipped):
        return say(links)
    return Markdown(links_markdown(links))
