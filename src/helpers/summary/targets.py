"""The KPIs of the leadership summary's strip and the targets file that sets their status
(``TARGETS`` of notebook 90): a YAML mapping ``{kpi: value}`` of the keys of :data:`LABELS` in
each KPI's unit (money in the metrics' currency, retention as a share 0-1); ``cac`` may map paid
channels to their own targets. :func:`read_targets` checks the file at the boundary and names
the file and the key of any problem; :mod:`helpers.summary.kpi` re-exports these names."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

#: The KPIs of the strip, in order, with their reader-facing labels.
LABELS: dict[str, str] = {
    "revenue": "Revenue",
    "retention": "Account retention",
    "new_accounts": "New accounts",
    "revenue_at_risk": "Revenue at risk",
    "cac": "Cost per new customer (paid channels)",
}
#: KPIs whose lower values are better (a target is a ceiling).
LOWER_IS_BETTER = frozenset({"revenue_at_risk", "cac"})


class TargetsError(ValueError):
    """A targets file that is not a mapping of known KPIs to numbers."""


@dataclass(frozen=True)
class Targets:
    """Targets per KPI read from ``path`` (units of each KPI); ``cac_by_channel`` holds
    per-channel CAC targets when the file gives ``cac`` as a mapping."""

    path: str
    values: dict[str, float] = field(default_factory=dict)
    cac_by_channel: dict[str, float] = field(default_factory=dict)

    def names(self, key: str) -> bool:
        """True when the file sets a target for KPI ``key``."""
        return key in self.values or (key == "cac" and bool(self.cac_by_channel))


def _number(value: Any, path: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TargetsError(f"{path}: target '{key}' must be a number, got {value!r}.")
    return float(value)


def read_targets(path: str | Path) -> Targets | None:
    """The targets in the YAML file ``path`` (None for an empty path: no targets). Raises
    :class:`TargetsError` naming the file and the key for a key that is not a KPI of
    :data:`LABELS`, a value that is not a number, or a file that is not a mapping."""
    if not str(path):
        return None
    path = str(path)
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TargetsError(f"Targets file {path} does not exist.") from None
    except yaml.YAMLError as error:
        raise TargetsError(f"{path}: not valid YAML ({error}).") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise TargetsError(f"{path}: targets must be a mapping of KPI to value, e.g. 'cac: 2000'.")
    unknown = [str(k) for k in data if k not in LABELS]
    if unknown:
        raise TargetsError(f"{path}: unknown KPI key '{unknown[0]}' (known: {', '.join(LABELS)}).")
    values, by_channel = {}, {}
    for key, value in data.items():
        if key == "cac" and isinstance(value, dict):
            by_channel = {str(ch): _number(v, path, f"cac.{ch}") for ch, v in value.items()}
        else:
            values[key] = _number(value, path, key)
    return Targets(path, values, by_channel)
