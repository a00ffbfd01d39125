"""Benchmark: the default batch on a large generated company vs on the demo, 2 jobs (issue #15).

Usage: ``python benchmarks/bench_scale.py [--accounts 100000] [--jobs 2] [--seed S]
[--cap-gb 16] [--cap-minutes 15]``.

The company is written by ``python -m helpers.demo`` (in chunks above 100,000 accounts) to
``data/bench/company-<N>-seed<S>/`` (git-ignored) and reused when it is already there
(``.complete``); its generation is timed in its own process. Both batches run
``runs/default.yaml`` through ``helpers.runner.pool.run_batch`` with ``DATA_SOURCE`` set to a
source YAML naming the folder's Parquet files (``analysis_date`` 2025-12-31, currency EUR: what
``demo`` means), first on ``data/demo`` (the baseline, measured in the same run), then on the
company. Each batch starts with an empty load-once cache of its own (what a first batch on new
data meets: the first notebooks load, validate and store, the later ones reuse) and writes its
reports to a temporary folder.

Reported: wall seconds of the whole batch and of each notebook run (``duration_s`` of its
record; runs overlap with 2 jobs, so they add up to more than the batch), and the peak resident
memory of all processes of the batch together: the sum of the RSS of this process and all its
descendants (kernels, workers), sampled every 0.2 s from a thread (shared pages count once per
process, so the sum overstates what the machine needed; the proportional sum, PSS, is printed
beside it, sampled every 2 s only: reading it walks every mapping of each process, ~30 ms per
3 GB process, which on every sample took up to half a core from the batch being measured). ``--cap-gb`` and ``--cap-minutes`` stop the company's batch when the summed RSS or
the wall time passes them (every kernel and worker is killed; the runs still going fail, and
the table says where the batch was stopped): a 1M-account batch can then be measured against
the issue's 16 GB and 10 minutes (memory is reported in GiB, 2^30 bytes, and the summed RSS also in
decimal GB, the stricter reading of the issue's limit) without driving a 24 GB machine out of memory. A run that fails is reported with its error and the seconds until it failed; the
raw figures are printed as JSON first.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from _steps import generated_company, parquet_source  # noqa: E402

from helpers.demo import ALL_TABLES, DEFAULT_SEED  # noqa: E402

BENCH_DIR = ROOT / "data" / "bench"


def company(n_accounts: int, seed: int) -> tuple[Path, float | None]:
    """The generated company's folder and the seconds its generation took (None: reused)."""
    folder = BENCH_DIR / f"company-{n_accounts}-seed{seed}"
    return folder, generated_company(folder, n_accounts, seed)


def batch_yaml(source: Path, name: str, out: Path) -> Path:
    """``runs/default.yaml`` with ``DATA_SOURCE`` set to ``source`` and its own name."""
    spec = yaml.safe_load((ROOT / "runs" / "default.yaml").read_text(encoding="utf-8"))
    spec["name"] = name
    spec["parameters"] = {**spec.get("parameters", {}), "DATA_SOURCE": str(source)}
    out.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return out


class TreeMemory:
    """Peak of the summed RSS (and PSS) of this process and its descendants, in bytes.

    With ``cap_bytes`` (summed RSS) or ``cap_seconds`` (since the start), the first sample
    beyond either cap records why in ``stopped`` and from then on kills every descendant it
    sees (kernels, workers): the batch's remaining runs fail at once instead of driving the
    machine out of memory or past the time a measurement is worth.
    """

    def __init__(
        self,
        every: float = 0.2,
        cap_bytes: float | None = None,
        cap_seconds: float | None = None,
        pss_every: int = 10,
    ) -> None:
        self.every, self.peak_rss, self.peak_pss = every, 0, 0
        self.pss_every = pss_every
        self.cap_bytes, self.cap_seconds = cap_bytes, cap_seconds
        self.stopped: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        start = time.perf_counter()
        count = 0
        while not self._stop.is_set():
            rss = pss = 0
            with_pss = count % self.pss_every == 0
            count += 1
            children = me.children(recursive=True)
            for proc in [me, *children]:
                try:
                    # RSS is one read of /proc/PID/statm; PSS walks every mapping of the
                    # process (~30 ms for 3 GB): on every sample it cost the batch up to half
                    # a core, so it is taken on every pss_every-th sample only
                    info = proc.memory_full_info() if with_pss else proc.memory_info()
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                rss += info.rss
                pss += getattr(info, "pss", info.rss)
            self.peak_rss = max(self.peak_rss, rss)
            if with_pss:
                self.peak_pss = max(self.peak_pss, pss)
            elapsed = time.perf_counter() - start
            if self.stopped is None and self.cap_bytes is not None and rss > self.cap_bytes:
                self.stopped = f"summed RSS {rss / 2**30:.1f} GiB > cap after {elapsed:.0f} s"
            if self.stopped is None and self.cap_seconds is not None and elapsed > self.cap_seconds:
                self.stopped = f"time cap of {self.cap_seconds:.0f} s reached"
            if self.stopped is not None:
                for proc in children:
                    with contextlib.suppress(psutil.NoSuchProcess):
                        proc.kill()
            self._stop.wait(self.every)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def run(
    batch: Path,
    jobs: int,
    reports: Path,
    cache: Path,
    cap_gb: float | None = None,
    cap_seconds: float | None = None,
) -> dict:
    """Run one batch with an empty cache of its own: wall seconds, per-run seconds, peaks
    (``stopped``: why the caps stopped it, None when it ran to its end)."""
    from helpers.runner.pool import run_batch

    os.environ["B2B_CACHE_DIR"] = str(cache)
    cap_bytes = None if cap_gb is None else cap_gb * 2**30
    with TreeMemory(cap_bytes=cap_bytes, cap_seconds=cap_seconds) as memory:
        start = time.perf_counter()
        records = run_batch(batch, jobs=jobs, reports_dir=reports)
        seconds = time.perf_counter() - start
    # A failed run is reported, not raised: the batch's other figures still stand.
    return {
        "seconds": seconds,
        "runs": {r.notebook: r.duration_s for r in records},
        "status": {r.notebook: r.status for r in records},
        "errors": {r.notebook: r.error for r in records if r.status != "ok"},
        "rss_gb": memory.peak_rss / 2**30,
        "pss_gb": memory.peak_pss / 2**30,
        "stopped": memory.stopped,
    }


def sizes(folder: Path) -> str:
    """Rows of the company's tables, from the Parquet footers."""
    import pyarrow.parquet as pq

    rows = {t: pq.ParquetFile(folder / f"{t}.parquet").metadata.num_rows for t in ALL_TABLES}
    return ", ".join(f"{t} {n:,}" for t, n in rows.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--cap-gb",
        type=float,
        default=None,
        help="stop the company's batch when the summed RSS exceeds this (GiB; e.g. 16)",
    )
    parser.add_argument(
        "--cap-minutes",
        type=float,
        default=None,
        help="stop the company's batch after this many minutes (e.g. 15)",
    )
    args = parser.parse_args()
    cap_seconds = None if args.cap_minutes is None else args.cap_minutes * 60
    folder, made = company(args.accounts, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        results = {}
        for label, data in (("demo", ROOT / "data" / "demo"), ("company", folder)):
            source = parquet_source(data, tmp / f"{label}-source.yaml")
            batch = batch_yaml(source, f"scale-{label}", tmp / f"{label}-batch.yaml")
            caps = (args.cap_gb, cap_seconds) if label == "company" else (None, None)
            results[label] = run(batch, args.jobs, tmp / "reports", tmp / f"cache-{label}", *caps)
    print(json.dumps(results))  # the raw figures, before any formatting
    memory = psutil.virtual_memory().total / 2**30
    print(f"machine: {os.cpu_count()} cores, {memory:.1f} GiB RAM; jobs {args.jobs}")
    print(f"company: {folder.name}: {sizes(folder)}")
    if made is not None:
        print(f"generated in {made:.1f} s (python -m helpers.demo, its own process)")
    print_table(results, args.accounts)


def print_table(results: dict, accounts: int) -> None:
    """The Markdown table of ``results`` (``run`` of the demo and of the company)."""
    base, big = results["demo"], results["company"]
    print(f"| run | demo s | {accounts:,} accounts s | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for notebook, seconds in big["runs"].items():
        ref, status = base["runs"][notebook], big["status"][notebook]
        killed = "exit code -9" in (big["errors"].get(notebook) or "")
        if status == "ok":
            shown, ratio = f"{seconds:.1f}", f"{seconds / max(ref, 1e-9):.1f}"
        elif big["stopped"] and killed:
            shown, ratio = "stopped at the cap", "–"
        else:
            shown, ratio = f"{status} after {seconds:.1f}", "–"
        print(f"| {notebook} | {ref:.1f} | {shown} | {ratio} |")
    ratio = big["seconds"] / base["seconds"]
    print(f"| whole batch (wall) | {base['seconds']:.1f} | {big['seconds']:.1f} | {ratio:.1f} |")
    print(
        f"| peak RSS, all processes summed (GiB) | {base['rss_gb']:.2f} | {big['rss_gb']:.2f} "
        f"| {big['rss_gb'] / base['rss_gb']:.1f} |"
    )
    print(
        f"| peak PSS, all processes summed (GiB) | {base['pss_gb']:.2f} | {big['pss_gb']:.2f} "
        f"| {big['pss_gb'] / base['pss_gb']:.1f} |"
    )
    # the limit is "16 GB": shown in decimal gigabytes too, the stricter reading
    print(
        f"| peak RSS, all processes summed (GB, 10^9 bytes) | {base['rss_gb'] * 2**30 / 1e9:.2f} "
        f"| {big['rss_gb'] * 2**30 / 1e9:.2f} | {big['rss_gb'] / base['rss_gb']:.1f} |"
    )
    for label, result in results.items():
        if result["stopped"]:
            print(f"{label}: the batch was stopped: {result['stopped']}")
        for notebook, error in result["errors"].items():
            print(f"{label}: {notebook} {result['status'][notebook]}: {error}")


if __name__ == "__main__":
    main()
