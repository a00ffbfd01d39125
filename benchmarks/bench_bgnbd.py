"""Benchmark: the BG/NBD lens of notebooks 02 and 03 at scale, this checkout against a baseline.

Usage: ``python benchmarks/bench_bgnbd.py SOURCE.yaml [--baseline-src DIR] [--repeats N]``.

``SOURCE.yaml`` is a data source (e.g. a company of 100k accounts from ``helpers.demo``).
Each measurement is a fresh Python process (PyTensor compiles per process; its C-module cache
on disk is warm after the first run, and stays warm for every run here): it loads the data
set (load-once cache), imports pymc and pymc-marketing (timed apart), then times notebook
02's two BG/NBD steps (``buy_till_you_die`` and ``holdout_check``: two BG/NBD fits and one
Gamma-Gamma fit) or notebook 03's ``second_ltv`` (one of each plus the bootstrap), in wall
and CPU seconds (``time.process_time``: every thread of the process; the steadier figure on a
shared machine). ``--baseline-src`` is the ``src`` folder of another checkout (e.g. ``git
archive`` of main) measured alternately with this one in the same run; the fitted parameters
of both are printed so that they can be compared.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _child(source: str, which: str) -> None:
    import pandas as pd

    from helpers.loading import load_dataset

    ds = load_dataset(source)
    as_of = pd.Timestamp(ds.analysis_date)
    c, w = time.process_time(), time.perf_counter()
    from helpers.survival import bgnbd

    bgnbd._clv()
    bgnbd._models()
    imported = time.process_time() - c, time.perf_counter() - w
    c, w = time.process_time(), time.perf_counter()
    if which == "02":
        from helpers.survival import bgnbd_checks

        btyd = bgnbd.buy_till_you_die(ds, as_of, 7, 90)
        holdout = bgnbd_checks.holdout_check(ds, as_of, 365, 7)
        out = {"params": btyd.params, "spend": btyd.spend_params, "holdout": holdout.params}
    else:
        from helpers import btyd_value

        table = btyd_value.second_ltv(pd.DataFrame(), ds, as_of)
        out = {"ltv": table["mean"].to_dict()}
    step = time.process_time() - c, time.perf_counter() - w
    out.update(import_cpu=imported[0], import_wall=imported[1], cpu=step[0], wall=step[1])
    print(json.dumps(out))


def _run(src: str, source: str, which: str) -> dict:
    env = dict(os.environ, PYTHONPATH=src)
    cmd = [sys.executable, __file__, source, "--child", which]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("--baseline-src", default=None)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.source, args.child)
        return
    here = str(ROOT / "src")
    runs = [("this", here)] + ([("baseline", args.baseline_src)] if args.baseline_src else [])
    _run(here, args.source, "02")  # warms the load-once and PyTensor caches for both
    print("| step | code | run | CPU s | wall s | import CPU s |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for which in ("02", "03"):
        for i in range(args.repeats):
            for name, src in runs:
                r = _run(src, args.source, which)
                print(
                    f"| {which} | {name} | {i + 1} | {r['cpu']:.1f} | {r['wall']:.1f} "
                    f"| {r['import_cpu']:.1f} |",
                    flush=True,
                )
                fitted = {k: v for k, v in r.items() if k not in ("cpu", "wall")}
                print(f"<!-- {which} {name}: {json.dumps(fitted)} -->", flush=True)


if __name__ == "__main__":
    main()
