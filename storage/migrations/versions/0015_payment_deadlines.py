"""payments.remind_at, escalate_at, reminded_at, escalated_at: accounting's deadline

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("remind_at", "escalate_at", "reminded_at", "escalated_at")


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        for name in COLUMNS:
            batch.add_column(
                sa.Column(name, storage.types.UTCDateTime(timezone=True), nullable=True)
            )
    op.create_index("ix_payments_remind_at", "payments", ["remind_at"])
    op.create_index("ix_payments_escalate_at", "payments", ["escalate_at"])


def downgrade() -> None:
    op.drop_index("ix_payments_escalate_at", table_name="payments")
    op.drop_index("ix_payments_remind_at", table_name="payments")
    with op.batch_alter_table("payments") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
