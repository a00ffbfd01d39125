"""What every chart helper shares: the skipped-input wrapper, new axes, tick formats (money,
shares, log scales, dates, category labels that fit) and labels placed clear of each other."""

from __future__ import annotations

import functools
import math
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker
from matplotlib.transforms import Bbox

from helpers import formats
from helpers.reporting import say
from helpers.steps import Skipped


def skippable(func: Callable[..., Any]) -> Callable[..., Any]:
    """Display the sentence of a skipped input instead of drawing."""

    @functools.wraps(func)
    def wrapper(data: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(data, Skipped):
            from IPython.display import display

            display(say(data))
            return None
        return func(data, *args, **kwargs)

    return wrapper


def new_axes(ax, figsize: tuple[float, float] | None = None):
    """``ax``, or the axes of a new figure of ``figsize`` (inches; the theme's when None)."""
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def money_axis(axis, currency: str | None = None) -> None:
    """Tick labels of a money axis as :func:`helpers.formats.money` strings (``1.2M EUR``)."""
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: formats.money(v, currency)))


def share_axis(axis) -> None:
    """Tick labels of a 0-1 share axis as whole percentages."""
    axis.set_major_formatter(ticker.PercentFormatter(1.0, decimals=0))


def log_axis(axis, low: float, high: float, fmt: Callable[[float], str] | None = None) -> None:
    """A log axis from ``low`` to ``high`` with few ticks (1-2-5 steps within a decade or two,
    one per decade or fewer beyond) and plain labels (``0.5``, ``2``, ``1,000``; or ``fmt``)."""
    decades = math.log10(high / low) if low > 0 and high > low else 1.0
    if decades <= 1.2:
        subs: Sequence[float] = (1.0, 2.0, 3.0, 5.0)
    elif decades <= 2.5:
        subs = (1.0, 2.0, 5.0)
    elif decades <= 4:
        subs = (1.0, 3.0)
    else:
        subs = (1.0,)
    axis.set_major_locator(ticker.LogLocator(base=10, subs=subs, numticks=12))
    axis.set_minor_locator(ticker.NullLocator())
    plain = fmt or (lambda v: formats.number(v, 2) if v < 1 else formats.number(v))
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: plain(v)))


def date_axis(axis, max_ticks: int = 6) -> None:
    """Dates with matplotlib's concise formatter: few ticks, the year once, no rotation."""
    locator = mdates.AutoDateLocator(minticks=3, maxticks=max_ticks)
    axis.set_major_locator(locator)
    axis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def fit_category_ticks(ax, labels: Sequence[str], *, thin: bool = False) -> None:
    """Category tick labels at x positions 0..n-1, horizontal. Labels wider than their slot
    are wrapped onto lines (names: every one is shown) or, with ``thin`` (a sequence such as
    periods), only every k-th is shown, the smallest k for which neighbours do not overlap
    (counted back from the last, latest, label)."""
    positions = np.arange(len(labels))
    ax.set_xticks(positions, labels)
    if len(labels) < 2:
        return
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    widest = max(t.get_window_extent(renderer).width for t in ax.get_xticklabels())
    slot = abs(ax.transData.transform((1, 0))[0] - ax.transData.transform((0, 0))[0])
    if widest + 6 <= slot:
        return
    if thin:
        step = max(1, math.ceil((widest + 6) / max(slot, 1e-9)))
        keep = positions[::-1][::step][::-1]
        ax.set_xticks(keep, [labels[i] for i in keep])
        return
    longest = max(len(str(label)) for label in labels)
    chars = max(6, int(longest * (slot - 6) / widest))
    ax.set_xticks(positions, [textwrap.fill(str(label), chars) for label in labels])


def reference_line(ax, value: float, label: str, *, vertical: bool = True, color: str = "") -> Any:
    """A dashed reference line at ``value`` carrying ``label`` (shown by the legend)."""
    from helpers import theme

    draw = ax.axvline if vertical else ax.axhline
    return draw(value, color=color or theme.NEUTRAL, ls="--", lw=1.2, label=label, zorder=1)


def _extents(artists: Sequence[Any], renderer) -> list[Bbox]:
    return [a.get_window_extent(renderer) for a in artists if a.get_visible()]


def _clear(box: Bbox, others: Sequence[Bbox], pad: float = 2.0) -> bool:
    grown = box.expanded(1.0, 1.0).padded(pad)
    return not any(grown.overlaps(o) for o in others)


#: Offsets (points) tried in order around a point for its label.
_OFFSETS = [(8, 6), (8, -12), (-8, 6), (-8, -12), (0, 12), (0, -18), (14, -3), (-14, -3)]


def place_labels(
    ax,
    xs: Sequence[float],
    ys: Sequence[float],
    texts: Sequence[str],
    *,
    obstacles: Sequence[Any] = (),
    marker_px: float = 14.0,
    **style: Any,
) -> list:
    """Annotate each point (data coordinates) with its text where it overlaps no marker, no
    label already placed and no artist of ``obstacles`` (e.g. corner notes), inside the axes:
    the first free place among rings of offsets growing outwards (greedy; a short hand-written
    repulsion, enough for the dozen points of these charts). Returns the annotations."""
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    pixels = ax.transData.transform(np.column_stack([xs, ys]))
    half = marker_px / 2
    taken = [Bbox.from_extents(px - half, py - half, px + half, py + half) for px, py in pixels]
    taken += _extents(obstacles, renderer)
    inside = ax.get_window_extent(renderer)
    placed = []
    for x, y, text in zip(xs, ys, texts, strict=True):
        note = ax.annotate(text, (x, y), textcoords="offset points", xytext=_OFFSETS[0], **style)
        chosen = None
        for scale in (1.0, 1.8, 2.6, 3.6):
            for dx, dy in _OFFSETS:
                ha = "left" if dx > 0 else "right" if dx < 0 else "center"
                note.set_ha(ha)
                note.xyann = (dx * scale, dy * scale)
                box = note.get_window_extent(renderer)
                if (
                    _clear(box, taken)
                    and inside.contains(box.x0, box.y0)
                    and inside.contains(box.x1, box.y1)
                ):
                    chosen = box
                    break
            if chosen is not None:
                break
        if chosen is None:  # nowhere free: keep the first place, at least inside the axes
            note.set_ha("left")
            note.xyann = _OFFSETS[0]
            chosen = note.get_window_extent(renderer)
        taken.append(chosen)
        placed.append(note)
    return placed


def value_labels(ax, bars, texts: Sequence[str], **style: Any) -> list:
    """Each bar of the container ``bars`` labelled with its text just past its end."""
    return ax.bar_label(bars, labels=list(texts), padding=3, fontsize=8, **style)


def unit_format(unit: str | None, currency: str | None = None) -> Callable[[float], str]:
    """The :mod:`helpers.formats` function that writes one value of ``unit``: "money" (with
    ``currency``), "share", "ratio", "count" or "number"; None: money when a currency is
    given, else a plain number."""
    unit = unit or ("money" if currency else "number")
    if unit == "money":
        return lambda v: formats.money(v, currency)
    return {
        "share": formats.share,
        "ratio": formats.ratio,
        "count": formats.count,
        "number": formats.number,
    }[unit]


def names_of(codes: Sequence[Any], names: Any = None) -> list[str]:
    """Reader-facing names of codes (``linkedin_ads`` -> "LinkedIn ads"), see
    :func:`helpers.formats.display_name`."""
    return [formats.display_name(c, names) for c in codes]


def legend_outside(ax, **kwargs: Any) -> Any:
    """The legend to the right of the axes, clear of bars, points and their labels."""
    return ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=9, **kwargs)


def _crowded(axis, renderer) -> bool:
    low, high = sorted(axis.get_view_interval())
    boxes = [
        t.label1.get_window_extent(renderer)
        for t in axis.get_major_ticks()
        if low <= t.get_loc() <= high and t.label1.get_visible() and t.label1.get_text()
    ]
    return any(a.padded(2).overlaps(b) for a, b in zip(boxes, boxes[1:], strict=False))


def spaced_ticks(axis, most: int = 8) -> None:
    """Linear ticks on round 1-2-5 steps, as many as fit without their labels touching (at
    most ``most``, at least 3)."""
    renderer = axis.figure.canvas.get_renderer()
    for bins in range(most, 2, -1):
        axis.set_major_locator(ticker.MaxNLocator(nbins=bins, steps=[1, 2, 5, 10]))
        axis.figure.canvas.draw()
        if not _crowded(axis, renderer):
            return
