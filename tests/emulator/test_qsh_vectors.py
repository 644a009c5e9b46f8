"""The emulator judges qsh with atlassian-jwt; check that independent implementation against all 71 vectors.

atlassian-jwt's ``canonicalize_request`` takes a URL already relative to the base URL (it strips every
leading and trailing slash and knows no context path), so the test strips the origin and base path first,
exactly as the emulator strips ``/wiki`` before calling ``hash_url``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from atlassian_jwt.url_utils import canonicalize_request, hash_url

from emulator.auth import relative_to_context
from tests.kit.qsh_vectors import load_qsh_vectors

VECTORS = load_qsh_vectors()


def relative_url(url: str, base_url: str) -> str:
    """Strip origin and the base URL's path, as a product does before hashing."""
    parts = urlsplit(url)
    relative = url[len(f"{parts.scheme}://{parts.netloc}") :] if parts.scheme else url
    base_path = (urlsplit(base_url).path if base_url.startswith("http") else base_url).rstrip("/")
    if base_path and (relative == base_path or relative.startswith(base_path + "/")):
        relative = relative[len(base_path) :]
    return relative


def test_vector_file_has_71_vectors() -> None:
    assert len(VECTORS) == 71


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_atlassian_jwt_matches_vector(vector: dict[str, Any]) -> None:
    relative = relative_url(vector["url"], vector.get("base_url") or "")
    assert canonicalize_request(vector["method"], relative) == vector["canonical"], vector["name"]
    assert hash_url(vector["method"], relative) == vector["qsh"], vector["name"]


def test_context_path_is_stripped_once() -> None:
    assert relative_to_context("/wiki/api/v2/pages?limit=1") == "/api/v2/pages?limit=1"
    assert relative_to_context("/wiki?x=1") == "?x=1"
    assert relative_to_context("/wikipedia/x") == "/wikipedia/x"
    # A doubled prefix is the client's bug; only one /wiki is removed, so its qsh will not match.
    assert relative_to_context("/wiki/wiki/api/v2/pages") == "/wiki/api/v2/pages"
