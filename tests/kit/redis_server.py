"""A throwaway Redis server (Debian's ``redis-server``) on a free loopback port, nothing on disk."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.kit.processes import free_port, stop

#: Set to 1 (CI does) to turn a missing redis-server into a failure instead of a skip.
REQUIRE_REDIS_ENV = "REQUIRE_REDIS"


def redis_server_binary() -> str:
    """The path of ``redis-server``; skips (or, with ``REQUIRE_REDIS=1``, fails) without it."""
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if found is None:
        message = "the distributed-queue tests need Debian's redis-server (apt-get install redis-server)"
        if os.environ.get(REQUIRE_REDIS_ENV) == "1":
            pytest.fail(f"{message}; {REQUIRE_REDIS_ENV}=1 forbids skipping", pytrace=False)
        pytest.skip(message)
    return found


@contextmanager
def running_redis(workdir: Path) -> Iterator[str]:
    """Start ``redis-server`` bound to 127.0.0.1, wait (bounded) until it answers; yield its URL."""
    import redis

    binary = redis_server_binary()
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        while True:
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"redis-server on port {port} did not start") from None
                time.sleep(0.05)
        client.close()
        yield url
    finally:
        stop(process)
