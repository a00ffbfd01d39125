"""Batch reruns of the notebooks with papermill: parallel, checked, isolated, atomic.

``python -m helpers.runner.batch run runs/by-region.yaml --jobs 2`` (or ``make reports
BATCH=runs/by-region.yaml``) runs a batch file (format: :mod:`helpers.runner.spec`):

1. Every run's parameters are checked against its notebook's ``parameters`` cell before any
   kernel starts (:func:`helpers.runner.spec.check_runs`); all problems are reported at once.
2. The batch locks its reports folder: a second batch on the same folder stops with a message
   naming the first (``--wait``: waits for it); after a batch that was killed, the next one
   cleans up and says what it found.
3. Runs execute in parallel worker processes, each in a staging folder swapped into place
   atomically when it ends; runs marked ``last: true`` start after all the others; ``--only``
   always includes them (:mod:`helpers.runner.pool`). One line per finished run.
4. A failing run keeps its partial notebook and an HTML view pointing at the failing cell; the
   other runs go on; the batch exits non-zero.
5. ``reports/<batch>/runs.json`` and ``reports/index.html`` are updated whenever a run starts or
   ends. After the last runs, a batch with several leadership summaries gets its comparison
   page (``reports/<batch>/comparison.html``, :mod:`helpers.runner.compare`) and, when Chromium
   is installed, each summary its PDF (``summary.pdf``, :mod:`helpers.runner.pdf`; ``B2B_PDF=0``
   turns it off); the index is written again to link them. Ctrl-C or SIGTERM stops the batch
   cleanly: no process is left, the runs that were executing are recorded ``interrupted`` and
   the others ``cancelled``; previous results stay.

``check`` checks a batch file without running it; ``index`` rebuilds ``reports/index.html``
(first cleaning up after killed batches in folders no batch holds now);
``where`` prints where the code, the reports and the kernel come from.
Exit codes: 0 all runs ok, 1 a run failed, 2 the batch is invalid (nothing was started),
3 another batch holds the reports folder, 128 + N stopped by signal N (130 Ctrl-C, 143 SIGTERM).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import helpers
from helpers.config import KERNEL_NAME, NOTEBOOKS_DIR, PROJECT_ROOT, REPORTS_DIR
from helpers.runner import compare, pdf
from helpers.runner.lock import FolderBusy
from helpers.runner.pool import BatchInterrupted, run_batch
from helpers.runner.records import recover_all, write_index
from helpers.runner.spec import BatchError, check_runs, read_batch

#: Exit code when another batch holds the reports folder.
BUSY = 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.runner.batch", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="check and execute a batch file")
    run.add_argument("batch", type=Path)
    run.add_argument("--jobs", type=int, default=None, help="parallel runs (default: cores)")
    run.add_argument("--only", nargs="*", help="run names or notebooks to run")
    run.add_argument(
        "--wait", action="store_true", help="wait for another batch on the same folder to end"
    )
    run.add_argument("--reports", type=Path, default=REPORTS_DIR, help="reports folder")
    run.add_argument("--notebooks", type=Path, default=NOTEBOOKS_DIR, help="notebooks folder")
    check = sub.add_parser("check", help="check a batch file without running it")
    check.add_argument("batch", type=Path)
    index = sub.add_parser(
        "index", help="rebuild reports/index.html (cleaning up after killed batches)"
    )
    index.add_argument("--reports", type=Path, default=REPORTS_DIR, help="reports folder")
    sub.add_parser("where", help="where the code, the reports and the kernel come from")
    return parser


def where() -> str:
    """Lines naming the checkout the code is imported from, the reports folder, the kernel."""
    lines = [
        f"helpers: {Path(helpers.__file__).resolve()}",
        f"project: {PROJECT_ROOT}",
        f"reports: {REPORTS_DIR}",
        f"python: {sys.executable}",
    ]
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
        lines.append(f"kernel: {spec.argv[0]} ({spec.resource_dir})")
    except Exception as exc:  # no kernel registered: say so, do not fail
        lines.append(f"kernel: {KERNEL_NAME} not found ({type(exc).__name__})")
    return "\n".join(lines)


def pages(batch_dir: Path, reports_dir: Path) -> list[str]:
    """After a batch's last runs: its comparison page of slices and the summaries' PDFs (when
    Chromium is installed and ``B2B_PDF`` is not ``0``), then the index again; one line per
    page written or not written (a PDF that cannot be printed does not fail the batch)."""
    lines = []
    written = compare.write_comparison(batch_dir)
    if written:
        lines.append(f"comparison of slices: {written}")
    if os.environ.get("B2B_PDF", "1") != "0" and pdf.chromium():
        try:
            lines += [f"PDF: {p}" for p in pdf.write_summary_pdfs(batch_dir)]
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
            lines.append(f"PDF not printed: {exc}")
    write_index(reports_dir)
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m helpers.runner.batch run runs/x.yaml [--jobs N] [--only NAME ...] [--wait]``."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "check":
            _, runs = read_batch(args.batch)
            check_runs(runs)
            print(f"{args.batch}: {len(runs)} runs, all parameters valid")
            print("\n".join(f"  {r.name}" for r in runs))
            return 0
        if args.command == "index":
            notes = recover_all(args.reports)
            if notes:
                print("Cleaned up after killed batches:", file=sys.stderr)
                print("\n".join(f"  - {n}" for n in notes), file=sys.stderr)
            print(write_index(args.reports))
            return 0
        if args.command == "where":
            print(where())
            return 0
        records = run_batch(
            args.batch,
            args.jobs,
            reports_dir=args.reports,
            notebooks_dir=args.notebooks,
            only=args.only,
            wait=args.wait,
        )
    except BatchError as exc:
        print(exc, file=sys.stderr)
        return 2
    except FolderBusy as exc:
        print(exc, file=sys.stderr)
        return BUSY
    except BatchInterrupted as exc:
        counts = {s: sum(r.status == s for r in exc.records) for s in ("ok", "interrupted")}
        print(
            f"Stopped ({exc}): {counts['ok']} runs ok, {counts['interrupted']} interrupted, "
            f"the rest not started; index: {args.reports / 'index.html'}",
            file=sys.stderr,
        )
        return 128 + exc.signum
    batch_name, _ = read_batch(args.batch)
    for line in pages(args.reports / batch_name, args.reports):
        print(line)
    failed = [r for r in records if r.status != "ok"]
    print(
        f"{len(records) - len(failed)} of {len(records)} runs ok; index: "
        f"{args.reports / 'index.html'}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
