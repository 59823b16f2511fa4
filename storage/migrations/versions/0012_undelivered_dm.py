"""1:1 messages Zalo refused for good: staff.dm_blocked_*, undelivered_messages

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff") as batch:
        batch.add_column(sa.Column("dm_blocked_code", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("dm_blocked_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "undelivered_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("code", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("opened_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("opened_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("outbox_id"),
    )
    op.create_index(
        "ix_undelivered_messages_staff_id", "undelivered_messages", ["staff_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_undelivered_messages_staff_id", table_name="undelivered_messages")
    op.drop_table("undelivered_messages")
    with op.batch_alter_table("staff") as batch:
        batch.drop_column("dm_blocked_at")
        batch.drop_column("dm_blocked_code")
