"""A batch under faults: killed (SIGTERM, SIGKILL) mid-run, and two batches on one folder.

The batch runs as an operator starts it (``python -m helpers.runner.batch run ...`` in its own
process); the fixture notebook ``wait`` blocks on a file (the gate) that the test creates, and
announces its kernel's pid in ``<gate>.started`` first.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers.runner import processes
from helpers.runner.batch import BUSY, main
from helpers.runner.lock import LOCK_FILE
from helpers.runner.pool import run_batch

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"
SRC = Path(__file__).resolve().parents[1] / "src"
TIMEOUT = 180  # seconds; kernels start slowly on a loaded 2-core machine

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _batch_file(root: Path, gate: Path, pending: bool = True) -> Path:
    """A batch whose first run waits for ``gate``; with ``pending``, a second run (with one job,
    it waits for the first to end)."""
    spec = root / "faults.yaml"
    spec.write_text(
        "name: faults\nruns:\n"
        f"  - notebook: wait\n    name: wait\n    parameters: {{GATE: '{gate}'}}\n"
        + ("  - notebook: ok\n" if pending else "")
    )
    return spec


def _start(spec: Path, reports: Path, *extra: str, stderr=None) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "helpers.runner.batch", "run", str(spec), "--jobs", "1",
         "--reports", str(reports), "--notebooks", str(FIXTURES), *extra],
        env=env, stdout=subprocess.DEVNULL, stderr=stderr or subprocess.DEVNULL,
    )  # fmt: skip


def _wait_for(condition, what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _kernel_running(batch: subprocess.Popen, gate: Path) -> tuple[int, list[int]]:
    """Once the waiting notebook runs: its kernel's pid and the batch's process tree."""
    started = gate.with_name(gate.name + ".started")

    def announced() -> bool:  # the file exists and holds the pid (written, not just created)
        return started.exists() and started.read_text().strip().isdigit()

    _wait_for(lambda: announced() or batch.poll() is not None, "the kernel to start")
    assert batch.poll() is None, "the batch ended before the kernel started"
    kernel = int(started.read_text())
    tree = processes.tree(batch.pid)
    assert kernel in tree  # batch -> worker -> kernel
    return kernel, tree


def _runs(reports: Path) -> dict[str, dict]:
    doc = json.loads((reports / "faults" / "runs.json").read_text())
    return {r["name"]: r for r in doc["runs"]}


def _assert_all_ended(pids: list[int]) -> None:
    _wait_for(lambda: not any(processes.running(p) for p in pids), "the process tree to end", 15)


def _rerun_cleanly(spec: Path, reports: Path, gate: Path, names: list[str]) -> str:
    gate.touch()
    log = io.StringIO()
    records = run_batch(spec, jobs=2, reports_dir=reports, notebooks_dir=FIXTURES, log=log)
    assert [(r.name, r.status) for r in records] == [(name, "ok") for name in names]
    assert {r["status"] for r in _runs(reports).values()} == {"ok"}
    index = (reports / "index.html").read_text()
    assert f"Batch <code>faults</code>: {len(names)} runs</h2>" in index
    assert "class='interrupted'" not in index and "class='running'" not in index
    assert not list((reports / "faults").glob(".staging-*"))
    assert (reports / "faults" / LOCK_FILE).read_text() == ""  # released
    return log.getvalue()


def test_sigterm_stops_every_process_and_records_the_interrupted_run(tmp_path):
    gate, reports = tmp_path / "gate", tmp_path / "reports"
    spec = _batch_file(tmp_path, gate)
    batch = _start(spec, reports)
    try:
        _, tree = _kernel_running(batch, gate)
        assert _runs(reports)["wait"]["status"] == "running"  # runs.json follows every start
        batch.send_signal(signal.SIGTERM)
        assert batch.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        batch.kill()
    _assert_all_ended(tree)
    runs = _runs(reports)
    assert runs["wait"]["status"] == "interrupted"
    assert runs["wait"]["error"] == "interrupted by SIGTERM while executing"
    assert runs["ok"]["status"] == "cancelled"  # never started
    index = (reports / "index.html").read_text()
    assert "<td class='interrupted'>interrupted" in index and "cancelled" in index
    assert not list((reports / "faults").glob(".staging-*"))
    assert not (reports / "faults" / "wait").exists()  # no half-run folder
    _rerun_cleanly(spec, reports, gate, ["wait", "ok"])


def test_sigkill_ends_the_workers_and_the_next_batch_cleans_up(tmp_path):
    gate, reports = tmp_path / "gate", tmp_path / "reports"
    spec = _batch_file(tmp_path, gate, pending=False)
    batch = _start(spec, reports)
    try:
        kernel, tree = _kernel_running(batch, gate)
        batch.kill()  # SIGKILL: the batch can do nothing; its workers get SIGTERM from Linux
        batch.wait(timeout=60)
    finally:
        batch.kill()
    _assert_all_ended(tree)
    assert not processes.running(kernel)
    assert _runs(reports)["wait"]["status"] == "running"  # what the killed batch left
    assert json.loads((reports / "faults" / LOCK_FILE).read_text())["pid"] == batch.pid
    notes = _rerun_cleanly(spec, reports, gate, ["wait"])
    assert f"the previous batch did not end cleanly (pid {batch.pid} on" in notes
    assert "its lock was taken over" in notes
    assert f"removed the unfinished run wait of batch pid {batch.pid}" in notes
    assert "marked interrupted in runs.json: wait" in notes


def test_a_second_batch_on_the_same_folder_stops_or_waits(tmp_path, capsys):
    gate, reports = tmp_path / "gate", tmp_path / "reports"
    spec = _batch_file(tmp_path, gate, pending=False)
    first = _start(spec, reports)
    waiting = None
    try:
        _kernel_running(first, gate)
        staging = list((reports / "faults").glob(f".staging-{first.pid}@*"))
        assert len(staging) == 1
        argv = ["run", str(spec), "--reports", str(reports), "--notebooks", str(FIXTURES)]
        assert main(argv=argv) == BUSY
        message = capsys.readouterr().err
        assert f"Another batch is writing to {reports / 'faults'}: pid {first.pid} on " in message
        assert socket.gethostname() in message and "helpers.runner.batch run" in message
        assert "--wait" in message
        assert staging[0].exists()  # the second batch did not touch the first one's work
        log = tmp_path / "second.log"
        with log.open("w") as err:
            waiting = _start(spec, reports, "--wait", stderr=err)
        _wait_for(lambda: "Waiting for the batch" in log.read_text(), "the second to wait")
        assert waiting.poll() is None
        gate.touch()
        assert first.wait(timeout=TIMEOUT) == 0
        assert waiting.wait(timeout=TIMEOUT) == 0
    finally:
        first.kill()
        if waiting is not None:
            waiting.kill()
    assert f"pid {first.pid}" in log.read_text()
    assert "did not end cleanly" not in log.read_text()
    # kernels talk over IPC sockets: no "running over TCP without encryption" in the output
    assert "ok     wait" in log.read_text() and "encryption" not in log.read_text()
    runs = _runs(reports)
    assert {name: r["status"] for name, r in runs.items()} == {"wait": "ok"}
    assert not list((reports / "faults").glob(".staging-*"))
