"""Attribution paths built in the engine: touches joined to their lead's outcome and windowed
there; the touches inside the windows come back as Arrow and are ordered, numbered and capped
with numpy on integer ranks (:func:`_number`). The rows are read from the engine batch by batch
and each batch is reduced to compact numpy columns as it arrives (:func:`_read`): read whole, the
~30M rows of a 1M-account company took :func:`build_paths` from 3.9 GB to a 9.9 GB peak (64 s);
read in batches, from 4.2 GB to 6.7 GB (36 s; docs/benchmarks.md, "Scale").

The rule models and the Markov removal effect (:mod:`helpers.attribution`) need, for every
path, its touches in order (channel, position, length, days before the path's end) and whether
it converted. Joining millions of touchpoints to the leads and keeping those inside each lead's
window is the heavy part: it runs in the engine of the loaded data (DuckDB by
default, a Spark session or a warehouse; :mod:`helpers.engine`), as :mod:`helpers.features`
does for the per-account features. The engine returns every touch inside a window (a path longer
than ``max_touches`` is cut afterwards, so a few more rows travel than are kept).

Definitions (unchanged from the pandas version this replaces; :func:`build_paths`):

* A path ends at the lead's conversion (up to ``as_of``), else at its loss (up to ``as_of``);
  a lead with neither is *open* and left out. When the leads have no lost date at all, every
  lead not converted is a non-converter whose path ends on ``as_of``.
* The path's end day is included whole: touches before the end's timestamp + 1 day count, and
  none earlier than ``window_days + 1`` days before that.
* Touches are ordered by time, then channel; a longer path keeps its last ``max_touches``.
* ``days_before`` is (end + 1 day - touched_at) in days (fractional). On Spark the epoch
  difference is in whole seconds (the loaded data is).
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from helpers import engine as engines
from helpers.attribution_codes import as_arrow_text
from helpers.features import as_table


@dataclass
class Paths:
    """Touches in attribution order: ``touches`` has lead_id, channel (both categorical: text
    categories in code-point order; the lead ids' are ``str``, the channels' object),
    position, n, days_before and converted; ``truncated`` counts paths cut to
    ``max_touches``; ``open`` the leads left out because they were still open (neither
    converted nor lost) on the analysis date; ``no_lost`` is True when the leads have no lost
    date at all (then none is open: a lead not converted is a non-converter whose path ends on
    the analysis date)."""

    touches: pd.DataFrame
    n_paths: int
    n_converted: int
    truncated: int
    open: int = 0
    no_lost: bool = False


#: The pandas dtype of the lead ids' categories (the loaded data's text dtype,
#: :data:`helpers.loading.TEXT`; not imported from there, which imports much more).
TEXT = pd.StringDtype("pyarrow", na_value=np.nan)

#: Columns of :attr:`Paths.touches`, in order, with their pandas dtypes.
TOUCH_COLUMNS: dict[str, str] = {
    "lead_id": "category",
    "channel": "category",
    "position": "int64",
    "n": "int64",
    "days_before": "float64",
    "converted": "bool",
}


def _outcomes(
    leads: ibis.Table, conversion: ibis.Table, as_of: pd.Timestamp, no_lost: bool
) -> ibis.Table:
    """Per lead: ``stop`` (when its path ends; null for an open lead) and ``converted``."""
    day = ibis.literal(as_of.to_pydatetime(), type="timestamp")
    joined = leads.left_join(conversion, "lead_id")
    conv, lost = joined.converted_at, joined.lost_date
    end = ibis.ifelse(conv <= day, conv, ibis.null("timestamp"))
    # a loss after the analysis date is not known on it: such a lead is still open
    other = day if no_lost else ibis.ifelse(lost <= day, lost, ibis.null("timestamp"))
    keys = [c for c in ("lead_id", "lead_rank") if c in leads.columns]
    return joined.select(
        *keys, stop=ibis.coalesce(end, other), converted=conv.notnull().fill_null(False)
    )


def build_paths(
    touchpoints: object,
    leads: object,
    conversion: pd.Series,
    as_of: pd.Timestamp,
    window_days: int = 90,
    max_touches: int = 20,
    engine: engines.Engine | str | None = None,
) -> Paths:
    """The attribution paths of ``leads`` (see the module docstring), built in the engine.

    ``touchpoints`` (lead_id, channel, touched_at) and ``leads`` (lead_id, optional lost_date)
    are pandas frames or Ibis tables; ``conversion`` maps lead_id to its conversion timestamp
    (NaT = did not convert; pass only conversions up to ``as_of``). A non-converting path ends
    at the lead's loss date; a lead neither converted nor lost by ``as_of`` is still open and
    left out (counted in ``open``): its outcome is not known, so it is no non-converter. No
    touch after ``as_of`` counts. When the leads have no lost date at all (the export keeps
    none), open and lost cannot be told apart: every lead not converted is a non-converter
    whose path ends on ``as_of`` (``no_lost``). ``engine``: where it runs (None: the engine the
    frames carry, else DuckDB). Touches come back sorted by lead_id and position.
    """
    engine = engines.resolve(engine, touchpoints, leads)
    lead_cols = [c for c in ("lead_id", "lost_date") if c in leads.columns]
    names = None  # the leads' ids in rank order, when the engine numbers the touches by them
    if isinstance(leads, pd.DataFrame):
        ranked, names = _lead_ranks(leads["lead_id"])
        people = as_table(leads[lead_cols].assign(lead_rank=ranked), engine=engine)
    else:
        people = as_table(leads, lead_cols, engine)
    if "lost_date" not in lead_cols:
        people = people.mutate(lost_date=ibis.null("timestamp"))
    people = people.mutate(lost_date=people.lost_date.cast("timestamp"))
    conv = pd.DataFrame(
        {
            # Arrow text stays Arrow (no Python string per lead); object ids stay objects
            "lead_id": conversion.index.array,
            "converted_at": pd.to_datetime(conversion.to_numpy()),
        }
    )
    conv = conv.astype({"converted_at": "datetime64[ns]"})
    conv_t = engines.memtable(conv, ["lead_id", "converted_at"])  # one conversion to Arrow
    counts = engines.to_pandas(people.aggregate(lost=people.lost_date.count()), engine)
    no_lost = int(counts["lost"].iloc[0]) == 0
    outcome = _outcomes(people, conv_t, as_of, no_lost)

    t = as_table(touchpoints, ("lead_id", "channel", "touched_at"), engine)
    t = t.filter(t.lead_id.notnull()).select(
        "lead_id", "channel", touched_at=t.touched_at.cast("timestamp")
    )
    window, n_open = _read(_window_expr(t, outcome, window_days), engine, names)
    # the touchpoints (at 1M accounts 36M rows, 1.9 GB, and their upload) are not needed for
    # the numbering: freed before it, when the caller holds no other reference to them
    del t, touchpoints
    engines.drop_dead_memtables()
    touches, cut = _number(window, max_touches)
    first = touches["position"].to_numpy() == 0
    return Paths(
        touches,
        n_paths=int(first.sum()),
        n_converted=int((first & touches["converted"].to_numpy()).sum()),
        truncated=int((first & cut).sum()),
        open=n_open,
        no_lost=no_lost,
    )


def _window_expr(touches: ibis.Table, outcome: ibis.Table, window_days: int) -> ibis.Table:
    """Every touch of a decided lead inside its window, and every touch of a lead still open
    (``open``: its path is left out, it is only counted), unordered: lead_id (or lead_rank,
    when ``outcome`` has it: an integer travels back faster than the text), channel,
    touched_at, days_before, converted and open (the engine's part: a join and a filter)."""
    t = touches.inner_join(outcome, "lead_id")
    t = t.mutate(end=t.stop + ibis.interval(days=1))
    inside = (t.touched_at < t.end) & (t.touched_at >= t.end - ibis.interval(days=window_days + 1))
    t = t.filter(t.stop.isnull() | inside)
    return t.select(
        "lead_rank" if "lead_rank" in outcome.columns else "lead_id",
        "channel",
        "touched_at",
        # a float numerator: Spark reads the literal 86400.0 as a DECIMAL and rounds the quotient
        days_before=(t.end.epoch_seconds() - t.touched_at.epoch_seconds()).cast("float64") / 86400,
        converted=t.converted,
        open=t.stop.isnull(),
    )


def _ranks(column: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """Each value's rank among the column's distinct values (int32) and those values in
    order: the order of strings is by UTF-8 bytes, i.e. by code point, as in the engines and
    in Python.

    Encoded chunk by chunk (the chunks share one dictionary): combining the chunks first
    copied the whole text column (at 1M accounts 30M channel names), and int32 ranks take half
    the memory of int64 ones."""
    if column.null_count:
        raise ValueError(f"{column.null_count} empty values where the paths need a value")
    if len(column) == 0:
        return np.zeros(0, dtype=np.int32), pa.array([], type=column.type)
    encoded = pc.dictionary_encode(column).unify_dictionaries()
    rank, values = _order(encoded.chunk(0).dictionary)
    codes = pa.chunked_array([c.indices for c in encoded.chunks], type=pa.int32()).to_numpy()
    return rank[codes], values


def _order(values: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Each of the distinct ``values``' rank by code point (int32) and the values in that
    order (:func:`_ranks`)."""
    order = pc.sort_indices(values).to_numpy()
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    return rank, values.take(pa.array(order))


class _Codes:
    """Text arriving batch by batch (the channels: a handful of names over ~30M rows at 1M
    accounts) as int32 codes into one dictionary, grown as new values appear; :meth:`ranks`
    turns the codes into :func:`_ranks`' ranks at the end (the same ranks and values as
    :func:`_ranks` over the whole column: the values are distinct, so their order by code
    point does not depend on the order they arrived in)."""

    def __init__(self) -> None:
        self.values: pa.Array | None = None
        self.nulls = 0

    def add(self, column: pa.Array) -> np.ndarray:
        """The codes of ``column``'s values (an empty value counts, and raises in :meth:`ranks`)."""
        self.nulls += column.null_count
        local = pc.dictionary_encode(column)
        if self.values is None:
            self.values = local.dictionary.slice(0, 0)
        new = pc.is_null(pc.index_in(local.dictionary, value_set=self.values))
        if pc.any(new).as_py():
            self.values = pa.concat_arrays([self.values, local.dictionary.filter(new)])
        where = pc.index_in(local.dictionary, value_set=self.values).to_numpy()
        return where.astype(np.int32)[local.indices.fill_null(0).to_numpy()]

    def ranks(self, codes: np.ndarray) -> tuple[np.ndarray, pa.Array]:
        """``codes`` (of every batch, concatenated) as ranks, in place, and the values in rank
        order."""
        if self.nulls:
            raise ValueError(f"{self.nulls} empty values where the paths need a value")
        rank, values = _order(self.values)
        return np.take(rank, codes, out=codes), values


def _lead_ranks(lead_id: pd.Series) -> tuple[np.ndarray, pa.Array]:
    """Each lead's rank among the distinct lead ids (-1 for an empty one, which joins no touch)
    and those ids in order (:func:`_ranks`): the engine hands back these integers instead of
    the touches' lead id text, which :func:`_ranks` then had to encode again (at 100k accounts
    2.9M strings; the leads are 0.6M)."""
    known = lead_id.notna().to_numpy()
    rank = np.full(len(lead_id), -1, dtype=np.int64)
    found, names = _ranks(as_arrow_text(lead_id).filter(pa.array(known)))
    rank[known] = found
    return rank, names


#: Rows per batch read from the engine (:func:`_read`).
BATCH_ROWS = 1_000_000


@dataclass
class _Window:
    """The engine's window rows of decided leads (unordered), as compact numpy columns: lead
    and channel as int32 ranks (:func:`_ranks`) with their values in rank order (``leads``,
    ``channels``), touched_at as int64 microseconds since the epoch, days_before and
    converted. :func:`_number` drops each column (sets it to None) once it is done with it."""

    lead: np.ndarray | None
    leads: pa.Array
    channel: np.ndarray | None
    channels: pa.Array
    at: np.ndarray | None
    days_before: np.ndarray | None
    converted: np.ndarray | None


def _read(expr: ibis.Table, engine: engines.Engine, names: pa.Array | None) -> tuple[_Window, int]:
    """The rows of :func:`_window_expr` of decided leads, and how many distinct leads were open.

    Read from the engine in batches of :data:`BATCH_ROWS` rows, each reduced to compact numpy
    columns at once and dropped (the open leads' rows are counted and left out as they come).
    Why: at 1M accounts the engine returns ~30M rows; read as one Arrow table (lead rank,
    channel *text*, touched_at, days_before, converted, open), then copied without the open
    leads' rows, the step raised the process from 3.9 GB to a 9.9 GB peak; read in batches of
    1M rows, from 4.2 GB to 6.7 GB (what is held is ~25 bytes a row kept: int32 lead and
    channel, int64 time, float64 days, a bool). The lead is the engine's lead_rank (``names``:
    the ids in rank order), or its lead_id text (``names`` None: ranked at the end by
    :func:`_ranks`, from each batch's dictionary encoding).
    """
    key = expr.columns[0]
    channels = _Codes()
    parts: dict[str, list] = {c: [] for c in ("lead", "channel", "at", "days_before", "converted")}
    opened = []  # the distinct open leads of each batch
    for batch in engines.to_batches(expr, engine, BATCH_ROWS):
        # the leads of some touch that are still open on the analysis date (none without lost
        # dates): counted here, from the same join, rather than by a second pass over the touches
        waiting = batch.column("open")
        if pc.any(waiting).as_py():
            opened.append(pc.unique(batch.column(key).filter(waiting)))
            batch = batch.filter(pc.invert(waiting))
        lead = batch.column(key)
        if names is None:
            parts["lead"].append(pc.dictionary_encode(lead))
        else:  # ranks < 2^31: int32 halves the int64 the engine returns
            parts["lead"].append(lead.to_numpy().astype(np.int32))
        parts["channel"].append(channels.add(batch.column("channel")))
        at = batch.column("touched_at").cast(pa.timestamp("us")).cast(pa.int64())
        parts["at"].append(at.to_numpy())
        parts["days_before"].append(batch.column("days_before").to_numpy().astype(np.float64))
        parts["converted"].append(batch.column("converted").to_numpy(zero_copy_only=False))
        del batch, waiting, lead, at
    n_open = pc.count_distinct(pa.chunked_array(opened)).as_py() if opened else 0
    if names is None:
        text = parts.pop("lead")
        lead, names = _ranks(pa.chunked_array(text)) if text else (_joined([], np.int32), None)
        del text
    else:
        lead = _joined(parts.pop("lead"), np.int32)
    channel = _joined(parts.pop("channel"), np.int32)
    channel, values = channels.ranks(channel) if len(channel) else (channel, None)
    at, days = _joined(parts.pop("at")), _joined(parts.pop("days_before"), np.float64)
    window = _Window(lead, names, channel, values, at, days, _joined(parts.pop("converted"), bool))
    return window, n_open


def _joined(parts: list[np.ndarray], dtype: type = np.int64) -> np.ndarray:
    """The parts concatenated, the list emptied (so one column at a time is held twice, as
    parts and whole); an empty list gives an empty ``dtype`` array."""
    if not parts:
        return np.zeros(0, dtype=dtype)
    out = np.concatenate(parts)
    parts.clear()
    return out


def _number(rows: _Window, max_touches: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The touches of :data:`TOUCH_COLUMNS` from the unordered window rows, and per row
    whether its path was cut.

    Numbered here rather than by engine window functions (``row_number`` and ``count`` over
    each lead, ordered by time and channel): at 100k accounts (2.9M rows) DuckDB's two windows
    and the final sort on the lead_id strings took about 10 s on one thread, one integer
    ``lexsort`` here a fraction of that. The rules are the same: a path's touches are ordered
    by time, then channel (ties in both are the same touch for the result); its last
    ``max_touches`` are kept; rows come out sorted by lead_id and position."""
    if len(rows.lead) == 0:
        empty = pd.DataFrame({c: pd.Series(dtype=d) for c, d in TOUCH_COLUMNS.items()})
        return empty, np.zeros(0, dtype=bool)
    order = np.lexsort((rows.channel, rows.at, rows.lead))  # by lead, then time, then channel
    rows.at = None  # (at 1M accounts ~30M rows: every int64 column is 0.24 GB; drop each when done)
    lead = rows.lead[order]
    rows.lead = None
    # row numbers and path sizes as int32 (fewer than 2^31 rows, as the ranks assume): half the
    # memory of int64, the same numbers; position and n become int64 at the end
    starts = np.flatnonzero(np.r_[True, lead[1:] != lead[:-1]]).astype(np.int32)
    full = np.diff(np.r_[starts, np.int32(len(lead))])
    size = np.repeat(full, full)
    # from_end = size - 1 - (row - start of its path), computed in place
    from_end = np.arange(len(lead), dtype=np.int32)
    from_end -= np.repeat(starts, full)
    np.subtract(size - 1, from_end, out=from_end)
    del starts, full
    keep = from_end < max_touches
    cut = (size > max_touches)[keep]
    n = np.minimum(size, max_touches)[keep]
    del size
    position = n - 1 - from_end[keep]
    del from_end
    pick = order[keep]
    del order
    columns = {"lead_id": _categorical(lead[keep], rows.leads, text=True)}
    del lead, keep
    columns["channel"] = _categorical(rows.channel[pick], rows.channels)
    rows.channel = None
    columns["position"] = position.astype("int64")
    columns["n"] = n.astype("int64")
    del position, n
    columns["days_before"] = rows.days_before[pick].astype("float64", copy=False)
    rows.days_before = None
    columns["converted"] = rows.converted[pick].astype(bool, copy=False)
    rows.converted = None
    del pick
    # copy=False: else pandas copies every column and joins position and n into one new block
    return pd.DataFrame(columns, copy=False), cut


def _categorical(ranks: np.ndarray, values: pa.Array, text: bool = False) -> pd.Categorical:
    """The text of each rank (:func:`_ranks`) as a pandas categorical: the integer ranks are its
    codes, the values used (in their order, by code point) its categories. The callers
    (:mod:`helpers.attribution`) group by these codes instead of hashing or comparing millions
    of strings again; read as text the column is the same (``==``, ``astype(str)``).

    ``text``: the categories are Arrow-backed ``str`` (the lead ids: at 1M accounts some 6M of
    them, which as Python strings took ~1 GB and their uniqueness check a hash table of them;
    they are distinct by construction, so pandas' check is skipped), else object (the channels:
    a handful, shown as table indexes)."""
    used = np.bincount(ranks, minlength=len(values)) > 0
    codes = (np.cumsum(used, dtype=np.int32) - 1)[ranks]
    kept = values.filter(pa.array(used))
    if not text:
        names = pd.Index(kept.to_numpy(zero_copy_only=False).astype(object))
        return pd.Categorical.from_codes(codes, categories=names)
    names = pd.Index(TEXT.__from_arrow__(kept))
    # distinct by construction: pandas checks that again on every new categorical (also inside
    # from_codes) through a hash table of the ids as Python strings, kept on the Index (at 1M
    # accounts 15 s and ~1 GB); the check's cached answer is given instead
    names._cache["is_unique"] = True
    dtype = pd.CategoricalDtype._from_fastpath(names, False)
    return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)


def first_order_dates(orders: object, engine: engines.Engine | str | None = None) -> pd.Series:
    """Each account's first completed order date (datetime64), indexed by account_id: a
    per-account aggregate of the order lines, run in the engine (``orders``: pandas frame or
    Ibis table; None: the engine the frame carries, else DuckDB)."""
    engine = engines.resolve(engine, orders)
    o = as_table(orders, ("account_id", "order_date", "status"), engine)
    o = o.filter(o.status == "completed", o.account_id.notnull())
    first = o.group_by("account_id").aggregate(first=o.order_date.cast("timestamp").min())
    frame = engines.to_pandas(first, engine)
    return pd.Series(
        frame["first"].astype("datetime64[ns]").to_numpy(),
        index=pd.Index(frame["account_id"].to_numpy(dtype=object), name="account_id"),
        name="order_date",
    ).sort_index()
