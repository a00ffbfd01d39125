"""Run folders: built in a staging folder beside the final one, swapped in atomically.

* :func:`new_staging` creates ``reports/<batch>/.staging-<pid>@<host>@<run>@<random>``: the
  owner (the batch process) is in the name, and the folder is created with the process umask
  (``os.mkdir``; ``tempfile.mkdtemp`` would force mode 0700 and hide reports from the other
  users of a shared reports server).
* :func:`swap_in` puts a complete staging folder at the run's final path in one step: Linux's
  ``renameat2(RENAME_EXCHANGE)`` exchanges the two folders atomically, so a reader always finds
  either the complete previous folder or the complete new one, never none; the previous folder,
  now under the staging name, is then removed. Where the exchange is not supported (other
  systems, some file systems) it falls back to two renames (a moment without the folder).
* :func:`clear_leftovers` removes staging folders whose owner is no longer running (a batch
  that was killed), and only those.
"""

from __future__ import annotations

import ctypes
import errno
import os
import secrets
import shutil
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from helpers.runner import processes

STAGING_PREFIX = ".staging-"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


@dataclass(frozen=True)
class Owner:
    """The batch process a staging folder belongs to, and the run it is for."""

    pid: int
    host: str
    run: str

    def running(self) -> bool | None:
        """Whether the owner still runs; None when it is on another host (cannot tell)."""
        if self.host != socket.gethostname():
            return None
        return processes.running(self.pid)


def new_staging(batch_dir: Path, run_name: str, owner: int | None = None) -> Path:
    """A new, empty staging folder for ``run_name`` in ``batch_dir``, owned by ``owner`` (a pid,
    default: this process), with the mode the process umask gives."""
    pid = owner or os.getpid()
    while True:
        path = batch_dir / (
            f"{STAGING_PREFIX}{pid}@{socket.gethostname()}@{run_name}@{secrets.token_hex(4)}"
        )
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


def owner(path: Path) -> Owner | None:
    """The owner named by a staging folder's name; None for a name in no known format."""
    name = path.name
    if not name.startswith(STAGING_PREFIX):
        return None
    parts = name[len(STAGING_PREFIX) :].split("@")
    if len(parts) < 4 or not parts[0].isdigit():
        return None
    return Owner(int(parts[0]), parts[1], "@".join(parts[2:-1]))


def _exchange(a: Path, b: Path) -> bool:
    """Exchange two paths atomically (Linux ``renameat2``); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EXDEV):
        return False
    raise OSError(code, os.strerror(code), str(a), None, str(b))


def swap_in(staging: Path, final: Path) -> None:
    """Replace ``final`` by the complete folder ``staging`` (same parent) in one step; the
    previous ``final`` is removed afterwards and nothing else is left behind."""
    if not final.exists():
        os.rename(staging, final)
        return
    if _exchange(staging, final):
        shutil.rmtree(staging)  # the previous result, now under the staging name
        return
    # fallback: the previous folder moves aside under a name that names this process as owner
    aside = final.with_name(f"{staging.name}@previous")
    os.rename(final, aside)
    os.rename(staging, final)
    shutil.rmtree(aside)


def clear_leftovers(batch_dir: Path) -> list[str]:
    """Remove the staging folders in ``batch_dir`` whose owner has ended; one note per folder
    (removed or kept, and why). Folders of running owners, and of owners on other hosts (whose
    state cannot be seen from here), are kept."""
    notes = []
    for path in sorted(batch_dir.glob(f"{STAGING_PREFIX}*")):
        who = owner(path)
        if who is None:
            shutil.rmtree(path, ignore_errors=True)
            notes.append(f"removed {path.name} (left by an older version of the batch)")
            continue
        alive = who.running() if who.pid != os.getpid() else True
        if alive is None:
            notes.append(f"kept {path.name}: its batch runs on {who.host}, not here")
        elif alive:
            notes.append(f"kept {path.name}: its batch (pid {who.pid}) is still running")
        else:
            shutil.rmtree(path, ignore_errors=True)
            notes.append(f"removed the unfinished run {who.run} of batch pid {who.pid}")
    return notes
