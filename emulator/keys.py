"""The emulator's install-signing key pair and the ``/install-keys/<kid>`` route apps fetch it from.

Plays the part of ``connect-install-keys.atlassian.com``: one RSA key per emulator run, with a random ``kid``,
so an app that caches keys by ``kid`` stays correct across emulator restarts.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Blueprint, Response, abort

from emulator.state import current

bp = Blueprint("keys", __name__)


@dataclass(frozen=True)
class SigningKey:
    """An RSA private key (PEM) with its ``kid`` and public PEM."""

    kid: str
    private_pem: bytes
    public_pem: str

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r})"


def generate_signing_key() -> SigningKey:
    """Make a fresh 2048-bit RSA key with a random ``kid`` (Atlassian rotates keys by issuing a new kid)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return SigningKey(
        kid=f"emulator-{uuid.uuid4()}-{secrets.token_hex(2)}", private_pem=private_pem, public_pem=public_pem
    )


@bp.get("/install-keys/<kid>")
def install_key(kid: str) -> Response:
    """Serve the PEM public key for ``kid`` as text, or 404 for a kid this emulator never issued."""
    key = current().signing_key
    if kid != key.kid:
        abort(404)
    return Response(key.public_pem, mimetype="text/plain")
