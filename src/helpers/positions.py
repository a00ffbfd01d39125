"""The cost positions of the channel quadrant (:func:`helpers.channels.cost_quadrant`), in a
module of their own so that the leadership summary reads recorded positions without importing
the channel study (and, through it, the survival models: ~0.8 s of every summary run).
"""

from __future__ import annotations

#: Where a paid channel stands on cost, by (dear leads, dear customers): a diagnostic of the
#: quadrant, never a verdict (the verdict weighs what the customers are worth:
#: :func:`helpers.payback.verdict`).
POSITIONS = {
    (False, False): "cheap leads, cheap customers",
    (False, True): "cheap leads, dear customers",
    (True, True): "dear leads, dear customers",
    (True, False): "dear leads, cheap customers",
}
#: The words earlier runs recorded for the quadrant (read from old metrics as positions).
LEGACY_POSITIONS = {
    "invest more": POSITIONS[(False, False)],
    "improve conversion": POSITIONS[(False, True)],
    "wind down": POSITIONS[(True, True)],
    "precise but dear: try referral / fission marketing": POSITIONS[(True, False)],
}
#: Column heading of the cost position wherever it is shown.
POSITION_COLUMN = "cost position (diagnostic)"


def position_of(recorded: object) -> str | None:
    """The cost position (:data:`POSITIONS`) of a quadrant value recorded in channel metrics,
    including the action words earlier runs recorded (:data:`LEGACY_POSITIONS`); None when
    nothing is recorded."""
    if not isinstance(recorded, str) or not recorded:
        return None
    return LEGACY_POSITIONS.get(recorded, recorded)
