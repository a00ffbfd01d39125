"""Checks that stand between a company's exports and the analysis.

Every problem is reported with the file, the column, the rule and example rows (file line
numbers for CSV and Excel, 1-based row numbers for Parquet), and all problems of a load are
reported together, so that one fix-and-rerun cycle is enough. Column-level rules (empty cells,
allowed values, bounds, unique keys) are pandera schemas generated from :mod:`helpers.contract`;
the rules that span rows or tables (returns, unknown accounts, future dates, unknown spend
channels) are plain functions below, because they need the file context in their messages.

Loads run the same rules as DuckDB SQL (:mod:`helpers.loading.checks_sql`): on a company of 95k
accounts and 5.6M rows the pandas rules below took 31 s of a 75 s load (cProfile, busy machine),
mostly ``isin`` and uniqueness passes over Python strings. The pandas functions here (:func:`check_schema`,
:func:`check_rows`, :func:`check_references`, :func:`check_not_after`) stay as the reference
that defines the messages: ``tests/test_checks_sql.py`` holds the SQL rules to them, and
``benchmarks/bench_validation.py`` times both.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from helpers.contract import TABLES, Table

if TYPE_CHECKING:
    import pandera.pandas as pa

#: How many example rows an error message shows.
MAX_EXAMPLES = 5

#: Hidden column that carries each row's position in its file (see ``row_label``).
ROW_COLUMN = "_source_row"


@dataclass(frozen=True)
class Problem:
    """One broken rule: where it is (file, column), what it is, and which rows show it."""

    file: str
    column: str | None
    rule: str
    rows: tuple[str, ...] = ()
    count: int = 0

    def __str__(self) -> str:
        where = f"{self.file}" + (f", column '{self.column}'" if self.column else "")
        text = f"{where}: {self.rule}"
        if self.count:
            text += f" ({self.count} row{'s' if self.count != 1 else ''}"
            if self.rows:
                text += ", e.g. " + "; ".join(self.rows)
            text += ")"
        return text


class DataValidationError(ValueError):
    """Raised when input data breaks the contract. ``problems`` lists every broken rule."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(dict.fromkeys(problems))  # each problem once, in order
        lines = [f"{len(self.problems)} problem(s) in the input data:"]
        lines += [f"  - {p}" for p in self.problems]
        lines.append("Raw files were not changed. Fix the export or the YAML mapping and rerun.")
        super().__init__("\n".join(lines))


class MissingTableError(LookupError):
    """Raised when an analysis needs a table that the data source does not provide."""


@dataclass
class Findings:
    """Problems (errors) and warnings collected during one load."""

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def raise_if_errors(self) -> None:
        """Raise :class:`DataValidationError` with every error collected so far."""
        if self.errors:
            raise DataValidationError(self.errors)


def row_label(frame: pd.DataFrame, index: object) -> str:
    """How a row is named in messages: ``line 7`` for CSV/Excel, ``row 6`` for Parquet."""
    word = frame.attrs.get("row_word", "row")
    if ROW_COLUMN in frame.columns:
        return f"{word} {int(frame.at[index, ROW_COLUMN])}"
    return f"{word} {index}"


def rows_problem(
    frame: pd.DataFrame,
    mask: pd.Series,
    column: str | None,
    rule: str,
    show: str | Iterable[str] | None = None,
) -> Problem | None:
    """A :class:`Problem` for the rows where ``mask`` is true, or None when there are none.

    ``show`` names the column(s) whose values are quoted next to each example row.
    """
    flags = mask.fillna(False).astype(bool).to_numpy()
    positions = np.flatnonzero(flags)
    return positions_problem(frame, positions[:MAX_EXAMPLES], len(positions), column, rule, show)


def positions_problem(
    frame: pd.DataFrame,
    positions: Sequence[int],
    count: int,
    column: str | None,
    rule: str,
    show: str | Iterable[str] | None = None,
) -> Problem | None:
    """The :class:`Problem` of :func:`rows_problem`, from where the offending rows are.

    ``positions`` are 0-based positions in ``frame`` of the first offending rows in frame
    order (at most :data:`MAX_EXAMPLES` are shown), ``count`` how many rows offend in all; for
    checks that find the rows elsewhere (a DuckDB query, :mod:`helpers.loading.checks_sql`)
    and must word the problem exactly as :func:`rows_problem` does. None when ``count`` is 0.
    """
    if not count:
        return None
    show_cols = [show] if isinstance(show, str) else list(show or ([column] if column else []))
    examples = []
    for idx in frame.index[list(positions)[:MAX_EXAMPLES]]:
        label = row_label(frame, idx)
        values = ", ".join(f"{c}={_fmt(frame.at[idx, c])}" for c in show_cols if c in frame.columns)
        examples.append(f"{label} ({values})" if values else label)
    return Problem(frame.attrs.get("file", "?"), column, rule, tuple(examples), int(count))


def _fmt(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return "<empty>"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d") if value == value.normalize() else str(value)
    return repr(value) if isinstance(value, str) else str(value)


def schema_for(table: Table, present: Iterable[str]) -> pa.DataFrameSchema:
    """pandera schema for the columns of ``table`` that are present (types already coerced)."""
    # imported here: the loads validate in DuckDB (helpers.loading.checks_sql), so pandera (the
    # pandas reference) is not needed by a notebook's kernel; importing it costs ~0.6 s
    import pandera.pandas as pa

    present = set(present)
    columns = {}
    for col in table.columns:
        if col.name not in present:
            continue
        checks = []
        if col.accepted is not None:
            checks.append(pa.Check.isin(list(col.accepted)))
        if col.min_value is not None:
            checks.append(pa.Check.ge(col.min_value))
        if col.max_value is not None:
            checks.append(pa.Check.le(col.max_value))
        columns[col.name] = pa.Column(
            nullable=col.nullable, unique=col.unique, checks=checks, required=False
        )
    key = [k for k in table.key if k in present]
    compound = key if len(key) > 1 else None
    return pa.DataFrameSchema(columns, unique=compound, report_duplicates="all", name=table.name)


#: How the pandera checks without parameters read in messages.
CHECK_WORDS = {
    "not_nullable": "empty cells in a column that must be filled",
    "field_uniqueness": "duplicate values in a column that must be unique",
    "multiple_fields_uniqueness": "duplicate keys",
}


def check_schema(frame: pd.DataFrame, table: Table) -> list[Problem]:
    """Column-level rules of the contract (pandera, lazy: all failures at once)."""
    from pandera.errors import SchemaErrors

    schema = schema_for(table, frame.columns)
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        return _problems_from_pandera(frame, table, exc.failure_cases)
    return []


def _problems_from_pandera(frame: pd.DataFrame, table: Table, cases: pd.DataFrame) -> list[Problem]:
    problems = []
    for (column, check), group in cases.groupby(["column", "check"], sort=False, dropna=False):
        column = None if pd.isna(column) else str(column)
        check = str(check)
        idx = pd.Index(group["index"].dropna().unique())
        mask = frame.index.isin(idx)
        if check == "multiple_fields_uniqueness" or column == table.name:
            column = ", ".join(table.key)
            rule = f"duplicate key ({column}): each key must appear once"
            show: list[str] = list(table.key)
        else:
            rule = CHECK_WORDS.get(check, describe_check(check, table, column))
            show = [column] if column else []
            if check == "not_nullable" and column in table.names:
                col = table.column(column)
                if (
                    col.dtype in ("string", "category")
                    and not col.unique
                    and column not in (table.key)
                ):
                    rule += (
                        f"; if the export leaves it empty on purpose, set 'fill_empty: "
                        f"{{{column}: unknown}}' for this table in the source YAML"
                    )
        problem = rows_problem(frame, pd.Series(mask, index=frame.index), column, rule, show)
        if problem is None:  # a failure pandera could not tie to a row
            problem = Problem(frame.attrs.get("file", "?"), column, rule)
        problems.append(problem)
    return problems


def describe_check(check: str, table: Table, column: str | None) -> str:
    """How a pandera check (``isin(...)``, ``greater_than_or_equal_to(0)``, ...) reads."""
    if column and check.startswith("isin"):
        allowed = table.column(column).accepted or ()
        return "values outside the allowed list " + ", ".join(allowed)
    if check.startswith("greater_than_or_equal_to"):
        return f"values below the minimum {check.split('(')[-1].rstrip(')')}"
    if check.startswith("less_than_or_equal_to"):
        return f"values above the maximum {check.split('(')[-1].rstrip(')')}"
    return f"fails check {check}"


# --- rules that span rows or tables -------------------------------------------------------


def check_rows(tables: dict[str, pd.DataFrame], findings: Findings) -> None:
    """Row-level rules inside one table: returns, touch targets, closed deals."""
    orders = tables.get("orders")
    if orders is not None:
        bad = (orders["net_amount"] < 0) & (orders["status"] != "returned")
        _add(
            findings.errors,
            rows_problem(
                orders,
                bad,
                "net_amount",
                "negative amounts on lines not marked as returns (status must be 'returned')",
                ["order_id", "net_amount", "status"],
            ),
        )
    touch = tables.get("touchpoints")
    if touch is not None:
        bad = touch["lead_id"].isna() & touch["account_id"].isna()
        _add(
            findings.errors,
            rows_problem(touch, bad, "lead_id", "neither lead_id nor account_id is filled"),
        )
    leads = tables.get("leads")
    if leads is not None:
        both = leads["won_date"].notna() & leads["lost_date"].notna()
        _add(
            findings.errors,
            rows_problem(
                leads, both, "won_date", "leads both won and lost", ["lead_id", "won_date"]
            ),
        )
        for stage in ("intent_date", "proposal_date", "negotiation_date", "won_date", "lost_date"):
            early = leads[stage] < leads["created_date"]
            _add(
                findings.warnings,
                rows_problem(
                    leads,
                    early,
                    stage,
                    "stage dated before the lead was created",
                    ["lead_id", stage],
                ),
            )


def check_references(tables: dict[str, pd.DataFrame], findings: Findings) -> None:
    """Rules across tables: known accounts, known leads, spend channels that exist."""
    accounts = tables.get("accounts")
    orders = tables.get("orders")
    if accounts is not None and orders is not None:
        known = set(accounts["account_id"].dropna())
        unknown = ~orders["account_id"].isin(known) & orders["account_id"].notna()
        _add(
            findings.errors,
            rows_problem(
                orders,
                unknown,
                "account_id",
                f"order lines for accounts not in {accounts.attrs.get('file', 'accounts')}",
                ["order_id", "account_id"],
            ),
        )
    leads = tables.get("leads")
    if accounts is not None and leads is not None:
        known = set(accounts["account_id"].dropna())
        unknown = leads["account_id"].notna() & ~leads["account_id"].isin(known)
        _add(
            findings.warnings,
            rows_problem(
                leads, unknown, "account_id", "converted leads whose account is not in accounts"
            ),
        )
    touch = tables.get("touchpoints")
    if touch is not None and leads is not None:
        unknown = touch["lead_id"].notna() & ~touch["lead_id"].isin(set(leads["lead_id"]))
        _add(
            findings.warnings,
            rows_problem(touch, unknown, "lead_id", "touchpoints for leads not in leads"),
        )
    check_spend_channels(tables, findings)


def check_spend_channels(tables: dict[str, pd.DataFrame], findings: Findings) -> None:
    """Every channel of ``channel_spend`` is named by some lead (``source_channel``) or account
    (``acquisition_channel``); an unknown one is an error with a did-you-mean hint. In pandas
    for every loader (:mod:`helpers.loading.checks_sql` calls it too): the spend table has one
    row per channel and month, and the hint needs difflib."""
    spend = tables.get("channel_spend")
    leads, accounts = tables.get("leads"), tables.get("accounts")
    if spend is not None and (leads is not None or accounts is not None):
        # distinct values first: a set of the column itself makes a Python string per cell
        # (10^6-10^7 leads, ~12 s of a 1M-account load)
        known_channels: set[str] = set()
        if leads is not None:
            known_channels |= set(leads["source_channel"].dropna().unique())
        if accounts is not None:
            known_channels |= set(accounts["acquisition_channel"].dropna().unique())
        for channel in sorted(set(spend["channel"].dropna()) - known_channels):
            close = difflib.get_close_matches(channel, sorted(known_channels), n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            source = "leads or accounts" if leads is not None else "accounts"
            problem = rows_problem(
                spend,
                spend["channel"] == channel,
                "channel",
                f"spend for channel '{channel}', which no {source} row names{hint}",
                ["channel", "month"],
            )
            _add(findings.errors, problem)


def check_not_after(
    tables: dict[str, pd.DataFrame], analysis_date: pd.Timestamp, findings: Findings
) -> None:
    """No record may be dated after the analysis (export) date."""
    limit_day = analysis_date.normalize()
    for name, frame in tables.items():
        for col in TABLES[name].columns:
            if col.dtype not in ("date", "datetime") or col.name not in frame.columns:
                continue
            values = frame[col.name]
            late = values.dt.normalize() > limit_day
            _add(
                findings.errors,
                rows_problem(
                    frame,
                    late,
                    col.name,
                    f"dates after the analysis date {limit_day:%Y-%m-%d}",
                ),
            )


def _add(bucket: list[Problem], problem: Problem | None) -> None:
    if problem is not None:
        bucket.append(problem)
