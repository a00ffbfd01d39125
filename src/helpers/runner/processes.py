"""Processes of a batch: workers that end with their parent, process trees stopped whole.

A batch starts one worker process per run; the worker starts the run's kernel, which may start
processes of its own (joblib pools). Nothing of that tree may outlive the batch:

* :func:`die_with_parent`: a worker gets SIGTERM when the batch process ends, even by SIGKILL
  (Linux ``prctl(PR_SET_PDEATHSIG)``; elsewhere a thread that watches the parent pid).
* :func:`adopt_orphans`: a worker becomes the "subreaper" of its tree (Linux
  ``PR_SET_CHILD_SUBREAPER``), so processes whose parent (the kernel) died are re-parented to
  the worker instead of init, and :func:`descendants` still finds them.
* :func:`stop`: SIGTERM to every process of a tree, SIGKILL to those still running after a grace
  period.

Linux reads ``/proc``; on other systems :func:`descendants` finds nothing and only the direct
children are stopped.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def _prctl(option: int, value: int) -> bool:
    """``prctl(option, value)`` through the C library; False where that is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent: int, sig: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), sig)


def die_with_parent(parent: int, sig: int = signal.SIGTERM) -> None:
    """Have ``sig`` sent to this process when the process ``parent`` (its parent) ends.

    Call it first thing in a child process, with the parent's pid passed down: if the parent
    has already ended by then, the signal is sent at once.
    """
    if not _prctl(_PR_SET_PDEATHSIG, int(sig)):
        threading.Thread(target=_watch_parent, args=(parent, sig), daemon=True).start()
    if os.getppid() != parent:
        os.kill(os.getpid(), sig)


def adopt_orphans() -> bool:
    """Make this process the subreaper of its descendants (Linux); False where unsupported."""
    return _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state letter) of a process from ``/proc``, None when it does not exist."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    return int(fields[1]), fields[0]


def running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (ended, waiting to be reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = _stat(pid)
    return stat is None or stat[1] != "Z"


def descendants(pid: int) -> list[int]:
    """Every running descendant of ``pid`` (children before grandchildren); [] without /proc."""
    children: dict[int, list[int]] = {}
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    for entry in proc.iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[1] != "Z":
                children.setdefault(stat[0], []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        kids = children.get(todo.pop(0), [])
        found += kids
        todo += kids
    return found


def tree(pid: int) -> list[int]:
    """``pid`` and its running descendants."""
    return [pid, *descendants(pid)]


def _signal(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def stop(pids: Iterable[int], grace: float = 3.0) -> list[int]:
    """SIGTERM to ``pids``, SIGKILL to those still running after ``grace`` seconds.

    Returns the pids that had to be killed. Zombies count as ended (their parent reaps them).
    """
    pids = [p for p in dict.fromkeys(pids) if p != os.getpid()]
    _signal(pids, signal.SIGTERM)
    deadline = time.monotonic() + grace
    left = [p for p in pids if running(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if running(p)]
    _signal(left, signal.SIGKILL)
    deadline = time.monotonic() + 2.0
    while any(running(p) for p in left) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left
