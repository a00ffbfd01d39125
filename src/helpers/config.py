"""Project paths, resolved from this file so they do not depend on the working directory."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR: Path = Path(__file__).resolve().parent
PROJECT_ROOT: Path = PACKAGE_DIR.parents[1]
DATA_DIR: Path = PROJECT_ROOT / "data"
DEMO_DIR: Path = DATA_DIR / "demo"
NOTEBOOKS_DIR: Path = PROJECT_ROOT / "notebooks"
REPORTS_DIR: Path = PROJECT_ROOT / "reports"
RUNS_DIR: Path = PROJECT_ROOT / "runs"

#: Kernel name registered by ``make setup``; papermill and nbval are always told this name.
KERNEL_NAME: str = "b2b-insights"

#: The value a notebook's ``DATA_SOURCE`` parameter takes to mean "the embedded demo data".
DEMO_SOURCE: str = "demo"
