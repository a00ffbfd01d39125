"""Alternative text of charts, from the chart's title and its sentence to the report's ``alt``.

A chart helper calls :func:`describe` with its title (and the sentence that reads the chart,
when the caller gives one); the text is kept on the figure. :func:`install` registers a PNG
formatter for matplotlib figures on the running IPython kernel that returns the image with
``{"alt": text}`` metadata, so ``plt.show()`` and the inline backend's automatic display keep
working and the executed notebook carries the text in ``output.metadata["image/png"]["alt"]``;
the report template (``helpers/runner/templates/b2b_report``) writes it into the ``<img>``.

A figure drawn without a helper gets a text composed from its titles and axis labels. A text
already used by an earlier image of the same kernel (one notebook run = one report page) gets
"(chart N)" appended, so every image of a page has its own description.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from matplotlib.figure import Figure

#: Attribute of a matplotlib figure that holds its alternative text.
ATTRIBUTE = "b2b_alt"
#: Text of a figure with no title, no axis labels and no description.
UNTITLED = "Chart without a title"

_SEEN: Counter[str] = Counter()


def _figure(target: Any) -> Figure:
    return target if isinstance(target, Figure) else target.figure


def describe(target: Any, title: str = "", *, sentence: str = "", alt: str = "") -> str:
    """Keep the alternative text of the figure of ``target`` (axes or figure): ``alt`` when
    given, else ``title`` followed by ``sentence`` (either may be empty; nothing kept when
    both are). Returns the text kept. Also makes sure the running kernel (if any) writes it."""
    text = alt.strip() or " ".join(
        part.strip().rstrip(".") + "." for part in (title, sentence) if part and part.strip()
    )
    if text:
        setattr(_figure(target), ATTRIBUTE, text)
    install()
    return text


def _labels(fig: Figure) -> list[str]:
    parts = []
    if fig.get_suptitle():
        parts.append(fig.get_suptitle())
    for ax in fig.axes:
        if ax.get_title():
            parts.append(ax.get_title())
        elif ax.get_ylabel() or ax.get_xlabel():
            parts.append(" against ".join(t for t in (ax.get_ylabel(), ax.get_xlabel()) if t))
    return parts


def alt_text(fig: Figure) -> str:
    """The alternative text of ``fig``: what :func:`describe` kept, else its titles (or axis
    labels) joined, else :data:`UNTITLED`."""
    kept = getattr(fig, ATTRIBUTE, "")
    if kept:
        return kept
    parts = _labels(fig)
    return "Chart: " + "; ".join(dict.fromkeys(parts)) + "." if parts else UNTITLED


def unique(text: str) -> str:
    """``text`` the first time it is published in this kernel, then ``text (chart N)``."""
    _SEEN[text] += 1
    return text if _SEEN[text] == 1 else f"{text} (chart {_SEEN[text]})"


def png_with_alt(fig: Figure) -> tuple[str, dict[str, str]] | None:
    """The figure as a base64 PNG (as IPython's inline backend prints it) and ``{"alt": ..}``;
    None for a figure without axes (nothing to show, as IPython does)."""
    if not fig.axes:
        return None
    return compact_png(fig), {"alt": unique(alt_text(fig))}


def compact_png(fig: Figure) -> str:
    """``fig`` as a base64 PNG of at most 256 colours (Pillow's median cut, no dithering):
    charts are flat colours plus anti-aliased edges, so a palette PNG looks the same at about
    a third of the bytes of the full-colour one IPython would print (a report stays light)."""
    import base64
    import io

    from PIL import Image

    raw = io.BytesIO()
    fig.savefig(raw, format="png", bbox_inches="tight", facecolor="white")
    image = Image.open(io.BytesIO(raw.getvalue())).convert("RGB")
    palette = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    palette.save(out, format="PNG", optimize=True)
    return base64.b64encode(out.getvalue()).decode("ascii")


def install(shell: Any = None) -> bool:
    """Make the IPython ``shell`` (default: the running one) display figures as PNG with their
    alternative text; False outside IPython. Safe to call again (e.g. after the inline
    backend reconfigured its formatters)."""
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover - IPython is a dependency of the notebooks
            return False
        shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return False
    formatter = shell.display_formatter.formatters["image/png"]
    if formatter.type_printers.get(Figure) is not png_with_alt:
        formatter.for_type(Figure, png_with_alt)
    return True
