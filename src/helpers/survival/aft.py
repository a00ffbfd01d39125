"""Parametric survival models beside the Cox model: Weibull and log-logistic accelerated
failure time (AFT) fits compared by AIC, with the Cox model's concordance."""

from __future__ import annotations

import warnings

import pandas as pd
from lifelines import CoxPHFitter, LogLogisticAFTFitter, WeibullAFTFitter

from helpers.steps import step
from helpers.survival.concordance import parametric_training_concordance
from helpers.survival.cox import ChurnModel, Design, entry_column


def aft_comparison(design: Design, cph: CoxPHFitter) -> pd.DataFrame:
    """Weibull and log-logistic AFT models by AIC, beside the Cox model's concordance.

    AFT fits need positive durations: 0.5 day is added to all durations (single-order churned
    accounts have duration 0). Cox's partial-likelihood AIC is not comparable with the full
    likelihood AIC of the parametric models, so only concordance is shown for Cox.
    Concordances are lifelines' values (``concordance_index_``), counted by
    :mod:`helpers.survival.concordance`.
    """
    data = design.data.copy()
    data["duration_days"] = data["duration_days"] + 0.5
    rows = [
        {
            "model": "Cox (semi-parametric)",
            "AIC": float("nan"),
            "concordance": float(cph.concordance_index_),
        }
    ]
    for name, fitter in (
        ("Weibull AFT", WeibullAFTFitter(penalizer=0.01)),
        ("log-logistic AFT", LogLogisticAFTFitter(penalizer=0.01)),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitter.fit(data, "duration_days", "event", entry_col=entry_column(design))
        rows.append(
            {
                "model": name,
                "AIC": float(fitter.AIC_),
                "concordance": parametric_training_concordance(fitter),
            }
        )
    return pd.DataFrame(rows).set_index("model")


@step("The parametric (AFT) models")
def aft_models(model: ChurnModel) -> pd.DataFrame:
    """:func:`aft_comparison` of the model's unstratified design (Weibull and log-logistic
    AFT by AIC beside the Cox concordance)."""
    return aft_comparison(model.design, model.unstratified)
