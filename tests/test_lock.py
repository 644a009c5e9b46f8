"""The dependency lock: what scripts/setup installed is exactly requirements.lock, and the lock covers
everything pyproject.toml asks for."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.kit.processes import REPO

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)(?:\s*;\s*(.+?))?\s*\\?$")


def locked() -> dict[str, tuple[str, str | None]]:
    """{name: (version, marker or None)} from requirements.lock."""
    pins: dict[str, tuple[str, str | None]] = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        match = PIN.match(line)
        if match:
            name, version, marker = match.groups()
            pins[canonicalize_name(name)] = (version, marker)
    return pins


def test_every_locked_package_is_installed_at_its_locked_version() -> None:
    from packaging.markers import Marker

    pins = locked()
    assert len(pins) > 20
    wrong = {}
    for name, (version, marker) in pins.items():
        if marker and not Marker(marker).evaluate():
            continue  # for another platform or Python
        installed = metadata.version(name)
        if Version(installed) != Version(version):
            wrong[name] = (installed, version)
    assert wrong == {}, f"installed ≠ locked: {wrong}; run bash scripts/setup"


def test_the_lock_covers_every_dependency_pyproject_declares() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in ("dev", "emulator"):
        declared += project["optional-dependencies"][extra]
    pins = locked()
    missing = []
    for spec in map(Requirement, declared):
        pin = pins.get(canonicalize_name(spec.name))
        if pin is None or Version(pin[0]) not in spec.specifier:
            missing.append(str(spec))
    assert missing == [], f"requirements.lock does not satisfy {missing}; run bash scripts/lock"
