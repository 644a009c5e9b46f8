"""``flask confluence pages``: list a tenant's pages as JSON Lines, calling Confluence as the app."""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any, TextIO

import click
from flask import current_app
from flask.cli import AppGroup

from app.confluence import ClientSettings, client_as_app
from app.connect.stores import tenant_store
from app.errors import ConfluenceError, ConfluenceNotFoundError

confluence_cli = AppGroup("confluence", help="Call an installed site's Confluence REST API as the app.")


class _Progress:
    """A one-line counter on stderr, drawn only for a person watching a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._enabled = stream.isatty()
        self._shown = False

    def update(self, count: int) -> None:
        if self._enabled and (count == 1 or count % 50 == 0):
            self._stream.write(f"\r{count} pages…")
            self._stream.flush()
            self._shown = True

    def done(self, count: int) -> None:
        if self._shown:
            self._stream.write(f"\r{count} pages.\n")
            self._stream.flush()


@confluence_cli.command("pages")
@click.option("--tenant", "client_key", required=True, help="The site's Connect clientKey.")
@click.option("--space", "space_key", default=None, help="Only this space (by key).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Stop after this many pages.")
def pages_command(client_key: str, space_key: str | None, limit: int | None) -> None:
    """Write one JSON object per page to stdout (JSON Lines)."""
    tenant = tenant_store().get(client_key)
    if tenant is None or not tenant.installed:
        raise click.ClickException(f"No installed tenant with client key {client_key!r}.")
    settings = ClientSettings.from_config(current_app.config)
    progress = _Progress(sys.stderr)
    count = 0
    with client_as_app(tenant, settings) as client:
        try:
            pages: Iterator[dict[str, Any]]
            if space_key is None:
                pages = client.iter_pages()
            else:
                pages = client.iter_space_pages(_space_id(client.resolve_space_id, space_key))
            for count, page in enumerate(itertools.islice(pages, limit), 1):
                click.echo(json.dumps(page, ensure_ascii=False))
                progress.update(count)
        except ConfluenceError as exc:
            raise click.ClickException(exc.message) from exc
        finally:
            progress.done(count)


def _space_id(resolve: Callable[[str], str], space_key: str) -> str:
    """Resolve a space key, turning "not found" into a message naming the key."""
    try:
        return resolve(space_key)
    except ConfluenceNotFoundError as exc:
        raise click.ClickException(f"No space with key {space_key!r} on this site.") from exc
