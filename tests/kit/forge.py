"""Atlassian's own Forge manifest validator (``@forge/manifest``), run through ``tools/forge-validate``.

``scripts/setup`` installs the pinned package with ``npm ci``. Without Node.js or the package the tests
that need it skip, unless ``REQUIRE_FORGE_VALIDATOR=1`` (CI sets it): then they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Final

import pytest

from tests.kit.processes import REPO

VALIDATOR_DIR: Final = REPO / "tools" / "forge-validate"
VALIDATOR_SCRIPT: Final = VALIDATOR_DIR / "validate.js"
REQUIRE_ENV: Final = "REQUIRE_FORGE_VALIDATOR"


def node_or_skip() -> str:
    """The ``node`` executable, once the validator package is installed; else skip (or fail)."""
    node = shutil.which("node")
    problem = None
    if node is None:
        problem = "the Forge manifest validator needs Node.js (node on PATH)"
    elif not (VALIDATOR_DIR / "node_modules" / "@forge" / "manifest" / "package.json").exists():
        problem = f"@forge/manifest is not installed in {VALIDATOR_DIR} (run bash scripts/setup)"
    if problem is None and node is not None:
        return node
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{problem}; {REQUIRE_ENV}=1 forbids skipping", pytrace=False)
    pytest.skip(problem)


def validator_version() -> str:
    package = VALIDATOR_DIR / "node_modules" / "@forge" / "manifest" / "package.json"
    version: str = json.loads(package.read_text(encoding="utf-8"))["version"]
    return version


def validate(*manifests: Path) -> dict[Path, dict[str, Any]]:
    """Run @forge/manifest's full validation chain on each manifest (one Node process for all).

    Returns each path's ``{"success": bool, "errors": [{"level", "message", "reference", "line"}]}``.
    """
    node = node_or_skip()
    completed = subprocess.run(
        [node, str(VALIDATOR_SCRIPT), *map(str, manifests)],
        cwd=VALIDATOR_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode in (0, 1), f"validator did not run: {completed.stderr}"
    results = [json.loads(line) for line in completed.stdout.splitlines() if line.strip()]
    assert [Path(r["path"]) for r in results] == list(manifests), completed.stdout
    assert completed.returncode == (0 if all(r["success"] for r in results) else 1)
    return {Path(r["path"]): r for r in results}
