"""Shared by the step-by-step benchmarks: time and peak memory of each step of a workload.

Memory is the peak resident set (``VmHWM``) of the measuring process, interpreter, libraries
and data already loaded included. Before each step the high-water mark is reset to the current
resident set (Linux: ``/proc/self/clear_refs``), so a step's ``peak_mb`` is the largest the
process grew to *during that step* and ``extra_mb`` is that peak minus the resident set when the
step began (what the step itself needed on top). Unlike ``tracemalloc``, this sees memory that
DuckDB, Arrow and BLAS allocate outside Python's allocator. Where the mark cannot be reset
(not Linux), every step reports the process peak so far.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _status_mb(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_mb() -> float:
    """Peak resident memory of this process since start or the last :func:`reset_peak` (MB)."""
    hwm = _status_mb("VmHWM")
    if hwm is not None:
        return hwm
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: approximate


def rss_mb() -> float:
    """Current resident memory of this process (MB)."""
    rss = _status_mb("VmRSS")
    return rss if rss is not None else peak_mb()


def reset_peak() -> None:
    """Reset the high-water mark to the current resident set (Linux >= 4.0; else no-op)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


class Steps:
    """Runs named steps, recording wall seconds, peak and extra resident memory of each."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def run(self, name: str, func: Callable[[], Any]) -> Any:
        reset_peak()
        before = rss_mb()
        start = time.perf_counter()
        result = func()
        seconds = time.perf_counter() - start
        peak = peak_mb()
        self.records.append(
            {"step": name, "seconds": seconds, "peak_mb": peak, "extra_mb": peak - before}
        )
        return result


def in_subprocess(
    script: str, args: list[str], env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run ``script *args`` in a fresh interpreter (its own memory; ``script`` may be ``"-c"``
    with the code first in ``args``), with ``env`` added to this environment; parse the JSON of
    its last output line."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})}
    result = subprocess.run(
        [sys.executable, script, *args], capture_output=True, text=True, env=env, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"worker failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def medians(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per step over repeated runs: median seconds, largest peak and extra memory."""
    out = []
    for i, first in enumerate(runs[0]["steps"]):
        these = [r["steps"][i] for r in runs]
        out.append(
            {
                "step": first["step"],
                "seconds": statistics.median(s["seconds"] for s in these),
                "peak_mb": max(s["peak_mb"] for s in these),
                "extra_mb": max(s["extra_mb"] for s in these),
            }
        )
    return out


def table(sizes: list[str], results: list[list[dict[str, Any]]]) -> str:
    """Markdown: one row per step (and the total), seconds and peak MB per size, extra MB and
    the time ratio of the largest size over the smallest (the baseline of the same run)."""
    head = ["step"]
    for size in sizes:
        head += [f"{size} s", f"{size} peak MB"]
    head += [f"{sizes[-1]} extra MB", f"time {sizes[-1]} / {sizes[0]}"]
    lines = ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)]
    rows = [[r[i] for r in results] for i in range(len(results[0]))]
    total = [
        {
            "step": "**total**",
            "seconds": sum(s["seconds"] for s in r),
            "peak_mb": max(s["peak_mb"] for s in r),
            "extra_mb": max(s["extra_mb"] for s in r),
        }
        for r in results
    ]
    for row in [*rows, total]:
        cells = [row[0]["step"]]
        for s in row:
            cells += [f"{s['seconds']:.2f}", f"{s['peak_mb']:,.0f}"]
        ratio = row[-1]["seconds"] / row[0]["seconds"] if row[0]["seconds"] > 0 else float("nan")
        cells += [f"{row[-1]['extra_mb']:,.0f}", f"{ratio:.1f}x"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def short(n: int) -> str:
    """1000000 -> '1M', 100000 -> '100k' (nominal sizes in column heads)."""
    for unit, div in (("M", 1_000_000), ("k", 1_000)):
        if n >= div:
            return f"{n / div:g}{unit}"
    return str(n)


def write_csv_source(folder: Path, out: Path, keep_parquet: tuple[str, ...] = ()) -> Path:
    """The tables of a generated ``folder`` as contract-named CSV files in ``out`` with their
    source YAML (returned); tables in ``keep_parquet`` stay the folder's Parquet files."""
    from helpers.loading import demo_config, load_dataset
    from helpers.validation import ROW_COLUMN

    ds = load_dataset(demo_config(folder), cache=False)
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"analysis_date: {ds.analysis_date.date()}", "tables:"]
    for name, frame in ds.tables.items():
        if name in keep_parquet:
            lines.append(f"  {name}: {(folder / f'{name}.parquet').resolve()}")
            continue
        frame.drop(columns=ROW_COLUMN).to_csv(out / f"{name}.csv", index=False)
        lines.append(f"  {name}: {name}.csv")
    (out / "source.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out / "source.yaml"


def parquet_source(folder: Path, out: Path) -> Path:
    """A source YAML at ``out`` (returned) naming the Parquet tables of a company generated by
    ``python -m helpers.demo`` in ``folder``, with the demo's analysis date and currency."""
    import yaml

    from helpers.demo import ALL_TABLES, AS_OF
    from helpers.formats import DEMO_CURRENCY

    tables = {t: {"file": str(folder / f"{t}.parquet")} for t in ALL_TABLES}
    spec = {"analysis_date": str(AS_OF), "currency": DEMO_CURRENCY, "tables": tables}
    out.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return out


def module_at(rev: str, path: str) -> ModuleType:
    """The module in file ``path`` (from the repository root) as it stood at git revision
    ``rev`` (read with ``git show``), imported as ``baseline_<name>``: the baseline a benchmark
    times today's code against in the same run. It imports today's ``helpers`` for the rest."""
    text = subprocess.run(
        ["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    name = f"baseline_{Path(path).stem}"
    file = Path(tempfile.mkdtemp()) / f"{name}.py"
    file.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def generated_company(folder: Path, n_accounts: int, seed: int | None = None) -> float | None:
    """Make sure ``folder`` holds a company of ``n_accounts`` written by ``python -m
    helpers.demo`` (in its own process; ``seed`` None: the generator's default): the seconds
    the generation took, or None when the folder was already complete (``.complete``, which the
    generator writes last)."""
    if (folder / ".complete").exists():
        return None
    start = time.perf_counter()
    size = ["--accounts", str(n_accounts), *([] if seed is None else ["--seed", str(seed)])]
    subprocess.run(
        [sys.executable, "-m", "helpers.demo", "--out", str(folder), *size],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        check=True,
    )
    return time.perf_counter() - start
