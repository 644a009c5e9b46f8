"""The install-key cache: one fetch per kid, failures remembered briefly, bad keys refused."""

from __future__ import annotations

import pytest

from app.connect.install_keys import InstallKeyCache
from app.errors import InstallKeyError
from tests.kit.atlassian import Atlassian, generate_rsa_key
from tests.kit.live import serving


def test_key_is_fetched_once(atlassian: Atlassian) -> None:
    cache = InstallKeyCache(atlassian.key_server.url)
    before = atlassian.key_server.requests.count(atlassian.kid)
    first = cache.public_key_for(atlassian.kid)
    second = cache.public_key_for(atlassian.kid)
    assert first is second
    assert atlassian.key_server.requests.count(atlassian.kid) == before + 1
    assert first.public_numbers() == atlassian.key.public_key().public_numbers()


def test_unknown_kid_failure_is_cached_for_a_while(atlassian: Atlassian) -> None:
    clock = [100.0]
    cache = InstallKeyCache(atlassian.key_server.url, clock=lambda: clock[0])
    for _ in range(3):
        with pytest.raises(InstallKeyError, match="404"):
            cache.public_key_for("missing-kid")
    assert atlassian.key_server.requests.count("missing-kid") == 1
    published = generate_rsa_key()
    atlassian.key_server.publish("missing-kid", published)
    clock[0] += 31
    key = cache.public_key_for("missing-kid")
    assert key.public_numbers() == published.public_key().public_numbers()
    assert atlassian.key_server.requests.count("missing-kid") == 2


def test_unreachable_key_service_is_an_install_key_error() -> None:
    cache = InstallKeyCache("http://127.0.0.1:9", timeout=0.5)
    with pytest.raises(InstallKeyError, match="could not be reached"):
        cache.public_key_for("kid")


@pytest.mark.parametrize(
    "body", [b"not a key", b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"]
)
def test_non_pem_answer_is_refused(body: bytes) -> None:
    def wsgi(environ: dict[str, object], start_response: object) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])  # type: ignore[operator]
        return [body]

    with serving(wsgi) as server, pytest.raises(InstallKeyError, match="PEM"):
        InstallKeyCache(server.url).public_key_for("kid")


def test_malformed_kid_is_not_fetched(atlassian: Atlassian) -> None:
    with pytest.raises(InstallKeyError, match="malformed"):
        InstallKeyCache(atlassian.key_server.url).public_key_for("../../secret")
