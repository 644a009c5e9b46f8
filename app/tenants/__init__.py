"""Tenants: the Confluence sites that installed the app."""
