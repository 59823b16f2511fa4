"""staff.away_until, away_backup: /vangmat (away, with a backup)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff") as batch:
        batch.add_column(
            sa.Column("away_until", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("away_backup", sa.String(length=64), nullable=True))
    op.create_index("ix_staff_away_until", "staff", ["away_until"])


def downgrade() -> None:
    op.drop_index("ix_staff_away_until", table_name="staff")
    with op.batch_alter_table("staff") as batch:
        batch.drop_column("away_backup")
        batch.drop_column("away_until")
