"""`make setup` keyed to the checkout; never through another checkout's virtualenv; the code a
batch imports comes from the checkout it is started in."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.runner.checkout import setup_key, venv_problem

CHECKOUT = Path(__file__).resolve().parents[1]
PYPROJECT = """\
[project]
name = "b2b-insights"
dependencies = ["numpy>=1.26", "pandas>=2.2"]
[project.optional-dependencies]
dev = ["pytest>=8.0"]
[tool.ruff]
line-length = 100
"""


def _checkout(root: Path) -> Path:
    """A minimal checkout: pyproject.toml, the Makefile and the set-up script."""
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT)
    shutil.copy(CHECKOUT / "Makefile", root / "Makefile")
    script = root / "src" / "helpers" / "runner" / "checkout.py"
    script.parent.mkdir(parents=True)
    shutil.copy(CHECKOUT / "src" / "helpers" / "runner" / "checkout.py", script)
    return root


def _fake_venv(path: Path, created_for: Path, editable: Path | None = None) -> Path:
    """A virtualenv-like folder whose python only records that it was called (and fails), so
    that nothing can ever be installed through it."""
    (path / "bin").mkdir(parents=True)
    python = path / "bin" / "python"
    python.write_text(f'#!/bin/sh\necho "$@" >> "{path}/calls"\nexit 1\n')
    python.chmod(0o755)
    (path / "pyvenv.cfg").write_text(
        f"home = /usr/bin\nversion = 3.11.7\ncommand = /usr/bin/python3.11 -m venv {created_for}\n"
    )
    if editable is not None:
        site = path / "lib" / "python3.11" / "site-packages"
        site.mkdir(parents=True)
        (site / "__editable__.b2b_insights-0.1.0.pth").write_text(f"{editable}\n")
    return path


def test_the_key_follows_the_checkout_path_and_the_dependency_lists(tmp_path):
    one, two = _checkout(tmp_path / "one"), _checkout(tmp_path / "two")
    assert setup_key(checkout=one) != setup_key(checkout=two)
    key = setup_key(checkout=one)
    text = (one / "pyproject.toml").read_text()
    (one / "pyproject.toml").write_text(text.replace("line-length = 100", "line-length = 99"))
    assert setup_key(checkout=one) == key  # not a dependency: no new set-up
    (one / "pyproject.toml").write_text(text.replace('"pytest>=8.0"', '"pytest>=8.1"'))
    assert setup_key(checkout=one) != key


def test_a_venv_of_another_checkout_is_recognised(tmp_path):
    mine, other = _checkout(tmp_path / "mine"), _checkout(tmp_path / "other")
    own = _fake_venv(mine / ".venv", mine / ".venv", editable=mine / "src")
    assert venv_problem(checkout=mine, venv=own) is None
    assert venv_problem(checkout=mine, venv=mine / "missing") is None
    theirs = _fake_venv(other / ".venv", other / ".venv", editable=other / "src")
    (tmp_path / "linked").mkdir()
    (tmp_path / "linked" / ".venv").symlink_to(theirs)
    linked = venv_problem(checkout=tmp_path / "linked", venv=tmp_path / "linked" / ".venv")
    assert "is a symbolic link to" in linked and "rm " in linked
    copied = tmp_path / "copied"
    shutil.copytree(theirs, copied / ".venv", symlinks=True)
    assert f"was created for {other / '.venv'}" in venv_problem(
        checkout=copied, venv=copied / ".venv"
    )
    hijacked = _fake_venv(
        tmp_path / "h" / ".venv", tmp_path / "h" / ".venv", editable=other / "src"
    )
    problem = venv_problem(checkout=tmp_path / "h", venv=hijacked)
    assert f"installed from {other}" in problem


def test_make_setup_refuses_a_linked_venv_before_installing(tmp_path):
    other = _checkout(tmp_path / "other")
    theirs = _fake_venv(other / ".venv", other / ".venv", editable=other / "src")
    mine = _checkout(tmp_path / "mine")
    (mine / ".venv").symlink_to(theirs)
    before = sorted(p.name for p in theirs.rglob("*"))
    done = subprocess.run(
        ["make", "setup", f"PYTHON={sys.executable}"], cwd=mine, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "make setup: " in done.stderr and "is a symbolic link to" in done.stderr
    assert sorted(p.name for p in theirs.rglob("*")) == before  # nothing ran, nothing written
    assert not (theirs / "calls").exists()


def test_the_stamp_is_named_by_the_key():
    out = subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", "setup", f"PYTHON={sys.executable}"],
        cwd=CHECKOUT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = out.splitlines()
    assert "checkout.py guard .venv" in lines[0]  # the guard comes before anything else
    assert f"checkout.py stamp .venv/.installed-{setup_key(checkout=CHECKOUT)}" in out


def test_the_venv_python_imports_this_checkouts_code(tmp_path):
    """`.venv/bin/python -m helpers.runner.batch` without the Makefile's PYTHONPATH (as a
    scheduler or an analyst would start it) imports `helpers` from this checkout."""
    python = CHECKOUT / ".venv" / "bin" / "python"
    if not python.exists():
        pytest.skip(f"{python} does not exist: `make setup` builds it (CI does)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [str(python), "-m", "helpers.runner.batch", "where"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    # another checkout's code may not even know `where`: its error names its own files
    assert done.returncode == 0, f"not this checkout's batch: {done.stderr[-2000:]}"
    out = done.stdout
    found = dict(line.split(": ", 1) for line in out.splitlines())
    assert Path(found["helpers"]).is_relative_to(CHECKOUT / "src"), out
    assert Path(found["reports"]) == CHECKOUT / "reports"
    stamp = CHECKOUT / ".venv" / f".installed-{setup_key(checkout=CHECKOUT)}"
    if stamp.exists():
        assert json.loads(stamp.read_text())["checkout"] == str(CHECKOUT)
