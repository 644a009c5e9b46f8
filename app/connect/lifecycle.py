"""Lifecycle callbacks: installed/uninstalled (RS256 signed install), enabled/disabled (HS256).

Every check runs before anything is written
(https://developer.atlassian.com/cloud/confluence/security-for-connect-apps/): a refused callback changes no
stored state. Spring-boot's rules: the authenticated issuer must equal the body's ``clientKey`` (403
otherwise), uninstall keeps the row, and each event is idempotent, so ``uninstalled`` and ``disabled`` may
arrive in any order.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request

from app.connect import tokens
from app.connect.auth import ANY_METHOD, authenticated_by, expected_qsh, now_seconds
from app.connect.install_keys import InstallKeyCache
from app.connect.requests_info import json_body, token_from
from app.connect.stores import tenant_store
from app.connect.tenant_hosts import host_allowed
from app.contexts import active_app
from app.errors import (
    InvalidPayloadError,
    MethodNotAllowedError,
    TenantMismatchError,
    TenantNotAllowedError,
)
from app.observability.logs import tenant_tag
from app.signals import tenant_disabled, tenant_enabled, tenant_installed, tenant_uninstalled
from app.tenants.payloads import LifecyclePayload
from app.tenants.store import TenantStoreProtocol

bp = Blueprint("lifecycle", __name__, url_prefix="/lifecycle")

_MAX_BODY_BYTES = 64 * 1024


def _install_keys() -> InstallKeyCache:
    cache: InstallKeyCache = current_app.extensions["install_keys"]
    return cache


def _verified_install_claims() -> tokens.Claims:
    """Verify the RS256 signed-install token of this request."""
    return tokens.verify_install_token(
        token_from(request),
        public_key_for=_install_keys().public_key_for,
        audience=current_app.config["BASE_URL"],
        expected_qsh=expected_qsh(),
        now=now_seconds(),
    )


def _verified_tenant_claims(store: TenantStoreProtocol) -> tokens.Claims:
    """Verify an HS256 lifecycle token with the *stored* secret of a known tenant (installed or not)."""

    def secret_for(client_key: str) -> str | None:
        tenant = store.get(client_key)
        return tenant.shared_secret if tenant is not None else None

    return tokens.verify_host_token(
        token_from(request), secret_for=secret_for, expected_qsh=expected_qsh(), now=now_seconds()
    )


def _require_post() -> None:
    if request.method != "POST":
        raise MethodNotAllowedError("Lifecycle callbacks must be POST requests.", allowed=("POST",))


def _payload(event: str) -> LifecyclePayload:
    body: Any = json_body(request, max_bytes=_MAX_BODY_BYTES, what="The lifecycle payload")
    return LifecyclePayload.from_json(body, expected_event=event)


def _check_issuer(claims: tokens.Claims, payload: LifecyclePayload) -> None:
    if claims["iss"] != payload.client_key:
        raise TenantMismatchError(claims["iss"], payload.client_key)


@bp.route("/installed", methods=ANY_METHOD, provide_automatic_options=False)
@authenticated_by("signed-install")
def installed() -> tuple[str, int]:
    """Store (or update) the tenant after Atlassian's signed install verified."""
    claims = _verified_install_claims()
    _require_post()
    payload = _payload("installed")
    _check_issuer(claims, payload)
    if not host_allowed(payload.base_url, current_app.config["ALLOWED_TENANT_HOSTS"]):
        raise TenantNotAllowedError(payload.base_url)
    if payload.app_key != current_app.config["KEY"]:
        raise InvalidPayloadError("The payload is for another app key.")
    tenant = tenant_store().save_installation(payload)
    current_app.logger.info("installed for tenant %s", tenant_tag(tenant.client_key))
    tenant_installed.send(active_app(), tenant=tenant)
    return "", 204


@bp.route("/uninstalled", methods=ANY_METHOD, provide_automatic_options=False)
@authenticated_by("signed-install")
def uninstalled() -> tuple[str, int]:
    """Mark the tenant uninstalled (the row is kept); unknown tenants are a no-op."""
    claims = _verified_install_claims()
    _require_post()
    payload = _payload("uninstalled")
    _check_issuer(claims, payload)
    tenant = tenant_store().mark_uninstalled(payload.client_key)
    if tenant is not None:
        current_app.logger.info("uninstalled for tenant %s", tenant_tag(tenant.client_key))
        tenant_uninstalled.send(active_app(), tenant=tenant)
    return "", 204


def _set_enabled(event: str, enabled: bool) -> tuple[str, int]:
    store = tenant_store()
    claims = _verified_tenant_claims(store)
    _require_post()
    payload = _payload(event)
    _check_issuer(claims, payload)  # the token verified only if a row exists for its issuer
    tenant = store.set_enabled(payload.client_key, enabled)
    if tenant is not None:
        signal = tenant_enabled if enabled else tenant_disabled
        signal.send(active_app(), tenant=tenant)
    return "", 204


@bp.route("/enabled", methods=ANY_METHOD, provide_automatic_options=False)
@authenticated_by("stored-secret")
def enabled() -> tuple[str, int]:
    """Record that the site enabled the app."""
    return _set_enabled("enabled", True)


@bp.route("/disabled", methods=ANY_METHOD, provide_automatic_options=False)
@authenticated_by("stored-secret")
def disabled() -> tuple[str, int]:
    """Record that the site disabled the app (a no-op once it is uninstalled)."""
    return _set_enabled("disabled", False)
