"""Scans as jobs: the scan_job and tenant_throttle tables; report_cache loses its refresh lease
(the scan job replaces it) and gains last_viewed_at (what the warmer keeps).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 02:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scan_job",
        sa.Column("client_key", sa.String(length=255), nullable=False),
        sa.Column("scope_key", sa.String(length=512), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("run_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("items_read", sa.Integer(), nullable=False),
        sa.Column("pages_read", sa.Integer(), nullable=False),
        sa.Column("total_hint", sa.Integer(), nullable=True),
        sa.Column("checkpoint", sa.Text(), nullable=True),
        sa.Column("message", sa.String(length=255), nullable=True),
        sa.Column("resumes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["client_key"], ["tenant.client_key"], name=op.f("fk_scan_job_client_key_tenant")),
        sa.PrimaryKeyConstraint("client_key", "scope_key", name=op.f("pk_scan_job")),
    )
    op.create_table(
        "tenant_throttle",
        sa.Column("client_key", sa.String(length=255), nullable=False),
        sa.Column("paused_until", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_key"], ["tenant.client_key"], name=op.f("fk_tenant_throttle_client_key_tenant")
        ),
        sa.PrimaryKeyConstraint("client_key", name=op.f("pk_tenant_throttle")),
    )
    with op.batch_alter_table("report_cache", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_viewed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_column("refreshing_until")


def downgrade() -> None:
    with op.batch_alter_table("report_cache", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refreshing_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_column("last_viewed_at")
    op.drop_table("tenant_throttle")
    op.drop_table("scan_job")
