"""The batch command line: exit codes and the check of a batch file without running it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

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


def test_index_cleans_up_after_a_killed_batch(tmp_path, capsys):
    """What a batch killed by SIGKILL leaves (its lock, a run recorded as running, a staging
    folder) is cleaned up by `index` when no batch holds the folder."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True)  # fmt: skip
    pid, host = int(dead.stdout), socket.gethostname()
    folder = tmp_path / "b"
    (folder / f".staging-{pid}@{host}@r@0a1b2c3d").mkdir(parents=True)
    holder = {"pid": pid, "host": host, "started": "2026-01-01T00:00:00+00:00", "command": "x"}
    (folder / ".lock").write_text(json.dumps(holder))
    record = {"name": "r", "notebook": "ok", "parameters": {}, "status": "running"}
    (folder / "runs.json").write_text(json.dumps({"batch": "b", "runs": [record]}))
    assert main(argv=["index", "--reports", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert f"b: the previous batch did not end cleanly (pid {pid} on {host}" in err
    assert "b: marked interrupted in runs.json: r" in err
    runs = json.loads((folder / "runs.json").read_text())["runs"]
    assert runs[0]["status"] == "interrupted"
    assert runs[0]["error"].startswith(f"interrupted: batch pid {pid} on {host} was killed")
    assert "<td class='interrupted'>interrupted" in (tmp_path / "index.html").read_text()
    assert not list(folder.glob(".staging-*")) and (folder / ".lock").read_text() == ""
