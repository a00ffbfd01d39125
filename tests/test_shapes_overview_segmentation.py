"""Notebooks 00 and 01 on the data shapes companies actually have (issue #12).

Each shape is a small generated company: (1) an order log only (no accounts, no margin, one
product category), (2) subscription billing (one invoice per account and month, accounts
acquired before the export starts), (3) a lead funnel only (no orders), (4) small and odd
(9 months, 40 accounts, constant margin rate, one region, no attribute that varies) and (4b)
one account. Every code cell of both notebooks runs top to bottom on each (in this process,
the data set handed to ``session.start``; seconds per run); what the data cannot feed says so
in one sentence, its metrics field is ``null`` with the reason, and no sentence shows a bare
``nan`` or ``inf``. Two shapes also run through papermill from Parquet files and an own-data
YAML, as a company would run them.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import matplotlib
import nbformat
import numpy as np
import pandas as pd
import pytest

from helpers import session
from helpers.contract import TABLES
from helpers.loading import Dataset
from helpers.loading.clean import complete_columns
from helpers.steps import Skipped

matplotlib.use("Agg")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
AS_OF = pd.Timestamp("2025-12-31")


def skip_nulls(metrics: dict) -> set[str]:
    """The metrics fields that are null because a step was skipped (a source that names no
    currency has ``currency`` null: not a skipped step)."""
    return {k for k, v in metrics.items() if v is None and k != "currency"}


# --- the shapes -----------------------------------------------------------------------------------


def _orders(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    frame["order_id"] = [f"O{i:05d}" for i in range(len(frame))]  # one line = one order
    frame["quantity"] = 1.0
    frame["status"] = "completed"
    frame["product_category"] = "all"  # the export has no category: one value
    return frame


def order_log(n: int = 60, months: int = 24, seed: int = 1) -> dict[str, pd.DataFrame]:
    """Shape 1: customer id, date, amount, quantity; no accounts, margin or category."""
    rng = np.random.default_rng(seed)
    start = AS_OF - pd.DateOffset(months=months) + pd.Timedelta(days=1)
    days = (AS_OF - start).days
    rows = [
        {
            "account_id": f"C{a:03d}",
            "order_date": start + pd.Timedelta(days=int(d)),
            "net_amount": float(rng.lognormal(5 + a % 3, 0.6)),
        }
        for a in range(n)
        for d in rng.integers(0, days, int(rng.integers(1, 15)))
    ]
    return {"orders": _orders(rows)}


def _accounts(ids: list[str], acquired: list[pd.Timestamp], **columns) -> pd.DataFrame:
    base = {
        "account_id": ids,
        "account_name": ids,
        "industry": "services",
        "size_band": "small",
        "region": "north",
        "ownership_type": "private",
        "business_type": "brand_owner",
        "acquisition_channel": "direct",
        "acquired_date": acquired,
    }
    return pd.DataFrame(base | columns)


def subscription(n: int = 80, months: int = 24, seed: int = 2) -> dict[str, pd.DataFrame]:
    """Shape 2: one invoice per account and month; contract type and payment method as
    account attributes; most accounts were customers before the export; many churn early."""
    rng = np.random.default_rng(seed)
    first = AS_OF - pd.DateOffset(months=months) + pd.Timedelta(days=1)
    ids = [f"S{a:03d}" for a in range(n)]
    start_month = rng.integers(0, months // 2, n)
    length = np.minimum(rng.geometric(0.12, n), months)
    rows = []
    for a, account in enumerate(ids):
        charge = float(rng.choice([29.0, 49.0, 99.0]))
        for m in range(start_month[a], min(start_month[a] + length[a], months)):
            rows.append(
                {
                    "account_id": account,
                    "order_date": first + pd.DateOffset(months=int(m)),
                    "net_amount": charge,
                }
            )
    accounts = _accounts(
        ids,
        [first - pd.Timedelta(days=int(d)) for d in rng.integers(30, 900, n)],
        industry=rng.choice(["month_to_month", "one_year", "two_year"], n),
        acquisition_channel=rng.choice(["card", "bank_transfer"], n),
    )
    return {"accounts": accounts, "orders": _orders(rows)}


def lead_funnel(n: int = 300, seed: int = 3) -> dict[str, pd.DataFrame]:
    """Shape 3: leads with a creation and a won date, some empty source channels; no orders."""
    rng = np.random.default_rng(seed)
    created = AS_OF - pd.to_timedelta(rng.integers(10, 900, n), unit="D")
    won = rng.random(n) < 0.2
    return {
        "leads": pd.DataFrame(
            {
                "lead_id": [f"L{i:04d}" for i in range(n)],
                "account_id": [f"C{i:04d}" if w else None for i, w in enumerate(won)],
                "source_channel": rng.choice(["web", "fair", None], n),
                "created_date": created,
                "won_date": [
                    c + pd.Timedelta(days=20) if w else pd.NaT
                    for c, w in zip(created, won, strict=True)
                ],
            }
        )
    }


def small_odd(n: int = 40, months: int = 9, seed: int = 4) -> dict[str, pd.DataFrame]:
    """Shape 4: 9 months, 40 accounts with many orders each, margin always 30% of the amount,
    one region, no account attribute that varies."""
    rng = np.random.default_rng(seed)
    start = AS_OF - pd.DateOffset(months=months) + pd.Timedelta(days=1)
    days = (AS_OF - start).days
    ids = [f"K{a:03d}" for a in range(n)]
    rows = [
        {"account_id": a, "order_date": start + pd.Timedelta(days=int(d)), "net_amount": float(v)}
        for a in ids
        for d, v in zip(rng.integers(0, days, 12), rng.lognormal(6, 0.5, 12), strict=True)
    ]
    orders = _orders(rows)
    orders["gross_margin"] = orders["net_amount"] * 0.3
    return {"accounts": _accounts(ids, [start] * n), "orders": orders}


def one_account(months: int = 9) -> dict[str, pd.DataFrame]:
    """Shape 4b: a single account, ordering every week for nine months."""
    start = AS_OF - pd.DateOffset(months=months) + pd.Timedelta(days=1)
    dates = pd.date_range(start, AS_OF, freq="7D")
    rows = [
        {"account_id": "ONLY", "order_date": d, "net_amount": 100.0 + i}
        for i, d in enumerate(dates)
    ]
    return {"accounts": _accounts(["ONLY"], [start]), "orders": _orders(rows)}


SHAPES = {
    "order_log": order_log,
    "subscription": subscription,
    "lead_funnel": lead_funnel,
    "small_odd": small_odd,
    "one_account": one_account,
}


def dataset(name: str) -> Dataset:
    tables = {k: complete_columns(v.copy(), TABLES[k]) for k, v in SHAPES[name]().items()}
    return Dataset(tables=tables, source=f"shape {name}", analysis_date=AS_OF, fingerprint="x")


# --- running a notebook in this process -----------------------------------------------------------


def _text(value: object) -> str:
    if isinstance(value, Skipped):
        return value.sentence()
    if hasattr(value, "data") and isinstance(value.data, str):  # IPython Markdown
        return value.data
    if isinstance(value, (pd.DataFrame, pd.Series)):
        return value.to_string()
    if hasattr(value, "data") and isinstance(value.data, pd.DataFrame):  # a Styler, as shown
        return re.sub(r"<[^>]+>", " ", value.to_html())
    return ""


def run_notebook(
    name: str, ds: Dataset, out: Path, monkeypatch, parameters: dict | None = None
) -> tuple[str, dict]:
    """Every code cell of ``notebooks/<name>.ipynb`` on ``ds`` (with ``parameters`` set after
    the parameters cell, as papermill does): the text of what the cells display (sentences,
    tables) and the metrics written."""
    import IPython.display

    shown: list[str] = []
    monkeypatch.setattr(session, "load_dataset", lambda source: ds)
    monkeypatch.setattr(IPython.display, "display", lambda *v, **k: shown.extend(map(_text, v)))
    namespace: dict = {}
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, name, "exec"), namespace)  # noqa: S102
        if "parameters" in cell.metadata.get("tags", []):
            namespace.update(DATA_SOURCE="shape", OUTPUT_DIR=str(out), **(parameters or {}))
        if last is not None:
            shown.append(_text(eval(compile(ast.Expression(last.value), name, "eval"), namespace)))  # noqa: S307
    matplotlib.pyplot.close("all")
    return "\n".join(shown), json.loads((out / "metrics.json").read_text())


NO_ORDERS = "the data source 'shape lead_funnel' has no orders table"
#: Per shape and notebook: sentences the run must show, and metrics fields that must be null
#: with a reason containing the given words.
EXPECTED = {
    ("lead_funnel", "00-data-overview"): (
        [
            f"The order checks is not available: {NO_ORDERS}",
            f"Revenue by period is not available: {NO_ORDERS}",
        ],
        {"revenue": NO_ORDERS, "top_driver": NO_ORDERS},
    ),
    ("lead_funnel", "01-customer-segmentation"): (
        [f"Revenue concentration is not available: {NO_ORDERS}", "Look-alikes is not available"],
        {"gini": NO_ORDERS, "customer_types": NO_ORDERS, "clusters": NO_ORDERS},
    ),
    ("order_log", "01-customer-segmentation"): (
        [
            "Lead grading is not available: the data source 'shape order_log' does not provide",
            "Segments is not available: the data has none of the segment columns industry",
        ],
        {"lead_score_auc": "leads table", "lookalike": "leads table"},
    ),
    ("subscription", "01-customer-segmentation"): (
        ["By industry, "],  # the contract type, mapped to industry
        {},
    ),
    ("small_odd", "01-customer-segmentation"): (
        [
            "moved up at least one tier in the last 3 months",  # a third of 9 months
            "None of the 40 typed accounts grows its order value significantly",
        ],
        {"lead_score_auc": "leads table"},
    ),
    ("one_account", "01-customer-segmentation"): (
        [
            "The behavioural clustering is not available: only 1 account has two or more orders",
            "Revenue concentration is not available: the selection has one account",
        ],
        {"clusters": "clustering needs at least 20", "gini": "it needs two"},
    ),
}


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("notebook", ["00-data-overview", "01-customer-segmentation"])
def test_notebook_runs_to_the_end_on_every_shape(shape, notebook, tmp_path, monkeypatch):
    text, metrics = run_notebook(notebook, dataset(shape), tmp_path, monkeypatch)
    sentences, nulls = EXPECTED.get((shape, notebook), ([], {}))
    for sentence in sentences:
        assert sentence in text
    for field, reason in nulls.items():
        assert metrics[field] is None and reason in metrics["skipped"][field]
    assert set(metrics["skipped"]) == skip_nulls(metrics)
    assert not re.search(r"\b(nan|inf)\b", text, flags=re.IGNORECASE)
    assert "high margin" not in text and "low margin" not in text  # no margin that varies


# --- as a company runs them: Parquet files, an own-data YAML, papermill ---------------------------


def write_source(name: str, folder: Path) -> Path:
    """The shape's tables as Parquet files in ``folder`` and the own-data YAML naming them."""
    lines = [f"analysis_date: {AS_OF:%Y-%m-%d}", "tables:"]
    for table, frame in SHAPES[name]().items():
        frame.to_parquet(folder / f"{table}.parquet", index=False)
        lines.append(f"  {table}: {{file: {table}.parquet}}")
    path = folder / "source.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


#: Runs through papermill from an own-data YAML (the YAML path a company takes); the in-process
#: matrix above covers every shape, small_odd included.
PAPERMILL_RUNS = {
    ("order_log", "00-data-overview"): ["The largest contribution to the change was"],
    ("order_log", "01-customer-segmentation"): [
        "Lead grading is not available: the data source",
        "Look-alikes is not available: the data source",
    ],
}


@pytest.mark.notebook
@pytest.mark.parametrize(("shape", "notebook"), list(PAPERMILL_RUNS))
def test_notebook_runs_from_an_own_data_yaml(shape, notebook, tmp_path):
    import papermill

    source = write_source(shape, tmp_path)
    out = tmp_path / "out"
    executed = tmp_path / f"{notebook}.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOKS / f"{notebook}.ipynb"),
        str(executed),
        parameters={"DATA_SOURCE": str(source), "OUTPUT_DIR": str(out)},
        kernel_name="b2b-insights",
        cwd=str(NOTEBOOKS),
        progress_bar=False,
    )
    text = executed.read_text(encoding="utf-8")
    for sentence in PAPERMILL_RUNS[(shape, notebook)]:
        assert sentence in text
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["source"] == str(source)
    assert set(metrics["skipped"]) == skip_nulls(metrics)
    if notebook == "01-customer-segmentation":
        assert (
            metrics["lead_score_auc"] is None
            and "leads table" in metrics["skipped"]["lead_score_auc"]
        )
    else:
        assert metrics["revenue"] is not None and metrics["skipped"] == {}
        assert "nan%" not in text
