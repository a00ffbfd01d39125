"""Revenue decomposition: where a period's revenue came from, and what drove its change.

The identity the business uses, per period ``p`` (month, quarter or year)::

    revenue_p = new_p + existing_p + reactivated_p
    new_p         = leads_p x conversion_p x new_volume_p
    existing_p    = base_p  x retention_p  x repurchase_volume_p
    reactivated_p = revenue of accounts that bought in p, not in p-1, and not for the first time

* ``leads_p``: leads created in ``p``; ``conversion_p`` = new accounts in ``p`` / ``leads_p``
  (a period ratio, not a cohort rate: deals close weeks after the lead). Without a leads table
  the first two factors collapse into ``new_accounts_p`` (conversion shown as empty).
* ``new_volume_p``: revenue in ``p`` of accounts whose first completed order is in ``p``, per
  such account (currency per account).
* ``base_p``: accounts that bought in ``p-1``; ``retention_p``: share of them buying again in
  ``p``; ``repurchase_volume_p``: revenue in ``p`` per retained account.

Revenue is the net amount of completed and returned lines (returns negative, by their own
date), cancelled lines excluded; an account "buys" in a period when it has a completed order.
The identity is exact by construction (tests check it). The order lines are summed per
account and period, and then per period, in the engine (:mod:`helpers.revenue_periods`; a
cached data set's files are scanned in place): only one row per period comes back to pandas.

The change between two periods is split into one contribution per factor by the additive
log-mean Divisia index (LMDI-I, Ang 2004): for a term ``X = f1 * f2 * f3``,
``dX_i = L(X1, X0) * ln(f_i1 / f_i0)`` with ``L(a, b) = (a - b) / (ln a - ln b)``; the
contributions sum exactly to ``X1 - X0``. Written here because no maintained Python package
offers LMDI for a single identity, and it is ten lines. When a factor is zero in either period
(log undefined) the term's whole change is reported unsplit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from helpers import engine as engines
from helpers import formats
from helpers import revenue_periods as periods
from helpers.steps import Skipped, step

if TYPE_CHECKING:
    from helpers.loading import Dataset

FACTORS: dict[str, tuple[str, ...]] = {
    "new": ("leads", "conversion", "new_volume"),
    "existing": ("base", "retention", "repurchase_volume"),
    "reactivated": ("reactivated",),
}

#: Plain-language names of the factors, for charts and sentences.
FACTOR_WORDS: dict[str, str] = {
    "leads": "more or fewer leads",
    "conversion": "lead conversion",
    "new_accounts": "number of new accounts",
    "new_volume": "first-period spend of new accounts",
    "base": "size of last period's buying base",
    "retention": "retention of last period's buyers",
    "repurchase_volume": "spend per retained account",
    "reactivated": "reactivated accounts",
}


def revenue_components(
    orders: object,
    leads: object = None,
    freq: str = "Q",
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    engine: engines.Engine | str | None = None,
) -> pd.DataFrame:
    """Per-period factors of the revenue identity (one row per period, see module docstring).

    Parameters
    ----------
    orders
        Contract ``orders`` (``account_id``, ``order_date``, ``net_amount``, ``status``): a
        pandas frame or an Ibis table. The lines are summed per (account, period) and then per
        period in the engine (``engine``; None: the one the frames carry, else DuckDB); only
        one row per period comes back.
    leads
        Contract ``leads`` (``created_date``; frame or Ibis table, counted in the engine) or
        None.
    freq
        Pandas period frequency: ``"M"``, ``"Q"`` or ``"Y"``.
    start, end
        Only periods containing dates in ``[start, end]`` are returned (``end`` should be the
        analysis date; a period cut by it is flagged ``complete = False``). Accounts' purchase
        history before ``start`` still counts for "first order" and "bought in p-1".
    engine
        Where the sums run (:mod:`helpers.engine`).

    Returns
    -------
    pandas.DataFrame
        Index ``period``; columns ``revenue``, ``new``, ``existing``, ``reactivated``
        (currency), ``leads``, ``new_accounts``, ``conversion`` (share), ``new_volume``
        (currency per account), ``base``, ``retained``, ``retention`` (share),
        ``repurchase_volume`` (currency per account), ``reactivated_accounts``, ``complete``.
        The periods run from the first to the last with a completed order. Sums of amounts
        are the engine's (equal to a pandas sum but for the last bits). Raises
        ``ValueError`` when no order up to ``end`` is completed.
    """
    periods.check_freq(freq)
    engine = engines.resolve(engine, orders, leads)
    sums = periods.period_sums(orders, freq, end, engine)
    if not (sums["bought"] > 0).any():
        raise ValueError("No completed orders in the selection: nothing to decompose.")
    return periods.period_table(sums, leads, freq, start, end, engine)


@step("Revenue by period")
def components(ds: Dataset, as_of: pd.Timestamp, *, freq: str = "Q") -> pd.DataFrame | Skipped:
    """:func:`revenue_components` of the data source's orders (and leads, when it has them)
    up to ``as_of``, summed in the data set's engine (cached orders and leads are scanned in
    place, not read into pandas). Skipped when it has no orders table or no completed order
    up to ``as_of``; a ``freq`` other than ``"M"``, ``"Q"`` or ``"Y"`` raises ``ValueError``."""
    if "orders" not in ds.tables:
        return Skipped(
            f"the data source '{ds.source}' has no orders table",
            "revenue by period needs the order lines",
        )
    periods.check_freq(freq)
    orders = _engine_table(ds, "orders", periods.ORDER_COLUMNS)
    sums = periods.period_sums(orders, freq, as_of, ds.engine)
    if not (sums["bought"] > 0).any():
        return Skipped(f"no completed order up to {as_of:%Y-%m-%d}", "revenue by period needs them")
    leads = _engine_table(ds, "leads", ("created_date",)) if "leads" in ds.tables else None
    return periods.period_table(sums, leads, freq, None, as_of, ds.engine)


def _engine_table(ds: Dataset, name: str, columns: tuple[str, ...]) -> object:
    """Columns of table ``name`` as an Ibis table (:meth:`Dataset.engine_table`: a cached
    table is scanned, not read into pandas; a frame without rows built in code has its
    columns typed on upload, :mod:`helpers.engine_types`)."""
    return ds.engine_table(name, list(columns))


def _log_mean(a: float, b: float) -> float:
    """Logarithmic mean L(a, b) = (a - b) / (ln a - ln b), with L(a, a) = a."""
    if a == b:
        return a
    return (a - b) / (math.log(a) - math.log(b))


def change_drivers(components: pd.DataFrame, before: object, after: object) -> pd.DataFrame:
    """Split the revenue change from period ``before`` to ``after`` into factor contributions.

    Returns one row per driver with ``driver``, ``term`` (new / existing / reactivated),
    ``contribution`` (currency) and ``before``/``after`` factor values; contributions sum to
    ``revenue[after] - revenue[before]`` exactly (LMDI-I, module docstring).
    """
    b, a = components.loc[before], components.loc[after]
    has_leads = not (pd.isna(b["leads"]) or pd.isna(a["leads"]))
    rows = []
    for term, factors in FACTORS.items():
        if term == "new" and not has_leads:
            factors = ("new_accounts", "new_volume")
        if term == "reactivated":
            rows.append(_row("reactivated", term, a[term] - b[term], b[term], a[term]))
            continue
        x0, x1 = float(b[term]), float(a[term])
        vals0 = [float(b[f]) for f in factors]
        vals1 = [float(a[f]) for f in factors]
        usable = all(v > 0 and math.isfinite(v) for v in vals0 + vals1) and x0 > 0 and x1 > 0
        if not usable:
            rows.append(_row(f"{term} (not split)", term, x1 - x0, x0, x1))
            continue
        weight = _log_mean(x1, x0)
        for f, v0, v1 in zip(factors, vals0, vals1, strict=True):
            rows.append(_row(f, term, weight * math.log(v1 / v0), v0, v1))
    out = pd.DataFrame(rows)
    return out


def _row(driver: str, term: str, contribution: float, before: float, after: float) -> dict:
    return {
        "driver": driver,
        "label": FACTOR_WORDS.get(driver, driver),
        "term": term,
        "contribution": float(contribution),
        "before": float(before),
        "after": float(after),
    }


def comparison_periods(components: pd.DataFrame, lag: int = 1) -> tuple[object, object]:
    """(before, after): the last complete period and the one ``lag`` periods earlier.

    Raises ``ValueError`` with a clear sentence when the data has too few complete periods.
    """
    complete = components.index[components["complete"].to_numpy()]
    if lag < 1:
        raise ValueError(f"The comparison lag must be at least 1 period, got {lag}.")
    if len(complete) < lag + 1:
        raise ValueError(
            f"Comparing with {lag} period(s) earlier needs {lag + 1} complete periods; the "
            f"selection has {len(complete)} ({', '.join(map(str, complete)) or 'none'})."
        )
    return complete[-1 - lag], complete[-1]


#: Rows of :func:`factor_table`: component column -> (reader's label, kind of number).
_FACTOR_ROWS: dict[str, tuple[str, str]] = {
    "revenue": ("revenue", "money"),
    "leads": ("leads", "count"),
    "conversion": ("conversion", "share1"),
    "new_accounts": ("new accounts", "count"),
    "new_volume": ("revenue per new account", "money"),
    "base": ("last period's buyers (accounts)", "count"),
    "retention": ("retention", "share1"),
    "repurchase_volume": ("revenue per retained account", "money"),
    "reactivated": ("reactivated revenue", "money"),
}


def _cell(kind: str, value: Any, currency: str | None) -> str:
    if kind == "money":
        return formats.money(value, currency, missing="n/a")
    if kind == "share1":
        return formats.share(value, 1, missing="n/a")
    return formats.count(value, missing="n/a")


@step("The revenue identity")
def factor_table(components: pd.DataFrame, *, currency: str | None = None) -> pd.DataFrame:
    """The identity's factors per period as a report table of text: one row per factor (its
    label), one column per period ("2025 Q4"); money with ``currency`` ("11.1M EUR"), counts
    with separators, shares in percent to one decimal. Without a leads table the leads and
    conversion rows are left out; a ratio without a base (retention in the first period)
    reads "n/a"."""
    rows = dict(_FACTOR_ROWS)
    if components["leads"].isna().all():
        rows = {k: v for k, v in rows.items() if k not in ("leads", "conversion")}
    table = pd.DataFrame(
        {
            label: [_cell(kind, v, currency) for v in components[col]]
            for col, (label, kind) in rows.items()
        },
        index=[formats.period(p) for p in components.index.astype(str)],
    )
    return table.T.rename_axis(None, axis=1)


def _factor_value(driver: str, value: float, currency: str | None = None) -> str:
    if driver in ("conversion", "retention"):
        return formats.share(value, 1)
    if driver == "leads":
        return f"{formats.count(value)} leads"
    if driver in ("base", "new_accounts"):
        return f"{formats.count(value)} accounts"
    if driver in ("new_volume", "repurchase_volume"):
        return f"{formats.money(value, currency)} per account"
    return formats.money(value, currency)


# --- the change between two periods, as a study step --------------------------------------------


@dataclass(frozen=True, eq=False)
class RevenueChange:
    """What moved revenue from period ``before`` to period ``after`` (pandas periods).

    ``drivers`` is :func:`change_drivers` (one row per factor, ``contribution`` in currency,
    summing to ``revenue_after - revenue_before``).
    """

    before: Any
    after: Any
    drivers: pd.DataFrame
    revenue_before: float
    revenue_after: float

    @property
    def top(self) -> pd.Series:
        """The driver with the largest contribution in absolute value."""
        return self.drivers.loc[self.drivers["contribution"].abs().idxmax()]


@step("The split of the revenue change")
def revenue_change(components: pd.DataFrame, *, lag: int = 1) -> RevenueChange | Skipped:
    """The change from ``lag`` periods before the last complete period to that period, split
    into factor contributions (LMDI, :func:`change_drivers`). Skipped when the selection has
    fewer than ``lag + 1`` complete periods; a ``lag`` below 1 raises ``ValueError``."""
    complete = int(components["complete"].sum())
    if lag >= 1 and complete < lag + 1:
        return Skipped(
            f"the selection has {complete} complete period(s)",
            f"comparing with {lag} period(s) earlier needs {lag + 1}",
        )
    before, after = comparison_periods(components, lag)
    return RevenueChange(
        before=before,
        after=after,
        drivers=change_drivers(components, before, after),
        revenue_before=float(components.loc[before, "revenue"]),
        revenue_after=float(components.loc[after, "revenue"]),
    )


@step("The split of the revenue change")
def driver_sentence(change: RevenueChange, *, currency: str | None = None) -> str:
    """One sentence on the factor with the largest contribution to the change (an accounting
    split, not a cause), with its before and after values (money in ``currency``)."""
    top = change.top
    verb = "added" if top["contribution"] >= 0 else "took away"
    return (
        f"The largest contribution to the change was {top['label']}: it {verb} "
        f"{formats.money(abs(top['contribution']), currency)} as it went from "
        f"{_factor_value(top['driver'], top['before'], currency)} to "
        f"{_factor_value(top['driver'], top['after'], currency)}."
    )


def latest_period(components: pd.DataFrame) -> Any:
    """The last complete period (the one a change is measured to), or the last period when
    none is complete."""
    complete = components.index[components["complete"].to_numpy()]
    return complete[-1] if len(complete) else components.index[-1]


@step("Revenue by period")
def mix_sentence(components: pd.DataFrame, period: Any = None) -> str:
    """Which kind of account (existing, new, reactivated) brought most revenue in ``period``
    (None: :func:`latest_period`)."""
    period = latest_period(components) if period is None else period
    row = components.loc[period]
    words = {
        "existing": "accounts that also bought in the period before",
        "new": "new accounts",
        "reactivated": "returning accounts",
    }
    shares = {k: row[k] / row["revenue"] for k in words}
    order = sorted(shares, key=shares.get, reverse=True)
    return (
        f"In {formats.period(period)}, {words[order[0]]} brought the largest part of revenue "
        f"({formats.share(shares[order[0]])}), then {words[order[1]]} "
        f"({formats.share(shares[order[1]])}) and {words[order[2]]} "
        f"({formats.share(shares[order[2]])})."
    )


def findings(
    components: pd.DataFrame | Skipped,
    change: RevenueChange | Skipped,
    *,
    currency: str | None = None,
) -> list[str]:
    """Key findings as plain sentences: how revenue changed, where the latest period's revenue
    came from, and the largest positive and negative contributions (an accounting split of
    the change, not its causes; or why the change is not available); money in ``currency``,
    periods as "2025 Q4"."""
    if isinstance(components, Skipped):
        return [components.sentence()]
    if isinstance(change, Skipped):
        return [mix_sentence(components), change.sentence()]
    b, a = components.loc[change.before], components.loc[change.after]
    before, after = formats.period(change.before), formats.period(change.after)
    diff = a["revenue"] - b["revenue"]
    direction = "rose" if diff >= 0 else "fell"
    rel = diff / b["revenue"] if b["revenue"] else float("nan")
    out = [
        f"Revenue {direction} from {formats.money(b['revenue'], currency)} in {before} to "
        f"{formats.money(a['revenue'], currency)} in {after} ({formats.change(rel, 1)}).",
        f"In {after}, {formats.share(a['existing'] / a['revenue'])} of revenue came from "
        f"accounts that also bought in the period before ({formats.share(a['retention'])} of "
        f"those {formats.count(a['base'])} accounts bought again), "
        f"{formats.share(a['new'] / a['revenue'])} from {formats.count(a['new_accounts'])} new "
        f"accounts and {formats.share(a['reactivated'] / a['revenue'])} from "
        f"{formats.count(a['reactivated_accounts'])} returning accounts.",
    ]
    ranked = change.drivers.sort_values("contribution")
    up, down = ranked.iloc[-1], ranked.iloc[0]
    if up["contribution"] > 0:
        out.append(
            f"The largest positive contribution was {up['label']} "
            f"({formats.money(up['contribution'], currency)})."
        )
    if down["contribution"] < 0:
        out.append(
            f"The largest negative contribution was {down['label']} "
            f"({formats.money(down['contribution'], currency)})."
        )
    return out


# the study's metrics and its headline table live in helpers.overview_metrics; re-exported so
# notebook 00 writes decomposition.metrics(...) and decomposition.headline_table(...)
from helpers.overview_metrics import CHANGE_FIELDS as CHANGE_FIELDS  # noqa: E402
from helpers.overview_metrics import headline_table as headline_table  # noqa: E402
from helpers.overview_metrics import metrics as metrics  # noqa: E402
from helpers.overview_metrics import period_days as period_days  # noqa: E402
from helpers.overview_metrics import year_earlier as year_earlier  # noqa: E402
