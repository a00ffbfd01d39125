"""The data contract: five tables as a B2B company exports them from CRM, ERP and marketing tools.

This module is the single source of truth for column names, types, units and meaning. The
pandera schemas in :mod:`helpers.validation` and the column tables in ``data/README.md`` are
both generated from it (``python -m helpers.contract`` prints the Markdown; a test checks that
``data/README.md`` carries the current version).

Conventions: money is in the company's reporting currency (one currency per data set, no
conversion is done); dates are calendar days (no time zone); ``touched_at`` is a timestamp
(naive, local time of the export). Category values are lower-case snake case; a YAML mapping
can recode a company's own spellings onto them (see :mod:`helpers.loading`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Literal

DType = Literal["string", "float", "int", "date", "datetime", "category"]

SIZE_BANDS: tuple[str, ...] = ("micro", "small", "medium", "large", "enterprise")
OWNERSHIP_TYPES: tuple[str, ...] = ("state_owned", "private", "individual_business")
BUSINESS_TYPES: tuple[str, ...] = ("brand_owner", "trader_reseller")
ORDER_STATUSES: tuple[str, ...] = ("completed", "cancelled", "returned")
TOUCH_KINDS: tuple[str, ...] = (
    "ad_click",
    "site_visit",
    "inquiry",
    "content_download",
    "email",
    "call",
    "demo",
    "meeting",
    "trade_show_visit",
)
#: Accepted in every closed category list except the order status (whose value decides how
#: an order line counts): an export that does not know a company's size band says so.
UNKNOWN = "unknown"
#: Funnel stages in order; each has a ``<stage>_date`` column in ``leads``.
FUNNEL_STAGES: tuple[str, ...] = ("intent", "proposal", "negotiation", "won")


@dataclass(frozen=True)
class Column:
    """One column of the contract.

    ``required`` means the column must be present in the file; ``nullable`` means a present
    column may have empty cells. ``allowed`` lists the category values; ``min_value`` and
    ``max_value`` bound numbers (inclusive).
    """

    name: str
    dtype: DType
    unit: str
    meaning: str
    required: bool = True
    nullable: bool = False
    unique: bool = False
    allowed: tuple[str, ...] | None = None
    min_value: float | None = None
    max_value: float | None = None

    @property
    def accepted(self) -> tuple[str, ...] | None:
        """The values a category column accepts: its list plus :data:`UNKNOWN` (not status)."""
        if self.allowed is None:
            return None
        return self.allowed if self.allowed == ORDER_STATUSES else (*self.allowed, UNKNOWN)


@dataclass(frozen=True)
class Table:
    """One table of the contract: its grain, columns and the key that must be unique."""

    name: str
    grain: str
    source: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]

    def column(self, name: str) -> Column:
        """The column called ``name`` (KeyError if the contract has none)."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"table {self.name!r} has no column {name!r}")

    @property
    def names(self) -> list[str]:
        """All column names, in contract order."""
        return [c.name for c in self.columns]

    @property
    def required_names(self) -> list[str]:
        """Names of the columns that must be present in the file."""
        return [c.name for c in self.columns if c.required]


ACCOUNTS = Table(
    name="accounts",
    grain="one row per customer company",
    source="CRM",
    key=("account_id",),
    columns=(
        Column("account_id", "string", "-", "Customer company identifier", unique=True),
        Column("account_name", "string", "-", "Company name as shown to sales"),
        Column("industry", "string", "-", "Industry of the customer (company's own list)"),
        Column("size_band", "category", "-", "Company size band", allowed=SIZE_BANDS),
        Column("region", "string", "-", "Sales region (the unit most reports are cut by)"),
        Column("country", "string", "-", "Country", required=False, nullable=True),
        Column(
            "business_line",
            "string",
            "-",
            "Business line that owns the account",
            required=False,
            nullable=True,
        ),
        Column("ownership_type", "category", "-", "Ownership", allowed=OWNERSHIP_TYPES),
        Column(
            "business_type",
            "category",
            "-",
            "Brand owner or trader/reseller",
            allowed=BUSINESS_TYPES,
        ),
        Column(
            "acquisition_channel",
            "string",
            "-",
            "Marketing or sales channel that brought the account (same names as leads/spend)",
        ),
        Column("acquired_date", "date", "day", "Date the account became a customer"),
        Column(
            "sales_rep",
            "string",
            "-",
            "Owning sales representative",
            required=False,
            nullable=True,
        ),
    ),
)

ORDERS = Table(
    name="orders",
    grain="one row per order line (or per order when lines are not exported)",
    source="ERP / order system",
    key=("order_id", "line_number"),
    columns=(
        Column("order_id", "string", "-", "Order identifier (repeats across the order's lines)"),
        Column(
            "line_number",
            "int",
            "-",
            "Line within the order; defaults to 1 when the export has one row per order",
            required=False,
            min_value=1,
        ),
        Column("account_id", "string", "-", "Buying account; must exist in accounts"),
        Column("order_date", "date", "day", "Date the order was placed"),
        Column(
            "net_amount",
            "float",
            "currency",
            "Net revenue of the line after discounts, before tax; negative only for returns",
        ),
        Column(
            "gross_margin",
            "float",
            "currency",
            "Gross margin of the line (net amount minus cost of goods)",
            required=False,
            nullable=True,
        ),
        Column("quantity", "float", "units", "Quantity ordered (product units)", min_value=0),
        Column("product_category", "string", "-", "Product category of the line"),
        Column("status", "category", "-", "Order status", allowed=ORDER_STATUSES),
    ),
)

LEADS = Table(
    name="leads",
    grain="one row per sales opportunity",
    source="CRM",
    key=("lead_id",),
    columns=(
        Column("lead_id", "string", "-", "Opportunity identifier", unique=True),
        Column(
            "account_id",
            "string",
            "-",
            "Account the lead became; empty until converted",
            required=False,
            nullable=True,
        ),
        Column("source_channel", "string", "-", "Channel the lead came from"),
        Column("created_date", "date", "day", "Date the lead was created"),
        Column(
            "intent_date",
            "date",
            "day",
            "Date purchase intent was confirmed; empty if never reached",
            required=False,
            nullable=True,
        ),
        Column(
            "proposal_date",
            "date",
            "day",
            "Date a proposal was sent; empty if never reached",
            required=False,
            nullable=True,
        ),
        Column(
            "negotiation_date",
            "date",
            "day",
            "Date negotiation started; empty if never reached",
            required=False,
            nullable=True,
        ),
        Column("won_date", "date", "day", "Date the deal was closed-won", nullable=True),
        Column(
            "lost_date",
            "date",
            "day",
            "Date the deal was closed-lost",
            required=False,
            nullable=True,
        ),
        Column(
            "data_completeness",
            "float",
            "share 0-1",
            "Share of the lead's base data fields that are filled in",
            required=False,
            nullable=True,
            min_value=0,
            max_value=1,
        ),
        Column(
            "region",
            "string",
            "-",
            "Region of the prospect (lets region slices keep unconverted leads)",
            required=False,
            nullable=True,
        ),
        Column(
            "business_line",
            "string",
            "-",
            "Business line the lead is for",
            required=False,
            nullable=True,
        ),
        Column(
            "size_band",
            "category",
            "-",
            "Prospect size band",
            required=False,
            nullable=True,
            allowed=SIZE_BANDS,
        ),
        Column("industry", "string", "-", "Prospect industry", required=False, nullable=True),
    ),
)

TOUCHPOINTS = Table(
    name="touchpoints",
    grain="one row per marketing or sales interaction",
    source="marketing automation / CRM activity log",
    key=("touchpoint_id",),
    columns=(
        Column(
            "touchpoint_id",
            "string",
            "-",
            "Interaction identifier; generated from the row number when absent",
            required=False,
            unique=True,
        ),
        Column(
            "lead_id",
            "string",
            "-",
            "Lead touched (lead_id or account_id must be filled)",
            required=False,
            nullable=True,
        ),
        Column(
            "account_id",
            "string",
            "-",
            "Account touched (lead_id or account_id must be filled)",
            required=False,
            nullable=True,
        ),
        Column("channel", "string", "-", "Channel of the interaction"),
        Column("touched_at", "datetime", "timestamp", "When the interaction happened"),
        Column("kind", "category", "-", "Kind of interaction", allowed=TOUCH_KINDS),
    ),
)

CHANNEL_SPEND = Table(
    name="channel_spend",
    grain="one row per channel and month",
    source="marketing finance",
    key=("channel", "month"),
    columns=(
        Column("channel", "string", "-", "Paid channel (same names as in leads)"),
        Column("month", "date", "month", "Month of the spend (any day; stored as the 1st)"),
        Column("spend", "float", "currency", "Marketing spend in the month", min_value=0),
        Column(
            "impressions",
            "float",
            "count",
            "Ad impressions",
            required=False,
            nullable=True,
            min_value=0,
        ),
        Column("clicks", "float", "count", "Ad clicks", required=False, nullable=True, min_value=0),
    ),
)

TABLES: dict[str, Table] = {
    t.name: t for t in (ACCOUNTS, ORDERS, LEADS, TOUCHPOINTS, CHANNEL_SPEND)
}


def markdown() -> str:
    """The contract as Markdown tables, one section per table (the body of ``data/README.md``)."""
    out: list[str] = []
    for table in TABLES.values():
        out.append(f"### `{table.name}`: {table.grain}")
        out.append("")
        out.append(f"Source: {table.source}. Unique key: `{', '.join(table.key)}`.")
        out.append("")
        out.append("| column | type | unit | required | empty cells | meaning |")
        out.append("| --- | --- | --- | --- | --- | --- |")
        for c in table.columns:
            meaning = c.meaning
            if c.allowed:
                meaning += ": " + ", ".join(f"`{v}`" for v in c.allowed)
                if c.accepted != c.allowed:
                    meaning += f" (or `{UNKNOWN}`)"
            bounds = []
            if c.min_value is not None:
                bounds.append(f">= {c.min_value:g}")
            if c.max_value is not None:
                bounds.append(f"<= {c.max_value:g}")
            if bounds:
                meaning += f" ({' and '.join(bounds)})"
            if c.unique:
                meaning += " (unique)"
            out.append(
                f"| `{c.name}` | {c.dtype} | {c.unit} | {'yes' if c.required else 'no'} "
                f"| {'allowed' if c.nullable else 'not allowed'} | {meaning} |"
            )
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover - used to refresh data/README.md
    sys.stdout.write(markdown())
