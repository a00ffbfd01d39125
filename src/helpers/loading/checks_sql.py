"""The contract's table rules run as DuckDB SQL over the loaded frames (no row-wise pandas).

After :mod:`~helpers.loading.clean` has typed a table, these rules decide whether it may be
analysed: empty cells, allowed values, bounds and unique keys per column (the rules of
:func:`helpers.validation.schema_for`), returns, touch targets and closed deals inside a table,
references across tables, and no date after the analysis date. Each rule is a SQL condition;
DuckDB scans the pandas columns in place (no copy of the frame) and returns, per broken rule,
only how many rows break it and the positions of the first :data:`~helpers.validation.MAX_EXAMPLES`
of them. The messages are then worded by :func:`helpers.validation.positions_problem`, from the
frame's own cells, exactly as the pandas reference (:func:`helpers.validation.check_schema`,
:func:`~helpers.validation.check_rows`, :func:`~helpers.validation.check_references`,
:func:`~helpers.validation.check_not_after`) words them: same file, column, rule, count and
example lines, in the same order (``tests/test_checks_sql.py`` holds the two side by side).

Why hand-written SQL and not pandera's Ibis or Polars backends: their failure reports are
other objects with other check names and no row positions of the pandas frame (Polars has no
index), so the messages, which name file lines, would have to be rebuilt anyway; the rules are
few and simple conditions, and one scan can count all of a table's rules at once. Measured on
the 100k-account company (``benchmarks/bench_validation.py``, ``docs/benchmarks.md``).

Assumptions
-----------
- Frames are as :func:`helpers.loading.clean.complete_columns` leaves them: every contract
  column present, text as Python ``str`` or None, numbers float64 (NaN is an empty cell, as in
  pandas), dates datetime64.
- Nulls compare as pandas does: a rule on an empty cell is not broken (``NaN < 0`` is false),
  except that empty keys count as equal when looking for duplicates (pandas ``duplicated``).
- Within one table the column rules come in contract order (not null, unique, allowed values,
  minimum, maximum), after the compound-key rule: the order pandera reports them in when its
  (unstable) sort of the failures keeps their order, as it does for small failure counts.
- Tiny inputs stay in pandas where the rule needs Python: the spend channels' "did you mean"
  (``difflib``, one problem per unknown channel of a table of one row per channel and month).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from helpers.contract import TABLES, Table
from helpers.validation import (
    CHECK_WORDS,
    MAX_EXAMPLES,
    Findings,
    Problem,
    check_spend_channels,
    describe_check,
    positions_problem,
)

#: Name of the 0-based frame position column in the views the queries read.
POS = "_pos"

#: The columns the row rules of :func:`check_rows` read, per table.
ROW_RULE_COLUMNS = {
    "orders": ["net_amount", "status"],
    "touchpoints": ["lead_id", "account_id"],
    "leads": [
        "created_date",
        "intent_date",
        "proposal_date",
        "negotiation_date",
        "won_date",
        "lost_date",
    ],
}


@dataclass(frozen=True)
class Rule:
    """One row rule: a SQL condition (true for an offending row) and how its problem reads."""

    condition: str
    column: str | None
    rule: str
    show: tuple[str, ...] | None = None


@cache
def _database(pid: int) -> duckdb.DuckDBPyConnection:
    """Process ``pid``'s in-memory DuckDB for the checks, with the project's memory cap (see
    :mod:`helpers.engine`); made once per process (a forked child makes its own), as a new
    database costs ~70 ms and a cursor on it nothing.

    It uses every core even in a batch kernel, whose engine gets ``B2B_DUCKDB_THREADS`` (1)
    so that float sums add in the same order whatever ``--jobs`` is: the checks only count
    rows and list the first positions in row order, the same with any number of threads, and
    the kernel that validates a new data set is the one the others wait for (the load-once
    cache's lock), so the second core is otherwise idle."""
    config = {
        "memory_limit": os.environ.get("B2B_DUCKDB_MEMORY_LIMIT", "512MB"),
        "threads": os.cpu_count() or 1,
    }
    con = duckdb.connect(config=config)
    # No progress bar. In a Jupyter kernel without ipywidgets DuckDB starts with it off and
    # refuses any SET of it ("required package 'ipywidgets' is missing"): set only when on.
    if con.execute("SELECT current_setting('enable_progress_bar')").fetchone()[0]:
        con.execute("SET enable_progress_bar = false")
    return con


@contextmanager
def _connection() -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor of :func:`_database`; the frames it registers are gone when it closes."""
    con = _database(os.getpid()).cursor()
    try:
        yield con
    finally:
        con.close()


def q(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _literal(value: object) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(float(value))


def _register(
    con: duckdb.DuckDBPyConnection, view: str, frame: pd.DataFrame, columns: Sequence[str]
) -> None:
    """Expose ``columns`` of ``frame`` and each row's position as the view ``view``.

    When no column asked for holds Python objects (a loaded data set: text is Arrow-backed
    ``str``), the view is an Arrow table sharing the frame's buffers, which DuckDB scans in
    parallel (NaN and NaT are nulls in both, so every condition gives the same rows);
    otherwise a narrow frame sharing the column arrays (DuckDB converts what a query reads).
    """
    wanted = list(dict.fromkeys(columns))
    if all(frame[c].dtype != object for c in wanted):
        arrays = [pa.chunked_array([np.arange(len(frame), dtype=np.int64)])]
        for c in wanted:
            values = pa.Array.from_pandas(frame[c])
            arrays.append(
                values if isinstance(values, pa.ChunkedArray) else pa.chunked_array([values])
            )
        con.register(view, pa.Table.from_arrays(arrays, names=[POS, *wanted]))
        return
    data = {POS: np.arange(len(frame), dtype=np.int64)}
    data.update({c: frame[c] for c in wanted})
    con.register(view, pd.DataFrame(data, index=frame.index, copy=False))


def _offending(con: duckdb.DuckDBPyConnection, view: str, condition: str) -> tuple[int, list[int]]:
    """How many rows of ``view`` meet ``condition`` and the first positions (frame order)."""
    rows = con.sql(
        f"SELECT count(*) OVER (), {POS} FROM {view} WHERE {condition} "
        f"ORDER BY {POS} LIMIT {MAX_EXAMPLES}"
    ).fetchall()
    return (int(rows[0][0]), [int(r[1]) for r in rows]) if rows else (0, [])


def _run_rules(
    con: duckdb.DuckDBPyConnection, view: str, frame: pd.DataFrame, rules: Sequence[Rule]
) -> list[Problem | None]:
    """The problem of each rule (None when it holds), in order: one scan counts them all.

    Only a broken rule costs a second query (its count and first positions).
    """
    if not rules:
        return []
    counts = con.sql(
        "SELECT "
        + ", ".join(f"count(*) FILTER (WHERE {r.condition})" for r in rules)
        + f" FROM {view}"
    ).fetchall()[0]
    problems: list[Problem | None] = []
    for rule, count in zip(rules, counts, strict=True):
        problem = None
        if count:
            total, positions = _offending(con, view, rule.condition)
            problem = positions_problem(frame, positions, total, rule.column, rule.rule, rule.show)
        problems.append(problem)
    return problems


def _duplicates(
    con: duckdb.DuckDBPyConnection, view: str, keys: Sequence[str]
) -> dict[str, tuple[int, list[int]]]:
    """Per key column: the rows whose ``keys`` occur more than once and whose cell in that
    column is filled (count, first positions).

    Empty keys count as equal (pandas ``duplicated``), but like pandera's failure cases a row
    is reported under a key column only where that cell is filled: a single-column key never
    reports empty cells (the not-null rule does), and a compound key gives one problem per
    key column (the same problem twice when no key cell is empty; the error lists it once).
    """
    cols = ", ".join(q(k) for k in keys)
    filled = f"WHERE {q(keys[0])} IS NOT NULL " if len(keys) == 1 else ""
    dup = f"SELECT {cols} FROM {view} {filled}GROUP BY ALL HAVING count(*) > 1"
    groups = con.sql(f"SELECT count(*) FROM ({dup})").fetchall()[0][0]
    if not groups:  # the usual case: one aggregation, no join
        return {k: (0, []) for k in keys}
    match = " AND ".join(f"t.{q(k)} IS NOT DISTINCT FROM d.{q(k)}" for k in keys)
    con.sql(
        f"CREATE OR REPLACE TEMP TABLE dup_rows AS WITH d AS ({dup}) "
        f"SELECT t.{POS}, {', '.join(f't.{q(k)}' for k in keys)} "
        f"FROM {view} t SEMI JOIN d ON {match}"
    )
    return {k: _offending(con, "dup_rows", f"{q(k)} IS NOT NULL") for k in keys}


def check_schema(frame: pd.DataFrame, table: Table) -> list[Problem]:
    """Column-level rules of the contract (as :func:`helpers.validation.check_schema`).

    Not-null, allowed values and bounds of every column are conditions counted in one scan;
    unique columns and the compound key are a GROUP BY each (joined back to the rows only when
    a value repeats).
    """
    present = [c for c in table.columns if c.name in frame.columns]
    key = [k for k in table.key if k in frame.columns]
    nulls: dict[str, Rule] = {}
    checks: dict[str, list[Rule]] = {}
    for col in present:
        name = q(col.name)
        if not col.nullable:
            rule = CHECK_WORDS["not_nullable"]
            if col.dtype in ("string", "category") and not col.unique and col.name not in table.key:
                rule += (
                    f"; if the export leaves it empty on purpose, set 'fill_empty: "
                    f"{{{col.name}: unknown}}' for this table in the source YAML"
                )
            nulls[col.name] = Rule(f"{name} IS NULL", col.name, rule)
        own = checks.setdefault(col.name, [])
        if col.accepted is not None:
            allowed = ", ".join(_literal(v) for v in col.accepted)
            condition = f"{name} IS NOT NULL AND {name} NOT IN ({allowed})"
            own.append(Rule(condition, col.name, describe_check("isin", table, col.name)))
        if col.min_value is not None:
            words = describe_check(f"greater_than_or_equal_to({col.min_value})", table, col.name)
            own.append(Rule(f"{name} < {_literal(col.min_value)}", col.name, words))
        if col.max_value is not None:
            words = describe_check(f"less_than_or_equal_to({col.max_value})", table, col.name)
            own.append(Rule(f"{name} > {_literal(col.max_value)}", col.name, words))
    problems: list[Problem | None] = []
    with _connection() as con:
        _register(con, "t", frame, [c.name for c in present])
        rules = list(nulls.values()) + [r for own in checks.values() for r in own]
        found = dict(zip(rules, _run_rules(con, "t", frame, rules), strict=True))
        if len(key) > 1:
            column = ", ".join(table.key)
            rule = f"duplicate key ({column}): each key must appear once"
            for total, positions in _duplicates(con, "t", key).values():
                problems.append(positions_problem(frame, positions, total, column, rule, table.key))
        for col in present:
            problems.append(found.get(nulls.get(col.name)))  # type: ignore[arg-type]
            if col.unique:
                total, positions = _duplicates(con, "t", [col.name])[col.name]
                rule = CHECK_WORDS["field_uniqueness"]
                problems.append(positions_problem(frame, positions, total, col.name, rule))
            problems += [found[r] for r in checks[col.name]]
    return [p for p in problems if p is not None]


def check_rows(tables: dict[str, pd.DataFrame], findings: Findings) -> None:
    """Rules inside one table (as :func:`helpers.validation.check_rows`): returns, touch
    targets, closed deals (errors) and stages dated before the lead (warnings)."""
    rules: dict[str, list[tuple[list[Problem], Rule]]] = {}
    if "orders" in tables:
        rules["orders"] = [
            (
                findings.errors,
                Rule(
                    "net_amount < 0 AND status IS DISTINCT FROM 'returned'",
                    "net_amount",
                    "negative amounts on lines not marked as returns (status must be 'returned')",
                    ("order_id", "net_amount", "status"),
                ),
            )
        ]
    if "touchpoints" in tables:
        rules["touchpoints"] = [
            (
                findings.errors,
                Rule(
                    "lead_id IS NULL AND account_id IS NULL",
                    "lead_id",
                    "neither lead_id nor account_id is filled",
                ),
            )
        ]
    if "leads" in tables:
        both = Rule(
            "won_date IS NOT NULL AND lost_date IS NOT NULL",
            "won_date",
            "leads both won and lost",
            ("lead_id", "won_date"),
        )
        rules["leads"] = [(findings.errors, both)] + [
            (
                findings.warnings,
                Rule(
                    f"{stage} < created_date",
                    stage,
                    "stage dated before the lead was created",
                    ("lead_id", stage),
                ),
            )
            for stage in (
                "intent_date",
                "proposal_date",
                "negotiation_date",
                "won_date",
                "lost_date",
            )
        ]
    with _connection() as con:
        for name, pairs in rules.items():
            frame = tables[name]
            _register(con, name, frame, ROW_RULE_COLUMNS[name])
            found = _run_rules(con, name, frame, [r for _, r in pairs])
            for (bucket, _), problem in zip(pairs, found, strict=True):
                _add(bucket, problem)


def check_references(tables: dict[str, pd.DataFrame], findings: Findings) -> None:
    """Rules across tables (as :func:`helpers.validation.check_references`): orders of known
    accounts (errors), leads of known accounts and touchpoints of known leads (warnings), spend
    for channels that leads or accounts name (errors)."""
    accounts = tables.get("accounts")
    orders = tables.get("orders")
    leads = tables.get("leads")
    touch = tables.get("touchpoints")
    with _connection() as con:
        for name, frame, columns in (
            ("accounts", accounts, ["account_id"]),
            ("orders", orders, ["order_id", "account_id"]),
            ("leads", leads, ["lead_id", "account_id"]),
            ("touchpoints", touch, ["lead_id"]),
        ):
            if frame is not None:
                _register(con, name, frame, columns)

        def unknown(column: str, other: str, other_column: str) -> str:
            return (
                f"{column} IS NOT NULL AND {column} NOT IN "
                f"(SELECT {other_column} FROM {other} WHERE {other_column} IS NOT NULL)"
            )

        if accounts is not None and orders is not None:
            rule = Rule(
                unknown("account_id", "accounts", "account_id"),
                "account_id",
                f"order lines for accounts not in {accounts.attrs.get('file', 'accounts')}",
                ("order_id", "account_id"),
            )
            _add(findings.errors, _run_rules(con, "orders", orders, [rule])[0])
        if accounts is not None and leads is not None:
            rule = Rule(
                unknown("account_id", "accounts", "account_id"),
                "account_id",
                "converted leads whose account is not in accounts",
            )
            _add(findings.warnings, _run_rules(con, "leads", leads, [rule])[0])
        if touch is not None and leads is not None:
            rule = Rule(
                unknown("lead_id", "leads", "lead_id"),
                "lead_id",
                "touchpoints for leads not in leads",
            )
            _add(findings.warnings, _run_rules(con, "touchpoints", touch, [rule])[0])
    check_spend_channels(tables, findings)  # pandas: one row per channel and month


def check_not_after(
    tables: dict[str, pd.DataFrame],
    analysis_date: pd.Timestamp,
    findings: Findings,
) -> None:
    """No record dated after the analysis (export) date (as
    :func:`helpers.validation.check_not_after`): one scan per table for all its date columns."""
    limit_day = analysis_date.normalize()
    with _connection() as con:
        for name, frame in tables.items():
            dates = [
                c.name
                for c in TABLES[name].columns
                if c.dtype in ("date", "datetime") and c.name in frame.columns
            ]
            rules = [
                Rule(
                    f"CAST({q(c)} AS DATE) > DATE '{limit_day:%Y-%m-%d}'",
                    c,
                    f"dates after the analysis date {limit_day:%Y-%m-%d}",
                )
                for c in dates
            ]
            _register(con, name, frame, dates)
            for problem in _run_rules(con, name, frame, rules):
                _add(findings.errors, problem)


def _add(bucket: list[Problem], problem: Problem | None) -> None:
    if problem is not None:
        bucket.append(problem)
