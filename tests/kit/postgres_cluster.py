"""A private PostgreSQL cluster on its own loopback port, which a test can stop and start again.

Debian's server binaries (``/usr/lib/postgresql/<version>/bin/initdb``, ``pg_ctl``) make a throwaway
cluster in a temporary folder (trust authentication on 127.0.0.1, no fsync). PostgreSQL refuses to run
as root, so as root the commands run as the ``postgres`` user through ``runuser``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from tests.kit.processes import free_port

INITDB_OPTIONS = ("-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")


def server_binaries() -> Path | None:
    """The newest installed PostgreSQL's bin folder with initdb and pg_ctl, if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    for initdb in reversed(found):
        folder = Path(initdb).parent
        if (folder / "pg_ctl").exists():
            return folder
    return None


def _run_as() -> list[str] | None:
    """The prefix that runs a command as a user PostgreSQL accepts; None if there is none."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return None
    runuser = shutil.which("runuser")
    return [runuser, "-u", "postgres", "--"] if runuser else None


def unavailable_reason() -> str | None:
    """Why a private cluster cannot be made here (None: it can)."""
    if server_binaries() is None:
        return "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb, pg_ctl)"
    if _run_as() is None:
        return "running as root without a postgres user and runuser to run PostgreSQL as"
    return None


@dataclass
class Cluster:
    url: str
    folder: Path
    port: int
    _prefix: list[str]
    _bin: Path

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [*self._prefix, str(self._bin / "pg_ctl"), "-D", str(self.folder / "data"), *args],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg_ctl("-o", options, "-l", str(self.folder / "server.log"), "-w", "start")

    def stop(self) -> None:
        self._pg_ctl("-m", "fast", "-w", "stop")


@contextmanager
def private_postgres() -> Iterator[Cluster]:
    """initdb a new cluster in a temporary folder, start it on a free port; remove it afterwards."""
    binaries, prefix = server_binaries(), _run_as()
    assert binaries is not None and prefix is not None, unavailable_reason()
    folder = Path(tempfile.mkdtemp(prefix="freshness-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    try:
        subprocess.run(
            [*prefix, str(binaries / "initdb"), "-D", str(folder / "data"), *INITDB_OPTIONS],
            check=True,
            capture_output=True,
            timeout=120,
        )
        port = free_port()
        cluster = Cluster(
            f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", folder, port, prefix, binaries
        )
        cluster.start()
        try:
            yield cluster
        finally:
            with suppress(subprocess.CalledProcessError):  # already stopped by the test
                cluster.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
