"""Example apps built on the Connect framework in ``app/`` (never on the freshness product)."""
