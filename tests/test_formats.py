"""helpers.formats: the one way numbers, dates and codes are written for readers."""

import math

import numpy as np
import pandas as pd
import pytest

from helpers import formats


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (1_834_000, "EUR", "1.83M EUR"),
        (1_834_000, "€", "€1.83M"),
        (1_834_000, None, "1.83M"),
        (9_876, "EUR", "9,876 EUR"),
        (12_345, "EUR", "12.3k EUR"),
        (999_600, "EUR", "1M EUR"),  # rounds up to the next suffix, never "1,000k"
        (2_500_000_000, "USD", "2.5B USD"),
        (-45_000, "EUR", "-45k EUR"),
        (0, "EUR", "0 EUR"),
    ],
)
def test_money(amount, currency, expected):
    assert formats.money(amount, currency) == expected


@pytest.mark.parametrize("bad", [None, math.nan, math.inf, -math.inf, np.nan, pd.NA, "x"])
def test_missing_numbers_never_print_nan_or_inf(bad):
    for fmt in (formats.money, formats.count, formats.share, formats.ratio, formats.number):
        assert fmt(bad) == "–"
    assert formats.days(bad, missing="not reached") == "not reached"


def test_share_change_points_ratio():
    assert formats.share(0.784) == "78%"
    assert formats.share(0.7845, 1) == "78.5%"
    assert formats.share(0.001) == "<1%"  # not "0%" for a share that exists
    assert formats.share(0.9999) == ">99%"
    assert formats.share(0) == "0%" and formats.share(1) == "100%"
    assert formats.change(0.125) == "+12%" and formats.change(-0.04) == "-4%"
    assert formats.points(-0.031) == "-3 pts"
    assert formats.ratio(8.46) == "8.5×"


def test_number_digits():
    assert formats.number(11056831.0) == "11,056,831"  # not 11056831.0
    assert formats.number(12478.000000) == "12,478"
    assert formats.number(0.123456) == "0.123"
    assert formats.number(3.14159) == "3.14"
    assert formats.count(2875.0) == "2,875"


def test_dates_periods_durations():
    assert formats.date("2022-01-28 00:00:00") == "28 Jan 2022"
    assert formats.date(pd.NaT) == "–"
    assert formats.period("2025Q4") == "2025 Q4"
    assert formats.period("2025-03") == "Mar 2025"
    assert formats.days(45) == "45 days"
    assert formats.days(1) == "1 day"
    assert formats.days(143) == "4.7 months"
    assert formats.days(1000) == "2.7 years"
    assert formats.days(math.inf, missing="not reached") == "not reached"


def test_interval():
    assert formats.interval(1.234, 3.45, formats.ratio) == "95% interval 1.2×–3.5×"
    assert formats.interval(math.nan, 3.0) == ""


def test_display_name_order_of_sources():
    assert formats.display_name("linkedin_ads") == "LinkedIn ads"
    assert formats.display_name("b2b_portal") == "B2B portal"
    assert formats.display_name("trade_show", {"trade_show": "Messen"}) == "Messen"
    assert formats.display_name("Direct mail") == "Direct mail"
    assert formats.display_name(None) == "Unknown"
    frame = pd.DataFrame({"x": [1]}, index=["linkedin_ads"])
    assert list(formats.display_names(frame).index) == ["LinkedIn ads"]
    assert list(frame.index) == ["linkedin_ads"]  # a copy: the data keeps its codes


def test_column_formats_and_default():
    fmts = formats.column_formats({"revenue": "money", "share": "share"}, "EUR")
    assert fmts["revenue"](1_834_000) == "1.83M EUR"
    assert fmts["share"](0.5) == "50%"
    assert formats.default_format(True) == "yes"
    assert formats.default_format(pd.Timestamp("2022-01-28")) == "28 Jan 2022"
    assert formats.default_format(0.1234567) == "0.123"
    assert formats.default_format(math.nan) == "–"
