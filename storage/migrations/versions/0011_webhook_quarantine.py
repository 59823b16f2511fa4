"""webhook_quarantine: events whose signature failed, kept to be checked again

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_quarantine",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("received_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("event_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("signature", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("hint", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_webhook_quarantine_received_at", "webhook_quarantine", ["received_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_quarantine_received_at", table_name="webhook_quarantine")
    op.drop_table("webhook_quarantine")
