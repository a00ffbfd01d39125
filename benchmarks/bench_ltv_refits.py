"""Benchmark: notebook 03's LTV refits (``lifetime_value.refit_draws`` with ``cox_refit``),
before and after doing the per-refit work that does not depend on the refit once.

Usage: ``python benchmarks/bench_ltv_refits.py [--data DIR] [--baseline REV] [--refits N]``.

``DIR`` (default ``data/bench/hotspots-100k``, shared with ``bench_hotspots.py``) holds a
generated company of 100k accounts (``python -m helpers.demo --out DIR --accounts 100000``, run
here when it is missing: ~20 s, 1.5 GB). The churn definition and Cox model are built as
``lifetime_values`` builds them and cached in ``DIR/ltv_refits.pkl``. Then, in one process on
the same inputs: the refits of ``helpers/lifetime_value.py`` as it stood at git revision ``REV``
(the baseline, read with ``git show``; it calls today's ``helpers.survival``, whose functions
it uses compute the same values as at ``REV``), the refits of this checkout, and the Cox fits
alone on the same resamples (the part both share). Each starts from its own copy of the model
(lifelines updates the warm start in place: the refits chain). The draws must be equal
exactly. Wall and CPU seconds of this process.
"""

from __future__ import annotations

import argparse
import copy
import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from _steps import generated_company, module_at, parquet_source  # noqa: E402


def baseline_module(rev: str):
    """``helpers/lifetime_value.py`` as it stood at git revision ``rev``."""
    return module_at(rev, "src/helpers/lifetime_value.py")


def prepare(folder: Path) -> tuple:
    """The churn definition, Cox model and LTV settings of the company in ``folder``
    (cached)."""
    cache = folder / "ltv_refits.pkl"
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    from helpers import survival
    from helpers.loading import load_dataset

    ds = load_dataset(parquet_source(folder, folder / "source.yaml"), cache=False)
    settings = survival.LtvSettings()
    definition = survival.define_churn(ds, ds.analysis_date, settings.threshold_days)
    model = survival.churn_model(definition, settings.covariates, settings.references, 42)
    data = (definition, model, settings)
    cache.write_bytes(pickle.dumps(data))
    return data


def _timed(label: str, fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"| {label} | {wall:.2f} | {cpu:.2f} | {os.getloadavg()[0]:.1f} |", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "bench" / "hotspots-100k")
    parser.add_argument("--baseline", default="bd79480")
    parser.add_argument("--refits", type=int, default=None, help="default: refits_for(accounts)")
    args = parser.parse_args()

    from helpers import lifetime_value as lv
    from helpers.survival.cox import cox_fitter, entry_column

    generated_company(args.data, 100_000)
    definition, model, settings = prepare(args.data)
    old = baseline_module(args.baseline)
    frame = definition.features
    n = args.refits or lv.refits_for(len(frame))
    kw = {"by": "acquisition_channel", "n_refits": n, "seed": 42}
    print(f"accounts {len(frame):,}, survival rows {len(definition.survival):,}, refits {n}")
    print("| run | wall s | CPU s | load avg (1 min) |")
    print("| --- | ---: | ---: | ---: |")
    before = _timed(
        f"before ({args.baseline})",
        lambda: old.refit_draws(
            frame, old.cox_refit(definition, copy.deepcopy(model), settings), **kw
        ),
    )
    after = _timed(
        "after",
        lambda: lv.refit_draws(
            frame, lv.cox_refit(definition, copy.deepcopy(model), settings), **kw
        ),
    )
    design, start = model.cox_design, copy.deepcopy(model).cox.params_.to_numpy()
    rows = design.data.index.get_indexer(frame.index)
    in_survival = frame["in_survival"].to_numpy(bool)

    def fit(pos: np.ndarray) -> pd.Series:
        data = design.data.take(rows[pos[in_survival[pos]]]).reset_index(drop=True)
        cox_fitter(model.penalizer).fit(
            data,
            "duration_days",
            "event",
            strata=list(design.strata) or None,
            entry_col=entry_column(design),
            initial_point=start,
        )
        return pd.Series(dtype=float)

    _timed("the Cox fits alone", lambda: lv.refit_draws(frame, fit, **kw))
    pd.testing.assert_frame_equal(after, before, check_exact=True)
    print(f"draws equal exactly: {after.shape}, failed {before.attrs} / {after.attrs}")


if __name__ == "__main__":
    main()
