"""What reaches the report: sentences and tables escape names from the data."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import reporting


def test_say_escapes_html_but_keeps_markdown():
    md = reporting.say("**Smith & Sons <b>x</b>** lead")
    assert md.data == "**Smith &amp; Sons &lt;b&gt;x&lt;/b&gt;** lead"


def test_styled_escapes_cells_index_and_columns():
    frame = pd.DataFrame(
        {"<i>col</i>": ["<b>cell</b>"], "value": [1234.5]}, index=pd.Index(["<s>row</s>"])
    )
    html = reporting.styled(frame, {"value": "{:,.0f}"}).to_html()
    assert "<b>" not in html and "<i>" not in html and "<s>" not in html
    assert "&lt;b&gt;cell&lt;/b&gt;" in html and "&lt;s&gt;row&lt;/s&gt;" in html
    assert "&lt;i&gt;col&lt;/i&gt;" in html and "1,234" in html  # the format still applies


def test_json_safe_makes_numbers_and_dates_plain():
    out = reporting.json_safe(
        {"a": float("nan"), "b": pd.Timestamp("2025-12-31"), 3: [1.23456789]}, 3
    )
    assert out == {"a": None, "b": "2025-12-31", "3": [1.235]}


def test_code_spans_keep_their_text():
    assert reporting.safe_markdown("see `C:\\data\\x [1].csv` [a]") == (
        "see `C:\\data\\x [1].csv` \\[a\\]"
    )


def test_styled_default_format_has_no_raw_floats_times_or_booleans():
    frame = pd.DataFrame(
        {
            "when": [pd.Timestamp("2022-01-28")],
            "amount": [11056831.0],
            "p": [0.123456789],
            "violated": [False],
        },
        index=pd.Index([pd.Timestamp("2022-02-01")], name="day"),
    )
    html = reporting.styled(frame).to_html()
    assert "28 Jan 2022" in html and "00:00:00" not in html
    assert "11,056,831" in html and "11056831.0" not in html
    assert "0.123" in html and "0.123457" not in html
    assert ">no<" in html and "False" not in html
    assert "1 Feb 2022" in html  # index labels too
    # a declared format wins over the default for its column, and only there
    partial = reporting.styled(frame, {"p": "{:.5f}"}).to_html()
    assert "0.12346" in partial
    assert "11,056,831" in partial and ">no<" in partial and "False" not in partial


def test_links_are_markdown_links_with_escaped_text_and_encoded_relative_paths():
    shown = reporting.links_markdown(
        [
            reporting.Link("Churn <b>study</b> [x]", "../02-churn/report.html", "the report"),
            reporting.Link("a (1).csv", "../02 churn/a (1).csv"),
            reporting.Link("No report", None, "run the batch"),
        ]
    )
    assert shown.splitlines() == [
        "- [Churn &lt;b&gt;study&lt;/b&gt; \\[x\\]](../02-churn/report.html): the report",
        "- [a (1).csv](../02%20churn/a%20%281%29.csv)",
        "- No report: run the batch",
    ]
    assert reporting.links_markdown([]) == "No reports or lists to link."


@pytest.mark.parametrize("href", ["javascript:alert(1)", "/etc/passwd", "https://example.com/x"])
def test_a_link_must_stay_inside_the_reports_folder(href):
    with pytest.raises(ValueError, match="not a relative link"):
        reporting.link_markdown(reporting.Link("x", href))


def test_show_links_says_a_skipped_result():
    from helpers.steps import Skipped

    shown = reporting.show_links(Skipped("no study run was found", step="Links"))
    assert shown.data == "Links is not available: no study run was found."
