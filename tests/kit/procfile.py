"""The Procfile's process lines, run as a platform would: ``bash -c LINE`` with ``$PORT`` and friends."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from cryptography.fernet import Fernet

from tests.kit.atlassian import Atlassian
from tests.kit.database import fresh_database_url
from tests.kit.processes import BIN, REPO, app_env, flask

PROCFILE = REPO / "Procfile"


def procfile_line(kind: str) -> str:
    """The command of the ``kind:`` line (``web``, ``worker``, ``release``)."""
    for line in PROCFILE.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(rf"{re.escape(kind)}:\s*(.+)", line.strip())
        if match:
            return match.group(1)
    raise LookupError(f"the Procfile has no {kind}: line")


def web_command(*, target: str | None = None, extra: str = "") -> list[str]:
    """``bash -c`` the ``web:`` line, optionally serving another factory and with extra options."""
    line = procfile_line("web").replace("--host 0.0.0.0", "--host 127.0.0.1")  # tests stay on loopback
    if target is not None:
        line = line.replace(" app:create_app", f" {extra} {target}".replace("  ", " "))
    elif extra:
        line = line.replace(" app:create_app", f" {extra} app:create_app")
    return ["bash", "-c", line]


def web_env(env: Mapping[str, str], *, port: int, workers: int = 2) -> dict[str, str]:
    """``env`` as a platform sets it for the web process: ``PORT``, ``WEB_CONCURRENCY``, the venv on PATH."""
    return {
        **env,
        "PORT": str(port),
        "WEB_CONCURRENCY": str(workers),
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', os.environ.get('PATH', ''))}",
    }


def migrated_env(tmp_path: Path, atlassian: Atlassian, base_url: str, **extra: str) -> dict[str, str]:
    """The ``APP_*`` environment of an app served at ``base_url`` that trusts ``atlassian``'s install
    keys, on a fresh, migrated database (secrets sealed at rest); ``extra`` adds or overrides."""
    env = app_env(
        {
            "APP_BASE_URL": base_url,
            "APP_DATABASE_URL": fresh_database_url(tmp_path),
            "APP_INSTALL_KEYS_URL": atlassian.key_server.url,
            "APP_ALLOWED_TENANT_HOSTS": '["*.atlassian.net", "127.0.0.1"]',
            "APP_JOBS_SQLITE_PATH": str(tmp_path / "jobs.db"),
            "APP_SECRETS_KEYS": Fernet.generate_key().decode(),
            **extra,
        }
    )
    migrated = flask("db", "upgrade", env=env)
    assert migrated.returncode == 0, migrated.stderr
    return env
