"""The lead studies' results as tables of text for readers (notebook 01, sections 6 and 7):
grades with their conversion, the learnt weights with intervals, the look-alike model's
hold-out evaluation and the prospects list, every number written by :mod:`helpers.formats`.
The steps themselves are in :mod:`helpers.leads`, which re-exports these views."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd

from helpers import formats
from helpers.steps import Skipped, step

if TYPE_CHECKING:
    from helpers.leads import LeadGrading, Lookalikes


#: Reader-facing names of the indicators of the lead score and the learnt weights.
INDICATOR_WORDS = {
    "const": "baseline (intercept)",
    "data_completeness": "base data complete",
    "inquiry": "sent an inquiry",
    "demo": "had a demo",
    "repeat_visits": "visited the site repeatedly",
}


@step("Lead grading")
def grade_view(grading: LeadGrading) -> pd.DataFrame:
    """:func:`grade_table` for readers: grade, decided leads (count) and their conversion (%
    to one decimal)."""
    table = grading.table
    return pd.DataFrame(
        {
            "grade": [formats.display_name(g) for g in table.index],
            "decided leads": [formats.count(n) for n in table["leads"]],
            "conversion": [formats.share(v, 1) for v in table["conversion"]],
        }
    )


def _p_value(p: float) -> str:
    return "<0.001" if formats.finite(p) and p < 0.001 else formats.number(p, 2)


@step("The learnt weights")
def weights_view(grading: LeadGrading) -> pd.DataFrame | Skipped:
    """:func:`weights_table` for readers: each indicator in words, its coefficient (log-odds)
    with its 95% interval to two decimals, and the p-value ("<0.001" below a thousandth)."""
    from helpers.leads import weights_table

    table = weights_table(grading)
    if isinstance(table, Skipped):
        return table
    return pd.DataFrame(
        {
            "indicator": [INDICATOR_WORDS.get(k, formats.display_name(k)) for k in table.index],
            "coefficient (log-odds)": [f"{v:+.2f}" for v in table["coef"]],
            "95% interval": [
                f"{lo:+.2f} to {hi:+.2f}"
                for lo, hi in zip(table["low"], table["high"], strict=True)
            ],
            "p-value": [_p_value(p) for p in table["p"]],
        }
    )


@step("Look-alikes")
def evaluation_view(result: Lookalikes) -> pd.DataFrame:
    """The hold-out evaluation in words with units: AUC (0.5 = chance), lift of the top
    decile, leads trained on and tested on, and the base rate (%)."""
    rows = [
        ("AUC on the hold-out year (0.5 = chance)", f"{result.auc:.2f}"),
        ("Lift of the top tenth of scored leads", formats.ratio(result.lift_top_decile)),
        ("Leads the model was trained on", f"{formats.count(result.train_leads)} leads"),
        ("Leads of the hold-out year", f"{formats.count(result.test_leads)} leads"),
        (
            f"Share of hold-out leads that became {result.target} accounts",
            formats.share(result.base_rate, 1),
        ),
    ]
    return pd.DataFrame(rows, columns=["measure", "value"])


@step("The prospects list")
def prospects_view(
    result: Lookalikes, n: int = 15, names: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """The ``n`` open prospects with the highest propensity for readers: lead id, codes from
    the data by their display names (``names``: the data source's, see
    :func:`helpers.formats.display_name`), the creation date ("23 Nov 2025") and the
    propensity in %."""
    top = result.prospects.head(n)
    out = pd.DataFrame({"lead": top["lead_id"].astype(str).to_numpy()})
    from helpers.leads import LOOKALIKE_FEATURES

    for column in [c for c in LOOKALIKE_FEATURES if c in top]:
        label = column.replace("_", " ")
        out[label] = [formats.display_name(v, names) for v in top[column]]
    out["created"] = [formats.date(d) for d in top["created_date"]]
    out["propensity"] = [formats.share(p) for p in top["propensity"]]
    return out
