"""Charts drawn in more than one notebook, in the house theme (:mod:`helpers.theme`).

Every function draws on ``ax`` (a new figure when None), returns the axes and accepts a
:class:`helpers.steps.Skipped` in place of its data: then it draws nothing and displays the
skip sentence instead (so a notebook cell stays one visible call either way).

Readers first: money ticks and labels through :func:`helpers.formats.money` (with the
``currency`` when the caller gives one), codes by their display names, bars labelled with their
values, reference lines named in a legend, log and date axes with few plain tick labels, and
labels placed so that none overlaps another at the default figure sizes (``tests/test_plots.py``
measures it). Each chart keeps an alternative text from its title (and the ``sentence`` or
``alt`` the caller passes) that the report writes into its ``<img alt>`` (:mod:`.alt`).

Families: :mod:`.bars` (interval bars, shares, grouped bars, revenue by kind, waterfall),
:mod:`.lines` (survival curves, gaps, calibration, Lorenz, spend, funnel), :mod:`.points`
(forest, cost quadrant, clusters, heat map).
"""

from helpers.plots._base import money_axis
from helpers.plots.alt import alt_text, describe
from helpers.plots.bars import (
    change_waterfall,
    grouped_bars,
    interval_bars,
    revenue_by_kind,
    share_bars,
    waterfall,
)
from helpers.plots.lines import (
    calibration,
    gap_histogram,
    lorenz,
    spend_lines,
    stage_lines,
    survival_curves,
    survival_grid,
)
from helpers.plots.points import cluster_scatter, forest, heatmap, quadrant

__all__ = [
    "alt_text",
    "calibration",
    "change_waterfall",
    "cluster_scatter",
    "describe",
    "forest",
    "gap_histogram",
    "grouped_bars",
    "heatmap",
    "interval_bars",
    "lorenz",
    "money_axis",
    "quadrant",
    "revenue_by_kind",
    "share_bars",
    "spend_lines",
    "stage_lines",
    "survival_curves",
    "survival_grid",
    "waterfall",
]
