"""``flask forge manifest``: ship the app as a Connect-on-Forge app."""

from __future__ import annotations

import re
from pathlib import Path

import click
from flask.cli import AppGroup

from app.connect.descriptor import current_descriptor
from app.connect.forge_manifest import ManifestError, build_manifest, render_manifest

_APP_ID = re.compile(r"^ari:cloud:ecosystem::app/[0-9a-f-]{36}$")

forge_cli = AppGroup("forge", help="Connect-on-Forge packaging.")


@forge_cli.command("manifest")
@click.option("--app-id", required=True, help="The Forge app ARI printed by 'forge register'.")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write here (default: stdout)."
)
def manifest_command(app_id: str, output: Path | None) -> None:
    """Print (or write) manifest.yml for this deployment's APP_BASE_URL and APP_KEY."""
    if not _APP_ID.match(app_id):
        raise click.BadParameter("expected ari:cloud:ecosystem::app/<uuid>", param_hint="--app-id")
    try:
        manifest = build_manifest(current_descriptor(), app_id=app_id)
    except ManifestError as error:
        raise click.ClickException(str(error)) from None
    text = render_manifest(manifest)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"Wrote {output}", err=True)
