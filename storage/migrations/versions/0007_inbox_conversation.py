"""inbox events know their conversation (group or 1:1 user), processed in order per conversation

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 00:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbox_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("conversation", sa.String(length=64), nullable=True))
    op.create_index("ix_inbox_events_conversation", "inbox_events", ["conversation", "id"])


def downgrade() -> None:
    op.drop_index("ix_inbox_events_conversation", table_name="inbox_events")
    with op.batch_alter_table("inbox_events", schema=None) as batch_op:
        batch_op.drop_column("conversation")
