"""Worker processes end with their parent, even when it is killed; trees are stopped whole."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from helpers.runner import processes

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

#: A parent that starts a child asking to die with it, prints the child's pid, then sleeps.
PARENT = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", '''
import os, sys, time
from helpers.runner import processes
processes.die_with_parent(int(sys.argv[1]))
print("ready", flush=True)
time.sleep(600)
''', str(os.getpid())], stdout=subprocess.PIPE, text=True)
child.stdout.readline()
print(child.pid, flush=True)
time.sleep(600)
"""


def _wait_ended(pid: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while processes.running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not processes.running(pid)


def test_a_child_ends_when_its_parent_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        assert processes.descendants(parent.pid) == [child]
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        assert _wait_ended(child)
    finally:
        parent.kill()


def test_stop_ends_a_whole_tree():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    tree = processes.tree(parent.pid)
    assert tree == [parent.pid, child]
    assert processes.stop(tree, grace=5.0) == []  # SIGTERM was enough
    parent.wait()
    assert not any(processes.running(p) for p in tree)
