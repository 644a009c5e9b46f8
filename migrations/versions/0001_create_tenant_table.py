"""Create the tenant table: one row per Confluence site that installed the app.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 03:40:25.256066
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenant",
        sa.Column("client_key", sa.String(length=255), nullable=False),
        sa.Column("app_key", sa.String(length=80), nullable=False),
        sa.Column("shared_secret", sa.String(length=512), nullable=False),
        sa.Column("base_url", sa.String(length=255), nullable=False),
        sa.Column("display_url", sa.String(length=255), nullable=True),
        sa.Column("product_type", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("oauth_client_id", sa.String(length=255), nullable=True),
        sa.Column("installation_id", sa.String(length=512), nullable=True),
        sa.Column("server_version", sa.String(length=64), nullable=True),
        sa.Column("plugins_version", sa.String(length=64), nullable=True),
        sa.Column("installed", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uninstalled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_key", name=op.f("pk_tenant")),
    )
    with op.batch_alter_table("tenant", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tenant_base_url"), ["base_url"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tenant", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tenant_base_url"))

    op.drop_table("tenant")
