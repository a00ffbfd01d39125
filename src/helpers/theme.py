"""The one chart theme and palette of every notebook and report.

Call :func:`apply` once at the top of a notebook. Use :data:`PALETTE` for categorical series
and :func:`channel_colors` so a channel has the same colour in every chart of every report.
"""

from __future__ import annotations

from collections.abc import Iterable

import matplotlib as mpl
import seaborn as sns

from helpers.steps import Skipped

#: Colour-blind safe categorical palette (seaborn "colorblind"), fixed order.
PALETTE: list[str] = sns.color_palette("colorblind", 10).as_hex()
#: Sequential colour map for heat maps (light = low).
SEQUENTIAL = "crest"
#: Diverging colour map centred on zero (e.g. changes, residuals).
DIVERGING = "vlag"
#: Colours of good / neutral / bad in waterfall and flag charts.
GOOD, NEUTRAL, BAD = PALETTE[2], "#8c8c8c", PALETTE[3]


def apply() -> None:
    """Set the seaborn theme, palette and figure defaults (readable in HTML and e-mail), and
    in a notebook have every figure displayed with its alternative text
    (:func:`helpers.plots.alt.install`)."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)
    mpl.rcParams.update(
        {
            "figure.figsize": (8.0, 4.5),
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "savefig.bbox": "tight",
            "axes.titlesize": 13,
            "axes.titleweight": "bold",
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.frameon": False,
            "svg.hashsalt": "b2b-insights",  # deterministic SVG ids
        }
    )
    import matplotlib.pyplot as plt  # noqa: F401 - the inline backend sets its formatters first

    from helpers.plots.alt import install

    install()


def channel_colors(channels: Iterable[str]) -> dict[str, str]:
    """A stable colour per channel: sorted names mapped onto :data:`PALETTE` in order."""
    if isinstance(channels, Skipped):  # a skipped chart has no channels to colour
        return {}
    names = sorted(set(channels))
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}
