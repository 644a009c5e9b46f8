"""The commands' tests use the REST client's fake Confluence (``fake_site``)."""

from tests.confluence.conftest import _server, fake_site

__all__ = ["_server", "fake_site"]
