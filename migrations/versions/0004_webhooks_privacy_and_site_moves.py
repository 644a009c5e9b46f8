"""Webhooks, personal data and site moves (issue 13): content_state (the latest webhook change per
page, to order deliveries), report_counter (rescans that found what webhooks missed),
personal_data_cycle (when each tenant's accounts are next reported) and tenant.superseded_by.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 02:32:45.974356
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_counter",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_report_counter")),
    )
    op.create_table(
        "content_state",
        sa.Column("client_key", sa.String(length=255), nullable=False),
        sa.Column("content_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("event_ms", sa.BigInteger(), nullable=False),
        sa.Column("change", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_key"], ["tenant.client_key"], name=op.f("fk_content_state_client_key_tenant")
        ),
        sa.PrimaryKeyConstraint("client_key", "content_id", name=op.f("pk_content_state")),
    )
    op.create_table(
        "personal_data_cycle",
        sa.Column("client_key", sa.String(length=255), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_outcome", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_key"], ["tenant.client_key"], name=op.f("fk_personal_data_cycle_client_key_tenant")
        ),
        sa.PrimaryKeyConstraint("client_key", name=op.f("pk_personal_data_cycle")),
    )
    with op.batch_alter_table("tenant", schema=None) as batch_op:
        batch_op.add_column(sa.Column("superseded_by", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenant", schema=None) as batch_op:
        batch_op.drop_column("superseded_by")

    op.drop_table("personal_data_cycle")
    op.drop_table("content_state")
    op.drop_table("report_counter")
