"""Churn without a threshold: BG/NBD P(alive) and Gamma-Gamma spend (a second lens).

Silence-threshold churn (:mod:`.definition`) needs a threshold. For buyers without a contract
the established alternative is a *buy-till-you-die* model: the BG/NBD model (Fader, Hardie &
Lee 2005) reads each account's repeat-purchase count, the time of its last purchase and its age
and gives the probability that it is still "alive" and its expected purchases in a coming
period; the Gamma-Gamma model (Fader, Hardie & Lee 2005b) gives the expected spend per purchase
of repeat buyers. Both are fitted by maximum a posteriori with pymc-marketing's
``BetaGeoModel`` and ``GammaGammaModel`` (flat priors by default: the MAP is then the
maximum-likelihood fit of the papers and of ``lifetimes``).

Conventions (as in the literature and ``lifetimes``):

* A *purchase* is a purchase day: all completed order lines of an account on one day are one
  purchase, its spend their summed ``net_amount`` (currency). Returns and cancellations are
  ignored here (the survival view nets returns off revenue).
* Time is counted in periods of ``period_days`` days (weekly by default): ``frequency`` is the
  number of repeat purchase days, ``recency`` the age at the last purchase (periods from the
  first purchase), ``T`` the age at the as-of date; ``monetary_value`` the mean spend of the
  repeat purchases (0 for one-time buyers).
* Only the order log is needed (no accounts table).

Steps (each returns a typed result or a :class:`~helpers.steps.Skipped`): :func:`buy_till_you_die`
(P(alive), expected purchases and spend per account), :func:`holdout_check` (calibration/holdout
validation), :func:`p_alive_backtest` (P(alive) at the back-test start against the churns that
followed, beside the Cox score), :func:`churn_agreement` (P(alive) < 0.5 against silence-churned) and
:func:`with_p_alive` (the pre-churn list with both views).
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from helpers import engine as engines
from helpers import step_cache
from helpers.features import as_day, as_table, orders_table
from helpers.steps import Skipped, step
from helpers.survival.bgnbd_map import fit_map

#: Fewer repeat buyers than this: the BG/NBD and Gamma-Gamma fits are skipped.
MIN_REPEAT_BUYERS = 20
#: Frequency buckets of the holdout table: 0 .. 6 repeat purchases, then "7+".
HOLDOUT_BUCKETS = 7
#: |Pearson r| of frequency and spend above which Gamma-Gamma's independence is doubtful.
INDEPENDENCE_R = 0.3
PARAMS = ("r", "alpha", "a", "b")
SPEND_PARAMS = ("p", "q", "v")


def purchase_days(
    orders: object, as_of: str | pd.Timestamp, engine: engines.Engine | str | None = None
) -> pd.DataFrame:
    """One row per account and purchase day up to ``as_of`` (in the engine through Ibis:
    ``engine``, else the one ``orders`` carries, else DuckDB; see :mod:`helpers.engine`):
    ``account_id``, ``order_date``, ``spend`` (summed ``net_amount`` of the completed lines of
    that day, currency), ordered by account and day. :func:`rfm_summary` aggregates the same
    days in the engine without bringing them back."""
    engine = engines.resolve(engine, orders)
    days = _days(orders, as_of, engine)
    frame = engines.to_pandas(days.order_by(["account_id", "order_date"]), engine)
    frame["order_date"] = pd.to_datetime(frame["order_date"]).astype("datetime64[ns]")
    frame["spend"] = frame["spend"].astype(float)
    return frame


def _days(orders: object, as_of: str | pd.Timestamp, engine):
    """The purchase days of :func:`purchase_days` as an Ibis expression (``order_date`` a date)."""
    day = as_day(pd.Timestamp(as_of))
    o = as_table(orders, ("account_id", "order_date", "net_amount", "status"), engine)
    o = o.mutate(order_date=o.order_date.cast("date"))
    o = o.filter(o.status == "completed", o.order_date <= day)
    return o.group_by(["account_id", "order_date"]).aggregate(spend=o.net_amount.sum())


def rfm_summary(
    orders: object,
    as_of: str | pd.Timestamp,
    period_days: int = 7,
    calibration_end: str | pd.Timestamp | None = None,
    engine: engines.Engine | str | None = None,
) -> pd.DataFrame:
    """Per account the BG/NBD inputs in periods of ``period_days`` days (see the module).

    Columns ``customer_id`` (the account id, as pymc-marketing names it), ``frequency``,
    ``recency``, ``T``, ``monetary_value``, ordered by account id. With ``calibration_end``,
    the summary is of the purchases up to it (accounts that bought by then) and
    ``holdout_frequency`` counts each account's purchase days in (calibration_end, as_of].

    The purchase days are counted and summed per account in the engine (``engine``; None: the
    one ``orders`` carries, else DuckDB), so only the per-account table comes back (at 1M
    accounts the per-day table was ~0.7 GB of pandas, kept for the kernel's life).
    """
    as_of = pd.Timestamp(as_of)
    end = pd.Timestamp(calibration_end) if calibration_end is not None else as_of
    engine = engines.resolve(engine, orders)
    days = _days(orders, as_of, engine)
    cal = days.filter(days.order_date <= as_day(end))
    per = cal.group_by("account_id").aggregate(
        first=cal.order_date.min(),
        last=cal.order_date.max(),
        n=cal.count(),
        total=cal.spend.sum(),
        first_spend=cal.spend.argmin(cal.order_date),  # one purchase per day: no ties
    )
    if calibration_end is not None:
        later = days.filter(days.order_date > as_day(end))
        held = later.group_by("account_id").aggregate(holdout=later.count())
        per = per.left_join(held, "account_id").drop("account_id_right")
    frame = engines.to_pandas(per.order_by("account_id"), engine)
    first, last = (pd.to_datetime(frame[c]).astype("datetime64[ns]") for c in ("first", "last"))
    n = frame["n"].astype(np.int64)
    repeat_spend = (frame["total"].astype(float) - frame["first_spend"].astype(float)).clip(lower=0)
    out = pd.DataFrame(
        {
            "customer_id": frame["account_id"],
            "frequency": (n - 1).to_numpy(),
            "recency": ((last - first).dt.days / period_days).to_numpy(),
            "T": ((end - first).dt.days / period_days).to_numpy(),
            "monetary_value": np.where(n > 1, repeat_spend / (n - 1).clip(lower=1), 0.0),
        }
    )
    if calibration_end is not None:
        out["holdout_frequency"] = frame["holdout"].fillna(0).astype(int).to_numpy()
    return out


def _clv():
    """pymc-marketing's CLV models, imported on first use (a few seconds) without the notices
    its dependencies print at import (ArviZ's refactor notice, tqdm's missing widgets)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pymc_marketing import clv
    return clv


@functools.cache
def _models() -> tuple[type, type]:
    """pymc-marketing's ``BetaGeoModel`` and ``GammaGammaModel`` with the data as ``pm.Data``
    (:mod:`.bgnbd_models`, imported here on first use: pymc-marketing takes seconds)."""
    _clv()  # imported without its notices
    from helpers.survival import bgnbd_models

    return bgnbd_models.BetaGeo, bgnbd_models.GammaGamma


def _priors(names: tuple[str, ...], priors: str) -> dict[str, Any] | None:
    if priors == "default":
        return None
    if priors != "flat":
        raise ValueError(f"priors must be 'flat' or 'default', got {priors!r}")
    from pymc_extras.prior import Prior

    return {name: Prior("HalfFlat") for name in names}


def _quiet(fit) -> None:
    """Run ``fit()`` without pymc's progress bar and sampler chatter."""
    import logging

    logger = logging.getLogger("pymc")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit()
    finally:
        logger.setLevel(level)


def fit_beta_geo(summary: pd.DataFrame, priors: str = "flat"):
    """A pymc-marketing ``BetaGeoModel`` fitted by MAP on ``summary`` (``customer_id``,
    ``frequency``, ``recency``, ``T``; periods). ``priors="flat"`` (HalfFlat on r, α, a, b)
    gives the maximum-likelihood fit; ``"default"`` pymc-marketing's weakly informative priors.
    The first fit on a machine compiles the model (tens of seconds); later fits, whatever the
    data, reuse the compiled code (see :func:`_models`), and later fits in the same process
    reuse the compiled functions too (:func:`.bgnbd_map.fit_map`: ``fit(method="map")``'s
    optimum, without rebuilding and recompiling the functions for each data set)."""
    BetaGeoModel = _models()[0]
    data = summary[["customer_id", "frequency", "recency", "T"]]
    model = BetaGeoModel(model_config=_priors(PARAMS, priors))
    _quiet(lambda: fit_map(model, data, f"beta_geo:{priors}"))
    return model


def fit_gamma_gamma(summary: pd.DataFrame, priors: str = "flat"):
    """A pymc-marketing ``GammaGammaModel`` fitted by MAP on the repeat buyers of ``summary``
    (``frequency`` > 0 and positive ``monetary_value``), as ``fit(method="map")`` fits it
    (:func:`.bgnbd_map.fit_map`)."""
    GammaGammaModel = _models()[1]
    repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    data = repeat[["customer_id", "frequency", "monetary_value"]]
    model = GammaGammaModel(model_config=_priors(SPEND_PARAMS, priors))
    _quiet(lambda: fit_map(model, data, f"gamma_gamma:{priors}"))
    return model


def _point(values) -> np.ndarray:
    """The MAP point of a pymc-marketing prediction (chain and draw of size 1)."""
    return np.asarray(values).reshape(-1)


def parameters(model, names: tuple[str, ...] = PARAMS) -> dict[str, float]:
    """The fitted parameters (MAP) of a pymc-marketing CLV model as floats."""
    post = model.idata.posterior
    return {name: float(post[name].values.reshape(-1)[0]) for name in names}


def p_alive(model, summary: pd.DataFrame) -> np.ndarray:
    """P(alive) 0-1 of each row of ``summary`` under a fitted ``BetaGeoModel``."""
    data = summary[["customer_id", "frequency", "recency", "T"]]
    return _point(model.expected_probability_alive(data=data))


def expected_purchases(model, summary: pd.DataFrame, periods: float) -> np.ndarray:
    """Expected purchases (purchase days) of each row of ``summary`` in the next ``periods``
    periods under a fitted ``BetaGeoModel``."""
    data = summary[["customer_id", "frequency", "recency", "T"]]
    return _point(model.expected_purchases(data=data, future_t=periods))


def independence(summary: pd.DataFrame) -> dict[str, float]:
    """Gamma-Gamma's assumption check: Pearson correlation of ``frequency`` and
    ``monetary_value`` among repeat buyers (``r`` near 0 supports independence), its p-value
    and the number of repeat buyers ``n``."""
    repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    if len(repeat) < 3:
        return {"r": float("nan"), "p": float("nan"), "n": float(len(repeat))}
    r, p = stats.pearsonr(repeat["frequency"], repeat["monetary_value"])
    return {"r": float(r), "p": float(p), "n": float(len(repeat))}


@dataclass(frozen=True)
class BuyTillYouDie:
    """The BG/NBD and Gamma-Gamma view of the accounts as of ``as_of``.

    ``params`` the BG/NBD parameters (r, alpha in periods, a, b); ``spend_params`` the
    Gamma-Gamma parameters (p, q, v) or a Skipped; ``independence`` the frequency–spend check;
    ``accounts`` one row per buying account: ``account_id``, ``frequency``, ``recency``, ``T``
    (periods), ``monetary_value`` (currency), ``p_alive`` (0-1), ``expected_purchases`` (in the
    next ``horizon_days``), ``expected_spend`` (per purchase; NaN for one-time buyers or when
    the spend model is skipped), ``expected_revenue`` (expected purchases × spend, currency).
    """

    as_of: pd.Timestamp
    period_days: int
    horizon_days: int
    priors: str
    params: dict[str, float]
    spend_params: dict[str, float] | Skipped
    independence: dict[str, float]
    accounts: pd.DataFrame
    model: Any
    spend_model: Any

    @property
    def table(self) -> pd.DataFrame:
        """The parameters as a one-column table (for display)."""
        rows = dict(self.params)
        if not isinstance(self.spend_params, Skipped):
            rows.update({f"spend {k}": v for k, v in self.spend_params.items()})
        return pd.Series(rows, name="value").to_frame()


def too_few(summary: pd.DataFrame) -> Skipped | None:
    repeat = int((summary["frequency"] > 0).sum())
    if repeat < MIN_REPEAT_BUYERS:
        return Skipped(
            f"only {repeat} accounts bought on more than one day",
            f"the BG/NBD model needs at least {MIN_REPEAT_BUYERS} repeat buyers",
        )
    return None


@step("The BG/NBD model")
def buy_till_you_die(
    ds,
    as_of: pd.Timestamp,
    period_days: int = 7,
    horizon_days: int = 90,
    priors: str = "flat",
) -> BuyTillYouDie | Skipped:
    """P(alive), expected purchases in the next ``horizon_days`` and expected spend per
    purchase of every buying account, from the order log alone (see the module for the
    conventions). The Gamma-Gamma part is Skipped (the rest stands) when there are fewer than
    :data:`MIN_REPEAT_BUYERS` repeat buyers with positive spend. On a data set loaded from a
    source the result is kept on disk (:mod:`helpers.step_cache`): notebook 03's second lifetime
    value reuses notebook 02's fit."""
    name = step_cache.key(
        "buy-till-you-die",
        ds,
        {
            "as_of": str(pd.Timestamp(as_of)),
            "period_days": int(period_days),
            "horizon_days": int(horizon_days),
            "priors": str(priors),
        },
    )
    return step_cache.remembered(
        name, lambda: _buy_till_you_die(ds, as_of, period_days, horizon_days, priors)
    )


def _buy_till_you_die(
    ds, as_of: pd.Timestamp, period_days: int, horizon_days: int, priors: str
) -> BuyTillYouDie | Skipped:
    if "orders" not in ds.tables:
        return Skipped("the data has no orders table", "add orders to the source YAML")
    summary = rfm_summary(orders_table(ds), as_of, period_days)
    cause = too_few(summary)
    if cause is not None:
        return cause
    model = fit_beta_geo(summary, priors)
    periods = horizon_days / period_days
    accounts = summary.rename(columns={"customer_id": "account_id"}).assign(
        p_alive=p_alive(model, summary),
        expected_purchases=expected_purchases(model, summary, periods),
    )
    check = independence(summary)
    spend_model = None
    if check["n"] < MIN_REPEAT_BUYERS:
        spend_params: dict[str, float] | Skipped = Skipped(
            f"only {int(check['n'])} repeat buyers with positive spend",
            f"the Gamma-Gamma model needs at least {MIN_REPEAT_BUYERS}",
            "The Gamma-Gamma spend model",
        )
        accounts["expected_spend"] = np.nan
    else:
        spend_model = fit_gamma_gamma(summary, priors)
        spend_params = parameters(spend_model, SPEND_PARAMS)
        repeat = summary["frequency"] > 0
        spend = pd.Series(np.nan, index=summary.index)
        data = summary.loc[repeat & (summary["monetary_value"] > 0)]
        spend[data.index] = _point(
            spend_model.expected_customer_spend(
                data=data[["customer_id", "frequency", "monetary_value"]]
            )
        )
        accounts["expected_spend"] = spend.to_numpy()
    accounts["expected_revenue"] = accounts["expected_purchases"] * accounts["expected_spend"]
    return BuyTillYouDie(
        pd.Timestamp(as_of),
        int(period_days),
        int(horizon_days),
        priors,
        parameters(model),
        spend_params,
        check,
        accounts,
        model,
        spend_model,
    )
