"""The test kit's ``running()`` stops the whole server it started, not just its first process."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from tests.kit.processes import free_port, running


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def test_a_child_that_outlives_its_parent_is_stopped_too(tmp_path: Path) -> None:
    # A granian worker that does not exit on SIGTERM in time was left behind, orphaned, after each run
    # of the access-log tests (tests/test_granian.py): the kit signalled the master only.
    port = free_port()
    child_pid = tmp_path / "child.pid"
    script = (
        f"(trap '' TERM; echo $BASHPID > {child_pid}; exec sleep 300) & "
        f"exec {sys.executable} -m http.server {port} --bind 127.0.0.1"
    )
    with running(["bash", "-c", script], env=dict(os.environ), probe_url=f"http://127.0.0.1:{port}/"):
        deadline = time.monotonic() + 10
        while not child_pid.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        pid = int(child_pid.read_text())
        assert alive(pid)
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert not alive(pid), "the server's child survived running()"
    finally:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
