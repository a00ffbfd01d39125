"""Mutation check: plant each kind of statistical mistake the suite must notice, and run the
tests that should catch it (``make mutants``; minutes, not part of ``make test``).

Each mutant is one textual change in a copy of ``src/`` (the working tree is never touched);
the mutant is *killed* when the named tests fail. Exit status 1 when any mutant survives.
Hand-written instead of mutmut/cosmic-ray: those mutate operators at random across a module
and need hours on this suite; the issue names seven specific mistakes, each with its tests; the
eighth guards the churn threshold's quantile, computed from counts per gap length.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str  # relative to the project root
    old: str
    new: str
    tests: tuple[str, ...]  # pytest node ids or "-k" expressions after "::"


MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        "reported-effect sign flip",
        "src/helpers/survival/cox.py",
        '"log_hr": s["coef"],',
        '"log_hr": -s["coef"],',
        (
            "tests/test_survival.py::test_reported_hazard_ratios_match_the_planted_truth_against_the_stated_references",
        ),
    ),
    Mutant(
        "Wilson -> normal interval",
        "src/helpers/funnel.py",
        'lo, hi = proportion_confint(k, n, alpha=alpha, method="wilson") if n',
        'lo, hi = proportion_confint(k, n, alpha=alpha, method="normal") if n',
        ("tests/test_funnel.py::test_wilson_intervals_match_published_values",),
    ),
    Mutant(
        "discount sign (compounding)",
        "src/helpers/survival/ltv.py",
        "np.exp(-r * grid)",
        "np.exp(r * grid)",
        ("tests/test_survival.py::test_discounting_by_hand",),
    ),
    Mutant(
        "interval level 95% -> 50%",
        "src/helpers/survival/ltv.py",
        "seed: int = 42, level: float = 0.95",
        "seed: int = 42, level: float = 0.50",
        ("tests/test_survival.py::test_bootstrap_interval_has_the_stated_level",),
    ),
    Mutant(
        "post-start information in the back-test",
        "src/helpers/survival/backtest.py",
        "default_threshold(gaps_for(orders, start))",
        "default_threshold(gaps_for(orders, as_of))",
        ("tests/test_survival.py::test_backtest_scores_use_nothing_after_its_start",),
    ),
    Mutant(
        "dropped censoring",
        "src/helpers/survival/definition.py",
        's["duration_days"] = s["duration_days"].astype(float)',
        's["duration_days"] = s["duration_days"].astype(float)\n    s["event"] = 1',
        ("tests/test_survival.py::test_kaplan_meier_median_recovers_the_planted_one",),
    ),
    Mutant(
        "dropped delayed entry",
        "src/helpers/survival/definition.py",
        "origin = origin.where(~early, acquired)",
        "origin = origin.where(True, acquired)",
        (
            "tests/test_survival.py::test_a_left_truncated_export_recovers_the_full_exports_survival",
        ),
    ),
    Mutant(
        "gap quantile off by one position",
        "src/helpers/order_gaps.py",
        "virtual = (n - 1) * share",
        "virtual = n * share",
        (
            "tests/test_order_gaps.py::test_quantile_median_and_share_are_pandas_floats_on_random_integer_gaps",
        ),
    ),
)


def run(mutant: Mutant) -> tuple[bool, str]:
    """(killed, note): apply the mutant in a copy of the project and run its tests."""
    with tempfile.TemporaryDirectory(prefix="mutant-") as tmp:
        work = Path(tmp)
        shutil.copytree(ROOT / "src", work / "src", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(
            ROOT / "tests", work / "tests", ignore=shutil.ignore_patterns("__pycache__")
        )
        shutil.copy(ROOT / "pyproject.toml", work / "pyproject.toml")
        (work / "data").symlink_to(ROOT / "data")
        target = work / mutant.file
        text = target.read_text(encoding="utf-8")
        if text.count(mutant.old) != 1:
            return False, f"the code to mutate was not found once in {mutant.file}: update MUTANTS"
        target.write_text(text.replace(mutant.old, mutant.new), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(work / "src")}
        cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *mutant.tests]
        done = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
        return done.returncode != 0, done.stdout.strip().splitlines()[-1] if done.stdout else ""


def main() -> int:
    survived = 0
    for mutant in MUTANTS:
        killed, note = run(mutant)
        survived += not killed
        print(f"{'killed  ' if killed else 'SURVIVED'}  {mutant.name}: {note}", flush=True)
    print(f"{len(MUTANTS) - survived} of {len(MUTANTS)} mutants killed")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
