"""The lock of a batch's reports folder: one holder, named; a killed holder's lock taken over."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from helpers.runner.lock import LOCK_FILE, FolderBusy, FolderLock, Holder


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def test_a_second_lock_names_the_holder_and_the_file_stays_empty_after(tmp_path):
    first = FolderLock(folder=tmp_path)
    assert first.acquire() is None
    holder = first.holder()
    assert holder is not None and holder.pid == os.getpid()
    assert holder.host == socket.gethostname() and holder.started and holder.command
    with pytest.raises(FolderBusy) as busy:
        FolderLock(folder=tmp_path).acquire()
    assert busy.value.holder == holder
    assert f"pid {os.getpid()} on {socket.gethostname()}, started {holder.started}" in str(
        busy.value
    )
    with pytest.raises(FolderBusy):  # waiting, but not long enough
        FolderLock(folder=tmp_path).acquire(wait=True, timeout=0.3)
    first.release()
    assert (tmp_path / LOCK_FILE).read_text() == ""
    with FolderLock(folder=tmp_path):
        pass


def test_the_lock_of_a_killed_batch_is_taken_over_and_returned(tmp_path):
    dead = Holder(_dead_pid(), socket.gethostname(), "2026-01-01T00:00:00+00:00", "batch run x")
    (tmp_path / LOCK_FILE).write_text(json.dumps(dead.__dict__))
    assert dead.running() is False
    lock = FolderLock(folder=tmp_path)
    assert lock.acquire() == dead
    assert lock.holder().pid == os.getpid()
    lock.release()


def test_a_holder_on_another_host_cannot_be_judged():
    assert Holder(1, "elsewhere.example", "", "").running() is None
