"""Benchmark: the cold and the warm ``load_dataset`` (load-once cache) before vs after a change.

Usage: ``python benchmarks/bench_load.py --source SOURCE [--baseline REV] [--repeats N]``.
``SOURCE`` is a data-source YAML (e.g. one naming the Parquet files of
``python -m helpers.demo --out FOLDER --accounts 100000``) or ``demo``. ``--baseline`` is the
commit measured as "before" (default ``788a020``, the code before the Arrow fast path of
issue #15): it is checked out into a temporary ``git worktree`` (removed afterwards) and run from
there, since two versions of :mod:`helpers.loading` cannot be imported side by side.

Each run gives each contender a fresh, private cache folder; a first process loads the source
(the *cold* load: read, clean, validate and write the cache entry) and a second process loads it
again (the *warm* load: read the entry). Baseline and current alternate run by run (paired
under the same machine load), ``--repeats`` times; figures are medians, the ratio is
current / baseline of the medians. Per load: wall seconds of ``load_dataset`` (imports
excluded), the cache outcome (``miss`` then ``hit``) and the process's peak resident memory
(``VmHWM``, MB). Both contenders must load the same rows and fingerprint (checked).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
from pathlib import Path

from _steps import in_subprocess

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys, time
from helpers.loading import cache, load_dataset
start = time.perf_counter()
ds = load_dataset(sys.argv[1])
seconds = time.perf_counter() - start
status = open("/proc/self/status").read().split("VmHWM:")[1].split()[0]
print(json.dumps({
    "seconds": seconds, "outcome": cache.last_outcome, "peak_mb": int(status) / 1024,
    "rows": {name: len(frame) for name, frame in ds.tables.items()},
    "fingerprint": ds.fingerprint,
}))
"""


def _load(src: Path, source: str, cache_dir: Path) -> dict:
    env = {"PYTHONPATH": str(src), "B2B_CACHE_DIR": str(cache_dir), "B2B_CACHE": "on"}
    return in_subprocess("-c", [CHILD, source], env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", required=True, help="a source YAML, or demo")
    parser.add_argument("--baseline", default="788a020", help="commit measured as 'before'")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    source = args.source if args.source == "demo" else str(Path(args.source).resolve())
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        base = Path(tmp) / "baseline"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base), args.baseline],
            check=True,
            capture_output=True,
        )
        try:
            if (ROOT / "data" / "demo").is_dir():  # the demo is git-ignored: share it
                (base / "data" / "demo").symlink_to(ROOT / "data" / "demo")
            contenders = {"baseline": base / "src", "current": ROOT / "src"}
            runs: dict[str, list[dict]] = {name: [] for name in contenders}
            for i in range(args.repeats):
                for name, src in contenders.items():
                    folder = Path(tmp) / f"cache-{name}-{i}"
                    cold, warm = _load(src, source, folder), _load(src, source, folder)
                    assert (cold["outcome"], warm["outcome"]) == ("miss", "hit"), (cold, warm)
                    runs[name].append({"cold": cold, "warm": warm})
                    print(json.dumps({"run": i, "contender": name, "cold": cold["seconds"],
                                      "warm": warm["seconds"], "cold_peak_mb": cold["peak_mb"],
                                      "warm_peak_mb": warm["peak_mb"]}), flush=True)  # fmt: skip
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                check=False,
                capture_output=True,
            )
    first = runs["baseline"][0]["cold"]
    for name, these in runs.items():
        for run in these:
            for load in run.values():
                same = load["rows"] == first["rows"] and load["fingerprint"] == first["fingerprint"]
                assert same, f"{name} loaded other rows than the baseline"
    print(f"source: {source}; rows: {first['rows']}; {args.repeats} paired runs, medians")
    print(f"{'load':<6}{'baseline s':>12}{'current s':>12}{'ratio':>8}{'peak MB b/c':>16}")
    for load in ("cold", "warm"):
        b = statistics.median(r[load]["seconds"] for r in runs["baseline"])
        c = statistics.median(r[load]["seconds"] for r in runs["current"])
        pb = max(r[load]["peak_mb"] for r in runs["baseline"])
        pc = max(r[load]["peak_mb"] for r in runs["current"])
        print(f"{load:<6}{b:>12.2f}{c:>12.2f}{c / b:>8.2f}{pb:>8.0f}/{pc:<7.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
