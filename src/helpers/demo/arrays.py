"""Small vectorised tools of the generator: ids, categorical draws, the calendar, groups.

Dates are simulated as float day offsets from ``START`` and turned into ``datetime64[D]`` only
when a table is built (``to_dates``), so every step works on plain NumPy arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from helpers.demo.parameters import AS_OF, START

#: Fewest digits of each kind of id (``L0000001``, ``A000001``, ``O00000001``, ``T00000001``).
MIN_ID_DIGITS = {"lead": 7, "account": 6, "order": 8, "touchpoint": 8}


@dataclass(frozen=True)
class Numbering:
    """How one piece of the company numbers its ids: offsets and digit widths, by kind of id.

    Kinds are the keys of ``MIN_ID_DIGITS``. The id of row ``i`` (0-based, in the piece) is the
    prefix + the zero-padded number ``offset + i + 1``. A company written in one piece (the
    default: no offsets, no widths) takes each width from the piece's own row count, at least
    ``MIN_ID_DIGITS``. A chunked company gives each chunk the rows of the chunks before it as
    ``offsets`` and fixes the ``widths`` before the first chunk (a chunk cannot know the
    company's totals); a number wider than its width is written in full, never cut, so ids
    stay unique whatever the widths.
    """

    offsets: Mapping[str, int] = field(default_factory=dict)
    widths: Mapping[str, int] | None = None

    def offset(self, kind: str) -> int:
        """Rows of this kind numbered before this piece."""
        return self.offsets.get(kind, 0)

    def width(self, kind: str, count: int) -> int:
        """Digits of an id of ``kind`` in a piece with ``count`` such rows."""
        if self.widths is not None:
            return self.widths[kind]
        return max(MIN_ID_DIGITS[kind], len(str(count)))

    def ids(self, kind: str, prefix: str, index: np.ndarray, count: int) -> pa.Array:
        """Ids of the rows ``index`` (0-based in the piece, ``count`` rows of the kind)."""
        return prefixed_ids(prefix, index + 1 + self.offset(kind), self.width(kind, count))


def prefixed_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded numbers, as an Arrow string array (no Python strings)."""
    text = pc.utf8_lpad(pc.cast(pa.array(numbers, type=pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, text, "")


def categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of ``probs`` (rows sum to 1): index of the chosen column.

    Uses one uniform number per row from ``rng`` (the stream order the generator relies on).
    """
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs))[:, None]
    return np.minimum((u > cum).sum(axis=1), probs.shape[1] - 1)


def logistic(x: np.ndarray) -> np.ndarray:
    """Inverse of ``logit``: log-odds -> probability."""
    return 1.0 / (1.0 + np.exp(-x))


def logit(p: np.ndarray) -> np.ndarray:
    """Log-odds of probabilities strictly between 0 and 1."""
    return np.log(p / (1.0 - p))


def to_dates(values: np.ndarray) -> np.ndarray:
    """Float day offsets from ``START`` -> ``datetime64[D]`` (fractions of a day dropped)."""
    return START + np.floor(values).astype("timedelta64[D]")


def window_days() -> int:
    """Days from ``START`` to ``AS_OF``: the last day offset that is in the export."""
    return int((AS_OF - START).astype(int))


def calendar_months() -> np.ndarray:
    """Every month from ``START`` to ``AS_OF`` inclusive, as ``datetime64[M]``."""
    return np.arange(START.astype("datetime64[M]"), AS_OF.astype("datetime64[M]") + 1)


def positions_in_groups(counts: np.ndarray) -> np.ndarray:
    """0..n-1 for each n in counts, concatenated (position of each row inside its group)."""
    total = int(counts.sum())
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(total) - starts
