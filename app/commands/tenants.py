"""``flask tenants list | seal-secrets | tag | purge``: the installed sites (never their secrets)."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup
from sqlalchemy.orm.attributes import flag_modified

from app.connect.stores import tenant_store
from app.db import get_session
from app.secrets_at_rest import current_box
from app.tenants.retention import purge_tenant

tenants_cli = AppGroup("tenants", help="Inspect tenants (installed Confluence sites).")


@tenants_cli.command("list")
@click.option("--all", "include_all", is_flag=True, help="Include uninstalled tenants.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_command(include_all: bool, as_json: bool) -> None:
    """List tenants: client key, base URL, state and install time."""
    tenants = tenant_store().list(include_uninstalled=include_all)
    for tenant in tenants:
        state = ("installed" if tenant.installed else "uninstalled") + (
            "" if tenant.enabled or not tenant.installed else ", disabled"
        )
        if tenant.superseded_by:
            state = f"superseded by {tenant.superseded_by}"
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "clientKey": tenant.client_key,
                        "baseUrl": tenant.base_url,
                        "displayUrl": tenant.display_url,
                        "state": state,
                        "installedAt": tenant.installed_at.isoformat(),
                    }
                )
            )
        else:
            click.echo(
                f"{tenant.client_key}\t{tenant.base_url}\t{state}\t{tenant.installed_at:%Y-%m-%d %H:%M}"
            )
    if not tenants and not as_json:
        click.echo("No tenants.", err=True)


@tenants_cli.command("seal-secrets")
def seal_secrets_command() -> None:
    """Seal every stored shared secret with the newest APP_SECRETS_KEYS key (after adding or rotating)."""
    if not current_box().sealing:
        raise click.ClickException("Set APP_SECRETS_KEYS first: there is no key to seal with.")
    session = get_session()
    tenants = tenant_store().list(include_uninstalled=True)
    for tenant in tenants:  # loading opens each secret (old keys included); flushing seals it anew
        flag_modified(tenant, "shared_secret")
    session.commit()
    click.echo(f"Sealed the shared secrets of {len(tenants)} tenant(s) with the newest key.")


@tenants_cli.command("tag")
@click.argument("client_key")
def tag_command(client_key: str) -> None:
    """Print the tag that log lines use for CLIENT_KEY (run with the deployment's APP_SECRET_KEY)."""
    from app.observability.logs import tenant_tag

    click.echo(tenant_tag(client_key))


@tenants_cli.command("purge")
@click.argument("client_key")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def purge_command(client_key: str, yes: bool) -> None:
    """Delete a tenant now: every row that refers to it, then the tenant and its secret."""
    session = get_session()
    tenant = tenant_store().get(client_key)
    if tenant is None:
        raise click.ClickException(f"No tenant {client_key!r}.")
    if not yes:
        state = "INSTALLED" if tenant.installed else "uninstalled"
        click.confirm(
            f"Delete every stored row of {client_key} ({tenant.base_url}, {state})? This cannot be undone",
            abort=True,
        )
    deleted = purge_tenant(session, client_key)
    click.echo(f"Purged {client_key}: {sum(deleted.values())} row(s) in {len(deleted)} table(s).")
