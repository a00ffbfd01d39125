"""The batch command line: exit codes and the check of a batch file without running it."""

from __future__ import annotations

from helpers.config import REPORTS_DIR, RUNS_DIR
from helpers.runner.batch import main
from helpers.runner.spec import read_batch


def test_check_lists_the_runs_of_a_valid_batch(capsys):
    assert main(argv=["check", str(RUNS_DIR / "default.yaml")]) == 0
    out = capsys.readouterr().out
    _, runs = read_batch(path=RUNS_DIR / "default.yaml")
    assert f"{len(runs)} runs, all parameters valid" in out
    assert all(f"  {r.name}\n" in out for r in runs)


def test_an_invalid_batch_exits_2_and_starts_nothing(tmp_path, capsys):
    spec = tmp_path / "b.yaml"
    spec.write_text("runs:\n  - notebook: nope\n  - notebook: 00-data-overview\n")
    assert main(argv=["run", str(spec)]) == 2
    assert "nope: notebook nope.ipynb does not exist" in capsys.readouterr().err
    assert not (REPORTS_DIR / "b").exists()
    assert main(argv=["check", str(spec)]) == 2
    assert main(argv=["run", str(tmp_path / "missing.yaml")]) == 2
