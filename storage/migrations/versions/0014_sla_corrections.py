"""sla_clocks.withdrawn_*, sla_corrections: heads correct which messages needed an answer

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sla_clocks") as batch:
        batch.add_column(
            sa.Column("withdrawn_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("withdrawn_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
    op.create_table(
        "sla_corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("msg_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("needs_reply", sa.Boolean(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sla_corrections_group_id", "sla_corrections", ["group_id"])
    op.create_index("ix_sla_corrections_at", "sla_corrections", ["at"])


def downgrade() -> None:
    op.drop_index("ix_sla_corrections_at", table_name="sla_corrections")
    op.drop_index("ix_sla_corrections_group_id", table_name="sla_corrections")
    op.drop_table("sla_corrections")
    with op.batch_alter_table("sla_clocks") as batch:
        batch.drop_column("withdrawn_by")
        batch.drop_column("withdrawn_at")
