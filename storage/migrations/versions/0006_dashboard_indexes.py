"""dashboard indexes: waiting payments, open incidents, a member's groups, a sales' clocks

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 23:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = [
    ("ix_group_members_user", "group_members", ["user_id"]),
    ("ix_payments_status_requested", "payments", ["status", "requested_at"]),
    ("ix_incidents_status", "incidents", ["status"]),
    ("ix_sla_clocks_owner_opened", "sla_clocks", ["owner_id", "opened_at"]),
]


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
