"""The leadership summary as a PDF for e-mail, printed by headless Chromium.

``python -m helpers.runner.pdf reports/default`` (``make pdf``) prints the report of every
leadership summary that ran ok in the batch folder(s) given to ``summary.pdf`` beside its
``report.html``; the batch command does the same after a batch's last runs when Chromium is
installed (``B2B_PDF=0`` turns that off). Chromium: Debian's ``chromium`` package
(``apt-get install -y chromium``; ``.ci/run`` installs it), or the browser named by
``B2B_CHROMIUM``. It prints offline (no network is needed: the report is self-contained) with
the report's print styles (no table of contents, no links bar).

The PDF carries its printing date, so it is not byte-identical across reruns and no
byte-identity check covers it (they compare ``metrics.json`` and the run folders of the test
notebooks, which have no summary).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from helpers.runner.index import PDF_FILE, SUMMARY_NOTEBOOK
from helpers.runner.records import write_index

__all__ = ["PDF_FILE", "chromium", "print_pdf", "write_summary_pdfs"]

#: Flags for a quiet, offline, headless print (containers run as root: no sandbox).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-pdf-header-footer",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
)


def chromium() -> str | None:
    """The Chromium executable: ``B2B_CHROMIUM``, else ``chromium`` on the PATH (Debian's
    package), else ``/usr/bin/chromium``; None when there is none."""
    named = os.environ.get("B2B_CHROMIUM")
    for candidate in (named, shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def print_pdf(html: Path, pdf: Path, browser: str | None = None, timeout: int = 120) -> Path:
    """Print ``html`` (a self-contained report) to ``pdf`` with headless Chromium; the file is
    written atomically (a temporary file in the same folder, then a rename). Raises
    FileNotFoundError without Chromium and RuntimeError when it writes no PDF."""
    browser = browser or chromium()
    if browser is None:
        raise FileNotFoundError("Chromium not found (Debian: apt-get install -y chromium)")
    fd, tmp = tempfile.mkstemp(dir=pdf.parent, prefix=f".{pdf.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with tempfile.TemporaryDirectory(prefix="b2b-chromium-") as profile:
            done = subprocess.run(
                [
                    browser,
                    *FLAGS,
                    f"--user-data-dir={profile}",
                    f"--print-to-pdf={tmp}",
                    html.resolve().as_uri(),
                ],
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        with open(tmp, "rb") as fh:
            printed = fh.read(5) == b"%PDF-"
        if done.returncode != 0 or not printed:
            lines = (done.stderr or "").strip().splitlines()
            raise RuntimeError(f"Chromium wrote no PDF of {html}: {' '.join(lines[-2:])}")
        os.chmod(tmp, 0o644)
        os.replace(tmp, pdf)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return pdf


def write_summary_pdfs(batch_dir: Path, browser: str | None = None) -> list[Path]:
    """``summary.pdf`` beside the ``report.html`` of every leadership summary that ran ok in
    ``batch_dir`` (read from its ``runs.json``); the PDFs written."""
    try:
        runs = json.loads((batch_dir / "runs.json").read_text(encoding="utf-8"))["runs"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    written = []
    for run in runs:
        report = (run.get("files") or {}).get("report")
        if run.get("notebook") == SUMMARY_NOTEBOOK and run.get("status") == "ok" and report:
            folder = batch_dir / run["name"]
            written.append(print_pdf(folder / report, folder / PDF_FILE, browser))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m helpers.runner.pdf reports/default [reports/by-region ...]``."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.runner.pdf", description=__doc__.splitlines()[0]
    )
    parser.add_argument("batch_dirs", type=Path, nargs="*", help="batch folders under reports/")
    args = parser.parse_args(argv)
    if not args.batch_dirs:
        print("No batch folder with a runs.json: `make reports` first", file=sys.stderr)
        return 1
    if chromium() is None:
        print(
            "Chromium not found: apt-get install -y chromium (or set B2B_CHROMIUM)", file=sys.stderr
        )
        return 1
    written = [p for folder in args.batch_dirs for p in write_summary_pdfs(folder)]
    for reports in {folder.parent for folder in args.batch_dirs}:
        write_index(reports)  # the index links the PDFs
    print("\n".join(str(p) for p in written) or "no leadership summary found to print")
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
