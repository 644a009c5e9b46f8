"""The README's first command: `bash scripts/dev` runs the app and an emulator and prints a working URL."""

from __future__ import annotations

import html
import os
import queue
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import IO

import requests

from tests.kit.processes import REPO, app_env, free_port

STARTUP_TIMEOUT = 90.0
EXIT_TIMEOUT = 15.0
MARKER = "Open the macro:"


def pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    """Copy a text stream into ``lines`` until EOF (``None`` marks the end)."""
    for line in iter(stream.readline, ""):
        lines.put(line)
    lines.put(None)


def wait_for_line(lines: queue.Queue[str | None], prefix: str, timeout: float, log: list[str]) -> str | None:
    """The first line starting with ``prefix`` within ``timeout`` seconds, or None (EOF or deadline)."""
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            return None
        if line is None:
            return None
        log.append(line)
        if line.startswith(prefix):
            return line
    return None


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_group(process: subprocess.Popen[str]) -> bool:
    """SIGTERM the whole process group; SIGKILL what is left after EXIT_TIMEOUT. True if TERM sufficed."""
    pgid = process.pid  # start_new_session=True: the script leads its own group
    if group_alive(pgid):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + EXIT_TIMEOUT
    with_term = True
    # Reap the leader as we go: a zombie still counts as a member of its group.
    while process.poll() is None or group_alive(pgid):
        if time.monotonic() > deadline:
            with_term = False
            os.killpg(pgid, signal.SIGKILL)
            break
        time.sleep(0.05)
    process.wait(timeout=EXIT_TIMEOUT)
    return with_term


def test_scripts_dev_prints_a_page_that_frames_the_macro(tmp_path: Path) -> None:
    app_port = free_port()
    emulator_port = free_port()
    while emulator_port == app_port:
        emulator_port = free_port()
    env = app_env(
        {
            "APP_PORT": str(app_port),
            "EMULATOR_PORT": str(emulator_port),
            "APP_DATABASE_URL": f"sqlite:///{tmp_path / 'dev.db'}",
            "APP_JOBS_SQLITE_PATH": str(tmp_path / "dev-jobs.db"),
            "EMULATOR_PAGES": "50",
            "PYTHONUNBUFFERED": "1",
        }
    )
    process = subprocess.Popen(
        ["bash", "scripts/dev"],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=pump, args=(process.stdout, lines), daemon=True)
    reader.start()
    log: list[str] = []
    try:
        line = wait_for_line(lines, MARKER, STARTUP_TIMEOUT, log)
        assert line is not None, f"no {MARKER!r} line within {STARTUP_TIMEOUT} s:\n{''.join(log)}"
        url = line.removeprefix(MARKER).strip()
        assert url.startswith(f"http://127.0.0.1:{emulator_port}/wiki/spaces/"), line

        response = requests.get(url, timeout=30)
        assert response.status_code == 200, response.text
        assert "<iframe" in response.text
        assert f"http://127.0.0.1:{app_port}/macros/freshness?" in response.text

        # The worker it started runs the first scan: the macro turns from progress into a report.
        match = re.search(r'<iframe class="ap-iframe" src="([^"]+/macros/freshness\?[^"]+)"', response.text)
        assert match, response.text
        macro_url = html.unescape(match.group(1))
        deadline = time.monotonic() + STARTUP_TIMEOUT
        body = requests.get(macro_url, timeout=30).text
        while 'data-testid="scanned"' not in body and time.monotonic() < deadline:
            time.sleep(0.25)
            body = requests.get(macro_url, timeout=30).text
        assert 'data-testid="scanned"' in body, f"no report from the worker:\n{''.join(log)}"
    finally:
        terminated = stop_group(process)
        reader.join(timeout=EXIT_TIMEOUT)
        process.stdout.close()
    assert terminated, "scripts/dev (or a child) ignored SIGTERM and had to be killed"
    assert process.returncode is not None
    assert not group_alive(process.pid)
