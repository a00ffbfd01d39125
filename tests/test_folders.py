"""Staging folders: named by their owner, created with the umask, cleared only when it ended."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from helpers.runner.folders import Owner, clear_leftovers, new_staging, owner, swap_in


def test_a_staging_folder_names_its_owner_and_gets_the_umask(tmp_path):
    umask = os.umask(0o027)
    try:
        path = new_staging(batch_dir=tmp_path, run_name="02-churn--filters-region-north")
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o750
    assert owner(path) == Owner(os.getpid(), socket.gethostname(), "02-churn--filters-region-north")
    assert owner(tmp_path / ".staging-run-x") is None


def test_only_folders_of_ended_owners_are_cleared(tmp_path):
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    host = socket.gethostname()
    gone = tmp_path / f".staging-{int(ended.stdout)}@{host}@a@01"
    alive = tmp_path / f".staging-{os.getppid()}@{host}@b@02"
    remote = tmp_path / ".staging-1@elsewhere.example@c@03"
    for path in (gone, alive, remote):
        path.mkdir()
    notes = clear_leftovers(batch_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, remote.name])
    assert f"removed the unfinished run a of batch pid {int(ended.stdout)}" in notes
    assert any("runs on elsewhere.example" in n for n in notes)


def test_swap_in_replaces_the_folder_and_leaves_nothing(tmp_path):
    final = tmp_path / "run"
    staging = new_staging(batch_dir=tmp_path, run_name="run")
    (staging / "a").write_text("1")
    swap_in(staging=staging, final=final)  # no previous folder: a rename
    staging = new_staging(batch_dir=tmp_path, run_name="run")
    (staging / "b").write_text("2")
    swap_in(staging=staging, final=final)
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    assert [p.name for p in final.iterdir()] == ["b"]
