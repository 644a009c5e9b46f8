"""Add per-tenant settings, installation health and the shared report cache.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 03:50:32.994502
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_cache",
        sa.Column("client_key", sa.String(length=255), nullable=False),
        sa.Column("scope_key", sa.String(length=512), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refreshing_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_key"], ["tenant.client_key"], name=op.f("fk_report_cache_client_key_tenant")
        ),
        sa.PrimaryKeyConstraint("client_key", "scope_key", name=op.f("pk_report_cache")),
    )
    op.create_table(
        "tenant_health",
        sa.Column("client_key", sa.String(length=255), nullable=False),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure", sa.String(length=255), nullable=True),
        sa.Column("rate_limit_hits", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_key"], ["tenant.client_key"], name=op.f("fk_tenant_health_client_key_tenant")
        ),
        sa.PrimaryKeyConstraint("client_key", name=op.f("pk_tenant_health")),
    )
    op.create_table(
        "tenant_settings",
        sa.Column("client_key", sa.String(length=255), nullable=False),
        sa.Column("stale_days", sa.Integer(), nullable=False),
        sa.Column("cache_ttl_minutes", sa.Integer(), nullable=False),
        sa.Column("rows_per_page", sa.Integer(), nullable=False),
        sa.Column("excluded_spaces", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_key"], ["tenant.client_key"], name=op.f("fk_tenant_settings_client_key_tenant")
        ),
        sa.PrimaryKeyConstraint("client_key", name=op.f("pk_tenant_settings")),
    )


def downgrade() -> None:
    op.drop_table("tenant_settings")
    op.drop_table("tenant_health")
    op.drop_table("report_cache")
