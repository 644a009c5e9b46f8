"""Run the app's own commands as subprocesses, the way a user would, and wait for them (bounded)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A loopback port that was free a moment ago (for servers that must know their port before they
    start, and for a URL nobody listens on)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def app_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "FLASK_"))}
    env.update(extra)
    return env


def flask(*args: str, env: Mapping[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``flask --app app ARGS`` to completion."""
    return subprocess.run(
        [str(BIN / "flask"), "--app", "app", *args],
        cwd=REPO,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def stop(process: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 10 s (bounded either way)."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def wait_until_up(url: str, process: subprocess.Popen[str], timeout: float = 30) -> None:
    """Poll ``url`` until it answers (any status), the process dies, or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise RuntimeError(f"server exited with {process.returncode}: {output}")
        try:
            requests.get(url, timeout=5)
            return
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or still booting
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


@contextmanager
def running(
    command: list[str], *, env: Mapping[str, str], probe_url: str, output: Path | None = None
) -> Iterator[subprocess.Popen[str]]:
    """Start a server command, wait for ``probe_url``, and stop it afterwards, with every process it
    started: it runs in a session of its own, whose processes are killed once the first has stopped (a
    granian worker slow to exit on SIGTERM used to outlive its master).

    Its stdout and stderr go to a pipe (read only if it dies while starting), or to the file ``output``
    when given, to be read after it has stopped.
    """
    with ExitStack() as stack:
        sink = stack.enter_context(output.open("w", encoding="utf-8")) if output else subprocess.PIPE
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=dict(env),
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            wait_until_up(probe_url, process)
            yield process
        finally:
            stop(process)
            with suppress(ProcessLookupError):  # what is left of its session: workers, children
                os.killpg(process.pid, signal.SIGKILL)
            if process.stdout:
                process.stdout.close()
