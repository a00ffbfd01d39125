"""Benchmark: Harrell's C, lifelines' ``concordance_index`` vs ``helpers.survival.concordance``
(issue #15).

Usage: ``python benchmarks/bench_concordance.py [--sizes 25000 100000] [--repeats N]``.

Random survival-like data (seeded): whole-day times 0-729 (many ties, as the project's
durations), about 30 % events, and two kinds of scores: continuous (every score distinct, as a
Cox model's risk with a continuous covariate) and coarse (the risk rounded to 1/40: a few
hundred distinct values, heavy score ties). Per size and kind, lifelines and the project's
function run in the same process, interleaved, the median of ``--repeats`` calls each; the two
values must be the same float (the script stops otherwise). Wall and CPU seconds
(``time.process_time``): on a shared machine the CPU time is the steadier figure.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def _timed(f, *args) -> tuple[float, float, float]:
    """Wall and CPU seconds of one call, and its value."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = f(*args)
    return time.perf_counter() - wall, time.process_time() - cpu, value


def main() -> None:
    from lifelines.utils import concordance_index as lifelines_c

    from helpers.survival.concordance import concordance_index

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[25_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    print(
        "| rows | scores | lifelines wall s | CPU s | helpers wall s | CPU s "
        "| speed-up (wall) | speed-up (CPU) | C |"
    )
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n in args.sizes:
        rng = np.random.default_rng(n)
        t = rng.integers(0, 730, n).astype(float)
        e = rng.random(n) < 0.3
        risk = rng.normal(size=n) - t / 730  # some signal: later exits score lower risk
        for kind, scores in (("continuous", -risk), ("coarse", -np.round(risk * 40) / 40)):
            theirs, ours = [], []
            for _ in range(args.repeats):  # interleaved: both see the same machine load
                *seconds, a = _timed(lifelines_c, t, scores, e)
                theirs.append(seconds)
                *seconds, b = _timed(concordance_index, t, scores, e)
                ours.append(seconds)
                if a != b:
                    raise SystemExit(f"different values at n={n} ({kind}): {a!r} vs {b!r}")
            (l_wall, l_cpu), (h_wall, h_cpu) = (
                [statistics.median(col) for col in zip(*runs, strict=True)]
                for runs in (theirs, ours)
            )
            print(
                f"| {n:,} | {kind} ({len(np.unique(scores)):,} distinct) | {l_wall:.3f} | "
                f"{l_cpu:.3f} | {h_wall:.3f} | {h_cpu:.3f} | {l_wall / h_wall:.1f}x | "
                f"{l_cpu / h_cpu:.1f}x | {a:.6f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
