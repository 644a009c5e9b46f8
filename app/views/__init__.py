"""Iframe pages and the JSON endpoints behind them."""
