"""One way to write numbers for readers: money, counts, shares, ratios, dates, periods,
durations, intervals, and the names of codes found in the data.

Every report (study notebooks, the leadership summary, the comparison page) writes its numbers
through these functions, so a reader sees the same "1.8M EUR", "78%", "8.5×", "28 Jan 2022",
"2025 Q4" and "4.7 months" everywhere. Rules:

- A missing or non-finite number is never shown as ``nan``/``inf``: it reads ``"–"`` (or what the
  caller passes as ``missing``, e.g. "not reached" for a median lifetime the curve never reaches).
- No more digits than matter: money is rounded to 3 significant digits with k/M/B suffixes above
  10,000 (whole units below), shares to whole percent unless asked, ratios to one decimal.
- Money carries its currency when the data source names one: a one-character symbol goes in
  front (``"€1.8M"``), a code after (``"1.8M EUR"``); the demo company's currency is
  :data:`DEMO_CURRENCY`.
- Codes from the data (``linkedin_ads``) are shown by :func:`display_name`: the data source's
  ``display_names`` first, then :data:`DISPLAY_NAMES`, then the code with spaces and a capital.

Hand-written because the rules (one currency placement, "not reached", the display-name
fallback) are this project's; babel would localise the digits but not these choices.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

#: The demo company's currency (the generator writes amounts in euros).
DEMO_CURRENCY = "EUR"

#: Reader-facing names of codes the demo and common exports use (channels, tiers, stages).
DISPLAY_NAMES: dict[str, str] = {
    "linkedin_ads": "LinkedIn ads",
    "google_ads": "Google ads",
    "trade_show": "Trade show",
    "b2b_marketplace": "B2B marketplace",
    "referral": "Referral",
    "outbound": "Outbound sales",
    "content_seo": "Content and SEO",
    "seo": "SEO",
    "email": "E-mail",
    "webinar": "Webinar",
    "partner": "Partner",
    "direct": "Direct",
    "unknown": "Unknown",
}

#: Words kept in capitals when a code is turned into a name (``b2b_marketplace`` -> "B2B ...").
_ACRONYMS = {"b2b", "b2c", "seo", "sem", "ppc", "crm", "erp", "ltv", "cac", "api", "us", "uk", "eu"}

MISSING = "–"


def finite(value: Any) -> bool:
    """True for a real, finite number (not None, NaN, NaT, inf, a boolean or a non-number)."""
    if value is None or isinstance(value, (bool, np.bool_)):
        return False
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _sig(value: float, digits: int) -> str:
    """``value`` to ``digits`` significant digits, without trailing zeros after the point."""
    if value == 0:
        return "0"
    decimals = max(digits - 1 - math.floor(math.log10(abs(value))), 0)
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def number(value: Any, digits: int = 3, *, missing: str = MISSING) -> str:
    """A plain number for reading: thousands separators, ``digits`` significant digits (whole
    numbers keep all their digits): ``number(1234567) == '1,234,567'``, ``number(0.123456)
    == '0.123'``."""
    if not finite(value):
        return missing
    value = float(value)
    if value.is_integer() or abs(value) >= 10 ** (digits - 1):
        return f"{round(value):,}"
    return _sig(value, digits)


def count(value: Any, *, missing: str = MISSING) -> str:
    """A whole count with thousands separators: ``count(2875.0) == '2,875'``."""
    return f"{round(float(value)):,}" if finite(value) else missing


def money(
    amount: Any, currency: str | None = None, *, digits: int = 3, missing: str = MISSING
) -> str:
    """An amount of money: whole units below 10,000 (``"9,876 EUR"``), above that ``digits``
    significant digits with k/M/B (``money(1_834_000, "EUR") == '1.83M EUR'``); a
    one-character currency symbol goes first (``"€1.83M"``), a code last, none when None."""
    if not finite(amount):
        return missing
    amount = float(amount)
    sign, amount = ("-" if amount < 0 else ""), abs(amount)
    text = f"{amount:,.0f}"
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e4, "k")):
        if amount >= size:
            scaled = amount / (1e3 if suffix == "k" else size)
            text = _sig(scaled, digits)
            if suffix != "B" and float(text.replace(",", "")) >= 1000:  # 999.6k -> 1M, not 1,000k
                text, suffix = _sig(scaled / 1000, digits), {"k": "M", "M": "B"}[suffix]
            text += suffix
            break
    if not currency:
        return sign + text
    return f"{sign}{currency}{text}" if len(currency) == 1 else f"{sign}{text} {currency}"


def share(value: Any, digits: int = 0, *, missing: str = MISSING) -> str:
    """A share 0-1 as a percentage: ``share(0.784) == '78%'``; a share that rounds to 0 or 100
    but is not says so (``'<1%'``, ``'>99%'``)."""
    if not finite(value):
        return missing
    pct = float(value) * 100
    text = f"{pct:.{digits}f}%"
    step = 10**-digits
    if 0 < pct < step / 2:
        return f"<{step:g}%"
    if 100 - step / 2 < pct < 100:
        return f">{100 - step:g}%"
    return text


def points(value: Any, digits: int = 0, *, missing: str = MISSING) -> str:
    """A change of a share in percentage points, signed: ``points(-0.031) == '-3 pts'``."""
    if not finite(value):
        return missing
    return f"{float(value) * 100:+.{digits}f} pts"


def change(value: Any, digits: int = 0, *, missing: str = MISSING) -> str:
    """A relative change, signed: ``change(0.125) == '+12%'``, ``change(-0.04) == '-4%'``."""
    if not finite(value):
        return missing
    return f"{float(value) * 100:+.{digits}f}%"


def ratio(value: Any, digits: int = 1, *, missing: str = MISSING) -> str:
    """A ratio such as LTV:CAC: ``ratio(8.46) == '8.5×'``."""
    return f"{float(value):,.{digits}f}×" if finite(value) else missing


def interval(low: Any, high: Any, fmt=number, *, level: int = 95, missing: str = "") -> str:
    """``"95% interval <low>–<high>"`` with both ends written by ``fmt``; ``missing`` when
    either end is missing."""
    if not (finite(low) and finite(high)):
        return missing
    return f"{level}% interval {fmt(low)}–{fmt(high)}"


def date(value: Any, *, missing: str = MISSING) -> str:
    """A calendar date for reading: ``date('2022-01-28 00:00:00') == '28 Jan 2022'`` (never a
    time of day, never ``NaT``)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    stamp = pd.Timestamp(value)
    return missing if pd.isna(stamp) else f"{stamp.day} {stamp:%b %Y}"


def period(label: Any, *, missing: str = MISSING) -> str:
    """A pandas period label for reading: ``'2025Q4'`` -> ``'2025 Q4'``, ``'2025-03'`` ->
    ``'Mar 2025'``, ``'2025'`` stays."""
    if label is None or (isinstance(label, float) and math.isnan(label)):
        return missing
    text = str(label)
    if "Q" in text:
        year, quarter = text.split("Q")
        return f"{year} Q{quarter}"
    if len(text) == 7 and text[4] == "-":
        return f"{pd.Timestamp(text + '-01'):%b %Y}"
    return text


def days(value: Any, *, missing: str = MISSING) -> str:
    """A duration in days for reading: under 90 days in days (``'45 days'``), under two years
    in months (``'4.7 months'``), else in years (``'3.2 years'``); ``missing`` for a duration
    that is None or infinite (a median never reached: pass ``missing="not reached"``)."""
    if not finite(value):
        return missing
    value = float(value)
    if abs(value) < 90:
        n = round(value)
        return f"{n} day" if n == 1 else f"{n} days"
    if abs(value) < 730:
        return f"{value / 30.44:.1f} months"
    return f"{value / 365.25:.1f} years"


def display_name(code: Any, names: Mapping[str, str] | None = None) -> str:
    """The reader-facing name of a code from the data: ``names`` (the data source's
    ``display_names``) first, then :data:`DISPLAY_NAMES`, else the code with spaces for
    underscores, its first letter capitalised and known acronyms in capitals
    (``'b2b_marketplace'`` -> ``'B2B marketplace'``). A missing code reads "Unknown"."""
    if code is None or (isinstance(code, float) and math.isnan(code)):
        return "Unknown"
    text = str(code)
    if names and text in names:
        return names[text]
    if text in DISPLAY_NAMES:
        return DISPLAY_NAMES[text]
    words = text.replace("_", " ").replace("-", " ").split()
    if not words:
        return text
    words = [w.upper() if w.lower() in _ACRONYMS else w for w in words]
    first = words[0]
    words[0] = first if first.isupper() else first[:1].upper() + first[1:]
    return " ".join(words)


def display_names(
    frame: pd.DataFrame | pd.Series, names: Mapping[str, str] | None = None, *, index: bool = True
) -> pd.DataFrame | pd.Series:
    """``frame`` with its index labels (``index=True``) written by :func:`display_name`; a
    copy, the data is not changed."""
    if not index:
        return frame
    return frame.rename(index=lambda c: display_name(c, names))


#: Kinds of :func:`column_formats`: name -> function of one value.
KINDS = {
    "money": money,
    "count": count,
    "share": share,
    "ratio": ratio,
    "number": number,
    "date": date,
    "days": days,
    "period": period,
    "change": change,
    "points": points,
}


def column_formats(kinds: Mapping[str, str], currency: str | None = None) -> dict[str, Any]:
    """A ``{column: function}`` mapping for :func:`helpers.reporting.styled` from ``{column:
    kind}`` (a key of :data:`KINDS`; money columns get ``currency``)."""
    out = {}
    for column, kind in kinds.items():
        fmt = KINDS[kind]
        out[column] = (lambda v, f=fmt: f(v, currency)) if kind == "money" else fmt
    return out


def default_format(value: Any) -> str:
    """What :func:`helpers.reporting.styled` writes for a cell with no declared format: whole
    numbers with separators, other floats to 3 significant digits, dates without a time,
    booleans as yes/no, missing as "–"."""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return date(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return number(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return str(value)
