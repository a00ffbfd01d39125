"""No raw output in the study reports (issue #14): the visible text of a rendered report has no
``nan``, ``inf`` or ``NaT`` as words, no time of day ``00:00:00``, no object reprs
(``object at 0x``, ``Timestamp(``, ``dtype:``), no pandas dumps of floats with six decimals.

The scan is tested here on hand-made pages; ``tests/test_browser.py`` applies it to every report
of the default batch (without a browser) and, in Chromium, to every page's rendered text.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

#: What must never reach a reader, as regular expressions over the visible text.
FORBIDDEN = {
    "nan": r"\bnan\b",
    "inf": r"\binf\b",
    "NaT": r"\bNaT\b",
    "a time of day 00:00:00": r"00:00:00",
    "an object repr": r"object at 0x",
    "a Timestamp repr": r"Timestamp\(",
    "a pandas dtype line": r"dtype:",
    "a float with six decimals": r"\b\d+\.\d{6}\b",
    "a path repr": r"PosixPath\(",
}


class _Visible(HTMLParser):
    """The text a browser shows: everything outside ``<style>``, ``<script>`` and ``<head>``."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script", "head"):
            self._hidden += 1

    def handle_endtag(self, tag):
        if tag in ("style", "script", "head"):
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    """The visible text of an HTML page, its pieces joined by spaces."""
    parser = _Visible()
    parser.feed(html)
    return " ".join(parser.parts)


def raw_output(html: str) -> dict[str, list[str]]:
    """What of :data:`FORBIDDEN` the visible text of ``html`` shows, with the text around it."""
    text = visible_text(html)
    found = {}
    for what, pattern in FORBIDDEN.items():
        hits = [text[max(m.start() - 40, 0) : m.end() + 40] for m in re.finditer(pattern, text)]
        if hits:
            found[what] = hits[:3]
    return found


def test_the_scan_finds_raw_output_and_ignores_words_and_styles():
    page = (
        "<html><head><title>nan</title><style>.x{content:'inf'}</style></head><body>"
        "<td>2022-01-28 00:00:00</td><p>median inf days; AIC nan</p><td>11056831.000000</td>"
        "<p>information, finance and NaTional infrastructure</p></body></html>"
    )
    assert set(raw_output(page)) == {
        "nan",
        "inf",
        "a time of day 00:00:00",
        "a float with six decimals",
    }
    assert raw_output("<p>Information and finance: 28 Jan 2022, 13.8M EUR</p>") == {}
