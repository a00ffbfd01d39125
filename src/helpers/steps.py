"""Study steps that can say "not on this data": the :class:`Skipped` result and :func:`step`.

Every notebook section calls one or two *steps*: plain functions that take tables and earlier
results and return a typed result (a frozen dataclass or a DataFrame). A step that cannot run
on the data at hand (a missing table, too few churn events, too short a history) returns a
:class:`Skipped` instead of raising: the notebook renders it as one sentence (what is missing,
what would enable it), steps that take it as input skip in turn (:func:`step`), the study's
metrics record ``null`` with the reason (:func:`helpers.schemas.available`) and the leadership
page says "not available: <reason>".

Exceptions stay what they are for: bad input (``DataValidationError`` at loading) and bugs.

Example
-------
>>> @step("The Cox model")
... def cox(events: int) -> float | Skipped:
...     if events < 20:
...         return Skipped(f"only {events} churn events", "a Cox model needs at least 20")
...     return 0.7
>>> @step("The back-test")
... def backtest(model: float) -> str:
...     return "fine"
>>> backtest(cox(5)).sentence()
'The back-test is not available: only 5 churn events (a Cox model needs at least 20).'
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from helpers.memory import give_back

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Skipped:
    """A step that could not run on this data: a result, not an exception.

    ``reason`` says what is missing ("only 12 churn events"), ``hint`` what would enable the
    step ("a Cox model needs at least 20"); both are plain text without a final full stop.
    ``step`` names the step for the reader ("The Cox model"); :func:`step` fills it in, and a
    step downstream keeps the first cause's reason and hint under its own name.
    """

    reason: str
    hint: str = ""
    step: str = ""

    def why(self) -> str:
        """The reason with its hint, as metrics record it: ``"only 5 churn events (a Cox
        model needs at least 20)"``."""
        return f"{self.reason} ({self.hint})" if self.hint else self.reason

    def sentence(self) -> str:
        """One sentence for the report: what is not available, why, and what would enable it."""
        head = f"{self.step} is not available" if self.step else "Not available"
        return f"{head}: {self.why()}."

    def downstream(self, step: str) -> Skipped:
        """The same cause, reported by the step ``step`` that needed this result."""
        return Skipped(self.reason, self.hint, step)

    def __bool__(self) -> bool:  # a skipped result is never "truthy" by accident
        return False

    # A Skipped stands in for the result it replaces in a notebook cell: ``km.medians``,
    # ``model.ph[["p"]]`` or ``table.head(15)`` on a Skipped give the same Skipped, so the
    # display helpers downstream render its sentence and the cell stays one visible call.
    # Only public names: Python's and IPython's protocol lookups (``_repr_html_``,
    # ``__deepcopy__``...) still fail as for any object.
    def __getattr__(self, name: str) -> Skipped:
        if name.startswith("_"):
            raise AttributeError(name)
        return self

    def __getitem__(self, key: object) -> Skipped:
        return self

    def __iter__(self):
        # without this, iteration would fall back to __getitem__ and never end
        raise TypeError(f"a skipped result cannot be iterated: {self.sentence()}")

    def __call__(self, *args: object, **kwargs: object) -> Skipped:
        return self

    def _repr_markdown_(self) -> str:
        # a cycle forces the late import: reporting imports this module
        from helpers.reporting import safe_markdown

        return safe_markdown(self.sentence())


def is_skipped(value: object) -> bool:
    """True when ``value`` is a :class:`Skipped` result."""
    return isinstance(value, Skipped)


def first_skipped(values: Iterable[object]) -> Skipped | None:
    """The first :class:`Skipped` among ``values`` (None when every one is a real result)."""
    return next((v for v in values if isinstance(v, Skipped)), None)


#: How many steps are running (a step may call others); memory is given back when the
#: outermost one ends.
_running = [0]


def step(label: str, *, optional: Iterable[str] = ()) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a study step: it is named ``label`` for the reader, and when any of its
    arguments (except those listed in ``optional``, which the step handles itself) is a
    :class:`Skipped`, it is not called and returns that cause under its own name.

    A ``Skipped`` returned by the step itself gets ``label`` when it has no name yet. When the
    outermost running step ends, the memory its work freed is given back to the system
    (:func:`helpers.memory.give_back`).
    """
    optional = frozenset(optional)

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(func)

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            bound = signature.bind_partial(*args, **kwargs)
            for name, value in bound.arguments.items():
                if name in optional:
                    continue
                values = value.values() if isinstance(value, dict) else [value]
                cause = first_skipped(values)
                if cause is not None:
                    return cause.downstream(label)
            _running[0] += 1
            try:
                result = func(*args, **kwargs)
            finally:
                _running[0] -= 1
                if _running[0] == 0:
                    give_back()
            if isinstance(result, Skipped) and not result.step:
                return Skipped(result.reason, result.hint, label)
            return result

        wrapper.label = label  # type: ignore[attr-defined]
        return wrapper

    return decorate
