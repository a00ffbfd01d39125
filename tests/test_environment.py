"""pyproject.toml (source of truth) and environment.yml list the same dependencies; make help."""

from __future__ import annotations

import re
import subprocess
import tomllib

import yaml

from helpers.config import PROJECT_ROOT


def _norm(requirement: str) -> str:
    return re.sub(r"\s+", "", requirement).lower()


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_norm(r) for r in project["dependencies"]}
    wanted |= {_norm(r) for r in project["optional-dependencies"]["dev"]}
    env = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps and "pip" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    listed = {_norm(r) for r in pip if not r.startswith("-e")}
    assert any(r.startswith("-e .") for r in pip), "environment.yml must install the package"
    assert listed - wanted == set(), f"only in environment.yml: {sorted(listed - wanted)}"
    assert wanted - listed == set(), f"only in pyproject.toml: {sorted(wanted - listed)}"


def test_python_version_agrees():
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"].startswith(">=3.11")


def test_every_make_target_has_help():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    targets = re.findall(r"^([a-z][a-z-]*):", makefile, flags=re.MULTILINE)
    undocumented = [t for t in targets if not re.search(rf"^{t}:.*## ", makefile, re.MULTILINE)]
    assert undocumented == []
    out = subprocess.run(
        ["make", "-s", "help"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout
    for target in ("setup", "data", "reports", "test", "lint", "lab", "clean"):
        assert re.search(rf"^\s+{target}\s", out, re.MULTILINE), f"make help lacks {target}"


def test_ci_runs_make_test():
    script = (PROJECT_ROOT / ".ci" / "run").read_text()
    assert "make test" in script


def test_readme_starts_with_the_two_commands():
    head = (PROJECT_ROOT / "README.md").read_text().split("##")[0]
    assert "make reports" in head and "make test" in head


def test_make_test_leaves_spark_out_and_ci_runs_it_after():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert '-m "not slow and not spark"' in makefile  # ~30 s of Spark start-up stays out
    assert "test-spark: $(STAMP) $(DEMO) ## " in makefile
    assert "$(PY) -m pytest -m spark tests" in makefile
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    assert any(
        r.startswith("pyspark") for r in project["project"]["optional-dependencies"]["spark"]
    )
    assert any(m.startswith("spark:") for m in project["tool"]["pytest"]["ini_options"]["markers"])
    script = (PROJECT_ROOT / ".ci" / "run").read_text()
    assert script.index("make test\n") < script.index("B2B_REQUIRE_SPARK=1 make test-spark")
    assert "pip install --quiet -e '.[spark]'" in script
