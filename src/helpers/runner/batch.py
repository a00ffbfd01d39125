"""Batch reruns of the notebooks with papermill: parallel, checked, isolated, atomic.

``python -m helpers.runner.batch run runs/by-region.yaml --jobs 2`` (or ``make reports
BATCH=runs/by-region.yaml``) runs a batch file (format: :mod:`helpers.runner.spec`):

1. Every run's parameters are checked against its notebook's ``parameters`` cell before any
   kernel starts (:func:`helpers.runner.spec.check_runs`); all problems are reported at once.
2. Runs execute in parallel, each in a temporary folder renamed into place when it ends; runs
   marked ``last: true`` start after all the others; ``--only`` always includes them
   (:mod:`helpers.runner.execute`). One progress bar and one line per finished run.
3. A failing run keeps its partial notebook and an HTML view pointing at the failing cell; the
   other runs go on; the batch exits non-zero.
4. ``reports/<batch>/runs.json`` records every run and ``reports/index.html`` lists all batches.

``check`` checks a batch file without running it; ``index`` rebuilds ``reports/index.html``.
Exit codes: 0 all runs ok, 1 a run failed, 2 the batch is invalid (nothing was started).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from helpers.config import REPORTS_DIR
from helpers.runner.execute import run_batch, write_index
from helpers.runner.spec import BatchError, check_runs, read_batch


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.runner.batch", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="check and execute a batch file")
    run.add_argument("batch", type=Path)
    run.add_argument("--jobs", type=int, default=None, help="parallel runs (default: cores)")
    run.add_argument("--only", nargs="*", help="run names or notebooks to run")
    check = sub.add_parser("check", help="check a batch file without running it")
    check.add_argument("batch", type=Path)
    sub.add_parser("index", help="rebuild reports/index.html")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m helpers.runner.batch run runs/x.yaml [--jobs N] [--only NAME ...]``."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "check":
            _, runs = read_batch(args.batch)
            check_runs(runs)
            print(f"{args.batch}: {len(runs)} runs, all parameters valid")
            print("\n".join(f"  {r.name}" for r in runs))
            return 0
        if args.command == "index":
            print(write_index())
            return 0
        records = run_batch(args.batch, args.jobs, only=args.only)
    except BatchError as exc:
        print(exc, file=sys.stderr)
        return 2
    failed = [r for r in records if r.status != "ok"]
    print(
        f"{len(records) - len(failed)} of {len(records)} runs ok; index: "
        f"{REPORTS_DIR / 'index.html'}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
