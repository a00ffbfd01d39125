"""The DuckDB rules of helpers.loading.checks_sql word every problem as the pandas reference.

The reference is the pandera/pandas implementation in :mod:`helpers.validation` (what loads ran
before the rules moved into SQL). Frames are typed as the loader leaves them, with faults of
every kind injected at random (seeded per test), row positions that are not the index and file
lines with gaps; both implementations must give the same problems, texts and all.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import validation as reference
from helpers.contract import TABLES
from helpers.loading import checks_sql
from helpers.validation import ROW_COLUMN, Findings

ANALYSIS = pd.Timestamp("2024-12-31")


def _column(rng, col, n: int, faults: float) -> list:
    """``n`` values of contract column ``col``; a share ``faults`` of them break a rule."""
    out: list = []
    for i in range(n):
        bad = rng.random() < faults
        if col.dtype in ("string", "category"):
            if col.unique:
                value = f"K{i}" if not bad else rng.choice([f"K{max(i - 1, 0)}", None])
            elif col.accepted is not None:
                value = rng.choice(list(col.accepted)) if not bad else rng.choice(["bad", None])
            else:
                value = str(rng.choice(["a", "b", "c"])) if not bad else None
        elif col.dtype in ("float", "int"):
            low = col.min_value if col.min_value is not None else -5.0
            high = col.max_value if col.max_value is not None else 50.0
            value = float(rng.integers(int(low), int(high) + 1))
            if bad:
                value = float(rng.choice([low - 1, high + 1, np.nan, -3.0]))
        else:
            day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 300)))
            value = day if not bad else rng.choice([pd.NaT, ANALYSIS + pd.Timedelta(days=3)])
        out.append(value)
    return out


def _frame(rng, name: str, n: int, faults: float, ids: list[str] | None = None) -> pd.DataFrame:
    table = TABLES[name]
    data = {}
    for col in table.columns:
        values = _column(rng, col, n, faults)
        if ids is not None and col.name in ("account_id", "lead_id") and not col.unique:
            values = [rng.choice(ids) if v is not None else None for v in values]
        if col.dtype in ("date", "datetime"):
            data[col.name] = pd.Series(values, dtype="datetime64[ns]")
        elif col.dtype in ("float", "int"):
            data[col.name] = pd.Series(values, dtype="float64")
        else:
            data[col.name] = pd.Series(values, dtype=object)
    frame = pd.DataFrame(data)
    frame[ROW_COLUMN] = 2 + np.cumsum(rng.integers(1, 4, size=n))  # lines with gaps
    frame.index = frame.index * 10 + 7  # an index that is not the position
    frame.attrs.update(file=f"{name}.csv", row_word="line")
    return frame


def _tables(seed: int, n: int, faults: float) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    accounts = _frame(rng, "accounts", n, faults)
    known = [f"K{i}" for i in range(n)] + ["ghost"]
    return {
        "accounts": accounts,
        "orders": _frame(rng, "orders", n, faults, ids=known),
        "leads": _frame(rng, "leads", n, faults, ids=known),
        "touchpoints": _frame(rng, "touchpoints", n, faults, ids=known),
        "channel_spend": _frame(rng, "channel_spend", max(n // 3, 2), faults),
    }


def _texts(problems) -> list[str]:
    return [str(p) for p in problems]


@pytest.mark.parametrize("seed", range(2))
def test_schema_problems_are_the_reference_ones(seed):
    for name, frame in _tables(seed, n=40, faults=0.2).items():
        ours = _texts(checks_sql.check_schema(frame, TABLES[name]))
        theirs = _texts(reference.check_schema(frame, TABLES[name]))
        # pandera sorts its failures with an unstable sort: the same problems, order may move
        assert sorted(ours) == sorted(theirs), name
        assert ours, f"seed {seed} injected no fault into {name}"


def test_schema_problems_come_in_the_reference_order_when_few():
    tables = _tables(11, n=8, faults=0.12)
    for name, frame in tables.items():
        theirs = reference.check_schema(frame, TABLES[name])
        assert _texts(checks_sql.check_schema(frame, TABLES[name])) == _texts(theirs), name


@pytest.mark.parametrize("seed", range(2))
def test_row_reference_and_date_rules_are_the_reference_ones(seed):
    tables = _tables(100 + seed, n=40, faults=0.25)
    for rules in ("check_rows", "check_references"):
        ours, theirs = Findings(), Findings()
        getattr(checks_sql, rules)(tables, ours)
        getattr(reference, rules)(tables, theirs)
        assert _texts(ours.errors) == _texts(theirs.errors), rules
        assert _texts(ours.warnings) == _texts(theirs.warnings), rules
    ours, theirs = Findings(), Findings()
    checks_sql.check_not_after(tables, ANALYSIS, ours)
    reference.check_not_after(tables, ANALYSIS, theirs)
    assert _texts(ours.errors) == _texts(theirs.errors)
    assert ours.errors


def test_more_offending_rows_than_examples_count_all_and_show_the_first_five():
    frame = _frame(np.random.default_rng(0), "orders", 30, 0.0)
    frame["status"] = "completed"
    frame["net_amount"] = 10.0
    frame.loc[frame.index[3:20], "net_amount"] = -1.0
    ours, theirs = Findings(), Findings()
    checks_sql.check_rows({"orders": frame}, ours)
    reference.check_rows({"orders": frame}, theirs)
    assert _texts(ours.errors) == _texts(theirs.errors)
    (problem,) = ours.errors
    lines = frame[ROW_COLUMN].iloc[3:8].tolist()
    assert problem.count == 17 and [r.split(" (")[0] for r in problem.rows] == [
        f"line {n}" for n in lines
    ]


def test_empty_cells_are_not_duplicate_ids_but_empty_key_parts_are_duplicate_keys():
    accounts = _frame(np.random.default_rng(1), "accounts", 6, 0.0)
    accounts.loc[accounts.index[[1, 4]], "account_id"] = None
    problems = checks_sql.check_schema(accounts, TABLES["accounts"])
    assert _texts(problems) == _texts(reference.check_schema(accounts, TABLES["accounts"]))
    assert [p.rule for p in problems] == ["empty cells in a column that must be filled"]
    orders = _frame(np.random.default_rng(2), "orders", 6, 0.0)
    orders["order_id"] = ["O1", "O1", "O2", "O2", None, None]
    orders["line_number"] = [1.0, 1.0, np.nan, np.nan, 2.0, 2.0]
    problems = checks_sql.check_schema(orders, TABLES["orders"])
    assert _texts(problems) == _texts(reference.check_schema(orders, TABLES["orders"]))
    # one duplicate-key problem per key column, each leaving out the rows empty there
    assert [p.count for p in problems[:2]] == [4, 4] and problems[0] != problems[1]


def test_the_checks_use_every_core_whatever_the_kernel_gets(monkeypatch):
    """The checks' results do not depend on threads (counts, first positions in row order),
    so the batch kernels' B2B_DUCKDB_THREADS=1 does not hold them back."""
    import os

    from helpers.loading import checks_sql

    monkeypatch.setenv("B2B_DUCKDB_THREADS", "1")
    checks_sql._database.cache_clear()
    try:
        con = checks_sql._database(os.getpid())
        threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
        assert threads == os.cpu_count()
    finally:
        checks_sql._database.cache_clear()
