"""Attribution paths built and summed in the engine: only one row per *kind of step* comes back.

The rule models and the Markov removal effect (:mod:`helpers.attribution`) need, of every
touch of every path, only its channel, its position and the path's length, the next touch's
channel, whether the path converted, and (for time decay and revenue) its weight and its lead's
value. So the engine of the loaded data (DuckDB by default, a Spark session or a warehouse;
:mod:`helpers.engine`) joins the touchpoints to the leads' outcomes, keeps the touches inside
each window, numbers them (window functions over each lead, ordered by time, then channel),
cuts long paths, and sums the touches per *step*: (channel, next channel, position, length,
converted, cut, value known). That table (:attr:`Paths.steps`) has a few thousand rows
however many touches there are; nothing per touch or per lead comes back.

Why not number the touches in numpy, as before: that read every touch back (at 1M accounts
~30M rows: 37 s and +3.7 GiB in the kernel, then 12 s for the models on the touches; on Spark
every touch crossed to the driver). Here the same step at 1M accounts takes ~56 s with the
models, and +1.1 GiB (one DuckDB thread under its 512 MB cap). Measured choices that keep it so (1M accounts, one thread): the window sorts integers
and few columns (the channel as an integer code, its name joined back only to the summed rows:
with the channel text in the sort the query took 60-69 s); the leads' values are joined per
lead before the window (joined to every touch after it, 8 s more); and each converted path's
time-decay total is a grouped sum joined back (a second window instead: 62 s for the query
instead of 48).

Definitions (unchanged from the pandas version this replaced; the oracle in the tests):

* A path ends at the lead's conversion (up to ``as_of``), else at its loss (up to ``as_of``);
  a lead with neither is *open* and left out. When the leads have no lost date at all, every
  lead not converted is a non-converter whose path ends on ``as_of``.
* The path's end day is included whole: touches before the end's timestamp + 1 day count, and
  none earlier than ``window_days + 1`` days before that.
* Touches are ordered by time, then channel (by code point); a longer path keeps its last
  ``max_touches`` (ties in time and channel are the same touch for every result).
* ``days_before`` is (end + 1 day - touched_at) in days (fractional). On Spark the epoch
  difference is in whole seconds (the loaded data is).

Money and weights are summed as exact decimals (``decimal(38, 9)`` for currency,
``decimal(38, 18)`` for weights below 1): a float sum depends on the order the engine adds in,
which with several threads changes from run to run; an exact sum does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from helpers import engine as engines
from helpers.features import as_table
from helpers.text_arrays import as_arrow_text, reindex

#: The keys of :attr:`Paths.steps`, in order, and the summed columns after them, with their
#: pandas dtypes (``next_channel`` is None on a path's last touch).
STEP_COLUMNS: dict[str, str] = {
    "channel": "object",
    "next_channel": "object",
    "position": "int64",
    "n": "int64",
    "converted": "bool",
    "cut": "bool",
    "known": "bool",
    "touches": "int64",
    "value": "float64",
    "decay": "float64",
    "decay_value": "float64",
}
STEP_KEYS: tuple[str, ...] = tuple(list(STEP_COLUMNS)[:7])

#: Columns of :func:`path_touches`, in order, with their pandas dtypes.
TOUCH_COLUMNS: dict[str, str] = {
    "lead_id": "object",
    "channel": "object",
    "position": "int64",
    "n": "int64",
    "days_before": "float64",
    "converted": "bool",
}

#: The keys of the engine's sums (:data:`STEP_KEYS` with the channels as codes).
_ENGINE_KEYS = ("code", "next_code", "position", "n", "converted", "cut", "known")

#: Exact sums (see the module docstring): currency, and weights in [0, 1].
MONEY = "decimal(38, 9)"
WEIGHT = "decimal(38, 18)"


@dataclass
class Paths:
    """The attribution paths, summed per step (see the module docstring).

    ``steps`` (:data:`STEP_COLUMNS`): per channel, next channel (None: the path's last touch),
    position (0 = first), path length ``n``, ``converted``, ``cut`` (the path was longer than
    ``max_touches``) and ``known`` (the path did not convert, or its value is known): the
    number of ``touches``; for converted paths the sum of their leads' ``value`` (currency;
    only values known), of their time-decay weights (``decay``, each path's summing to 1, with
    ``half_life_days``) and of weight x value (``decay_value``). ``valued``: values were given.
    ``n_paths``, ``n_converted``, ``truncated`` (paths cut), ``open`` (leads left out: neither
    converted nor lost on the analysis date), ``no_lost`` (the leads have no lost date at all:
    then none is open, a lead not converted is a non-converter whose path ends on the
    analysis date)."""

    steps: pd.DataFrame
    n_paths: int
    n_converted: int
    truncated: int
    open: int = 0
    no_lost: bool = False
    valued: bool = False
    half_life_days: float = 7.0


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


@dataclass
class _Prepared:
    """What :func:`build_paths` and :func:`path_touches` share: the decided leads' touches
    inside their windows (``rows``: ``key``, code, touched_at, days_before, converted), the
    touchpoints and outcomes (for counting open leads), the channels in code order, the lead
    ids in rank order (``names``, when ``key`` is the rank) and each lead's rank."""

    rows: ibis.Table
    touches: ibis.Table
    outcome: ibis.Table
    key: str
    channels: list[str]
    names: pa.Array | None
    ranks: np.ndarray | None
    no_lost: bool
    engine: engines.Engine


def _prepare(
    touchpoints: object,
    leads: object,
    conversion: pd.Series,
    as_of: pd.Timestamp,
    window_days: int,
    engine: engines.Engine | str | None,
    values: pd.Series | None = None,
) -> _Prepared:
    engine = engines.resolve(engine, touchpoints, leads)
    lead_cols = [c for c in ("lead_id", "lost_date") if c in leads.columns]
    names = ranks = None
    if isinstance(leads, pd.DataFrame):
        # the lead's rank among the ids: the engine partitions and sorts an integer, not text
        ranks, names = _lead_ranks(leads["lead_id"])
        people = as_table(leads[lead_cols].assign(lead_rank=ranks), engine=engine)
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
    conv_t = engines.memtable(conv, ["lead_id", "converted_at"])
    counts = engines.to_pandas(people.aggregate(lost=people.lost_date.count()), engine)
    no_lost = int(counts["lost"].iloc[0]) == 0
    outcome = _outcomes(people, conv_t, as_of, no_lost)

    t = as_table(touchpoints, ("lead_id", "channel", "touched_at"), engine)
    t = t.filter(t.lead_id.notnull()).select(
        "lead_id", "channel", touched_at=t.touched_at.cast("timestamp")
    )
    found = engines.to_pandas(t.select("channel").distinct(), engine)["channel"]
    channels = sorted(str(c) for c in found if not pd.isna(c))  # code-point order, as Python's
    codes = as_table(
        pd.DataFrame({"channel": channels, "code": np.arange(len(channels), dtype=np.int32)}),
        engine=engine,
    )
    key = "lead_rank" if "lead_rank" in outcome.columns else "lead_id"
    decided = outcome.filter(outcome.stop.notnull())
    if values is None:
        decided = decided.mutate(value=ibis.null("float64"))
    else:  # joined per lead, before the touches: after the window it was a join of every touch
        known = as_table(_value_frame(key, ranks, leads, conversion, values), engine=engine)
        decided = decided.left_join(known, key).select(*decided.columns, "value")
    j = t.inner_join(decided, "lead_id")
    end = j.stop + ibis.interval(days=1)
    inside = (j.touched_at < end) & (j.touched_at >= end - ibis.interval(days=window_days + 1))
    j = j.filter(inside)
    j = j.select(
        key,
        "channel",
        "touched_at",
        # a float numerator: Spark reads the literal 86400.0 as a DECIMAL and rounds the quotient
        days_before=(end.epoch_seconds() - j.touched_at.epoch_seconds()).cast("float64") / 86400,
        converted=j.converted,
        value=j.value,
    )
    coded = j.left_join(codes, "channel")
    rows = coded.select(key, "code", "touched_at", "days_before", "converted", "value")
    return _Prepared(rows, t, outcome, key, channels, names, ranks, no_lost, engine)


def _numbered(rows: ibis.Table, key: str, max_touches: int) -> ibis.Table:
    """The touches kept in each path, numbered: position (0 = first), n (the path's length
    after the cut), cut (the path was longer than ``max_touches``) and next_code (the next
    touch's channel code; null on the last)."""
    order = ibis.window(group_by=key, order_by=[rows.touched_at, rows.code])
    x = rows.mutate(
        rn=ibis.row_number().over(order),
        path_size=rows.touched_at.count().over(ibis.window(group_by=key)),
        next_code=rows.code.lead().over(order),
    )
    x = x.filter(x.rn >= x.path_size - max_touches)
    n = ibis.least(x.path_size, max_touches)
    return x.select(
        key,
        "code",
        "next_code",
        "days_before",
        "converted",
        "value",
        position=x.rn - (x.path_size - n),
        n=n,
        cut=x.path_size > max_touches,
    )


def _open_leads(p: _Prepared) -> int:
    """Leads with a touch that are still open on the analysis date (neither converted nor
    lost): left out of the paths, counted for the reader."""
    waiting = p.outcome.filter(p.outcome.stop.isnull()).select("lead_id")
    touched = p.touches.semi_join(waiting, "lead_id")
    found = engines.to_pandas(touched.aggregate(n=touched.lead_id.nunique()), p.engine)
    return int(found["n"].iloc[0])


def build_paths(
    touchpoints: object,
    leads: object,
    conversion: pd.Series,
    as_of: pd.Timestamp,
    window_days: int = 90,
    max_touches: int = 20,
    engine: engines.Engine | str | None = None,
    values: pd.Series | None = None,
    half_life_days: float = 7.0,
) -> Paths:
    """The attribution paths of ``leads`` (see the module docstring), built and summed per
    step in the engine.

    ``touchpoints`` (lead_id, channel, touched_at) and ``leads`` (lead_id, optional lost_date)
    are pandas frames or Ibis tables; ``conversion`` maps lead_id to its conversion timestamp
    (NaT = did not convert; pass only conversions up to ``as_of``). A non-converting path ends
    at the lead's loss date; a lead neither converted nor lost by ``as_of`` is still open and
    left out (counted in ``open``): its outcome is not known, so it is no non-converter. No
    touch after ``as_of`` counts. When the leads have no lost date at all (the export keeps
    none), open and lost cannot be told apart: every lead not converted is a non-converter
    whose path ends on ``as_of`` (``no_lost``). ``values`` (currency, by lead_id; NaN = not
    known yet) are the converted leads' worth for revenue attribution. ``half_life_days``:
    the time-decay model's half-life (days). ``engine``: where it runs (None: the engine the
    frames carry, else DuckDB). Raises ``ValueError`` when a touch inside a window has no
    channel.
    """
    p = _prepare(touchpoints, leads, conversion, as_of, window_days, engine, values)
    x = _numbered(p.rows, p.key, max_touches)
    known = ~x.converted | x.value.notnull()
    raw = (ibis.literal(0.5) ** (x.days_before / float(half_life_days))).cast(WEIGHT)
    x = x.mutate(raw=ibis.ifelse(x.converted, raw, ibis.null(WEIGHT)), known=known)
    # each converted path's total weight: a grouped sum joined back (see the module docstring)
    paid = x.filter(x.converted)
    totals = paid.group_by(p.key).aggregate(total=paid.raw.sum())
    x = x.left_join(totals, p.key).select(*x.columns, "total")
    weight = x.raw.cast("float64") / x.total.cast("float64")
    summed = x.group_by(list(_ENGINE_KEYS)).aggregate(
        touches=x.count(),
        value=x.value.cast(MONEY).sum().cast("float64"),
        decay=weight.cast(WEIGHT).sum().cast("float64"),
        decay_value=(weight * x.value).cast(MONEY).sum().cast("float64"),
    )
    steps = _steps(engines.to_pandas(summed, p.engine), p.channels)
    first = steps["position"].to_numpy() == 0
    count = steps["touches"].to_numpy()
    return Paths(
        steps,
        n_paths=int(count[first].sum()),
        n_converted=int(count[first & steps["converted"].to_numpy()].sum()),
        truncated=int(count[first & steps["cut"].to_numpy()].sum()),
        open=_open_leads(p),
        no_lost=p.no_lost,
        valued=values is not None,
        half_life_days=float(half_life_days),
    )


def _value_frame(
    key: str, ranks: np.ndarray | None, leads: object, conversion: pd.Series, values: pd.Series
) -> pd.DataFrame:
    """Each converted lead's known value (currency), keyed as the touches are (``key``: the
    rank, or the lead id when the leads are an Ibis table): only those leads' values are
    handed to the engine."""
    if ranks is not None:
        ids = leads["lead_id"]
        v = reindex(values, ids).to_numpy(dtype="float64", na_value=np.nan)
        converted = reindex(conversion, ids).notna().to_numpy()
        keep = converted & ~np.isnan(v) & (ranks >= 0)
        return pd.DataFrame({key: ranks[keep], "value": v[keep]})
    v = values[values.notna() & values.index.isin(conversion.index[conversion.notna()])]
    return pd.DataFrame({"lead_id": v.index.array, "value": v.to_numpy(dtype="float64")})


def _steps(frame: pd.DataFrame, channels: list[str]) -> pd.DataFrame:
    """The engine's sums per step as :data:`STEP_COLUMNS`: codes read as channel names, sums
    of nothing as 0, rows in key order (the engine returns groups in any order)."""
    if frame["code"].isna().any():
        empty = int(frame.loc[frame["code"].isna(), "touches"].sum())
        raise ValueError(f"{empty} empty values where the paths need a value (channel)")
    frame = frame.sort_values(list(_ENGINE_KEYS))
    names = np.array([*channels, None], dtype=object)
    following = frame["next_code"].fillna(len(channels)).to_numpy(dtype=np.int64)
    out = pd.DataFrame(
        {
            "channel": names[frame["code"].to_numpy(dtype=np.int64)],
            "next_channel": names[following],
            "position": frame["position"].to_numpy(dtype=np.int64),
            "n": frame["n"].to_numpy(dtype=np.int64),
            "converted": frame["converted"].to_numpy(dtype=bool),
            "cut": frame["cut"].to_numpy(dtype=bool),
            "known": frame["known"].to_numpy(dtype=bool),
            "touches": frame["touches"].to_numpy(dtype=np.int64),
        }
    )
    for column in ("value", "decay", "decay_value"):
        out[column] = frame[column].astype("float64").fillna(0.0).to_numpy()
    return out.astype(STEP_COLUMNS)


def path_touches(
    touchpoints: object,
    leads: object,
    conversion: pd.Series,
    as_of: pd.Timestamp,
    window_days: int = 90,
    max_touches: int = 20,
    engine: engines.Engine | str | None = None,
) -> pd.DataFrame:
    """Every kept touch of the paths :func:`build_paths` sums (:data:`TOUCH_COLUMNS`: lead_id
    and channel as text, position, n, days_before, converted), sorted by lead id and
    position: to look at a few leads' journeys, or to check the engine against another
    implementation. It brings every touch back; for a study use :func:`build_paths`."""
    p = _prepare(touchpoints, leads, conversion, as_of, window_days, engine)
    x = _numbered(p.rows, p.key, max_touches)
    frame = engines.to_pandas(
        x.select(p.key, "code", "position", "n", "days_before", "converted"), p.engine
    )
    if frame["code"].isna().any():
        raise ValueError(
            f"{int(frame['code'].isna().sum())} empty values where the paths need a value (channel)"
        )
    if p.names is not None:
        lead = p.names.take(pa.array(frame[p.key].to_numpy(dtype=np.int64)))
        frame["lead_id"] = np.asarray(lead.to_pylist(), dtype=object)
    else:
        frame["lead_id"] = frame["lead_id"].astype(object)
    frame["channel"] = np.array(p.channels, dtype=object)[frame["code"].to_numpy(dtype=np.int64)]
    out = frame[list(TOUCH_COLUMNS)].astype(TOUCH_COLUMNS)
    out = out.sort_values(["lead_id", "position"], kind="mergesort", ignore_index=True)
    return out


def _ranks(column: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """Each value's rank among the column's distinct values (int32) and those values in
    order: the order of strings is by UTF-8 bytes, i.e. by code point, as in the engines and
    in Python. Encoded chunk by chunk (the chunks share one dictionary): combining the chunks
    first copied the whole column."""
    if column.null_count:
        raise ValueError(f"{column.null_count} empty values where the paths need a value")
    if len(column) == 0:
        return np.zeros(0, dtype=np.int32), pa.array([], type=column.type)
    encoded = pc.dictionary_encode(column).unify_dictionaries()
    values = encoded.chunk(0).dictionary
    order = pc.sort_indices(values).to_numpy()
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    codes = pa.chunked_array([c.indices for c in encoded.chunks], type=pa.int32()).to_numpy()
    return rank[codes], values.take(pa.array(order))


def _lead_ranks(lead_id: pd.Series) -> tuple[np.ndarray, pa.Array]:
    """Each lead's rank among the distinct lead ids (-1 for an empty one, which joins no touch)
    and those ids in order (:func:`_ranks`)."""
    known = lead_id.notna().to_numpy()
    rank = np.full(len(lead_id), -1, dtype=np.int64)
    found, names = _ranks(as_arrow_text(lead_id).filter(pa.array(known)))
    rank[known] = found
    return rank, names


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
