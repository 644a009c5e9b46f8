"""The emulator judges qsh with atlassian-jwt; check that independent implementation against all 71 vectors.

atlassian-jwt's ``canonicalize_request`` takes a URL already relative to the base URL (it strips every
leading and trailing slash and knows no context path), so the test strips the origin and base path first,
exactly as the emulator strips ``/wiki`` before calling ``hash_url``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from atlassian_jwt.url_utils import canonicalize_request, hash_url

from emulator.auth import relative_to_context

REPO_ROOT = Path(__file__).resolve().parents[2]
VECTORS_FILE = REPO_ROOT / ".." / "shared" / "data" / "qsh_vectors.json"


def _vectors() -> list[dict[str, Any]]:
    if not VECTORS_FILE.exists():
        pytest.skip(f"shared vectors not found at {VECTORS_FILE} (CI puts shared/ beside the checkout)")
    data: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text())
    return data


def relative_url(url: str, base_url: str) -> str:
    """Strip origin and the base URL's path, as a product does before hashing."""
    parts = urlsplit(url)
    relative = url[len(f"{parts.scheme}://{parts.netloc}") :] if parts.scheme else url
    base_path = (urlsplit(base_url).path if base_url.startswith("http") else base_url).rstrip("/")
    if base_path and (relative == base_path or relative.startswith(base_path + "/")):
        relative = relative[len(base_path) :]
    return relative


def test_vector_file_has_71_vectors() -> None:
    assert len(_vectors()) == 71


@pytest.mark.parametrize("index", range(71))
def test_atlassian_jwt_matches_vector(index: int) -> None:
    vector = _vectors()[index]
    relative = relative_url(vector["url"], vector.get("base_url") or "")
    assert canonicalize_request(vector["method"], relative) == vector["canonical"], vector["name"]
    assert hash_url(vector["method"], relative) == vector["qsh"], vector["name"]


def test_context_path_is_stripped_once() -> None:
    assert relative_to_context("/wiki/api/v2/pages?limit=1") == "/api/v2/pages?limit=1"
    assert relative_to_context("/wiki?x=1") == "?x=1"
    assert relative_to_context("/wikipedia/x") == "/wikipedia/x"
    # A doubled prefix is the client's bug; only one /wiki is removed, so its qsh will not match.
    assert relative_to_context("/wiki/wiki/api/v2/pages") == "/wiki/api/v2/pages"
