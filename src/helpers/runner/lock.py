"""One batch at a time in a reports folder: a lock file that names its holder.

``reports/<batch>/.lock`` is locked with ``flock`` while a batch runs and holds one line of
JSON: the holder's pid, host, start time and command. A second batch on the same folder stops
with a message naming the holder (:class:`FolderBusy`), or waits for it (``wait=True``).

The operating system releases the ``flock`` when its holder ends, however it ends; a holder
that ends normally also empties the file. So a lock that can be taken while the file still
names a holder was left by a batch that was killed: :meth:`FolderLock.acquire` takes it over
and returns that holder, and the batch says so. The file itself is never deleted (a process
waiting on a deleted lock file would hold a lock nobody else sees).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import shlex
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from helpers.runner import processes

LOCK_FILE = ".lock"

#: Descriptors of the locks this process holds: a forked worker closes its copies, so that a
#: lock lives exactly as long as the batch that took it.
HELD: set[int] = set()


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) a folder's lock."""

    pid: int
    host: str
    started: str
    command: str

    @classmethod
    def me(cls) -> Holder:
        """This process."""
        argv = getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv]
        return cls(
            os.getpid(),
            socket.gethostname(),
            dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            shlex.join(argv),
        )

    def describe(self) -> str:
        """``pid 123 on host, started 2026-01-01T10:00:00+00:00: python -m ...``."""
        return f"pid {self.pid} on {self.host}, started {self.started}: {self.command}"

    def running(self) -> bool | None:
        """Whether the holder still runs; None when it is on another host (cannot tell)."""
        if self.host != socket.gethostname():
            return None
        return processes.running(self.pid)


class FolderBusy(RuntimeError):
    """Another batch holds the folder's lock; ``holder`` says which (None: not known yet)."""

    def __init__(self, folder: Path, holder: Holder | None) -> None:
        who = holder.describe() if holder else "a batch that is just starting"
        super().__init__(
            f"Another batch is writing to {folder}: {who}. Wait for it to finish, or run "
            "again with --wait to start when it has."
        )
        self.folder = folder
        self.holder = holder


def _read(fd: int) -> Holder | None:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 65536).decode("utf-8", "replace").strip()
    if not text:
        return None
    try:
        return Holder(**json.loads(text))
    except (ValueError, TypeError):
        return Holder(0, "?", "?", f"unreadable lock file: {text[:200]}")


class FolderLock:
    """The exclusive lock of a batch's reports folder (``with FolderLock(folder): ...``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        self._fd: int | None = None

    def holder(self) -> Holder | None:
        """Who the lock file names (the current holder, or a killed one), None if nobody."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            return _read(fd)
        finally:
            os.close(fd)

    def acquire(
        self,
        wait: bool = False,
        timeout: float | None = None,
        on_wait: Callable[[Holder | None], None] | None = None,
    ) -> Holder | None:
        """Take the lock; returns the holder of a stale lock taken over (None normally).

        ``wait=False``: raise :class:`FolderBusy` at once when another batch holds it;
        ``wait=True``: wait (at most ``timeout`` seconds, then raise), calling ``on_wait`` with
        the holder once.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)  # the process umask applies
        deadline = None if timeout is None else time.monotonic() + timeout
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _read(fd)
                late = deadline is not None and time.monotonic() > deadline
                if not wait or late:
                    os.close(fd)
                    raise FolderBusy(self.folder, holder) from None
                if not told and on_wait is not None:
                    on_wait(holder)
                told = True
                time.sleep(0.2)
        stale = _read(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(asdict(Holder.me())) + "\n").encode(), 0)
        os.fsync(fd)
        self._fd = fd
        HELD.add(fd)
        return stale

    def release(self) -> None:
        """Empty the lock file and unlock it (the file stays)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        HELD.discard(self._fd)
        self._fd = None

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
