"""Lifecycle signals that app code can subscribe to (blinker, as Flask's own signals are).

Each is sent with the app as sender and ``tenant=`` the stored row, after the row is committed::

    from app.signals import tenant_installed

    @tenant_installed.connect
    def warm_up(sender, tenant): ...
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

tenant_installed = _signals.signal("tenant-installed")
tenant_uninstalled = _signals.signal("tenant-uninstalled")
tenant_enabled = _signals.signal("tenant-enabled")
tenant_disabled = _signals.signal("tenant-disabled")
