"""Benchmark: three numpy hot spots of notebooks 02 and 03, before and after vectorising them.

Usage: ``python benchmarks/bench_hotspots.py [--data DIR] [--baseline REV] [--repeats N]``.

``DIR`` (default ``data/bench/hotspots-100k``) holds a generated company of 100k accounts
(``python -m helpers.demo --out DIR --accounts 100000``, run here when it is missing: ~20 s,
1.5 GB). Its inputs are prepared once (load, churn definition and Cox model as notebook 03 builds them)
and cached in ``DIR/hotspots.pkl``. Each function is then timed, interleaved with the same
function as it stood at git revision ``REV`` (the baseline, read with ``git show``), on the
same inputs in the same process, and the two results are compared:

- ``payback.payback_interval`` (notebook 03's LTV:CAC payback interval, 500 draws per channel);
- ``survival.predict.conditional_survival`` as the LTV refits call it (every account valued
  from age 0 on a 61-day grid, unconditional) and as the tiers' LTV calls it (active accounts
  from their age, a grid ahead of their silence);
- ``survival.accuracy.uno_c`` on the survival rows (time, event, Cox risk; tau 90 days).

Wall seconds (median of ``--repeats``) and CPU seconds of this process.
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from _steps import generated_company, module_at, parquet_source  # noqa: E402

MODULES = {
    "payback": "src/helpers/payback.py",
    "predict": "src/helpers/survival/predict.py",
    "accuracy": "src/helpers/survival/accuracy.py",
}


def baseline_module(name: str, rev: str):
    """The module at ``MODULES[name]`` as it stood at git revision ``rev``."""
    return module_at(rev, MODULES[name])


def prepare(folder: Path) -> dict:
    """Inputs of the three functions on the company in ``folder`` (cached)."""
    cache = folder / "hotspots.pkl"
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    from helpers import channels, survival
    from helpers.loading import load_dataset
    from helpers.survival.cox import align
    from helpers.survival.definition import age_days
    from helpers.survival.prechurn import with_rates

    ds = load_dataset(parquet_source(folder, folder / "source.yaml"), cache=False)
    as_of = ds.analysis_date
    costs = channels.volume_and_cost(
        leads=ds.tables["leads"], spend=ds.tables["channel_spend"], as_of=as_of
    )
    definition = survival.define_churn(ds, as_of)
    model = survival.churn_model(definition)
    every = with_rates(definition.features, definition.cadence_days)
    active = every[every["last_order"].notna()].head(40_000)
    surv = definition.survival
    risk = model.cox.predict_partial_hazard(align(surv, model.cox_design)).to_numpy()
    data = {
        "orders": ds.tables["orders"],
        "accounts": ds.tables["accounts"],
        "costs": costs,
        "as_of": as_of,
        "cph": model.cox,
        "x_every": align(every, model.cox_design),
        "x_active": align(active, model.cox_design),
        "age_active": age_days(active),
        "silent_active": (as_of - active["last_order"]).dt.days.to_numpy(float),
        "time": surv["duration_days"].to_numpy(float),
        "event": surv["event"].to_numpy(int),
        "risk": risk,
    }
    cache.write_bytes(pickle.dumps(data))
    return data


def _timed(fn) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "bench" / "hotspots-100k")
    parser.add_argument("--baseline", default="c8aab04")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from helpers import payback
    from helpers.survival import accuracy, predict

    generated_company(args.data, 100_000)
    d = prepare(args.data)
    old = {name: baseline_module(name, args.baseline) for name in MODULES}
    grid = np.linspace(0, 3 * 365, 61)
    n_every, n_active = len(d["x_every"]), len(d["x_active"])
    ahead = d["silent_active"][:, None] + grid[None, :]
    cases = {
        "payback_interval": lambda m: m.payback_interval(
            d["orders"], d["accounts"], d["costs"], d["as_of"]
        ),
        "conditional_survival, age 0 (LTV refits)": lambda m: m.conditional_survival(
            d["cph"], d["x_every"], np.zeros(n_every), grid, unconditional=True
        ),
        "conditional_survival, from the age (tiers)": lambda m: m.conditional_survival(
            d["cph"], d["x_active"], d["age_active"], ahead
        ),
        "uno_c": lambda m: m.uno_c(d["time"], d["event"], d["risk"], 90.0),
    }
    which = {
        "payback_interval": "payback",
        "conditional_survival, age 0 (LTV refits)": "predict",
        "conditional_survival, from the age (tiers)": "predict",
        "uno_c": "accuracy",
    }
    new = {"payback": payback, "predict": predict, "accuracy": accuracy}
    print(f"accounts {len(d['accounts']):,}, order lines {len(d['orders']):,}, ")
    print(f"survival rows {len(d['time']):,}, refit rows {n_every:,}, active rows {n_active:,}")
    print("| function | before s (CPU s) | after s (CPU s) | ratio | same result |")
    print("| --- | ---: | ---: | ---: | --- |")
    for name, call in cases.items():
        before, after = [], []
        for _ in range(args.repeats):
            w0, c0, r0 = _timed(lambda: call(old[which[name]]))  # noqa: B023
            w1, c1, r1 = _timed(lambda: call(new[which[name]]))  # noqa: B023
            before.append((w0, c0))
            after.append((w1, c1))
        if hasattr(r0, "equals"):
            same = bool(r0.equals(r1))
        elif isinstance(r0, float):
            same = f"diff {abs(r0 - r1):.1e}"
        else:
            same = bool(np.array_equal(r0, r1))
        b = statistics.median(w for w, _ in before)
        a = statistics.median(w for w, _ in after)
        bc = statistics.median(c for _, c in before)
        ac = statistics.median(c for _, c in after)
        print(f"| {name} | {b:.2f} ({bc:.2f}) | {a:.2f} ({ac:.2f}) | {b / a:.1f} | {same} |")


if __name__ == "__main__":
    main()
