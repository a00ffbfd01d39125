"""Do a channel's new customers pay back what they cost? LTV:CAC, its verdict, payback.

Lifetime value (LTV) per channel comes from :mod:`helpers.lifetime_value` (the churn study's
survival model); CAC is the channel's spend per new customer of its matured lead cohorts
(:func:`helpers.channels.volume_and_cost`). Money in the data's currency; payback in months of
30.44 days.

Intervals (95%): the LTV:CAC interval resamples both of its parts: the LTV from its Cox refit
draws (:func:`helpers.lifetime_value.refit_draws`), the won counts behind CAC as binomial draws
from the matured leads. The marginal LTV:CAC multiplies each draw by a draw of the channel's
spend elasticity (normal with its OLS standard error). :func:`verdict` is the one verdict rule.
:func:`~helpers.lifetime_value.lifetime_values` and :func:`~helpers.lifetime_value.ltv_source`
are re-exported here, so notebook 03 calls the LTV steps as ``payback.<step>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from helpers import formats
from helpers.features import orders_table
from helpers.payback_period import margin_months
from helpers.payback_period import payback_interval as payback_interval
from helpers.payback_period import payback_months as payback_months
from helpers.steps import Skipped, step

if TYPE_CHECKING:
    from helpers.lifetime_value import ChannelLtv
    from helpers.lifetime_value import lifetime_values as lifetime_values
    from helpers.lifetime_value import ltv_source as ltv_source
    from helpers.loading import Dataset

#: Names of :mod:`helpers.lifetime_value` this module also offers (notebook 03 calls
#: ``payback.lifetime_values``), imported on first use: the verdict words of this module serve
#: the leadership summary, which should not import the survival models for them.
_LIFETIME_VALUE = ("lifetime_values", "ltv_source")


def __getattr__(name: str) -> Any:
    if name in _LIFETIME_VALUE:
        from helpers import lifetime_value

        return getattr(lifetime_value, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: LTV:CAC under this is flagged (the usual B2B floor).
RATIO_FLOOR = 3.0
#: Resamples of the won counts (and elasticity) per LTV draw, and of payback.
N_DRAWS = 2000
#: The verdicts of :func:`verdict`.
VERDICTS = ("grow", "hold", "cut or fix", "no verdict")
#: How each verdict reads for a reader (the table's verdict column, the head of a move).
VERDICT_LABELS = {
    "grow": "Grow",
    "hold": "Hold",
    "cut or fix": "Cut or fix",
    "no verdict": "No verdict",
}
#: Money columns of :func:`ratio_table` (:func:`helpers.formats.column_formats`).
RATIO_KINDS = {"lifetime value": "money", "cost per new customer": "money"}


def _ltv_samples(
    rng: np.random.Generator,
    channel: str,
    ltv: pd.DataFrame,
    draws: pd.DataFrame | None,
    n_draws: int,
) -> np.ndarray:
    """``n_draws`` values of a channel's LTV: picked from its refit ``draws`` when there are
    some, else from a split normal through its ``low`` / ``mean`` / ``high`` (an approximation
    for values read from a churn run, whose interval keeps the Cox fit fixed)."""
    if draws is not None and channel in draws.columns and draws[channel].notna().any():
        values = draws[channel].dropna().to_numpy(float)
        return values[rng.integers(0, len(values), n_draws)]
    mean, low, high = (float(ltv.loc[channel, c]) for c in ("mean", "low", "high"))
    z = rng.standard_normal(n_draws)
    return mean + z * np.where(z < 0, mean - low, high - mean) / 1.959964


def verdict(
    *, ratio_high: float, marginal_low: float, elasticity_low: float, elasticity_high: float
) -> str:
    """The one verdict rule for a paid channel (one of :data:`VERDICTS`):

    - ``"cut or fix"`` when even the upper end of the average LTV:CAC interval is below 1 (its
      customers, on average, do not pay back what they cost);
    - ``"no verdict"`` when the spend elasticity's 95% interval includes 0 (or is missing):
      whether more spend brings more customers is not measured, so no growth call;
    - ``"grow"`` when the *marginal* LTV:CAC's lower bound is above 1 (one more unit of spend
      is expected to bring customers worth more than it costs, if the observed spend response
      holds: spend was not varied at random);
    - ``"hold"`` otherwise.
    """
    if ratio_high < 1:
        return "cut or fix"
    if not (np.isfinite(elasticity_low) and np.isfinite(elasticity_high)) or (
        elasticity_low <= 0 <= elasticity_high
    ):
        return "no verdict"
    return "grow" if marginal_low > 1 else "hold"


@dataclass(frozen=True)
class Verdict:
    """A paid channel's verdict as readers see it, the same on every page.

    ``verdict`` is one of :data:`VERDICTS` (as :func:`verdict` decided it and the channel
    metrics record it); ``label`` its word (:data:`VERDICT_LABELS`); ``head`` the action on
    the channel ("Grow Trade show", "No verdict on Referral"); ``reason`` the numbers behind
    it (LTV:CAC with its 95% interval, the marginal LTV:CAC with its interval)."""

    channel: str
    verdict: str
    label: str
    head: str
    reason: str

    def sentence(self, tail: str = "") -> str:
        """``"<head>: <reason><tail>."`` (the channel study's sentence)."""
        return f"{self.head}: {self.reason}{tail}."

    def move(self) -> str:
        """``"**<head>**: <reason>."`` (the leadership summary's move)."""
        return f"**{self.head}**: {self.reason}."


def _value(row: Mapping[str, Any], key: str) -> Any:
    value = row.get(key) if hasattr(row, "get") else None
    return value if formats.finite(value) else None


def _one(value: float) -> str:
    return f"{float(value):,.1f}"


#: Said of a 95% interval that does not contain its own estimate.
MISSES = "misses the estimate"


def misses(row: Mapping[str, Any], value: str, low: str, high: str) -> bool:
    """Whether the recorded interval [``low``, ``high``] leaves out its estimate ``value``.

    A percentile interval of resampling draws can (legitimately) miss the point estimate
    when the draws are few (the LTV refits: 10-15 above 30k accounts, :func:`refits_for
    <helpers.lifetime_value.refits_for>`) or skewed, so the estimate's range is said, never
    hidden or stretched to contain it."""
    v, lo, hi = (_value(row, k) for k in (value, low, high))
    return None not in (v, lo, hi) and not (float(lo) <= float(v) <= float(hi))


def _ratio_with_interval(row: Mapping[str, Any], value: str, low: str, high: str) -> str:
    shown = formats.ratio(_value(row, value))
    within = formats.interval(_value(row, low), _value(row, high), _one)
    if within and misses(row, value, low, high):
        within += f", which {MISSES}: too few draws for a sharp interval"
    return f"{shown} ({within or '95% interval not recorded'})"


def ratio_cell(row: Mapping[str, Any], value: str, low: str, high: str) -> str:
    """A ratio with its 95% interval for a table cell whose heading names the interval:
    ``"8.5× (7.7–9.3)"``; ``"2.7× (2.7–2.9, misses the estimate)"`` when the interval leaves
    the ratio out (:func:`misses`); the ratio alone without an interval, "–" without a ratio."""
    if _value(row, value) is None:
        return formats.MISSING
    if _value(row, low) is None or _value(row, high) is None:
        return formats.ratio(row[value])
    tail = f", {MISSES}" if misses(row, value, low, high) else ""
    return f"{formats.ratio(row[value])} ({_one(row[low])}–{_one(row[high])}{tail})"


def verdict_of(
    row: Mapping[str, Any], channel: str, *, names: Mapping[str, str] | None = None
) -> Verdict:
    """The :class:`Verdict` of one paid channel from its LTV:CAC row: a row of
    :func:`ltv_cac` / :func:`ltv_cac_ratios` (a Series) or the channel's entry of the channel
    metrics' ``ltv_cac`` (a dict): ``ratio``, ``low``, ``high``, ``marginal``,
    ``marginal_low``, ``marginal_high`` and ``verdict``. The verdict is taken as recorded,
    never decided again; a row without one reads "no verdict" and says it is not recorded.
    ``channel`` is the code, shown by :func:`helpers.formats.display_name` with ``names`` (the
    data source's ``display_names``). Ratios are unitless ("8.5×")."""
    name = formats.display_name(channel, names)
    recorded = row.get("verdict") if hasattr(row, "get") else None
    decided = recorded if recorded in VERDICTS else "no verdict"
    average = "LTV:CAC " + _ratio_with_interval(row, "ratio", "low", "high")
    marginal = "marginal LTV:CAC " + _ratio_with_interval(
        row, "marginal", "marginal_low", "marginal_high"
    )
    caution = "if the observed spend response holds (spend was not varied at random)"
    if recorded not in VERDICTS:
        head = f"No verdict on {name}"
        reason = f"{average}; its verdict is not recorded (rerun the channel study)"
    elif decided == "grow":
        head = f"Grow {name}"
        reason = f"{average}; {marginal}, above 1 at its lower bound {caution}"
    elif decided == "hold":
        head = f"Hold {name}"
        reason = f"{average}; {marginal}, not clearly above 1 {caution}"
    elif decided == "cut or fix":
        head = f"Cut or fix {name}"
        reason = f"{average}, below 1 even at the interval's top"
    else:
        head = f"No verdict on {name}"
        reason = (
            f"{average}, but whether more spend brings more customers is not measured (the "
            "spend elasticity's interval includes 0, or it was not estimated)"
        )
    return Verdict(name, decided, VERDICT_LABELS[decided], head, reason)


def ltv_cac_ratios(
    ltv: pd.DataFrame,
    costs: pd.DataFrame,
    *,
    draws: pd.DataFrame | None = None,
    response: pd.DataFrame | Skipped | None = None,
    n_draws: int = N_DRAWS,
    seed: int = 42,
) -> pd.DataFrame:
    """LTV:CAC per paid channel, best first, with 95% intervals that resample both parts.

    ``ltv`` has ``mean``, ``low``, ``high`` per channel (currency); ``draws`` the refit draws
    of :class:`ChannelLtv` (None: a split normal through the LTV interval); ``costs`` is
    :func:`helpers.channels.volume_and_cost`: CAC = ``mature_spend`` / ``mature_customers``,
    and each of ``n_draws`` draws pairs an LTV draw with a won count drawn as
    Binomial(``mature_leads``, ``mature_customers`` / ``mature_leads``) (without these columns
    CAC is taken as fixed). Columns: ``ltv``, ``cac`` with ``cac_low`` / ``cac_high``,
    ``ratio`` with ``low`` / ``high``; the *marginal* LTV:CAC ``marginal`` (= ratio x spend
    elasticity: the value of the customers one more unit of spend brings per unit, from
    ``response`` of :func:`helpers.spend.spend_response`, its elasticity drawn from a
    normal with its standard error ``se``) with ``marginal_low`` / ``marginal_high``;
    ``verdict`` (:func:`verdict`); ``flag``: "may not pay back" when the ratio's interval
    reaches 1, "ratio under 3" under :data:`RATIO_FLOOR`, else empty. Channels without a
    lifetime value or a CAC are left out.
    """
    columns = [
        "ltv",
        "cac",
        "cac_low",
        "cac_high",
        "ratio",
        "low",
        "high",
        "marginal",
        "marginal_low",
        "marginal_high",
        "verdict",
        "flag",
    ]
    rng = np.random.default_rng(seed)
    paid = costs[costs["paid"] & costs["cac"].notna()]
    out = pd.DataFrame({"ltv": ltv["mean"], "cac": paid["cac"]}).dropna()
    out["ratio"] = out["ltv"] / out["cac"]
    resp = None if response is None or isinstance(response, Skipped) else response
    rows = {}
    for ch in out.index:
        ltv_b = _ltv_samples(rng, ch, ltv, draws, n_draws)
        cac = float(out.loc[ch, "cac"])
        cac_b = np.full(n_draws, cac)
        if {"mature_leads", "mature_customers", "mature_spend"} <= set(costs.columns):
            n, k = int(costs.loc[ch, "mature_leads"]), int(costs.loc[ch, "mature_customers"])
            won_b = rng.binomial(n, k / n, n_draws) if n else np.full(n_draws, k)
            with np.errstate(divide="ignore"):
                cac_b = float(costs.loc[ch, "mature_spend"]) / won_b
        ratio_b = ltv_b / cac_b
        row = dict(
            zip(("cac_low", "cac_high"), np.quantile(cac_b, [0.025, 0.975]), strict=True),
            low=float(np.quantile(ratio_b, 0.025)),
            high=float(np.quantile(ratio_b, 0.975)),
        )
        b = lo_b = hi_b = float("nan")
        if resp is not None and ch in resp.index:
            b, lo_b, hi_b = (float(resp.loc[ch, c]) for c in ("elasticity", "low", "high"))
            se = float(resp.loc[ch, "se"]) if "se" in resp.columns else (hi_b - lo_b) / 3.92
            marginal_b = ratio_b * rng.normal(b, se, n_draws)
            row["marginal_low"], row["marginal_high"] = np.quantile(marginal_b, [0.025, 0.975])
        else:
            row["marginal_low"] = row["marginal_high"] = float("nan")
        row["marginal"] = float(out.loc[ch, "ratio"]) * b
        row["verdict"] = verdict(
            ratio_high=row["high"],
            marginal_low=row["marginal_low"],
            elasticity_low=lo_b,
            elasticity_high=hi_b,
        )
        rows[ch] = row
    out = out.join(pd.DataFrame.from_dict(rows, orient="index"))
    if out.empty:
        return pd.DataFrame(columns=columns)
    out["flag"] = np.where(
        out["low"] <= 1,
        "may not pay back",
        np.where(out["ratio"] < RATIO_FLOOR, "ratio under 3", ""),
    )
    return out[columns].sort_values("ratio", ascending=False)


def order_lines(ds: Dataset) -> object | None:
    """The orders as the engine table :func:`ltv_cac`'s payback reads
    (:func:`helpers.features.orders_table`, which has :data:`ORDER_COLUMNS
    <helpers.payback_period.ORDER_COLUMNS>`: a data set read from the load-once cache has them
    scanned in place, never read into pandas); None when the data has no orders table."""
    return orders_table(ds) if ds.has("orders") else None


@step("LTV:CAC", optional=("response",))
def ltv_cac(
    ltv: ChannelLtv,
    costs: pd.DataFrame,
    orders: object,
    accounts: pd.DataFrame,
    as_of: pd.Timestamp,
    max_months: int = 36,
    *,
    response: pd.DataFrame | Skipped | None = None,
    seed: int = 42,
) -> pd.DataFrame | Skipped:
    """LTV:CAC per paid channel with its payback: :func:`ltv_cac_ratios` (``ltv``, ``cac``,
    ``ratio`` and the marginal ratio with their 95% intervals, ``verdict``, ``flag``; best
    first; ``response`` is the spend response, may be Skipped) plus ``payback_months``
    (:func:`payback_months` over all ``orders`` up to ``as_of``; NaN when not within
    ``max_months``) with its interval ``payback_low`` / ``payback_high``
    (:func:`payback_interval`). ``orders`` is a pandas frame or an Ibis table
    (:func:`order_lines`), aggregated per account and month in the engine. Skipped when no
    paid channel has both a lifetime value and a CAC."""
    out = ltv_cac_ratios(ltv.table, costs, draws=ltv.draws, response=response, seed=seed)
    if out.empty:
        return Skipped(
            "no paid channel has both a lifetime value and a CAC",
            "LTV:CAC needs paid channels that won customers",
        )
    months = margin_months(orders, accounts, as_of, max_months)  # one aggregation for both
    out["payback_months"] = payback_months(
        orders, accounts, costs, as_of, max_months, months=months
    )
    out = out.join(
        payback_interval(orders, accounts, costs, as_of, max_months, seed=seed, months=months)
    )
    return out


@step("LTV:CAC")
def ratio_sentence(
    ratio: pd.DataFrame, caveat: str = "", *, names: Mapping[str, str] | None = None
) -> str:
    """The best and the worst LTV:CAC (``ratio`` as :func:`ltv_cac` returns it, best first),
    each with its 95% interval; ``caveat`` (a slice's spend caveat) appended when given;
    channels by display name (``names``: the data source's overrides)."""
    best, worst = ratio.index[0], ratio.index[-1]
    tail = f" ({caveat})" if caveat else ""
    return (
        f"{formats.display_name(best, names)} returns {_ratio_text(ratio, best)} its "
        f"acquisition cost, {formats.display_name(worst, names)} "
        f"{_ratio_text(ratio, worst)}{tail}."
    )


def _ratio_text(ratio: pd.DataFrame, channel: str) -> str:
    return _ratio_with_interval(ratio.loc[channel], "ratio", "low", "high")


def _months(value: Any) -> str:
    n = round(float(value))
    return f"{n} month" if n == 1 else f"{n} months"


def _payback_text(row: pd.Series, max_months: int) -> str:
    if not formats.finite(row.get("payback_months")):
        return f"not within {max_months} months"
    low, high = row.get("payback_low"), row.get("payback_high")
    if not formats.finite(low):
        return _months(row["payback_months"])
    upper = f"{round(float(high))}" if formats.finite(high) else f"beyond {max_months}"
    return f"{_months(row['payback_months'])} ({round(float(low))}–{upper})"


@step("LTV:CAC")
def ratio_table(
    ratio: pd.DataFrame, names: Mapping[str, str] | None = None, max_months: int = 36
) -> pd.DataFrame:
    """:func:`ltv_cac` for readers, best first, channels by display name: the ``verdict``
    (:data:`VERDICT_LABELS`, as :func:`verdict_of` words it), ``lifetime value`` and ``cost
    per new customer`` (money: format with ``formats.column_formats(RATIO_KINDS, currency)``),
    LTV:CAC and the marginal LTV:CAC with their 95% intervals, the payback in months with its
    interval ("not within ``max_months`` months" when it is not reached) and the ``warning``
    on the ratio (empty when none)."""
    rows = {}
    for ch, r in ratio.iterrows():
        rows[ch] = {
            "verdict": verdict_of(r, ch).label,
            "lifetime value": r["ltv"],
            "cost per new customer": r["cac"],
            "LTV:CAC (95% interval)": ratio_cell(r, "ratio", "low", "high"),
            "marginal LTV:CAC (95% interval)": ratio_cell(
                r, "marginal", "marginal_low", "marginal_high"
            ),
            "payback (95% interval)": _payback_text(r, max_months),
            "warning": r.get("flag", ""),
        }
    shown = pd.DataFrame.from_dict(rows, orient="index")
    return formats.display_names(shown, names).rename_axis("channel")
