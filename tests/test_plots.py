"""Shared charts: what they draw, that nothing overlaps at the default sizes, that reference
lines and bars are labelled, that every chart carries alt text into the report, and a skipped
input shown as its sentence instead."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import re  # noqa: E402
from html.parser import HTMLParser  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from lifelines import KaplanMeierFitter  # noqa: E402

from helpers import channels, plots, theme  # noqa: E402
from helpers.config import KERNEL_NAME  # noqa: E402
from helpers.order_gaps import GapCounts  # noqa: E402
from helpers.plots import alt  # noqa: E402
from helpers.steps import Skipped  # noqa: E402

NBCONVERT_DEFAULT = "No description has been provided for this image"


@pytest.fixture(autouse=True)
def _theme_and_close():
    theme.apply()
    yield
    plt.close("all")


# --- data shaped like the demo's -------------------------------------------------------------

CHANNELS = [
    "linkedin_ads",
    "google_ads",
    "trade_show",
    "b2b_marketplace",
    "referral",
    "outbound",
    "content_seo",
]


def _ratios() -> pd.DataFrame:
    mean = np.array([4.0, 1.5, 2.5, 8.4, 12.1, 3.2, 6.3])
    return pd.DataFrame(
        {"ratio": mean, "low": mean * 0.7, "high": mean * 1.4, "flag": mean < 3}, index=CHANNELS
    )


def _drivers() -> pd.DataFrame:
    """Moves of 0.1-0.9M on a 13M revenue, as the demo's quarter-on-quarter change."""
    return pd.DataFrame(
        {
            "label": [
                "more or fewer leads",
                "lead conversion",
                "first-period spend of new accounts",
                "size of last period's buying base",
                "retention of last period's buyers",
                "spend per retained account",
                "reactivated accounts",
            ],
            "contribution": [-0.1e6, 0.15e6, 0.85e6, 0.12e6, -0.15e6, -0.42e6, 0.38e6],
        }
    )


def _quadrant() -> pd.DataFrame:
    table = pd.DataFrame(
        {
            "cost_per_lead": [120.0, 95.0, 400.0, 300.0, 110.0, 125.0],
            "cac": [2500.0, 2600.0, 9000.0, 4000.0, 2400.0, 2550.0],
        },
        index=[
            "linkedin_ads",
            "google_ads",
            "trade_show",
            "b2b_marketplace",
            "outbound",
            "content_seo",
        ],
    )
    table.attrs.update(x_cut=115.0, y_cut=2550.0)
    return table


def _components(freq: str, periods: int) -> pd.DataFrame:
    index = pd.period_range("2022-01", periods=periods, freq=freq)
    rising = np.linspace(0.1e6, 13e6, periods)
    return pd.DataFrame(
        {
            "existing": rising * 0.75,
            "new": rising * 0.15,
            "reactivated": rising * 0.1,
            "complete": [True] * (periods - 1) + [False],
        },
        index=index,
    )


def _trend() -> pd.DataFrame:
    months = pd.period_range("2022-01", periods=48, freq="M")
    rows = [
        {"channel": ch, "month": m, "spend": 10_000.0 + 500 * i + 40 * j, "leads": 50 + j % 7}
        for i, ch in enumerate(CHANNELS[:5])
        for j, m in enumerate(months)
    ]
    return pd.DataFrame(rows)


def _fits() -> dict[str, KaplanMeierFitter]:
    rng = np.random.default_rng(1)
    out = {}
    for name, scale in (("key", 900), ("small", 400)):
        durations = rng.exponential(scale, 300)
        out[name] = KaplanMeierFitter().fit(durations, durations < 1000, label=name)
    return out


def _forest() -> pd.DataFrame:
    log_hr = np.array([-2.3, -0.5, 0.1, 0.7, 1.9])
    return pd.DataFrame(
        {"log_hr": log_hr, "low": log_hr - 0.6, "high": log_hr + 0.6},
        index=["tier=key", "tier=medium", "region=north", "size=small", "industry=retail"],
    )


def _points() -> pd.DataFrame:
    rng = np.random.default_rng(2)
    points = pd.DataFrame(
        {
            "pc1": rng.normal(size=300),
            "pc2": rng.normal(size=300),
            "cluster": rng.choice(["loyal", "new", "sleeping"], 300),
        }
    )
    points.attrs["explained"] = [0.412, 0.237]
    return points


#: Every shared chart helper, drawn at its default size from demo-like data.
CHARTS = {
    "interval_bars": lambda: plots.interval_bars(
        _ratios(),
        "ratio",
        flag="flag",
        reference=3,
        xlabel="LTV : CAC",
        unit="ratio",
        title="What a new customer is worth",
    ),
    "forest": lambda: plots.forest(_forest()),
    "quadrant": lambda: plots.quadrant(_quadrant(), channels.POSITIONS, currency="EUR"),
    "waterfall": lambda: plots.waterfall(
        _drivers(), 12.9e6, "2025 Q3", "2025 Q4", title="What moved revenue", currency="EUR"
    ),
    "revenue_by_kind_quarters": lambda: plots.revenue_by_kind(
        _components("Q", 16), as_of="2025-12-31", currency="EUR"
    ),
    "revenue_by_kind_months": lambda: plots.revenue_by_kind(
        _components("M", 48), as_of="2025-12-31", currency="EUR"
    ),
    "survival_curves": lambda: plots.survival_curves(_fits(), title="By tier", at_risk=False),
    "gap_histogram": lambda: plots.gap_histogram(
        GapCounts.of(np.random.default_rng(3).exponential(60, 2000).round()), 180
    ),
    "calibration": lambda: plots.calibration(
        pd.DataFrame(
            {"predicted": np.linspace(0.05, 0.9, 10), "observed": np.linspace(0.04, 0.85, 10)}
        ),
        180,
    ),
    "share_bars": lambda: plots.share_bars(
        pd.Series({"long tail": 0.04, "core": 0.18, "key": 0.42, "strategic": 0.36}),
        title="Revenue by value tier",
    ),
    "spend_lines": lambda: plots.spend_lines(_trend(), currency="EUR"),
    "stage_lines": lambda: plots.stage_lines(
        pd.DataFrame(
            {ch: [1.0, 0.6, 0.3, 0.2, 0.1] for ch in CHANNELS},
            index=["lead", "qualified", "proposal", "negotiation", "won"],
        )
    ),
    "grouped_bars": lambda: plots.grouped_bars(
        pd.DataFrame(
            {
                m: np.arange(1, 8) * 131.0 + k
                for k, m in enumerate(["first_touch", "last_touch", "linear", "time_decay"])
            },
            index=CHANNELS,
        ),
        ylabel="attributed conversions",
        title="Conversions by channel",
        unit="count",
    ),
    "lorenz": lambda: plots.lorenz(
        pd.DataFrame(
            {"accounts": np.linspace(0, 1, 50), "revenue": 1 - (1 - np.linspace(0, 1, 50)) ** 4}
        )
    ),
    "heatmap": lambda: plots.heatmap(
        pd.DataFrame(
            np.arange(25.0).reshape(5, 5) * 4100, index=list("54321"), columns=list("12345")
        ),
        title="Mean revenue by R and F",
        currency="EUR",
    ),
    "cluster_scatter": lambda: plots.cluster_scatter(_points()),
}


def _axes_of(result) -> list:
    axes = list(result) if isinstance(result, (list, tuple, np.ndarray)) else [result]
    return [a for a in axes[0].figure.axes if a.get_visible()]


def _overlaps(boxes) -> list[tuple[int, int]]:
    """Pairs of boxes that overlap by more than a pixel each way (touching is fine)."""
    shrunk = [b.padded(-1.0) for b in boxes]
    return [
        (i, j)
        for i in range(len(shrunk))
        for j in range(i + 1, len(shrunk))
        if shrunk[i].overlaps(shrunk[j])
    ]


def _tick_label_boxes(axis, renderer) -> list:
    """Boxes of the tick labels drawn on ``axis``: ticks inside the view, with text."""
    low, high = sorted(axis.get_view_interval())
    labels = [
        tick.label1
        for tick in axis.get_major_ticks()
        if low - 1e-9 <= tick.get_loc() <= high + 1e-9
        and tick.label1.get_visible()
        and tick.label1.get_text()
    ]
    return [t.get_window_extent(renderer) for t in labels]


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_no_two_tick_labels_overlap(name):
    axes = _axes_of(CHARTS[name]())
    fig = axes[0].figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in axes:
        for axis in (ax.xaxis, ax.yaxis):
            boxes = _tick_label_boxes(axis, renderer)
            texts = [t.get_text() for t in axis.get_ticklabels()]
            assert _overlaps(boxes) == [], f"{name}: overlapping tick labels {texts}"


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_no_annotation_overlaps_another(name):
    axes = _axes_of(CHARTS[name]())
    fig = axes[0].figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in axes:
        texts = [t for t in ax.texts if t.get_visible() and t.get_text()]
        boxes = [t.get_window_extent(renderer) for t in texts]
        pairs = _overlaps(boxes)
        assert pairs == [], (
            f"{name}: {[(texts[i].get_text(), texts[j].get_text()) for i, j in pairs]}"
        )


def test_quadrant_labels_clear_every_point_and_corner_note():
    ax = CHARTS["quadrant"]()
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    names = {
        "LinkedIn ads",
        "Google ads",
        "Trade show",
        "B2B marketplace",
        "Outbound sales",
        "Content and SEO",
    }
    labels = [t for t in ax.texts if t.get_text() in names]
    notes = [t for t in ax.texts if t.get_text() in channels.POSITIONS.values()]
    assert len(labels) == 6 and len(notes) == 4
    centres = ax.transData.transform(ax.collections[0].get_offsets())
    marker = 6.0  # half the marker's width in pixels (s=120 points^2 at 100 dpi)
    for label in labels:
        box = label.get_window_extent(renderer)
        assert not any(box.overlaps(n.get_window_extent(renderer)) for n in notes)
        for x, y in centres:
            clear_x = box.x1 < x - marker or box.x0 > x + marker
            clear_y = box.y1 < y - marker or box.y0 > y + marker
            assert clear_x or clear_y, f"{label.get_text()} covers a point"


def test_reference_lines_are_named_in_the_legend():
    expected = {
        "interval_bars": "LTV : CAC = 3",
        "forest": "1 = same hazard as the reference level",
        "quadrant": "cut: cost per lead 115 EUR",
        "gap_histogram": "churn threshold: 180 days",
        "calibration": "perfect calibration",
        "lorenz": "even spread",
    }
    for name, label in expected.items():
        ax = CHARTS[name]()
        legend = ax.get_legend()
        assert legend is not None, name
        assert label in [t.get_text() for t in legend.get_texts()], name
    quadrant = CHARTS["quadrant"]()
    dashed = [line for line in quadrant.get_lines() if line.get_linestyle() == "--"]
    assert {line.get_label() for line in dashed} == {
        "cut: cost per lead 115 EUR",
        "cut: cost per new customer 2,550 EUR",
    }


def test_waterfall_moves_are_readable_on_a_13m_revenue():
    ax = CHARTS["waterfall"]()
    fig = ax.figure
    fig.canvas.draw()
    bars = ax.patches[1:-1]
    widths = [b.get_window_extent().width for b in bars]
    assert min(widths) >= 12, widths  # the smallest move, 0.1M of 13M, at least 12 pixels
    assert ax.get_xlim()[0] > 0
    assert "the axis starts at" in ax.get_xlabel() and "not at zero" in ax.get_xlabel()
    assert any(t.get_text() == "//" for t in ax.texts)  # the break is marked on the axis


def test_waterfall_runs_from_start_through_each_move_to_the_end():
    drivers = pd.DataFrame({"label": ["leads", "retention"], "contribution": [30.0, -10.0]})
    ax = plots.waterfall(drivers, 100.0, "Q3", "Q4", currency="EUR")
    start, up, down, end = ax.patches
    assert start.get_x() + start.get_width() == 100.0
    assert (up.get_x(), up.get_width()) == (100.0, 30.0)
    assert (down.get_x(), down.get_width()) == (120.0, 10.0)
    assert end.get_x() + end.get_width() == 120.0
    labels = [t.get_text() for t in ax.texts if "EUR" in t.get_text()]
    assert labels == ["100 EUR", "+30 EUR", "-10 EUR", "120 EUR"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Q3", "leads", "retention", "Q4"]
    assert ax.get_yticks().tolist() == [3, 2, 1, 0]  # the start on top, the end at the bottom


def test_a_waterfall_of_large_moves_keeps_a_zero_based_axis():
    drivers = pd.DataFrame({"label": ["growth"], "contribution": [80.0]})
    ax = plots.waterfall(drivers, 20.0, "before", "after")
    assert ax.get_xlim()[0] == 0.0
    assert "not at zero" not in ax.get_xlabel()


def test_bars_carry_value_labels_with_units():
    bars = CHARTS["interval_bars"]()
    assert {"4.0×", "1.5×", "12.1×"} <= {t.get_text() for t in bars.texts}
    shares = CHARTS["share_bars"]()
    assert {"4%", "42%", "36%"} <= {t.get_text() for t in shares.texts}
    grouped = CHARTS["grouped_bars"]()
    assert "917" in {t.get_text() for t in grouped.texts}  # 7 * 131 conversions
    worth = _ratios()[["ratio", "low", "high"]] * 1000
    money = plots.interval_bars(worth, "ratio", currency="EUR", title="Worth")
    assert "12.1k EUR" in {t.get_text() for t in money.texts}
    assert money.xaxis.get_major_formatter()(2_500_000, 0) == "2.5M EUR"


def test_money_axes_carry_the_currency_when_given_and_none_otherwise():
    with_currency = CHARTS["revenue_by_kind_quarters"]()
    assert with_currency.yaxis.get_major_formatter()(2_000_000, 0) == "2M EUR"
    without = plots.revenue_by_kind(_components("Q", 8))
    assert without.yaxis.get_major_formatter()(2_000_000, 0) == "2M"
    spend = CHARTS["spend_lines"]()
    assert spend[1].yaxis.get_major_formatter()(150, 0) == "150 EUR"


def test_log_axes_have_few_plain_tick_labels():
    ax = CHARTS["forest"]()
    ax.figure.canvas.draw()
    low, high = ax.get_xlim()
    labels = [t.get_text() for t in ax.get_xticklabels() if low <= t.get_position()[0] <= high]
    assert 3 <= len(labels) <= 8, labels
    assert all(re.fullmatch(r"[\d.,]+", label) for label in labels), labels  # no 10^x


def test_pca_axes_say_the_share_of_variance():
    ax = CHARTS["cluster_scatter"]()
    assert ax.get_xlabel() == "PC1 (41% of variance)"
    assert ax.get_ylabel() == "PC2 (24% of variance)"
    assert ax.get_legend() is not None


def test_codes_are_shown_by_their_display_names():
    ax = CHARTS["interval_bars"]()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "Google ads" and "LinkedIn ads" in labels  # ascending by value
    colours = [matplotlib.colors.to_hex(p.get_facecolor()) for p in ax.patches]
    assert colours[0] == matplotlib.colors.to_hex(theme.BAD)
    assert colours[-1] == matplotlib.colors.to_hex(theme.GOOD)


# --- alt text --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_every_chart_keeps_a_non_empty_alt_text(name):
    fig = _axes_of(CHARTS[name]())[0].figure
    text = plots.alt_text(fig)
    assert text and text != alt.UNTITLED and not text.startswith("Chart: ")


def test_alt_texts_of_different_charts_differ():
    different = {k: v for k, v in CHARTS.items() if k != "revenue_by_kind_months"}  # same title
    texts = [plots.alt_text(_axes_of(draw())[0].figure) for draw in different.values()]
    assert len(set(texts)) == len(texts)


def test_alt_text_is_the_title_and_sentence_or_the_callers_text():
    shares = pd.Series({"key": 0.6, "other": 0.4})
    ax = plots.share_bars(shares, title="Revenue by tier", sentence="Key accounts bring 60%.")
    assert plots.alt_text(ax.figure) == "Revenue by tier. Key accounts bring 60%."
    ax = plots.share_bars(shares, title="Revenue by tier", alt="Two bars: 60% and 40%")
    assert plots.alt_text(ax.figure) == "Two bars: 60% and 40%"
    _, raw = plt.subplots()
    raw.set_title("Drawn by hand")
    assert plots.alt_text(raw.figure) == "Chart: Drawn by hand."


def test_a_repeated_alt_text_is_numbered_when_published():
    fig, ax = plt.subplots()
    plots.describe(ax, "A chart only this test draws")
    first, second = alt.png_with_alt(fig), alt.png_with_alt(fig)
    assert first[1] == {"alt": "A chart only this test draws."}
    assert second[1] == {"alt": "A chart only this test draws. (chart 2)"}
    assert first[0] == second[0] and len(first[0]) > 100  # the same base64 PNG


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.alts: list[str | None] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.alts.append(dict(attrs).get("alt"))


@pytest.mark.notebook
def test_a_rendered_report_carries_each_charts_alt_text(tmp_path):
    from nbclient import NotebookClient

    from helpers.runner.render import render_html

    cells = [
        "from helpers import plots, theme\nimport matplotlib.pyplot as plt\n"
        "import pandas as pd\ntheme.apply()",
        "plots.share_bars(pd.Series({'key': 0.6, 'other': 0.4}), title='Revenue by tier')",
        "plots.share_bars(pd.Series({'key': 0.6, 'other': 0.4}), title='Revenue by tier')\n"
        "plt.show()",
        "plt.plot([1, 2, 3])\nplt.title('Drawn by hand')",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "x", "language": "python"}
    NotebookClient(
        nb, timeout=120, kernel_name=KERNEL_NAME, resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    images = _Images()
    images.feed(render_html(nb))
    assert images.alts == [
        "Revenue by tier.",
        "Revenue by tier. (chart 2)",
        "Chart: Drawn by hand.",
    ]
    assert NBCONVERT_DEFAULT not in images.alts


# --- skipped input ---------------------------------------------------------------------------


def test_a_skipped_input_draws_nothing_and_says_why(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    assert plots.interval_bars(Skipped("no lifetime values", step="LTV")) is None
    assert plots.forest(Skipped("only 5 churn events")) is None
    assert plots.share_bars(Skipped("no tiers", step="The tier chart")) is None
    assert len(shown) == 3 and "LTV is not available: no lifetime values" in shown[0].data
    assert plt.get_fignums() == []


def _per_gap_histogram(gaps: pd.Series, threshold: int):
    """The gap histogram as it was drawn from the series of every gap (the oracle)."""
    from helpers.plots._base import new_axes, reference_line

    ax = new_axes(None)
    gaps.clip(upper=gaps.quantile(0.999)).plot.hist(bins=60, color=theme.PALETTE[0], ax=ax)
    reference_line(ax, threshold, f"churn threshold: {threshold} days", color=theme.BAD)
    ax.set_xlabel("days between consecutive orders of an account")
    ax.set_ylabel("gaps")
    title = f"Order gaps; churn threshold = {threshold} days"
    ax.set_title(title)
    ax.legend()
    plots.describe(ax, title)
    return ax


def _png(ax) -> bytes:
    from io import BytesIO

    out = BytesIO()
    ax.figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_gap_histogram_from_counts_draws_the_per_gap_picture(seed):
    """The weighted histogram of the counts has the per-gap histogram's bin edges (60 bins up
    to the 99.9th percentile) and bar heights, and the same PNG to the byte; also with one
    gap length only (edges of their own) and with no gap at all."""
    rng = np.random.default_rng(seed)
    long_tail = np.concatenate([rng.gamma(4, 12, 5000).round() + 1, rng.integers(300, 900, 9)])
    for every in (long_tail.astype("int64"), np.full(7, 30), np.array([], dtype="int64")):
        gaps = pd.Series(every, name="gap_days")
        old = _per_gap_histogram(gaps, 180)
        new = plots.gap_histogram(GapCounts.of(gaps), 180)
        bars = [[(p.get_x(), p.get_width(), p.get_height()) for p in a.patches] for a in (old, new)]
        assert bars[0] == bars[1] and len(bars[0]) == 60
        assert [t.get_text() for t in new.get_legend().get_texts()] == [
            t.get_text() for t in old.get_legend().get_texts()
        ]
        assert _png(old) == _png(new)
        assert plots.alt_text(new.figure) == plots.alt_text(old.figure)
        plt.close("all")


def test_forest_draws_hazard_ratios_on_a_log_scale():
    ax = plots.forest(_forest())
    assert ax.get_xscale() == "log"
    xs = ax.collections[-1].get_offsets()[:, 0]
    np.testing.assert_allclose(xs, np.exp(_forest()["log_hr"]))


def test_grouped_bars_name_every_row_wrapping_long_names():
    ax = CHARTS["grouped_bars"]()
    labels = [t.get_text().replace("\n", " ") for t in ax.get_xticklabels()]
    assert labels == [
        "LinkedIn ads",
        "Google ads",
        "Trade show",
        "B2B marketplace",
        "Referral",
        "Outbound sales",
        "Content and SEO",
    ]


def test_a_long_period_axis_shows_the_latest_period_and_thins_the_rest():
    ax = CHARTS["revenue_by_kind_months"]()
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[-1] == "Dec 2025" and 4 <= len(labels) < 48


def test_forest_rows_read_column_and_level_by_display_name():
    table = pd.DataFrame(
        {"log_hr": [0.5], "low": [0.1], "high": [0.9]},
        index=["acquisition_channel=b2b_marketplace"],
    )
    ax = plots.forest(table)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Acquisition channel: B2B marketplace"]


def test_plain_number_axes_have_thousands_separators():
    ltv = _ratios()[["ratio", "low", "high"]] * 1000
    ax = plots.interval_bars(ltv, "ratio", xlabel="lifetime value", title="LTV")
    assert ax.xaxis.get_major_formatter()(25_000, 0) == "25,000"
    grouped = CHARTS["grouped_bars"]()
    assert grouped.yaxis.get_major_formatter()(1200, 0) == "1,200"


def test_interval_bars_draw_an_interval_that_misses_its_value_as_given():
    """A percentile interval can miss its point estimate (it did at 100k accounts, where
    matplotlib's xerr raised "'xerr' must not contain negative values" and took down the
    channel study): the bar is drawn, its interval runs from low to high as given, a row
    without an interval has none."""
    table = pd.DataFrame(
        {"ratio": [2.66, 8.2, 4.0], "low": [2.7, 7.9, np.nan], "high": [2.9, 8.4, np.nan]},
        index=["b2b_marketplace", "trade_show", "referral"],
    )
    ax = plots.interval_bars(table, "ratio", unit="ratio", xlabel="LTV : CAC")
    assert [round(b.get_width(), 2) for b in ax.patches] == [2.66, 4.0, 8.2]
    segments = [s for s in ax.collections[0].get_segments() if len(s)]
    assert sorted((s[0][0], s[1][0], s[0][1]) for s in segments) == [(2.7, 2.9, 0), (7.9, 8.4, 2)]
    assert ax.get_xlim()[1] > 8.4
